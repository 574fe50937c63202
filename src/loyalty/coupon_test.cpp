// The pure coupon rules: template validation naming the field, discounts (amount, percent with
// half-up rounding and caps, free items), validity windows, the redemption checks with their
// exact messages, and the birthday calendar (29 February in non-leap years, year ends).

#include "loyalty/coupon.h"

#include <gtest/gtest.h>

namespace regulars::loyalty {
namespace {

Micros T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

CouponTemplate AmountOff(int64_t amount) {
  CouponTemplate t;
  t.name = "NT$50 off";
  t.kind = CouponKind::kAmountOff;
  t.amount_off_minor = amount;
  return t;
}

CouponTemplate PercentOff(int percent, std::optional<int64_t> cap = std::nullopt) {
  CouponTemplate t;
  t.name = "Percent off";
  t.kind = CouponKind::kPercentOff;
  t.percent_off = percent;
  t.max_discount_minor = cap;
  return t;
}

TEST(CouponTemplate, ValidationNamesTheField) {
  struct Case {
    const char* name;
    CouponTemplateInput in;
    const char* message;
  };
  std::vector<Case> cases = {
      {"no name", {.name = "", .kind = CouponKind::kAmountOff}, "name: is required"},
      {"amount missing",
       {.name = "x", .kind = CouponKind::kAmountOff},
       "amount_off_minor: is required for amount_off"},
      {"amount zero",
       {.name = "x", .kind = CouponKind::kAmountOff, .amount_off_minor = int64_t{0}},
       "amount_off_minor: must be 1 to 1000000000000"},
      {"percent 0",
       {.name = "x", .kind = CouponKind::kPercentOff, .percent_off = 0},
       "percent_off: must be 1 to 100"},
      {"percent 101",
       {.name = "x", .kind = CouponKind::kPercentOff, .percent_off = 101},
       "percent_off: must be 1 to 100"},
      {"free item unnamed",
       {.name = "x", .kind = CouponKind::kFreeItem},
       "free_item: is required for free_item"},
      {"negative min spend",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .min_spend_minor = -1},
       "min_spend_minor: must be 0 to 1000000000000"},
      {"valid_days 0",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .valid_days = 0},
       "valid_days: must be 1 to 3650"},
      {"window backwards",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .valid_from = T("2026-10-01T00:00:00Z"),
        .valid_to = T("2026-09-01T00:00:00Z")},
       "valid_to: must be after valid_from"},
      {"birthday without days",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .issue_on = IssueOn::kBirthday},
       "birthday_days_before: is required when issue_on is birthday"},
      {"birthday too early",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .birthday_days_before = 61,
        .issue_on = IssueOn::kBirthday},
       "birthday_days_before: must be 0 to 60"},
      {"spend without threshold",
       {.name = "x",
        .kind = CouponKind::kAmountOff,
        .amount_off_minor = int64_t{100},
        .issue_on = IssueOn::kSpend},
       "spend_threshold_minor: is required when issue_on is spend"},
  };
  for (const auto& c : cases) {
    CouponTemplate t;
    auto s = ApplyTemplateInput(t, c.in);
    ASSERT_FALSE(s.has_value()) << c.name;
    EXPECT_EQ(s.error().code, Code::kInvalidArgument) << c.name;
    EXPECT_EQ(s.error().message, c.message) << c.name;
  }
}

TEST(CouponTemplate, KindChangeDropsStaleTerms) {
  CouponTemplate t = AmountOff(5000);
  ASSERT_TRUE(ApplyTemplateInput(t, {.kind = CouponKind::kPercentOff, .percent_off = 10}));
  EXPECT_FALSE(t.amount_off_minor.has_value());
  EXPECT_EQ(t.percent_off, 10);
}

