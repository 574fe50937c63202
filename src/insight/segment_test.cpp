// The segment language: exact validation errors naming the node path, and evaluation of every
// feature and operator on hand-built features (windows, refunds, calendar predicates in the
// merchant's zone, NOT as the complement, saved-segment references and their cycles).

#include "insight/segment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "base/zone.h"
#include "insight/feature_store.h"

namespace regulars::insight {
namespace {

using nlohmann::json;

constexpr Micros kNow = 1'790'000'000'000'000;  // 2026-09-21T14:13:20Z, Monday 22:13 in Taipei
constexpr int64_t kNowS = kNow / kMicrosPerSecond;
constexpr int64_t kDay = 86'400;

Micros DaysAgo(int64_t d) { return kNow - d * kMicrosPerDay; }

struct ParseCase {
  std::string definition;
  std::string field;
  std::string message;
};

TEST(SegmentParse, ErrorsNameTheNodePath) {
  const ParseCase cases[] = {
      {R"([])", "definition",
       "definition: must be an object with one of and, or, not, segment or feature"},
      {R"({})", "definition",
       "definition: must be an object with one of and, or, not, segment or feature"},
      {R"({"and": []})", "definition.and",
       "definition.and: must be a non-empty list of conditions"},
      {R"({"or": {"feature": "orders"}})", "definition.or",
       "definition.or: must be a non-empty list of conditions"},
      {R"({"and": [{"feature": "orders", "op": ">", "value": 1}], "or": []})", "definition.or",
       "definition.or: unknown field"},
      {R"({"and": [{"feature": "orders", "op": ">", "value": 1}, {"feature": "spend_minor", "op": "~", "value": 1}]})",
       "definition.and[1].op",
       R"(definition.and[1].op: "~" is not an operator of feature "spend_minor" (use =, !=, >, >=, <, <=, between))"},
      {R"({"not": {"feature": "spend"}})", "definition.not.feature",
       R"(definition.not.feature: "spend" is not a feature (use orders, spend_minor, aov_minor, days_since_last_order, days_since_first_order, days_since_joined, points, wallet_minor, tier_rank, p_alive, expected_purchases_90d, expected_value_minor, category, sku, branch, region, city, gender, language, tier, rfm_group, tag, consent_sms, consent_email, consent_line, birthday, weekday, day_of_month))"},
      {R"({"feature": 3})", "definition.feature", "definition.feature: must be a string"},
      {R"({"feature": "orders"})", "definition.op",
       "definition.op: is required (=, !=, >, >=, <, <=, between)"},
      {R"({"feature": "orders", "op": ">"})", "definition.value",
       R"(definition.value: is required for op ">")"},
      {R"({"feature": "orders", "op": ">", "value": 1.5})", "definition.value",
       "definition.value: must be an integer"},
      {R"({"feature": "orders", "op": ">", "value": "1"})", "definition.value",
       "definition.value: must be an integer"},
      {R"({"feature": "p_alive", "op": ">", "value": "high"})", "definition.value",
       "definition.value: must be a number"},
      {R"({"feature": "orders", "op": ">", "values": [1]})", "definition.values",
       R"(definition.values: op ">" takes value, not values)"},
      {R"({"feature": "orders", "op": "between", "value": 1})", "definition.value",
       R"(definition.value: op "between" takes values (a list), not value)"},
      {R"({"feature": "orders", "op": "between", "values": [1]})", "definition.values",
       "definition.values: must be [low, high]"},
      {R"({"feature": "orders", "op": "between", "values": [5, 2]})", "definition.values",
       "definition.values: low must not be above high"},
      {R"({"feature": "orders", "op": "between", "values": [1, "x"]})", "definition.values[1]",
       "definition.values[1]: must be an integer"},
      {R"({"feature": "orders", "op": ">", "value": 1, "window_days": 0})",
       "definition.window_days", "definition.window_days: must be an integer from 1 to 3650"},
      {R"({"feature": "orders", "op": ">", "value": 1, "window_days": 3651})",
       "definition.window_days", "definition.window_days: must be an integer from 1 to 3650"},
      {R"({"feature": "points", "op": ">", "value": 1, "window_days": 30})",
       "definition.window_days",
       R"(definition.window_days: feature "points" does not take window_days)"},
      {R"({"feature": "orders", "op": ">", "value": 1, "windows": 30})", "definition.windows",
       "definition.windows: unknown field"},
      {R"({"feature": "category", "op": "in", "values": []})", "definition.values",
       "definition.values: must be a non-empty list of strings"},
      {R"({"feature": "category", "op": "in"})", "definition.values",
       R"(definition.values: is required for op "in")"},
      {R"({"feature": "category", "op": "in", "values": ["tea", 3]})", "definition.values[1]",
       "definition.values[1]: must be a string"},
      {R"({"feature": "category", "op": "in", "values": ["tea", ""]})", "definition.values[1]",
       "definition.values[1]: must not be empty"},
      {R"({"feature": "category", "op": "not_in", "values": ["tea"]})", "definition.op",
       R"(definition.op: "not_in" is not an operator of feature "category" (use in, all, none))"},
      {R"({"feature": "branch", "op": "in", "values": ["main"]})", "definition.values[0]",
       "definition.values[0]: must be a branch id"},
      {R"({"feature": "tier", "op": "in", "values": ["gold"]})", "definition.values[0]",
       "definition.values[0]: must be a tier id"},
      {R"({"feature": "region", "op": "all", "values": ["TW"]})", "definition.op",
       R"(definition.op: "all" is not an operator of feature "region" (use in, not_in))"},
      {R"({"feature": "rfm_group", "op": "in", "values": ["whales"]})", "definition.values[0]",
       R"(definition.values[0]: "whales" is not an RFM group (use champions, loyal, potential_loyalist, new_customers, promising, need_attention, about_to_sleep, at_risk, cant_lose, hibernating, lost))"},
      {R"({"feature": "consent_sms", "op": "=", "value": 1})", "definition.value",
       "definition.value: must be true or false"},
      {R"({"feature": "consent_sms", "op": "!=", "value": true})", "definition.op",
       R"(definition.op: "!=" is not an operator of feature "consent_sms" (use =))"},
      {R"({"feature": "birthday", "op": "in_next_days", "value": 367})", "definition.value",
       "definition.value: must be an integer from 0 to 366"},
      {R"({"feature": "birthday", "op": "month_in", "values": [0]})", "definition.values[0]",
       "definition.values[0]: must be a month from 1 to 12"},
      {R"({"feature": "birthday", "op": "month_in", "values": []})", "definition.values",
       "definition.values: must be a non-empty list of months (1 to 12)"},
      {R"({"feature": "weekday", "op": "in", "values": [1, 8]})", "definition.values[1]",
       "definition.values[1]: must be a weekday from 1 (Monday) to 7 (Sunday)"},
      {R"({"feature": "day_of_month", "op": "in", "values": [32]})", "definition.values[0]",
       "definition.values[0]: must be a day of month from 1 to 31"},
      {R"({"feature": "tag", "op": "in", "values": ["vip"], "window_days": 3})",
       "definition.window_days",
       R"(definition.window_days: feature "tag" does not take window_days)"},
      {R"({"segment": "abc"})", "definition.segment", "definition.segment: must be a segment id"},
      {R"({"segment": "12", "not": {}})", "definition.segment",
       "definition.segment: unknown field"},
      {R"({"or": [{"and": [{"not": {"not": {"feature": "tag", "op": "any", "values": ["x"]}}}]}]})",
       "definition.or[0].and[0].not.not.op",
       R"(definition.or[0].and[0].not.not.op: "any" is not an operator of feature "tag" (use in, all, none))"},
  };
  for (const auto& c : cases) {
    auto r = ParseSegmentDefinition(json::parse(c.definition));
    ASSERT_FALSE(r.has_value()) << c.definition;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << c.definition;
    EXPECT_EQ(r.error().field, c.field) << c.definition;
    EXPECT_EQ(r.error().message, c.message) << c.definition;
  }
}

TEST(SegmentParse, DepthIsLimited) {
  json d = {{"feature", "orders"}, {"op", ">"}, {"value", 0}};
  for (int i = 0; i < 40; ++i) d = json{{"not", d}};
  auto r = ParseSegmentDefinition(d);
  ASSERT_FALSE(r.has_value());
  std::string path = "definition";
  for (int i = 0; i < 32; ++i) path += ".not";  // the 33rd level
  EXPECT_EQ(r.error().field, path);
  EXPECT_EQ(r.error().message, path + ": nested too deeply (at most 32 levels)");
}

TEST(SegmentParse, TypedTree) {
  auto r = ParseSegmentDefinition(json::parse(R"({"and": [
      {"feature": "spend_minor", "op": "between", "values": [100, 5000], "window_days": 90},
      {"not": {"segment": "42"}},
      {"feature": "branch", "op": "in", "values": ["0007"]},
      {"feature": "weekday", "op": "in", "values": [7, 6, 6]}]})"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->kind, SegmentNode::Kind::kAnd);
  ASSERT_EQ(r->children.size(), 4u);
  const auto& spend = r->children[0].predicate;
  EXPECT_EQ(r->children[0].path, "definition.and[0]");
  EXPECT_EQ(spend.feature, SegmentFeature::kSpendMinor);
  EXPECT_EQ(spend.op, SegmentOp::kBetween);
  EXPECT_EQ(spend.ilo, 100);
  EXPECT_EQ(spend.ihi, 5000);
  EXPECT_EQ(spend.window_days, 90);
  EXPECT_EQ(r->children[1].children[0].segment_id, 42);
  EXPECT_EQ(r->children[2].predicate.strings, std::vector<std::string>{"7"});
  EXPECT_EQ(r->children[3].predicate.ints, (std::vector<int>{6, 7}));
  EXPECT_EQ(SegmentRefs(*r), std::vector<Id>{42});
  EXPECT_TRUE(DependsOnTime(*r));
  EXPECT_FALSE(DependsOnTime(r->children[2]));
}

// Five members with known features; the merchant is in Asia/Taipei.
class SegmentEval : public ::testing::Test {
 protected:
  void SetUp() override {
    f_.merchant_id = 1;
    f_.timezone = "Asia/Taipei";
    int n = 5;
    for (int i = 0; i < n; ++i) {
      f_.member_ids.push_back(100 + i);
      f_.index_of[100 + i] = i;
    }
    auto size = [&](auto& v, auto fill) { v.assign(n, fill); };
    size(f_.joined_at, Micros{0});
    size(f_.first_order_at, Micros{0});
    size(f_.last_order_at, Micros{0});
    size(f_.orders, 0);
    size(f_.spend_minor, int64_t{0});
    size(f_.birth_month, int8_t{0});
    size(f_.birth_day, int8_t{0});
    size(f_.region, 0u);
    size(f_.city, 0u);
    size(f_.gender, 0u);
    size(f_.language, 0u);
    size(f_.tier_rank, 0);
    size(f_.tier_id, Id{0});
    size(f_.points, int64_t{0});
    size(f_.wallet_minor, int64_t{0});
    size(f_.consent, uint8_t{0});
    f_.logs.assign(n, {});
    size(f_.p_alive, NAN);
    size(f_.expected_purchases_90d, NAN);
    size(f_.expected_value_minor, NAN);
    size(f_.rfm_r, uint8_t{0});
    size(f_.rfm_f, uint8_t{0});
    size(f_.rfm_m, uint8_t{0});
    size(f_.rfm_group, uint8_t{0});

    uint32_t tea = f_.categories.Code("tea"), cake = f_.categories.Code("cake");
    uint32_t t1 = f_.skus.Code("T1"), c1 = f_.skus.Code("C1");
    uint32_t b7 = f_.branches.Code("7"), b8 = f_.branches.Code("8");
    // Member 0: tea at branch 7 (10 and 100 days ago), cake at branch 8 (400 days ago).
    Order(0, kNowS - 10 * kDay, 1000, b7, {tea, t1});
    Order(0, kNowS - 100 * kDay, 2000, b7, {tea, t1});
    Order(0, kNowS - 400 * kDay, 500, b8, {cake, c1});
    // Member 2: one cake order 30 days ago, and a fully refunded tea order 5 days ago.
    Order(2, kNowS - 30 * kDay, 300, b8, {cake, c1});
    Order(2, kNowS - 5 * kDay, 0, b7, {tea, t1});
    // Member 3: an order on Sunday 2026-09-20 at 23:30 Taipei (15:30Z, still Sunday in UTC too)
    // and one on 2026-08-31 at 01:00 Taipei (= 2026-08-30T17:00Z, a Sunday the 30th in UTC).
    Order(3, *FromLocal(2026, 9, 20, 23, 30, 0, "Asia/Taipei") / kMicrosPerSecond, 800, b7, {});
    Order(3, *FromLocal(2026, 8, 31, 1, 0, 0, "Asia/Taipei") / kMicrosPerSecond, 700, b7, {});
    for (uint32_t i = 0; i < 5; ++i) Totals(i);

    f_.joined_at = {DaysAgo(500), DaysAgo(5), DaysAgo(60), DaysAgo(40), DaysAgo(1)};
    f_.region = {f_.regions.Code("TW-TPE"), f_.regions.Code("TW-KHH"), 0, f_.regions.Code("TW-TPE"),
                 0};
    f_.gender = {f_.genders.Code("female"), 0, f_.genders.Code("male"), 0, 0};
    f_.tier_rank = {2, 0, 1, 0, 0};
    f_.tier_id = {9002, 0, 9001, 0, 0};
    f_.points = {500, 0, 20, -5, 0};
    f_.wallet_minor = {1000, 0, 0, 250, 0};
    f_.consent = {1, 2, 3, 0, 4};
    f_.birth_month = {9, 2, 9, 10, 0};
    f_.birth_day = {25, 29, 21, 20, 0};
    f_.p_alive = {0.9f, NAN, 0.3f, 0.5f, NAN};
    f_.rfm_group = {1, 0, 4, 8, 0};

    f_.tag_members.resize(3);
    uint32_t vip = f_.tags.Code("vip"), fresh = f_.tags.Code("new");
    f_.tag_members[vip].add(0);
    f_.tag_members[vip].add(2);
    f_.tag_members[fresh].add(2);
    f_.tag_members[fresh].add(4);
  }

