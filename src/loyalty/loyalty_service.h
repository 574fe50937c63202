#pragma once

// Loyalty use cases: program configuration (point types, earning rules, rewards), balances and
// the ledger, adjustments, two-step redemption, expiry and member merge. Each function runs in
// the caller's transaction and filters by actor.merchant_id.

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "loyalty/earning.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/point_type.h"
#include "members/member.h"
#include "store/db.h"

namespace regulars::loyalty {

// Point types ---------------------------------------------------------------------------------

struct PointTypeInput {
  std::optional<std::string> code, name;
  std::optional<ExpiryPolicy> expiry;
  std::optional<int64_t> value_minor_per_1000;
  std::optional<Shortfall> shortfall;
  std::optional<bool> active;
};
Result<PointType> CreatePointType(store::Tx& tx, const accounts::Actor& actor, PointTypeInput in);
Result<PointType> UpdatePointType(store::Tx& tx, const accounts::Actor& actor, Id id,
                                  PointTypeInput in);
Result<std::vector<PointType>> ListPointTypes(store::Tx& tx, const accounts::Actor& actor);
// By code ("points") or id; invalid_argument naming `field` when unknown.
Result<PointType> FindPointType(store::Tx& tx, const accounts::Actor& actor,
                                const std::string& code_or_id, std::string_view field);

// Earning rules -------------------------------------------------------------------------------

struct RuleInput {
  std::optional<std::string> point_type;  // code or id
  std::optional<std::string> name;
  std::optional<std::string> definition_json;
  std::optional<bool> active;
};
struct StoredRule {
  EarningRule rule;
  bool active = true;
  Micros valid_from = 0;
  std::string point_type_code;
};
// A change closes the current version and opens a new one from actor.now.
Result<StoredRule> CreateRule(store::Tx& tx, const accounts::Actor& actor, RuleInput in);
Result<StoredRule> UpdateRule(store::Tx& tx, const accounts::Actor& actor, Id id, RuleInput in);
Result<std::vector<StoredRule>> ListRules(store::Tx& tx, const accounts::Actor& actor);
// The active versions in force at `at`.
Result<std::vector<EarningRule>> RulesInForce(store::Tx& tx, Id merchant_id, Micros at);
// One version of a rule with the interval it was in force: [valid_from, valid_to).
struct RuleVersion {
  EarningRule rule;
  Micros valid_from = 0;
  std::optional<Micros> valid_to;  // nullopt: still in force
};
// Every active version, of any time, of the rules whose point type is active, by rule id and
// version: what RulesInForce chooses from (see RulesAt).
Result<std::vector<RuleVersion>> ActiveRuleVersions(store::Tx& tx, Id merchant_id);
// Pure: the versions of `versions` in force at `at`, in their order; with ActiveRuleVersions'
// list, the same rules as RulesInForce(tx, merchant_id, at).
std::vector<EarningRule> RulesAt(const std::vector<RuleVersion>& versions, Micros at);

// Rewards -------------------------------------------------------------------------------------

struct Reward {
  Id id = 0;
  std::string name;
  Id point_type_id = 0;
  int64_t points = 0;
  std::optional<int64_t> stock;
  std::optional<int64_t> per_member_limit;
  bool active = true;
  Micros created_at = 0;
};
struct RewardInput {
  std::optional<std::string> name, point_type;
  std::optional<int64_t> points;
  std::optional<std::optional<int64_t>> stock, per_member_limit;
  std::optional<bool> active;
};
Result<Reward> CreateReward(store::Tx& tx, const accounts::Actor& actor, RewardInput in);
Result<Reward> UpdateReward(store::Tx& tx, const accounts::Actor& actor, Id id, RewardInput in);
Result<std::vector<Reward>> ListRewards(store::Tx& tx, const accounts::Actor& actor);

// Balances and ledger -------------------------------------------------------------------------

struct PointBalance {
  PointType type;
  int64_t balance = 0;
  int64_t debt = 0;
  int64_t earned_total = 0;
  std::vector<Lot> expiring_soon;  // open lots expiring within `soon`
};
Result<std::vector<PointBalance>> MemberBalances(store::Tx& tx, const accounts::Actor& actor,
                                                 Id member_id, Micros soon = 30 * kMicrosPerDay);
Result<Page<Entry>> MemberLedger(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                                 std::optional<std::string> cursor, int limit);
Result<std::vector<Lot>> MemberLots(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                                    Id point_type_id);

// Adds or removes points by hand (owner or manager), with a reason. Removing more than the
// balance is failed_precondition.
Result<Entry> Adjust(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                     const std::string& point_type, int64_t points, const std::string& reason);

// Redemptions ---------------------------------------------------------------------------------

struct Redemption {
  Id id = 0;
  Id member_id = 0;
  Id point_type_id = 0;
  int64_t points = 0;
  std::optional<Id> reward_id;
  std::optional<Id> order_id;
  std::string status;  // reserved, committed, cancelled, expired
  Micros expires_at = 0;
  Micros created_at = 0;
  int64_t balance_after = 0;
};
struct RedeemInput {
  Id member_id = 0;
  std::optional<Id> reward_id;
  std::optional<std::string> point_type;
  std::optional<int64_t> points;
  std::optional<Id> order_id;
  std::optional<Id> branch_id;
  bool commit = false;  // reserve and commit in one step
  Micros hold = 15 * 60 * kMicrosPerSecond;
};
Result<Redemption> Reserve(store::Tx& tx, const accounts::Actor& actor, const RedeemInput& in);
Result<Redemption> CommitRedemption(store::Tx& tx, const accounts::Actor& actor, Id id);
Result<Redemption> CancelRedemption(store::Tx& tx, const accounts::Actor& actor, Id id);

// Background work: expires due lots and lapsed reservations of every merchant. Idempotent.
struct Sweep {
  int64_t points_expired = 0;
  int64_t reservations_released = 0;
};
Result<Sweep> RunExpiry(store::Tx& tx, Micros now);

// Moves `from`'s balances and lots to `into` (after members::MergeMembers), with merge entries.
Status MergeBalances(store::Tx& tx, const accounts::Actor& actor, Id into, Id from);

// The merchant's time zone and phone region (for expiry and order facts).
struct MerchantSettings {
  std::string timezone = "Asia/Taipei";
  std::string region = "TW";
  std::string currency = "TWD";
  bool register_on_order = true;
};
Result<MerchantSettings> LoadMerchantSettings(store::Tx& tx, Id merchant_id);

}  // namespace regulars::loyalty
