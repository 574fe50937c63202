#include "loyalty/earning.h"

#include <gtest/gtest.h>

#include "loyalty/point_type.h"

namespace regulars::loyalty {
namespace {

EarningRule Rule(Id id, const std::string& definition, Id point_type = 1) {
  EarningRule r;
  r.id = id;
  r.point_type_id = point_type;
  r.name = "rule " + std::to_string(id);
  auto s = ParseRuleDefinition(definition, r);
  EXPECT_TRUE(s.has_value()) << definition << ": " << s.error().message;
  return r;
}

OrderFacts Order(int64_t total) {
  OrderFacts o;
  o.total_minor = total;
  o.local_weekday = 3;
  o.local_date = {2026, 11, 25};
  return o;
}

TEST(Earning, OnePointPerThirtyDollarsWithRounding) {
  struct Case {
    const char* rounding;
    int64_t total;
    int64_t points;
  } cases[] = {{"floor", 8900, 2}, {"round", 8900, 3}, {"ceil", 6100, 3}, {"floor", 2999, 0}};
  for (const auto& c : cases) {
    auto r = Rule(
        1, std::string(R"({"kind":"per_amount","points":1,"per_amount_minor":3000,"rounding":")") +
               c.rounding + "\"}");
    EXPECT_EQ(ScoreOrder({r}, Order(c.total)).total_by_point_type[1], c.points)
        << c.rounding << " " << c.total;
  }
}

TEST(Earning, CategoriesVisitsItemsMultipliersAndCaps) {
  OrderFacts o = Order(45000);
  o.lines = {{"TEA-1", "tea", 3, 5000}, {"CAKE-1", "cake", 1, 30000}};  // 450.00 in all
  auto tea_amount =
      Rule(1, R"({"kind":"per_amount","points":1,"per_amount_minor":1000,"categories":["tea"]})");
  auto visit = Rule(2, R"({"kind":"per_visit","points":5})");
  auto cake_item = Rule(3, R"({"kind":"per_item","points":10,"skus":["CAKE-1"]})");
  auto weekday_x2 = Rule(4, R"({"kind":"multiplier","factor":2,"weekdays":[3]})");
  auto weekend_x3 = Rule(5, R"({"kind":"multiplier","factor":3,"weekdays":[0,6]})");
  auto res = ScoreOrder({tea_amount, visit, cake_item, weekday_x2, weekend_x3}, o);
  // base = 15 (tea 150.00) + 5 + 10 = 30; ×2 on Wednesday adds 30.
  EXPECT_EQ(res.total_by_point_type[1], 60);
  ASSERT_EQ(res.lines.size(), 4u);
  EXPECT_EQ(res.lines[3].rule_id, 4);
  EXPECT_EQ(res.lines[3].points, 30);

  auto best1 = Rule(6, R"({"kind":"multiplier","factor":1.5,"stacking":"best_of"})");
  auto best2 = Rule(7, R"({"kind":"multiplier","factor":2,"stacking":"best_of"})");
  auto sum = Rule(8, R"({"kind":"multiplier","factor":1.5})");
  // best of (1.5, 2) = +1.0, plus sum +0.5: 30 + 30 + 15.
  EXPECT_EQ(ScoreOrder({tea_amount, visit, cake_item, best1, best2, sum}, o).total_by_point_type[1],
            75);

  auto capped =
      Rule(9, R"({"kind":"per_amount","points":1,"per_amount_minor":100,"cap_per_order":50})");
  EXPECT_EQ(ScoreOrder({capped}, o).total_by_point_type[1], 50);
  auto daily = Rule(10, R"({"kind":"per_visit","points":5,"cap_per_day":12})");
  o.earned_today_by_rule[10] = 10;
  EXPECT_EQ(ScoreOrder({daily}, o).total_by_point_type[1], 2);
  auto min_spend = Rule(11, R"({"kind":"per_visit","points":5,"min_spend_minor":50000})");
  EXPECT_EQ(ScoreOrder({min_spend}, o).total_by_point_type.count(1), 0u);
}

TEST(Earning, DateRangeBranchBirthday) {
  OrderFacts o = Order(10000);
  o.branch_id = 77;
  auto in_range =
      Rule(1, R"({"kind":"per_visit","points":1,"from":"2026-11-01","to":"2026-11-30"})");
  auto out_range = Rule(2, R"({"kind":"per_visit","points":2,"from":"2026-12-01"})");
  auto branch = Rule(3, R"({"kind":"per_visit","points":4,"branch_ids":["77"]})");
  auto bday = Rule(4, R"({"kind":"per_visit","points":8,"birthday_month":true})");
  EXPECT_EQ(ScoreOrder({in_range, out_range, branch, bday}, o).total_by_point_type[1], 5);
  o.birthday_month = true;
  EXPECT_EQ(ScoreOrder({in_range, out_range, branch, bday}, o).total_by_point_type[1], 13);
}

TEST(Earning, DefinitionErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"kind":"per_amount","points":1})", "definition.per_amount_minor: is required"},
      {R"({"kind":"gift"})",
       "definition.kind: must be per_amount, per_visit, per_item or multiplier"},
      {R"({"kind":"per_visit","points":1,"weekdays":[7]})",
       "definition.weekdays: must be an array of 0 (Sunday) to 6"},
      {R"({"kind":"multiplier","factor":0.5})",
       "definition.factor: must be a number from 1 to 100"},
      {R"({"kind":"per_visit","points":1,"pionts":2})", "definition.pionts: unknown field"},
      {R"({"kind":"per_visit","points":-1})", "definition.points: must be from 1 to 1000000"},
  };
  for (const auto& c : cases) {
    EarningRule r;
    auto s = ParseRuleDefinition(c.json, r);
    ASSERT_FALSE(s.has_value()) << c.json;
    EXPECT_EQ(s.error().message, c.message);
  }
}