  void Order(uint32_t i, int64_t at_s, int64_t net, uint32_t branch, std::vector<uint32_t> items) {
    std::vector<uint32_t> codes;
    for (size_t k = 0; k < items.size(); ++k) {
      uint32_t code = k % 2 == 0 ? items[k] : (items[k] | MerchantFeatures::kSkuCodeBit);
      codes.push_back(code);
      if (k % 2 == 0) {
        if (f_.category_members.size() <= items[k]) f_.category_members.resize(items[k] + 1);
        f_.category_members[items[k]].add(i);
      } else {
        if (f_.sku_members.size() <= items[k]) f_.sku_members.resize(items[k] + 1);
        f_.sku_members[items[k]].add(i);
      }
    }
    if (f_.branch_members.size() <= branch) f_.branch_members.resize(branch + 1);
    f_.branch_members[branch].add(i);
    std::sort(codes.begin(), codes.end());
    f_.InsertOrder(i, at_s, net, branch, codes);
  }
  void Totals(uint32_t i) {
    for (const auto& o : f_.Orders(i)) {
      f_.spend_minor[i] += f_.NetMinor(o);
      if (f_.NetMinor(o) <= 0) continue;
      ++f_.orders[i];
      Micros at = int64_t{o.at_s} * kMicrosPerSecond;
      if (!f_.first_order_at[i] || at < f_.first_order_at[i]) f_.first_order_at[i] = at;
      if (at > f_.last_order_at[i]) f_.last_order_at[i] = at;
    }
  }

