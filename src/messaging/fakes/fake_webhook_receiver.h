#pragma once

// A local receiver for the signed webhook channel (webhook_channel.h): accepts POSTs on any
// path, checks X-Regulars-Signature with the signing secret by the documented recipe, and
// answers 200 {"ok": true}, or 401 {"error": "<why>"} for a bad signature. A delivery whose
// Idempotency-Key it already accepted is answered 200 again and not counted as a new one, as a
// careful integrator's endpoint would.

#include <map>
#include <string>
#include <vector>

#include "base/time.h"
#include "messaging/fakes/fake_server.h"

namespace regulars::messaging::fakes {

class FakeWebhookReceiver final : public FakeServer {
 public:
  // `clock` judges the signature's timestamp (default: the system clock).
  explicit FakeWebhookReceiver(std::string signing_secret,
                               const Clock* clock = SystemClock::Default());

  struct Delivery {
    std::string path;
    std::string idempotency_key;
    std::string body;  // the raw JSON
  };
  // Deliveries accepted (signature good, key new), in order.
  std::vector<Delivery> deliveries() const;
  size_t duplicates() const;
  // Why the last refused request was refused ("" if none was).
  std::string last_refusal() const;

 private:
  std::string secret_;
  const Clock* clock_;
  std::vector<Delivery> deliveries_;  // under mu_
  std::map<std::string, bool> seen_;  // under mu_
  size_t duplicates_ = 0;             // under mu_
  std::string last_refusal_;          // under mu_
};

}  // namespace regulars::messaging::fakes
