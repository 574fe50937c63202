// Differential test of the segment language: generated data (members with birthdays, tags,
// consents, tiers, points, stamps and wallets; two years of orders over several branches,
// categories and skus, with partial and full refunds, anonymous orders, erased and merged
// members) written straight into the tables, then many random definitions (seeded, depth <= 3,
// every feature and operator the SQL side has, saved-segment references) evaluated both ways:
// on the feature store built from the database (EvaluateSegment) and as one SQL query over the
// raw tables (CompileSegmentSql). The member sets must be equal. On a mismatch the seed, the
// definition, the SQL and the differing members are printed.
//
// Not covered here: the model outputs (p_alive, expected_purchases_90d, expected_value_minor)
// and rfm_group, which exist only in memory (segment_sql.h); segment_test.cpp covers them.
//
// SEGMENT_DIFF_SEED=<n> re-runs one seed; SEGMENT_DIFF_DEFINITIONS=<n> changes the count.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "insight/feature_store.h"
#include "insight/segment.h"
#include "insight/segment_sql.h"
#include "store/testing.h"

namespace regulars::insight {
namespace {

using nlohmann::json;
using store::Value;

constexpr int64_t kDayS = 86'400;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Catalogue {
  std::vector<std::string> categories = {"tea", "coffee", "cake", "蛋糕"};
  std::vector<std::pair<std::string, std::string>> skus = {  // sku, category ("" = none)
      {"T1", "tea"},    {"T2", "tea"},  {"T3", "tea"},     {"C1", "coffee"},
      {"C2", "coffee"}, {"K1", "cake"}, {"K2", "蛋糕"},    {"K3", "cake"},
      {"B1", ""},       {"B2", ""},     {"X-1", "coffee"}, {"X-2", "tea"}};
  std::vector<std::string> regions = {"TW-TPE", "TW-KHH", "TW-TXG", "HK"};
  std::vector<std::string> cities = {"Taipei", "Kaohsiung", "Taichung", "新竹", "Hong Kong"};
  std::vector<std::string> genders = {"female", "male", "other"};
  std::vector<std::string> languages = {"zh-TW", "en", "zh-CN"};
  std::vector<std::string> tags = {"vip", "new", "coffee", "夜貓", "staff"};
};

// One merchant's generated data; ids of what definitions may name.
struct Tenant {
  Id merchant_id = 0;
  std::string timezone;
  std::vector<Id> branches;
  std::vector<Id> tiers;  // by position; levels 1, 3, 5
};

class SegmentDiff : public store::BackendTest {
 protected:
  std::mt19937_64 rng_;
  Catalogue cat_;
  int64_t now_s_ = 0;

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int64_t Uniform64(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int>(v.size()) - 1))];
  }

  Status Generate(store::Tx& tx, Tenant& t, int members) {
    Micros now = clock_.Now();
    RG_TRY(
        tx.Exec("INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
                "created_at, updated_at) VALUES (?, 'Diff', 'TW', 'TWD', ?, 'zh-TW', ?, ?)",
                {t.merchant_id, t.timezone, now, now}));
    for (int b = 0; b < 4; ++b) {
      Id id = NewId();
      t.branches.push_back(id);
      RG_TRY(tx.Exec(
          "INSERT INTO branches (merchant_id, id, name, code, created_at, updated_at) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          {t.merchant_id, id, "Branch " + std::to_string(b), "B" + std::to_string(b), now, now}));
    }
    int level = 1;
    for (int k = 0; k < 3; ++k, level += 2) {
      Id id = NewId();
      t.tiers.push_back(id);
      RG_TRY(
          tx.Exec("INSERT INTO tiers (merchant_id, id, level, name, threshold, created_at, "
                  "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  {t.merchant_id, id, int64_t{level}, "Tier " + std::to_string(level),
                   int64_t{level * 1000}, now, now}));
    }
    std::vector<Id> point_types;
    for (int k = 0; k < 3; ++k) {
      Id id = NewId();
      point_types.push_back(id);
      RG_TRY(
          tx.Exec("INSERT INTO point_types (merchant_id, id, code, name, expiry_kind, "
                  "created_at, updated_at) VALUES (?, ?, ?, ?, 'never', ?, ?)",
                  {t.merchant_id, id, "pt" + std::to_string(k), "Points", now, now}));
    }
    // The third point type holds a stamp card's stamps: not counted in `points`.
    RG_TRY(
        tx.Exec("INSERT INTO stamp_cards (merchant_id, id, name, point_type_id, stamps_needed, "
                "per, reward_name, created_at, updated_at) VALUES (?, ?, 'Card', ?, 10, "
                "'visit', 'Free tea', ?, ?)",
                {t.merchant_id, NewId(), point_types[2], now, now}));

    std::vector<Id> ids;
    for (int i = 0; i < members; ++i) {
      Id id = NewId();
      ids.push_back(id);
      Micros created = now - Uniform64(0, 3 * 365 * kDayS) * kMicrosPerSecond;
      int bm = 0, bd = 0;
      if (Chance(0.8)) {
        bm = Uniform(1, 12);
        int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bd = Chance(0.05) ? std::min(29, days[bm - 1]) : Uniform(1, days[bm - 1]);
        if (Chance(0.03)) bm = 2, bd = 29;
      }
      json tags = json::array();
      for (const auto& tag : cat_.tags)
        if (Chance(0.25)) tags.push_back(tag);
      auto maybe = [&](const std::vector<std::string>& pool, double p) -> Value {
        if (!Chance(p)) return store::Null();
        return Pick(pool);
      };
      Value erased = Chance(0.04) ? Value(now) : store::Null();
      Value merged = !ids.empty() && Chance(0.03) ? Value(ids.front()) : store::Null();
      RG_TRY(tx.Exec(
          "INSERT INTO members (merchant_id, id, phone, name, birth_month, birth_day, gender, "
          "region, city, tags, language, referral_code, merged_into, erased_at, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {t.merchant_id, id, "+88691" + std::to_string(1'000'000 + i),
           "Member " + std::to_string(i), bm ? Value(int64_t{bm}) : store::Null(),
           bm ? Value(int64_t{bd}) : store::Null(), maybe(cat_.genders, 0.8),
           maybe(cat_.regions, 0.85), maybe(cat_.cities, 0.7), tags.dump(),
           maybe(cat_.languages, 0.7), "R" + std::to_string(id), merged, erased, created,
           created}));
      for (const char* ch : {"sms", "email", "line"}) {
        if (!Chance(0.6)) continue;
        RG_TRY(
            tx.Exec("INSERT INTO member_consents (merchant_id, member_id, channel, granted, "
                    "changed_at, source) VALUES (?, ?, ?, ?, ?, 'test')",
                    {t.merchant_id, id, std::string(ch), int64_t{Chance(0.6)}, now}));
      }
      if (Chance(0.7)) {
        // Level 2 has no tier (rank 0); overrides end in the past, the future, or never.
        int lv = std::vector<int>{0, 1, 2, 3, 5}[static_cast<size_t>(Uniform(0, 4))];
        Value ov = store::Null(), until = store::Null();
        if (Chance(0.3)) {
          ov = int64_t{std::vector<int>{1, 3, 5}[static_cast<size_t>(Uniform(0, 2))]};
          int u = Uniform(0, 2);
          if (u == 0) until = now - kDayS * kMicrosPerSecond;
          if (u == 1) until = now + kDayS * kMicrosPerSecond;
        }
        RG_TRY(
            tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since, "
                    "override_level, override_until) VALUES (?, ?, ?, ?, ?, ?)",
                    {t.merchant_id, id, int64_t{lv}, created, ov, until}));
      }
      for (size_t k = 0; k < point_types.size(); ++k) {
        if (!Chance(0.5)) continue;
        RG_TRY(
            tx.Exec("INSERT INTO point_balances (merchant_id, member_id, point_type_id, "
                    "balance, updated_at) VALUES (?, ?, ?, ?, ?)",
                    {t.merchant_id, id, point_types[k], Uniform64(-50, 600), now}));
      }
      if (Chance(0.35)) {
        RG_TRY(
            tx.Exec("INSERT INTO wallet_balances (merchant_id, member_id, paid_minor, "
                    "bonus_minor, updated_at) VALUES (?, ?, ?, ?, ?)",
                    {t.merchant_id, id, Uniform64(0, 5000), Uniform64(0, 500), now}));
      }
    }
    // Orders: members and anonymous ones, over two years (a few in the last days).
    int orders = members * 5;
    for (int k = 0; k < orders; ++k) {
      Id oid = NewId();
      Value member = Chance(0.9) ? Value(Pick(ids)) : store::Null();
      int64_t ago = Chance(0.1) ? Uniform64(0, 10 * kDayS) : Uniform64(0, 730 * kDayS);
      Micros at = (now_s_ - ago) * kMicrosPerSecond + Uniform64(0, 999'999);
      int64_t total = Uniform64(50, 5000);
      int64_t refunded = 0;
      if (Chance(0.1))
        refunded = total;
      else if (Chance(0.1))
        refunded = Uniform64(1, total - 1);
      Value branch = Chance(0.9) ? Value(Pick(t.branches)) : store::Null();
      RG_TRY(
          tx.Exec("INSERT INTO orders (merchant_id, id, external_id, member_id, branch_id, "
                  "occurred_at, currency, total_minor, refunded_minor, created_at) VALUES "
                  "(?, ?, ?, ?, ?, ?, 'TWD', ?, ?, ?)",
                  {t.merchant_id, oid, "E" + std::to_string(oid), member, branch, at, total,
                   refunded, now}));
      int lines = Uniform(0, 3);
      for (int l = 0; l < lines; ++l) {
        const auto& [sku, category] = Pick(cat_.skus);
        RG_TRY(
            tx.Exec("INSERT INTO order_items (merchant_id, order_id, line, sku, name, "
                    "category, quantity, unit_price_minor) VALUES (?, ?, ?, ?, ?, ?, 1, 100)",
                    {t.merchant_id, oid, int64_t{l + 1}, sku, "Item " + sku,
                     category.empty() ? store::Null() : Value(category)}));
      }
    }
    return {};
  }

  // ---- random definitions -------------------------------------------------------------------

  json Number(const std::string& feature, int64_t lo, int64_t hi, bool window) {
    static const std::vector<std::string> ops = {"=", "!=", ">", ">=", "<", "<=", "between"};
    const std::string& op = Pick(ops);
    json p = {{"feature", feature}, {"op", op}};
    if (op == "between") {
      int64_t a = Uniform64(lo, hi), b = Uniform64(lo, hi);
      p["values"] = {std::min(a, b), std::max(a, b)};
    } else {
      p["value"] = Uniform64(lo, hi);
    }
    if (window && Chance(0.5)) p["window_days"] = Window();
    return p;
  }
  int Window() {
    static const std::vector<int> common = {1, 7, 30, 90, 180, 365, 730, 3650};
    return Chance(0.7) ? Pick(common) : Uniform(1, 3650);
  }
  json Strings(const std::string& feature, const std::vector<std::string>& ops,
               std::vector<std::string> pool, bool window) {
    // A value nothing has (an id for branch and tier, which take ids).
    pool.push_back(feature == "branch" || feature == "tier" ? "999" : "unknown-value");
    json values = json::array();
    int n = Uniform(1, 3);
    for (int k = 0; k < n; ++k) values.push_back(Pick(pool));
    json p = {{"feature", feature}, {"op", Pick(ops)}, {"values", values}};
    if (window && Chance(0.5)) p["window_days"] = Window();
    return p;
  }
  json Ints(const std::string& feature, const std::string& op, int lo, int hi, bool window) {
    json values = json::array();
    int n = Uniform(1, 3);
    for (int k = 0; k < n; ++k) values.push_back(Uniform(lo, hi));
    json p = {{"feature", feature}, {"op", op}, {"values", values}};
    if (window && Chance(0.5)) p["window_days"] = Window();
    return p;
  }
  std::vector<std::string> IdStrings(const std::vector<Id>& ids) {
    std::vector<std::string> out;
    for (Id id : ids) out.push_back(IdToString(id));
    return out;
  }

  json Predicate(const Tenant& t) {
    const std::vector<std::string> set_ops = {"in", "all", "none"};
    const std::vector<std::string> str_ops = {"in", "not_in"};
    switch (Uniform(0, 24)) {
      case 0:
        return Number("orders", 0, 8, true);
      case 1:
        return Number("spend_minor", 0, 20000, true);
      case 2:
        return Number("aov_minor", 0, 3000, true);
      case 3:
        return Number("days_since_last_order", 0, 750, false);
      case 4:
        return Number("days_since_first_order", 0, 750, false);
      case 5:
        return Number("days_since_joined", 0, 1100, false);
      case 6:
        return Number("points", -50, 1200, false);
      case 7:
        return Number("wallet_minor", 0, 5500, false);
      case 8:
        return Number("tier_rank", 0, 3, false);
      case 9:
        return Strings("category", set_ops, cat_.categories, true);
      case 10: {
        std::vector<std::string> skus;
        for (const auto& s : cat_.skus) skus.push_back(s.first);
        return Strings("sku", set_ops, skus, true);
      }
      case 11:
        return Strings("branch", set_ops, IdStrings(t.branches), true);
      case 12:
        return Strings("region", str_ops, cat_.regions, false);
      case 13:
        return Strings("city", str_ops, cat_.cities, false);
      case 14:
        return Strings("gender", str_ops, cat_.genders, false);
      case 15:
        return Strings("language", str_ops, cat_.languages, false);
      case 16:
        return Strings("tier", str_ops, IdStrings(t.tiers), false);
      case 17:
        return Strings("tag", set_ops, cat_.tags, false);
      case 18: {
        static const std::vector<std::string> f = {"consent_sms", "consent_email", "consent_line"};
        return {{"feature", Pick(f)}, {"op", "="}, {"value", Chance(0.5)}};
      }
      case 19: {
        static const std::vector<int> days = {0, 1, 6, 7, 30, 100, 200, 365, 366};
        return {{"feature", "birthday"},
                {"op", "in_next_days"},
                {"value", Chance(0.6) ? Pick(days) : Uniform(0, 366)}};
      }
      case 20:
        return Ints("birthday", "month_in", 1, 12, false);
      case 21:
        return Ints("weekday", "in", 1, 7, true);
      case 22:
        return Ints("day_of_month", "in", 1, 31, true);
      case 23:
        if (!saved_ids_.empty()) return {{"segment", IdToString(Pick(saved_ids_))}};
        return Number("orders", 0, 8, true);
      default:
        return Number("spend_minor", 0, 8000, true);
    }
  }

  json Definition(const Tenant& t, int depth) {
    if (depth >= 3 || Chance(0.35)) return Predicate(t);
    int kind = Uniform(0, 2);
    if (kind == 2) return {{"not", Definition(t, depth + 1)}};
    json list = json::array();
    int n = Uniform(1, 3);
    for (int k = 0; k < n; ++k) list.push_back(Definition(t, depth + 1));
    return {{kind == 0 ? "and" : "or", list}};
  }

  std::vector<Id> saved_ids_;
  std::map<Id, std::shared_ptr<const SegmentNode>> saved_;
};