  std::vector<Id> Members(const std::string& definition, Micros now = kNow) {
    auto node = ParseSegmentDefinition(json::parse(definition));
    EXPECT_TRUE(node.has_value()) << definition << ": " << node.error().ToString();
    if (!node) return {};
    auto r = EvaluateSegment(*node, f_, now, resolver_);
    EXPECT_TRUE(r.has_value()) << definition << ": " << r.error().ToString();
    if (!r) return {};
    std::vector<Id> out;
    for (uint32_t i : *r) out.push_back(f_.member_ids[i]);
    return out;
  }

  MerchantFeatures f_;
  SegmentResolver resolver_;
};

using Ids = std::vector<Id>;

TEST_F(SegmentEval, Numbers) {
  EXPECT_EQ(Members(R"({"feature": "orders", "op": ">=", "value": 2})"), (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "orders", "op": "=", "value": 0})"), (Ids{101, 104}));
  // The fully refunded order does not count: member 102 has one order, spend 300.
  EXPECT_EQ(Members(R"({"feature": "orders", "op": "=", "value": 1})"), (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "spend_minor", "op": "between", "values": [300, 1500]})"),
            (Ids{102, 103}));
  EXPECT_EQ(Members(R"({"feature": "spend_minor", "op": "!=", "value": 0})"), (Ids{100, 102, 103}));
  // aov: 3500/3 = 1166, 300/1, 1500/2 = 750; members without orders never match, not even !=.
  EXPECT_EQ(Members(R"({"feature": "aov_minor", "op": "=", "value": 1166})"), (Ids{100}));
  EXPECT_EQ(Members(R"({"feature": "aov_minor", "op": "!=", "value": 1166})"), (Ids{102, 103}));
  EXPECT_EQ(Members(R"({"feature": "days_since_last_order", "op": "<=", "value": 10})"),
            (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "days_since_last_order", "op": ">", "value": 10})"), (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "days_since_first_order", "op": ">=", "value": 400})"),
            (Ids{100}));
  EXPECT_EQ(Members(R"({"feature": "days_since_joined", "op": "<", "value": 40})"),
            (Ids{101, 104}));
  EXPECT_EQ(Members(R"({"feature": "days_since_joined", "op": "=", "value": 40})"), (Ids{103}));
  EXPECT_EQ(Members(R"({"feature": "points", "op": "<", "value": 0})"), (Ids{103}));
  EXPECT_EQ(Members(R"({"feature": "wallet_minor", "op": ">", "value": 0})"), (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "tier_rank", "op": ">=", "value": 1})"), (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "p_alive", "op": "<", "value": 0.6})"), (Ids{102, 103}));
  EXPECT_EQ(Members(R"({"feature": "p_alive", "op": "!=", "value": 0.5})"), (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "expected_value_minor", "op": ">", "value": 0})"), Ids{});
}