TEST(Earning, DefinitionRoundTrips) {
  auto r = Rule(
      1,
      R"({"kind":"multiplier","factor":1.5,"stacking":"best_of","weekdays":[0,6],"from":"2026-01-01"})");
  EarningRule again;
  ASSERT_TRUE(ParseRuleDefinition(RuleDefinitionJson(r), again).has_value());
  EXPECT_EQ(RuleDefinitionJson(again), RuleDefinitionJson(r));
}

TEST(Earning, ANewDefinitionReplacesEveryField) {
  auto r = Rule(1, R"({"kind":"per_visit","points":1,"birthday_month":true,"weekdays":[1]})");
  ASSERT_TRUE(ParseRuleDefinition(R"({"kind":"per_visit","points":2})", r).has_value());
  EXPECT_FALSE(r.birthday_month);
  EXPECT_TRUE(r.weekdays.empty());
  EXPECT_EQ(r.id, 1);
}

// Parsed definitions are kept by their text; a second rule with the same text gets the same
// fields and keeps its own identity, and a definition that fails fails the same way every time.
TEST(Earning, ARepeatedDefinitionParsesTheSameAndKeepsEachRulesIdentity) {
  const std::string text = R"({"kind":"per_item","points":3,"skus":["T-1"],"cap_per_order":9})";
  EarningRule a;
  a.id = 1;
  a.version = 2;
  a.point_type_id = 5;
  a.name = "a";
  ASSERT_TRUE(ParseRuleDefinition(text, a).has_value());
  EarningRule b;
  b.id = 3;
  b.version = 1;
  b.point_type_id = 6;
  b.name = "b";
  b.weekdays = {2};
  ASSERT_TRUE(ParseRuleDefinition(text, b).has_value());
  EXPECT_EQ(RuleDefinitionJson(b), RuleDefinitionJson(a));
  EXPECT_EQ(b.kind, RuleKind::kPerItem);
  EXPECT_EQ(b.points, 3);
  EXPECT_EQ(b.skus, std::vector<std::string>{"T-1"});
  EXPECT_EQ(b.cap_per_order, 9);
  EXPECT_TRUE(b.weekdays.empty());
  EXPECT_EQ(b.id, 3);
  EXPECT_EQ(b.version, 1);
  EXPECT_EQ(b.point_type_id, 6);
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(a.name, "a");
  for (int i = 0; i < 2; ++i) {
    EarningRule bad;
    auto s = ParseRuleDefinition(R"({"kind":"per_item","points":0})", bad);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().field, "definition.points");
    EXPECT_EQ(s.error().message, "definition.points: must be from 1 to 1000000");
  }
}

TEST(Reversal, CumulativeAndExactAtFullRefund) {
  // 100 points on 1,000.00; refunds of 333.33 three times then the rest.
  int64_t reversed = 0;
  int64_t refunded = 0;
  for (int64_t part : {33333, 33333, 33333, 1}) {
    refunded += part;
    reversed += PointsToReverse(100, 100000, refunded, reversed);
  }
  EXPECT_EQ(reversed, 100);
  EXPECT_EQ(PointsToReverse(100, 100000, 50000, 0), 50);
  EXPECT_EQ(PointsToReverse(0, 100000, 50000, 0), 0);
}

TEST(Expiry, PoliciesInTheMerchantsZone) {
  Micros t = *ParseRfc3339("2026-01-31T17:00:00Z");  // 01:00 on Feb 1 in Taipei
  auto days = LotExpiry({ExpiryKind::kDays, 30}, t, "Asia/Taipei");
  EXPECT_EQ(**days, t + 30 * kMicrosPerDay);
  auto month0 = LotExpiry({ExpiryKind::kEndOfMonth, 0}, t, "Asia/Taipei");
  EXPECT_EQ(FormatRfc3339(**month0), "2026-02-28T16:00:00.000Z");  // end of February, Taipei
  auto month0_utc = LotExpiry({ExpiryKind::kEndOfMonth, 0}, t, "UTC");
  EXPECT_EQ(FormatRfc3339(**month0_utc), "2026-02-01T00:00:00.000Z");  // still January in UTC
  auto year1 = LotExpiry({ExpiryKind::kEndOfYear, 1}, t, "Asia/Taipei");
  EXPECT_EQ(FormatRfc3339(**year1), "2027-12-31T16:00:00.000Z");
  EXPECT_FALSE(LotExpiry({ExpiryKind::kNever, 0}, t, "Asia/Taipei")->has_value());
  EXPECT_EQ(ValidateExpiry({ExpiryKind::kDays, 0}).error().message,
            "expiry.n: days must be 1 to 3650");
}

}  // namespace
}  // namespace regulars::loyalty
