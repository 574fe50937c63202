#pragma once

// The configuration every order reads, kept in the process per merchant: merchant settings, the
// earning rules (parsed), point types, stamp cards, tiers and the tier program, the coupon
// templates issued by themselves, and whether the referral program is active.
//
// Invalidation: every write of that configuration sets merchants.config_version to a fresh random
// value in its own transaction (BumpConfigVersion). A reader reads that one column in its
// transaction and uses the cached copy only when the copy was loaded at exactly that value;
// otherwise it reads the configuration again in the same transaction, after the version, and
// caches it under the version it read. So the copy an order uses is never older than the version
// the order saw, whichever process (or second Database on the same file or server) made the
// change, and a change is seen by the very next transaction that reads the version after it
// committed. Versions are random, never counted, so a value from a transaction that rolled back,
// or from another database in the same process with the same merchant id, is never taken for a
// current one. Version 0 (never set: merchants from before migration 11 or written by hand)
// is never cached.
//
// Thread-safe. Cached copies are immutable and shared (std::shared_ptr<const ...>).

#include <memory>
#include <vector>

#include "accounts/account.h"
#include "loyalty/coupon.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier.h"
#include "store/db.h"

namespace regulars::loyalty {

struct MerchantConfig {
  Id merchant_id = 0;
  int64_t version = 0;
  MerchantSettings settings;
  std::vector<RuleVersion> rules;      // ActiveRuleVersions
  std::vector<PointType> point_types;  // ListPointTypes: every one, by id
  std::vector<StampCard> stamp_cards;  // ListStampCards: every one, by id
  std::vector<Tier> tiers;             // ListTiers: by level
  TierProgram tier_program;            // GetTierProgram
  // Active templates issued on joining / on an order's spend, by id.
  std::vector<CouponTemplate> welcome_templates, spend_templates;
  bool referral_program_active = false;

  // The earning rules in force at `at` (RulesInForce without the query).
  std::vector<EarningRule> RulesAt(Micros at) const { return loyalty::RulesAt(rules, at); }
};

// Sets the merchant's config_version to a fresh value. Every write of the configuration above
// calls it in the same transaction.
Status BumpConfigVersion(store::Tx& tx, Id merchant_id);

// The configuration of actor.merchant_id for `version`, the merchants.config_version this
// transaction read: the cached copy when it was loaded at this version, else read now in `tx`
// (9 statements) and, unless `version` is 0, cached.
Result<std::shared_ptr<const MerchantConfig>> ConfigAtVersion(store::Tx& tx,
                                                              const accounts::Actor& actor,
                                                              int64_t version);
// Reads config_version (1 statement), then as ConfigAtVersion. not_found when the merchant is.
Result<std::shared_ptr<const MerchantConfig>> CurrentConfig(store::Tx& tx,
                                                            const accounts::Actor& actor);

// Counters since start (or the last ClearConfigCache): copies used, and configurations read.
struct ConfigCacheStats {
  int64_t hits = 0;
  int64_t loads = 0;
};
ConfigCacheStats GetConfigCacheStats();
// Forgets every cached copy and zeroes the counters (tests).
void ClearConfigCache();

}  // namespace regulars::loyalty