TEST_F(SegmentEval, Windows) {
  EXPECT_EQ(Members(R"({"feature": "orders", "op": ">=", "value": 1, "window_days": 30})"),
            (Ids{100, 102, 103}));
  EXPECT_EQ(Members(R"({"feature": "orders", "op": ">=", "value": 1, "window_days": 29})"),
            (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "spend_minor", "op": "=", "value": 3000, "window_days": 100})"),
            (Ids{100}));
  EXPECT_EQ(Members(R"({"feature": "spend_minor", "op": "=", "value": 1000, "window_days": 99})"),
            (Ids{100}));
  EXPECT_EQ(Members(R"({"feature": "aov_minor", "op": "=", "value": 1500, "window_days": 100})"),
            (Ids{100}));
  // Member 102's refunded tea order 5 days ago still counts as a purchase of tea.
  EXPECT_EQ(Members(R"({"feature": "category", "op": "in", "values": ["tea"], "window_days": 7})"),
            (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "branch", "op": "in", "values": ["8"], "window_days": 365})"),
            (Ids{102}));
  EXPECT_EQ(
      Members(R"({"feature": "branch", "op": "all", "values": ["7", "8"], "window_days": 365})"),
      (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "sku", "op": "none", "values": ["C1"], "window_days": 365})"),
            (Ids{100, 101, 103, 104}));
  EXPECT_EQ(
      Members(R"({"feature": "sku", "op": "all", "values": ["C1", "T1"], "window_days": 3650})"),
      (Ids{100, 102}));
}

