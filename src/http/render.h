#pragma once

// Domain values to their JSON form on the wire (API.md): ids as strings, times RFC 3339 UTC.

#include <nlohmann/json.hpp>

#include "accounts/account_service.h"
#include "commerce/branch.h"
#include "events/event.h"
#include "members/member.h"

namespace regulars::http {

nlohmann::json ToJson(const accounts::Merchant& m);
nlohmann::json ToJson(const accounts::Staff& s);
nlohmann::json ToJson(const accounts::ApiKey& k);
nlohmann::json ToJson(const commerce::Branch& b);
nlohmann::json ToJson(const members::Member& m);
nlohmann::json ToJson(const events::Event& e);
nlohmann::json IdsJson(const std::vector<Id>& ids);

}  // namespace regulars::http