TEST_P(SegmentDiff, StoreAndSqlAgree) {
  uint64_t seed = EnvOr("SEGMENT_DIFF_SEED", 20261201);
  int definitions = static_cast<int>(EnvOr("SEGMENT_DIFF_DEFINITIONS", 400));
  rng_.seed(seed);
  std::cout << "segment_diff_test: seed " << seed << ", backend " << GetParam() << std::endl;
  now_s_ = clock_.Now() / kMicrosPerSecond;
  Micros now = now_s_ * kMicrosPerSecond;

  std::vector<Tenant> tenants(2);
  tenants[0].merchant_id = NewId();
  tenants[0].timezone = "America/New_York";  // daylight saving moves weekdays at night
  tenants[1].merchant_id = NewId();
  tenants[1].timezone = "Asia/Taipei";
  for (auto& t : tenants) {
    ASSERT_TRUE(db().Write([&](store::Tx& tx) { return Generate(tx, t, 300); }).has_value());
  }

  int checked = 0, mismatches = 0, nontrivial = 0;
  for (const auto& t : tenants) {
    auto features = db().ReadValue(
        [&](store::Tx& tx) { return BuildMerchantFeatures(tx, t.merchant_id, now); });
    ASSERT_TRUE(features.has_value()) << features.error().ToString();
    ASSERT_GT(features->size(), 250u);

    // Three saved segments that later definitions may refer to.
    saved_ids_.clear();
    saved_.clear();
    for (int k = 0; k < 3; ++k) {
      auto node = ParseSegmentDefinition(Definition(t, 1));
      ASSERT_TRUE(node.has_value()) << node.error().ToString();
      Id id = 1000 + k;
      saved_[id] = std::make_shared<SegmentNode>(std::move(*node));
      saved_ids_.push_back(id);
    }
    SegmentResolver resolve = [&](Id id) -> Result<std::shared_ptr<const SegmentNode>> {
      auto it = saved_.find(id);
      if (it == saved_.end()) return Fail(Code::kNotFound, "no segment");
      return it->second;
    };
    store::Dialect dialect = db().dialect();
    SegmentSqlContext ctx{dialect, t.merchant_id, now, t.timezone, resolve};

    for (int d = 0; d < definitions / 2; ++d) {
      json def = Definition(t, 1);
      auto node = ParseSegmentDefinition(def);
      ASSERT_TRUE(node.has_value()) << def.dump() << ": " << node.error().ToString();
      auto bitmap = EvaluateSegment(*node, *features, now, resolve);
      ASSERT_TRUE(bitmap.has_value()) << def.dump() << ": " << bitmap.error().ToString();
      std::vector<Id> in_memory;
      for (uint32_t i : *bitmap) in_memory.push_back(features->member_ids[i]);
      std::sort(in_memory.begin(), in_memory.end());

      auto sql = CompileSegmentSql(*node, ctx);
      ASSERT_TRUE(sql.has_value()) << def.dump() << ": " << sql.error().ToString();
      auto rows = db().ReadValue([&](store::Tx& tx) { return tx.Query(sql->sql, sql->params); });
      ASSERT_TRUE(rows.has_value()) << sql->sql << ": " << rows.error().ToString();
      std::vector<Id> in_sql;
      for (const auto& r : *rows) in_sql.push_back(r.Int(0));

      ++checked;
      if (!in_memory.empty() && in_memory.size() < features->size()) ++nontrivial;
      if (in_memory != in_sql) {
        ++mismatches;
        std::vector<Id> only_memory, only_sql;
        std::set_difference(in_memory.begin(), in_memory.end(), in_sql.begin(), in_sql.end(),
                            std::back_inserter(only_memory));
        std::set_difference(in_sql.begin(), in_sql.end(), in_memory.begin(), in_memory.end(),
                            std::back_inserter(only_sql));
        auto head = [](const std::vector<Id>& v) {
          std::string s;
          for (size_t k = 0; k < v.size() && k < 5; ++k) s += IdToString(v[k]) + " ";
          return s;
        };
        ADD_FAILURE() << "seed " << seed << " (SEGMENT_DIFF_SEED=" << seed << "), definition " << d
                      << " of merchant in " << t.timezone << ":\n  " << def.dump()
                      << "\n  store: " << in_memory.size() << " members, sql: " << in_sql.size()
                      << "\n  only in store: " << head(only_memory)
                      << "\n  only in sql: " << head(only_sql) << "\n  sql: " << sql->sql;
        if (mismatches >= 5) return;
      }
    }
  }
  EXPECT_GE(checked, 300);
  // The data and definitions are rich enough that most results are neither empty nor everyone.
  EXPECT_GT(nontrivial, checked / 2) << "too many trivial definitions: the test proves little";
}

RG_INSTANTIATE_BACKENDS(SegmentDiff);

}  // namespace
}  // namespace regulars::insight