TEST_F(SegmentEval, SetsTagsStrings) {
  EXPECT_EQ(Members(R"({"feature": "category", "op": "in", "values": ["cake", "nope"]})"),
            (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "category", "op": "all", "values": ["cake", "tea"]})"),
            (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "category", "op": "all", "values": ["cake", "nope"]})"), Ids{});
  EXPECT_EQ(Members(R"({"feature": "category", "op": "none", "values": ["tea"]})"),
            (Ids{101, 103, 104}));
  EXPECT_EQ(Members(R"({"feature": "sku", "op": "in", "values": ["T1"]})"), (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "branch", "op": "in", "values": ["7"]})"), (Ids{100, 102, 103}));
  EXPECT_EQ(Members(R"({"feature": "tag", "op": "in", "values": ["vip", "new"]})"),
            (Ids{100, 102, 104}));
  EXPECT_EQ(Members(R"({"feature": "tag", "op": "all", "values": ["vip", "new"]})"), (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "tag", "op": "none", "values": ["vip"]})"),
            (Ids{101, 103, 104}));
  EXPECT_EQ(Members(R"({"feature": "region", "op": "in", "values": ["TW-TPE"]})"), (Ids{100, 103}));
  // not_in includes members whose region is unknown.
  EXPECT_EQ(Members(R"({"feature": "region", "op": "not_in", "values": ["TW-TPE", "JP"]})"),
            (Ids{101, 102, 104}));
  EXPECT_EQ(Members(R"({"feature": "gender", "op": "in", "values": ["male", "female"]})"),
            (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "city", "op": "in", "values": ["Taipei"]})"), Ids{});
  EXPECT_EQ(Members(R"({"feature": "tier", "op": "in", "values": ["9001"]})"), (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "tier", "op": "not_in", "values": ["9001"]})"),
            (Ids{100, 101, 103, 104}));
  EXPECT_EQ(Members(R"({"feature": "rfm_group", "op": "in", "values": ["champions", "at_risk"]})"),
            (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "consent_sms", "op": "=", "value": true})"), (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "consent_email", "op": "=", "value": false})"),
            (Ids{100, 103, 104}));
  EXPECT_EQ(Members(R"({"feature": "consent_line", "op": "=", "value": true})"), (Ids{104}));
}

