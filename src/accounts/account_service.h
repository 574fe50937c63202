#pragma once

// Use cases for merchants, staff, console sessions and API keys. Functions that take a Tx run
// inside the caller's transaction; Login takes the Database because it must verify a password
// (slow, deliberately) outside any transaction.

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "accounts/login_throttle.h"
#include "base/page.h"
#include "store/db.h"

namespace regulars::accounts {

// Merchants -----------------------------------------------------------------------------------

// Validates and creates a merchant; assigns its id.
Result<Merchant> CreateMerchant(store::Tx& tx, Micros now, Merchant m);
Result<Merchant> GetMerchant(store::Tx& tx, Id merchant_id);
Result<std::vector<Merchant>> ListMerchants(store::Tx& tx);

// Staff ---------------------------------------------------------------------------------------

struct NewStaff {
  std::string name;
  std::string email;  // normalised by the service
  Role role = Role::kCashier;
  std::string password_hash;  // from HashPassword, computed before the transaction
  std::vector<Id> branch_ids;
};

struct StaffPatch {
  std::optional<std::string> name;
  std::optional<Role> role;
  std::optional<bool> active;
  std::optional<std::vector<Id>> branch_ids;
  std::optional<std::string> password_hash;
};

// Owner only. already_exists when the e-mail is taken in this merchant.
Result<Staff> CreateStaff(store::Tx& tx, const Actor& actor, NewStaff s);
// Owner only. failed_precondition when it would leave the merchant without an active owner.
Result<Staff> UpdateStaff(store::Tx& tx, const Actor& actor, Id staff_id, StaffPatch p);
Result<Staff> GetStaff(store::Tx& tx, const Actor& actor, Id staff_id);
Result<Page<Staff>> ListStaff(store::Tx& tx, const Actor& actor, std::optional<Id> after,
                              int limit);

// Sessions ------------------------------------------------------------------------------------

struct Session {
  std::string token;       // the cookie value; only its hash is stored
  std::string csrf_token;  // sent back in X-CSRF-Token on every non-GET request
  Micros expires_at = 0;
  Staff staff;
  Merchant merchant;
};

struct LoginRequest {
  std::string email;
  std::string password;
  std::optional<Id> merchant_id;  // needed only when the e-mail works at several merchants
  std::string client_ip;
  Micros ttl = 12 * 3600 * kMicrosPerSecond;
};

// unauthenticated ("email or password is wrong") for any bad combination, without telling which
// part was wrong; resource_exhausted when throttled.
Result<Session> Login(store::Database& db, const Clock& clock, LoginThrottle& throttle,
                      const LoginRequest& req);

// The actor behind a session cookie and its CSRF token, or unauthenticated.
struct SessionActor {
  Actor actor;
  std::string csrf_token;
  Staff staff;
  Merchant merchant;
};
Result<SessionActor> AuthenticateSession(store::Tx& tx, Micros now, std::string_view token);
Status Logout(store::Tx& tx, std::string_view token);

// API keys ------------------------------------------------------------------------------------

struct ApiKey {
  Id merchant_id = 0;
  Id id = 0;
  std::string name;
  Role role = Role::kOwner;
  Micros created_at = 0;
  std::optional<Micros> revoked_at;
};

struct NewApiKey {
  ApiKey key;
  std::string secret;  // "rk_<merchant>_<random>"; shown once, stored only as a hash
};

Result<NewApiKey> CreateApiKey(store::Tx& tx, Micros now, Id merchant_id, std::string name,
                               Role role);
Result<Actor> AuthenticateApiKey(store::Tx& tx, Micros now, std::string_view secret);
Status RevokeApiKey(store::Tx& tx, const Actor& actor, Id key_id);
Result<std::vector<ApiKey>> ListApiKeys(store::Tx& tx, const Actor& actor);

}  // namespace regulars::accounts
