#pragma once

// Merchants and the people who work for them: value types and pure decisions. No I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::accounts {

enum class Role { kOwner, kManager, kCashier };
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// Who is acting, resolved from a session cookie or an API key. Every service call takes one and
// filters by its merchant_id.
struct Actor {
  Id merchant_id = 0;
  std::optional<Id> staff_id;
  std::optional<Id> api_key_id;
  Role role = Role::kCashier;
  std::vector<Id> branch_ids;  // empty: every branch
  Micros now = 0;

  // "staff:123", "api_key:456" or "system": who did it, for the event log.
  std::string Label() const;
  bool MayUseBranch(Id branch_id) const;
  bool IsOwner() const { return role == Role::kOwner; }
  bool IsManagerOrOwner() const { return role != Role::kCashier; }
};

// A system actor for a merchant (CLI, demo seeding, background jobs).
Actor SystemActor(Id merchant_id, Micros now);

struct Merchant {
  Id id = 0;
  std::string name;
  std::string region = "TW";             // ISO 3166: how phone numbers without a prefix are read
  std::string currency = "TWD";          // ISO 4217
  std::string timezone = "Asia/Taipei";  // IANA
  std::string language = "zh-TW";        // zh-TW, zh-CN or en
  Micros created_at = 0;
};

// Checks a merchant's fields: region known to libphonenumber, currency known, IANA time zone
// present in the tz database, language supported, name non-empty.
Status ValidateMerchant(const Merchant& m);

// Languages the console and messages come in.
bool IsSupportedLanguage(std::string_view lang);

struct Staff {
  Id merchant_id = 0;
  Id id = 0;
  std::string name;
  std::string email;  // lower-cased
  Role role = Role::kCashier;
  bool active = true;
  std::vector<Id> branch_ids;  // empty: every branch
  Micros created_at = 0;
  Micros updated_at = 0;
};

// A person's e-mail, trimmed and lower-cased; invalid_argument naming `field` when it does not
// look like an address.
Result<std::string> NormalizeEmail(std::string_view raw, std::string_view field = "email");

// Minimum password rules for staff: 8 or more characters.
Status ValidatePassword(std::string_view password, std::string_view field = "password");

}  // namespace regulars::accounts