TEST_F(SegmentEval, CalendarInTheMerchantsZone) {
  // Today is 2026-09-21 in Taipei: 09-21 (member 102) is today, 09-25 in 4 days, 10-20 in 29.
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "in_next_days", "value": 0})"), (Ids{102}));
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "in_next_days", "value": 4})"),
            (Ids{100, 102}));
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "in_next_days", "value": 29})"),
            (Ids{100, 102, 103}));
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "month_in", "values": [2, 10]})"),
            (Ids{101, 103}));
  // Feb 29 counts on Feb 28 in 2027 (not a leap year): from 2027-02-28 00:30 Taipei.
  Micros feb28 = *FromLocal(2027, 2, 28, 0, 30, 0, "Asia/Taipei");
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "in_next_days", "value": 0})", feb28),
            (Ids{101}));
  Micros feb27 = *FromLocal(2027, 2, 27, 23, 30, 0, "Asia/Taipei");
  EXPECT_EQ(Members(R"({"feature": "birthday", "op": "in_next_days", "value": 0})", feb27), Ids{});
  // Member 103 bought on Sunday 2026-09-20 and on Monday 2026-08-31 01:00 (Sunday in UTC),
  // 21.9 days ago; member 100 on Sunday 2025-08-17.
  EXPECT_EQ(Members(R"({"feature": "weekday", "op": "in", "values": [7]})"), (Ids{100, 103}));
  EXPECT_EQ(Members(R"({"feature": "weekday", "op": "in", "values": [7], "window_days": 30})"),
            (Ids{103}));
  EXPECT_EQ(Members(R"({"feature": "weekday", "op": "in", "values": [1], "window_days": 30})"),
            (Ids{103}));
  EXPECT_EQ(Members(R"({"feature": "weekday", "op": "in", "values": [1], "window_days": 21})"),
            Ids{});
  EXPECT_EQ(Members(R"({"feature": "weekday", "op": "in", "values": [2, 4]})"), Ids{});
  // Member 100's orders: 2026-09-11, 2026-06-13 and 2025-08-17 (all at 22:13 Taipei).
  EXPECT_EQ(Members(R"({"feature": "day_of_month", "op": "in", "values": [31]})"), (Ids{103}));
  EXPECT_EQ(Members(R"({"feature": "day_of_month", "op": "in", "values": [30]})"), Ids{});
  EXPECT_EQ(Members(R"({"feature": "day_of_month", "op": "in", "values": [11, 20]})"),
            (Ids{100, 103}));
  EXPECT_EQ(
      Members(R"({"feature": "day_of_month", "op": "in", "values": [16], "window_days": 10})"),
      (Ids{102}));
}

