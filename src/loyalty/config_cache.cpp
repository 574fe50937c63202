#include "loyalty/config_cache.h"

#include <atomic>
#include <mutex>
#include <random>
#include <unordered_map>

#include "loyalty/coupon_service.h"
#include "loyalty/referral_service.h"
#include "loyalty/tier_service.h"

namespace regulars::loyalty {
namespace {

struct Cache {
  std::mutex mu;
  std::unordered_map<Id, std::shared_ptr<const MerchantConfig>> by_merchant;
  std::atomic<int64_t> hits{0}, loads{0};
};

Cache& TheCache() {
  static Cache* c = new Cache();  // never destroyed: used until the process ends
  return *c;
}

// A fresh version: random, positive, never 0.
int64_t NewVersion() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  int64_t v = static_cast<int64_t>(gen() >> 1);
  return v == 0 ? 1 : v;
}

Result<std::shared_ptr<const MerchantConfig>> Load(store::Tx& tx, const accounts::Actor& actor,
                                                   int64_t version) {
  auto c = std::make_shared<MerchantConfig>();
  c->merchant_id = actor.merchant_id;
  c->version = version;
  RG_ASSIGN_OR_RETURN(c->settings, LoadMerchantSettings(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(c->rules, ActiveRuleVersions(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(c->point_types, ListPointTypes(tx, actor));
  RG_ASSIGN_OR_RETURN(c->stamp_cards, ListStampCards(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(c->tiers, ListTiers(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(c->tier_program, GetTierProgram(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(auto templates, ListCouponTemplates(tx, actor));
  for (auto& t : templates) {
    if (!t.active) continue;
    if (t.issue_on == IssueOn::kWelcome) c->welcome_templates.push_back(t);
    if (t.issue_on == IssueOn::kSpend) c->spend_templates.push_back(t);
  }
  RG_ASSIGN_OR_RETURN(ReferralProgram rp, GetReferralProgram(tx, actor));
  c->referral_program_active = rp.configured && rp.active;
  return std::shared_ptr<const MerchantConfig>(std::move(c));
}

}  // namespace

Status BumpConfigVersion(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE merchants SET config_version = ? WHERE "
                                         "merchant_id = ?",
                                         {NewVersion(), merchant_id}));
  if (n != 1) return Fail(Code::kNotFound, "merchant not found");
  return {};
}

Result<std::shared_ptr<const MerchantConfig>> ConfigAtVersion(store::Tx& tx,
                                                              const accounts::Actor& actor,
                                                              int64_t version) {
  Cache& cache = TheCache();
  if (version != 0) {
    std::lock_guard lock(cache.mu);
    auto it = cache.by_merchant.find(actor.merchant_id);
    if (it != cache.by_merchant.end() && it->second->version == version) {
      cache.hits.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
  }
  RG_ASSIGN_OR_RETURN(auto loaded, Load(tx, actor, version));
  cache.loads.fetch_add(1, std::memory_order_relaxed);
  if (version != 0) {
    std::lock_guard lock(cache.mu);
    cache.by_merchant[actor.merchant_id] = loaded;
  }
  return loaded;
}

Result<std::shared_ptr<const MerchantConfig>> CurrentConfig(store::Tx& tx,
                                                            const accounts::Actor& actor) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query("SELECT config_version FROM merchants WHERE merchant_id = ?", {actor.merchant_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
  return ConfigAtVersion(tx, actor, rows[0].Int(0));
}

ConfigCacheStats GetConfigCacheStats() {
  Cache& cache = TheCache();
  return {cache.hits.load(), cache.loads.load()};
}

void ClearConfigCache() {
  Cache& cache = TheCache();
  std::lock_guard lock(cache.mu);
  cache.by_merchant.clear();
  cache.hits = 0;
  cache.loads = 0;
}

}  // namespace regulars::loyalty
