#pragma once

// Domain events: facts that happened, written in the same transaction as the change they
// describe (transactional outbox), numbered per merchant by `seq`.

#include <cstdint>
#include <optional>
#include <string>

#include "base/ids.h"
#include "base/time.h"

namespace regulars::events {

struct NewEvent {
  std::string type;             // "member_created", "consent_changed", ...
  std::optional<Id> member_id;  // the member it is about, if any (drives the timeline)
  std::string actor;            // "staff:123", "api_key:456", "system"
  std::string data = "{}";      // a JSON object, built by the module that owns the event
};

struct Event {
  Id merchant_id = 0;
  int64_t seq = 0;
  Id id = 0;
  std::string type;
  std::optional<Id> member_id;
  Micros occurred_at = 0;
  std::string actor;
  std::string data;
};

}  // namespace regulars::events