TEST_F(SegmentEval, LogicAndReferences) {
  EXPECT_EQ(Members(R"({"not": {"feature": "orders", "op": ">", "value": 0}})"), (Ids{101, 104}));
  // NOT over a "never matches" condition includes the never-bought members.
  EXPECT_EQ(Members(R"({"not": {"feature": "aov_minor", "op": ">", "value": 0}})"),
            (Ids{101, 104}));
  EXPECT_EQ(Members(R"({"and": [{"feature": "tag", "op": "in", "values": ["vip"]},
                                 {"feature": "spend_minor", "op": ">", "value": 1000}]})"),
            (Ids{100}));
  EXPECT_EQ(Members(R"({"or": [{"feature": "tag", "op": "in", "values": ["new"]},
                                {"not": {"feature": "wallet_minor", "op": "=", "value": 0}}]})"),
            (Ids{100, 102, 103, 104}));

  std::map<Id, std::shared_ptr<const SegmentNode>> saved;
  auto save = [&](Id id, const std::string& def) {
    saved[id] = std::make_shared<SegmentNode>(*ParseSegmentDefinition(json::parse(def)));
  };
  resolver_ = [&](Id id) -> Result<std::shared_ptr<const SegmentNode>> {
    auto it = saved.find(id);
    if (it == saved.end()) return Fail(Code::kNotFound, "no segment");
    return it->second;
  };
  save(1, R"({"feature": "tag", "op": "in", "values": ["vip"]})");
  save(2, R"({"and": [{"segment": "1"}, {"feature": "orders", "op": ">=", "value": 2}]})");
  EXPECT_EQ(Members(R"({"segment": "2"})"), (Ids{100}));
  EXPECT_EQ(Members(R"({"not": {"segment": "1"}})"), (Ids{101, 103, 104}));
  EXPECT_EQ(Members(R"({"or": [{"segment": "2"}, {"segment": "2"}]})"), (Ids{100}));

  auto error = [&](const std::string& def) {
    auto node = ParseSegmentDefinition(json::parse(def));
    EXPECT_TRUE(node.has_value());
    auto r = EvaluateSegment(*node, f_, kNow, resolver_);
    EXPECT_FALSE(r.has_value()) << def;
    return r ? Error{} : r.error();
  };
  Error e = error(R"({"and": [{"feature": "orders", "op": ">", "value": 0}, {"segment": "9"}]})");
  EXPECT_EQ(e.field, "definition.and[1].segment");
  EXPECT_EQ(e.message, "definition.and[1].segment: no segment 9");
  // 3 -> 4 -> 3: the error names the reference in the tree being evaluated.
  save(3, R"({"or": [{"segment": "4"}]})");
  save(4, R"({"not": {"segment": "3"}})");
  e = error(
      R"({"and": [{"feature": "orders", "op": ">", "value": 0}, {"not": {"segment": "3"}}]})");
  EXPECT_EQ(e.field, "definition.and[1].not.segment");
  EXPECT_EQ(e.message, "definition.and[1].not.segment: segment 3 refers to itself (3 -> 4 -> 3)");
}