TEST(CouponDiscount, AmountPercentFreeItemAndCaps) {
  EXPECT_EQ(CouponDiscount(AmountOff(5000), 30000), 5000);
  EXPECT_EQ(CouponDiscount(AmountOff(5000), 3000), 3000);  // never more than the order
  EXPECT_EQ(CouponDiscount(AmountOff(5000), std::nullopt), 5000);
  // 15% of 333 = 49.95 -> 50; of 330 = 49.5 -> 50 (half up); of 329 = 49.35 -> 49.
  EXPECT_EQ(CouponDiscount(PercentOff(15), 333), 50);
  EXPECT_EQ(CouponDiscount(PercentOff(15), 330), 50);
  EXPECT_EQ(CouponDiscount(PercentOff(15), 329), 49);
  EXPECT_EQ(CouponDiscount(PercentOff(100), 12345), 12345);
  EXPECT_EQ(CouponDiscount(PercentOff(20, 10000), 100000), 10000);  // capped
  EXPECT_EQ(CouponDiscount(PercentOff(20, 10000), 40000), 8000);
  EXPECT_EQ(CouponDiscount(PercentOff(20), 0), 0);
  CouponTemplate free;
  free.kind = CouponKind::kFreeItem;
  free.free_item = "Pearl milk tea";
  free.item_value_minor = 6500;
  EXPECT_EQ(CouponDiscount(free, 20000), 6500);
  EXPECT_EQ(CouponDiscount(free, 5000), 5000);
  free.item_value_minor.reset();
  EXPECT_EQ(CouponDiscount(free, 20000), 0);
  EXPECT_EQ(PercentOf(1'000'000'000'000, 99), 990'000'000'000);
}

TEST(CouponValidity, WindowFromIssueAndTemplate) {
  const Micros issued = T("2026-09-21T10:00:00Z");
  CouponTemplate t = AmountOff(100);
  auto w = CouponValidity(t, issued);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->valid_from, issued);
  EXPECT_FALSE(w->valid_until.has_value());

  t.valid_days = 30;
  w = CouponValidity(t, issued);
  EXPECT_EQ(w->valid_until, issued + 30 * kMicrosPerDay);

  t.valid_to = T("2026-10-01T00:00:00Z");  // earlier than 30 days: wins
  w = CouponValidity(t, issued);
  EXPECT_EQ(w->valid_until, T("2026-10-01T00:00:00Z"));

  t.valid_from = T("2026-09-25T00:00:00Z");  // not yet: starts later
  w = CouponValidity(t, issued);
  EXPECT_EQ(w->valid_from, T("2026-09-25T00:00:00Z"));

  auto over = CouponValidity(t, T("2026-10-02T00:00:00Z"));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(over.error().message, "the template's validity ended at 2026-10-01T00:00:00.000Z");
}

TEST(CheckRedeemable, PreciseRefusals) {
  CouponTemplate t = AmountOff(5000);
  t.min_spend_minor = 30000;
  Coupon c;
  c.valid_from = T("2026-09-21T00:00:00Z");
  c.valid_until = T("2026-10-21T00:00:00Z");
  const Micros now = T("2026-09-22T00:00:00Z");
  EXPECT_TRUE(CheckRedeemable(c, t, now, 30000));
  EXPECT_EQ(c.StateAt(now), CouponState::kAvailable);

  auto below = CheckRedeemable(c, t, now, 29999);
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(below.error().message, "order_total_minor: the minimum spend is 30000");
  EXPECT_EQ(below.error().field, "order_total_minor");

  auto unknown = CheckRedeemable(c, t, now, std::nullopt);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kInvalidArgument);
  EXPECT_EQ(unknown.error().message, "order_total_minor: is required: the minimum spend is 30000");

  auto early = CheckRedeemable(c, t, T("2026-09-20T23:59:59Z"), 50000);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().message, "coupon is not valid until 2026-09-21T00:00:00.000Z");
  EXPECT_EQ(c.StateAt(T("2026-09-20T23:59:59Z")), CouponState::kNotYetValid);

  // valid_until is exclusive.
  auto late = CheckRedeemable(c, t, T("2026-10-21T00:00:00Z"), 50000);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "coupon expired at 2026-10-21T00:00:00.000Z");
  EXPECT_EQ(c.StateAt(T("2026-10-21T00:00:00Z")), CouponState::kExpired);
  EXPECT_TRUE(CheckRedeemable(c, t, T("2026-10-20T23:59:59Z"), 50000));

  c.redeemed_at = T("2026-09-21T12:00:00Z");
  auto again = CheckRedeemable(c, t, now, 50000);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "coupon already redeemed at 2026-09-21T12:00:00.000Z");
  ASSERT_EQ(again.error().details.size(), 1u);
  EXPECT_EQ(again.error().details[0].first, "redeemed_at");
  EXPECT_EQ(c.StateAt(now), CouponState::kRedeemed);
}

