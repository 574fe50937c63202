#pragma once

// Tier use cases: the program (metric and window), the tiers, each member's tier with progress,
// upgrades on every order, reviews that downgrade after a grace period, manual overrides with an
// end date, and history. Each runs in the caller's transaction.

#include <optional>
#include <vector>

#include "accounts/account.h"
#include "loyalty/tier.h"
#include "store/db.h"

namespace regulars::loyalty {

Result<TierProgram> GetTierProgram(store::Tx& tx, Id merchant_id);
Result<TierProgram> SetTierProgram(store::Tx& tx, const accounts::Actor& actor, TierProgram p);

Result<std::vector<Tier>> ListTiers(store::Tx& tx, Id merchant_id);
struct TierInput {
  std::optional<int> level;
  std::optional<std::string> name;
  std::optional<int64_t> threshold;
  std::optional<int64_t> earn_multiplier_milli;
  std::optional<std::string> benefits_json;
};
Result<Tier> CreateTier(store::Tx& tx, const accounts::Actor& actor, TierInput in);
Result<Tier> UpdateTier(store::Tx& tx, const accounts::Actor& actor, Id id, TierInput in);

struct MemberTierView {
  std::optional<Tier> tier;  // in effect now
  MemberTierState state;
  int qualified_level = 0;
  int64_t value = 0;  // the metric within the window
  Micros window_start = 0;
  std::optional<Tier> next;
  int64_t to_next = 0;  // how much more spend / points reaches `next`
};
Result<MemberTierView> MemberTier(store::Tx& tx, const accounts::Actor& actor, Id member_id);

// Upgrades at once when an order lifts the member to a higher tier. With `tiers` and `program`
// (the merchant's, e.g. from the configuration cache) it does not read them.
Status RequalifyMember(store::Tx& tx, const accounts::Actor& actor, Id member_id);
Status RequalifyMember(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                       const std::vector<Tier>& tiers, const TierProgram& program);

// Sets (or clears, with level 0 and no end) a manual tier until `until`.
Result<MemberTierView> OverrideTier(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                                    int level, std::optional<Micros> until);

struct TierChange {
  Id id = 0;
  int from_level = 0;
  int to_level = 0;
  std::string reason;
  Micros at = 0;
};
Result<std::vector<TierChange>> TierHistory(store::Tx& tx, const accounts::Actor& actor,
                                            Id member_id);

// Reviews every member holding a tier: a member below their tier's threshold gets a grace
// period, and is downgraded at the first review after it. Returns how many changed.
Result<int> ReviewTiers(store::Tx& tx, Id merchant_id, Micros now);

// The tier in effect for a member (for earning), or nullopt.
Result<std::optional<Tier>> CurrentTier(store::Tx& tx, Id merchant_id, Id member_id, Micros now);
// The same with the merchant's tiers given (ListTiers): no statement at all when there are none.
Result<std::optional<Tier>> CurrentTier(store::Tx& tx, Id merchant_id, Id member_id, Micros now,
                                        const std::vector<Tier>& tiers);

}  // namespace regulars::loyalty