// An AND evaluates its children cheapest first, each over the members the ones before it left:
// order logs are opened only for those candidates, and none at all after an empty child.
TEST_F(SegmentEval, AndNarrowsTheCandidatesCheapestFirst) {
  auto eval = [&](const std::string& def, SegmentEvalStats* stats) {
    auto node = ParseSegmentDefinition(json::parse(def));
    EXPECT_TRUE(node.has_value()) << def;
    auto r = EvaluateSegment(*node, f_, kNow, resolver_, stats);
    EXPECT_TRUE(r.has_value()) << def;
    Ids out;
    if (r)
      for (uint32_t i : *r) out.push_back(f_.member_ids[i]);
    return out;
  };
  SegmentEvalStats s;
  // Alone, the 365-day spend walks every member's order log.
  EXPECT_EQ(eval(R"({"feature": "spend_minor", "op": ">", "value": 0, "window_days": 365})", &s),
            (Ids{100, 102, 103}));
  EXPECT_EQ(s.order_logs_read, 5u);
  EXPECT_EQ(s.members_tested, 5u);
  EXPECT_EQ(s.predicates, 1u);

  // The empty first child: the order-log predicate is never evaluated.
  s = {};
  EXPECT_EQ(eval(R"({"and": [{"feature": "points", "op": ">", "value": 1000},
                             {"feature": "spend_minor", "op": ">", "value": 0, "window_days": 365}]})",
                 &s),
            Ids{});
  EXPECT_EQ(s.order_logs_read, 0u);
  EXPECT_EQ(s.members_tested, 5u);  // the points column scan only
  EXPECT_EQ(s.predicates, 1u);

  // The same with the empty (unknown tag) lookup written last: it still goes first.
  s = {};
  EXPECT_EQ(eval(R"({"and": [{"feature": "spend_minor", "op": ">", "value": 0, "window_days": 365},
                             {"feature": "tag", "op": "in", "values": ["nobody"]}]})",
                 &s),
            Ids{});
  EXPECT_EQ(s.order_logs_read, 0u);
  EXPECT_EQ(s.members_tested, 0u);
  EXPECT_EQ(s.predicates, 1u);

  // vip = members 0 and 2: only their two logs are read.
  s = {};
  EXPECT_EQ(eval(R"({"and": [{"feature": "spend_minor", "op": ">", "value": 0, "window_days": 365},
                             {"feature": "tag", "op": "in", "values": ["vip"]}]})",
                 &s),
            (Ids{100, 102}));
  EXPECT_EQ(s.order_logs_read, 2u);
  EXPECT_EQ(s.members_tested, 2u);
  EXPECT_EQ(s.predicates, 2u);

  // NOT under the AND complements against the candidates (member 2 spent 300 in the window).
  s = {};
  EXPECT_EQ(eval(R"({"and": [{"feature": "tag", "op": "in", "values": ["vip"]},
                             {"not": {"feature": "spend_minor", "op": ">", "value": 1000, "window_days": 365}}]})",
                 &s),
            (Ids{102}));
  EXPECT_EQ(s.order_logs_read, 2u);
  EXPECT_EQ(s.members_tested, 2u);

  // OR under the AND sees the same candidates (TW-TPE = members 0 and 3); consent_line (member 4
  // only) and the not_in complement stay within them.
  s = {};
  EXPECT_EQ(
      eval(R"({"and": [{"or": [{"feature": "orders", "op": ">=", "value": 1, "window_days": 30},
                                     {"feature": "consent_line", "op": "=", "value": true}]},
                             {"feature": "region", "op": "in", "values": ["TW-TPE"]}]})",
           &s),
      (Ids{100, 103}));
  EXPECT_EQ(s.order_logs_read, 2u);
  EXPECT_EQ(s.members_tested, 5u + 2u + 2u);
  EXPECT_EQ(eval(R"({"and": [{"feature": "region", "op": "in", "values": ["TW-TPE"]},
                             {"feature": "gender", "op": "not_in", "values": ["female"]}]})",
                 nullptr),
            (Ids{103}));

  // On no members (the check of a definition before saving it) an empty child does not stop
  // the AND: a reference behind it is still resolved.
  MerchantFeatures none;
  none.timezone = "UTC";
  auto node = ParseSegmentDefinition(json::parse(
      R"({"and": [{"feature": "region", "op": "in", "values": ["nowhere"]},
                  {"or": [{"feature": "spend_minor", "op": ">", "value": 0, "window_days": 30},
                          {"segment": "9"}]}]})"));
  ASSERT_TRUE(node.has_value());
  auto r = EvaluateSegment(*node, none, kNow, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "definition.and[1].or[1].segment");
  EXPECT_EQ(r.error().message, "definition.and[1].or[1].segment: no segment 9");
}

TEST(SegmentZone, OffsetsFollowDaylightSaving) {
  // New York: EST (-5 h) until 2026-03-08 07:00Z, then EDT (-4 h) until 2026-11-01 06:00Z.
  auto z = ZoneOffsets::For("America/New_York", 1'767'225'600, 1'798'761'600);
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(z->OffsetAt(1'772'953'199), -5 * 3600);
  EXPECT_EQ(z->OffsetAt(1'772'953'200), -4 * 3600);
  EXPECT_EQ(z->OffsetAt(1'793'512'799), -4 * 3600);
  EXPECT_EQ(z->OffsetAt(1'793'512'800), -5 * 3600);
  // The hinted look-up agrees with the plain one, whichever interval it starts from.
  size_t hint = 0;
  for (int64_t t = 1'767'225'600; t < 1'798'761'600; t += 3'600 * 7 + 13)
    ASSERT_EQ(z->OffsetAt(t, &hint), z->OffsetAt(t)) << t;
  hint = z->starts().size() - 1;
  EXPECT_EQ(z->OffsetAt(1'772'953'199, &hint), -5 * 3600);
  auto taipei = ZoneOffsets::For("Asia/Taipei", 0, 1'798'761'600);
  ASSERT_TRUE(taipei.has_value());
  EXPECT_EQ(taipei->OffsetAt(1'790'000'000), 8 * 3600);
  auto bad = ZoneOffsets::For("Mars/Olympus", 0, 1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "timezone: unknown time zone 'Mars/Olympus'");
}

}  // namespace
}  // namespace regulars::insight