TEST(Birthday, TwentyNinthOfFebruaryFallsOnTheTwentyEighthInOtherYears) {
  EXPECT_EQ(BirthdayInYear(2, 29, 2027), (Date{2027, 2, 28}));
  EXPECT_EQ(BirthdayInYear(2, 29, 2028), (Date{2028, 2, 29}));
  EXPECT_EQ(BirthdayInYear(2, 29, 2100), (Date{2100, 2, 28}));  // not a leap year
  EXPECT_EQ(BirthdayInYear(2, 29, 2000), (Date{2000, 2, 29}));
  EXPECT_EQ(BirthdayIssueDate(2, 29, 2027, 7), (Date{2027, 2, 21}));
  EXPECT_EQ(BirthdayIssueDate(2, 29, 2028, 7), (Date{2028, 2, 22}));
  EXPECT_EQ(BirthdayIssueDate(3, 1, 2028, 1), (Date{2028, 2, 29}));
  EXPECT_EQ(BirthdayIssueDate(3, 1, 2027, 1), (Date{2027, 2, 28}));
  // Due from the issue date to the birthday itself.
  EXPECT_EQ(BirthdayYearToIssue({2027, 2, 20}, 2, 29, 7), std::nullopt);
  EXPECT_EQ(BirthdayYearToIssue({2027, 2, 21}, 2, 29, 7), 2027);
  EXPECT_EQ(BirthdayYearToIssue({2027, 2, 28}, 2, 29, 7), 2027);
  EXPECT_EQ(BirthdayYearToIssue({2027, 3, 1}, 2, 29, 7), std::nullopt);
  EXPECT_EQ(BirthdayYearToIssue({2027, 2, 28}, 2, 29, 0), 2027);
  EXPECT_EQ(BirthdayYearToIssue({2028, 2, 28}, 2, 29, 0), std::nullopt);
  EXPECT_EQ(BirthdayYearToIssue({2028, 2, 29}, 2, 29, 0), 2028);
}

TEST(Birthday, AcrossTheYearEnd) {
  EXPECT_EQ(BirthdayIssueDate(1, 3, 2027, 7), (Date{2026, 12, 27}));
  EXPECT_EQ(BirthdayYearToIssue({2026, 12, 27}, 1, 3, 7), 2027);
  EXPECT_EQ(BirthdayYearToIssue({2026, 12, 26}, 1, 3, 7), std::nullopt);
  EXPECT_EQ(BirthdayYearToIssue({2026, 12, 31}, 12, 31, 0), 2026);
  EXPECT_EQ(AddDays({2026, 12, 31}, 1), (Date{2027, 1, 1}));
  EXPECT_EQ(AddDays({2028, 3, 1}, -1), (Date{2028, 2, 29}));
}

TEST(CouponNames, RoundTrip) {
  for (auto k : {CouponKind::kAmountOff, CouponKind::kPercentOff, CouponKind::kFreeItem})
    EXPECT_EQ(ParseCouponKind(CouponKindName(k)), k);
  for (auto i : {IssueOn::kManual, IssueOn::kWelcome, IssueOn::kBirthday, IssueOn::kSpend})
    EXPECT_EQ(ParseIssueOn(IssueOnName(i)), i);
  for (auto s : {CouponState::kAvailable, CouponState::kRedeemed, CouponState::kExpired,
                 CouponState::kNotYetValid})
    EXPECT_EQ(ParseCouponState(CouponStateName(s)), s);
  EXPECT_EQ(ParseCouponKind("bogus"), std::nullopt);
}

}  // namespace
}  // namespace regulars::loyalty
