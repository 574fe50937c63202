// The wallet's pure rules (wallet.h): which bonus a top-up gets, how a charge divides between
// paid and bonus value, how a refund gives it back, and the precise error of every bad input.

#include "loyalty/wallet.h"

#include <gtest/gtest.h>

namespace regulars::loyalty {
namespace {

constexpr Micros kNow = 1'790'000'000'000'000;

BonusScheme Scheme(Id id, int64_t pay, int64_t bonus, bool repeats = false) {
  BonusScheme s;
  s.id = id;
  s.name = "scheme " + std::to_string(id);
  s.pay_minor = pay;
  s.bonus_minor = bonus;
  s.repeats = repeats;
  return s;
}

TEST(WalletBonus, BestSingleSchemeNoStacking) {
  std::vector<BonusScheme> schemes = {Scheme(1, 100000, 10000), Scheme(2, 300000, 40000),
                                      Scheme(3, 500000, 80000)};
  struct Case {
    int64_t amount;
    std::optional<Id> scheme;
    int64_t bonus;
  } cases[] = {
      {99999, std::nullopt, 0},                      // below every threshold
      {100000, 1, 10000},                            // exactly the threshold
      {299999, 1, 10000},                            // no repeats: once
      {300000, 2, 40000},       {900000, 3, 80000},  // the best one, not 3+2+1 stacked
  };
  for (const auto& c : cases) {
    BonusChoice got = ChooseBonus(schemes, c.amount, kNow);
    EXPECT_EQ(got.scheme_id, c.scheme) << "amount " << c.amount;
    EXPECT_EQ(got.bonus_minor, c.bonus) << "amount " << c.amount;
  }
}

TEST(WalletBonus, RepeatingSchemeCountsFullMultiples) {
  // Pay 1,000 get 100, per full 1,000; against a one-off pay 3,000 get 250.
  std::vector<BonusScheme> schemes = {Scheme(1, 100000, 10000, true), Scheme(2, 300000, 25000)};
  EXPECT_EQ(ChooseBonus(schemes, 250000, kNow).bonus_minor, 20000);
  BonusChoice at3000 = ChooseBonus(schemes, 300000, kNow);
  EXPECT_EQ(at3000.scheme_id, 1);  // 3 x 100 beats 250
  EXPECT_EQ(at3000.bonus_minor, 30000);
  EXPECT_EQ(SchemeBonus(Scheme(1, 100000, 10000, true), 99999), 0);
}

TEST(WalletBonus, TiesGoToTheLargerThresholdThenTheOlderScheme) {
  std::vector<BonusScheme> schemes = {Scheme(7, 100000, 10000), Scheme(5, 200000, 10000),
                                      Scheme(3, 200000, 10000)};
  EXPECT_EQ(ChooseBonus(schemes, 200000, kNow).scheme_id, 3);
}

TEST(WalletBonus, OnlySchemesInForce) {
  BonusScheme inactive = Scheme(1, 100, 50);
  inactive.active = false;
  BonusScheme future = Scheme(2, 100, 40);
  future.valid_from = kNow + 1;
  BonusScheme ended = Scheme(3, 100, 30);
  ended.valid_to = kNow;  // exclusive
  BonusScheme current = Scheme(4, 100, 10);
  current.valid_from = kNow;
  current.valid_to = kNow + 1;
  BonusChoice got = ChooseBonus({inactive, future, ended, current}, 100, kNow);
  EXPECT_EQ(got.scheme_id, 4);
  EXPECT_EQ(got.bonus_minor, 10);

  auto picked = ApplyScheme(ended, 100, kNow);
  ASSERT_FALSE(picked.has_value());
  EXPECT_EQ(picked.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(picked.error().message, "scheme_id: this bonus scheme is not in force");
  auto small = ApplyScheme(current, 99, kNow);
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error().code, Code::kInvalidArgument);
  EXPECT_EQ(small.error().message,
            "amount_minor: this bonus scheme needs a top-up of at least 100");
  EXPECT_EQ(ApplyScheme(current, 100, kNow)->bonus_minor, 10);
}

TEST(WalletSplit, ChargeIsProportionalRoundingTowardsPaid) {
  struct Case {
    WalletBalance balance;
    int64_t amount;
    WalletSplit want;
  } cases[] = {
      {{1000, 100}, 550, {500, 50}},     // exact
      {{1000, 100}, 1, {1, 0}},          // rounding favours paid
      {{1000, 100}, 12, {11, 1}},        // 10.9 paid -> 11
      {{1000, 100}, 1100, {1000, 100}},  // everything
      {{0, 100}, 30, {0, 30}},           // bonus only
      {{700, 0}, 700, {700, 0}},         // paid only
      {{1, 1}, 1, {1, 0}},
  };
  for (const auto& c : cases) {
    auto got = SplitCharge(c.balance, c.amount);
    ASSERT_TRUE(got.has_value()) << c.amount << ": " << got.error().ToString();
    EXPECT_EQ(*got, c.want) << "balance " << c.balance.paid_minor << "+" << c.balance.bonus_minor
                            << " charge " << c.amount;
  }
}

TEST(WalletSplit, ChargesInPiecesDrainBothPartsTogether) {
  WalletBalance b{100000, 10000};
  for (int i = 0; i < 11; ++i) {
    auto s = SplitCharge(b, 10000);
    ASSERT_TRUE(s.has_value());
    b.paid_minor -= s->paid_minor;
    b.bonus_minor -= s->bonus_minor;
    ASSERT_GE(b.bonus_minor, 0);
  }
  EXPECT_EQ(b, (WalletBalance{0, 0}));
}

TEST(WalletSplit, ChargeBeyondTheBalanceIsRefused) {
  auto r = SplitCharge({1000, 100}, 1101);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(r.error().message, "amount_minor: the wallet holds only 1100");
  EXPECT_EQ(r.error().field, "amount_minor");
  EXPECT_EQ(SplitCharge({0, 0}, 1).error().message, "amount_minor: the wallet holds only 0");
  // Huge balances do not overflow the proportional split.
  auto big = SplitCharge({4'000'000'000'000'000, 4'000'000'000'000'000}, 3'000'000'000'000'001);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(*big, (WalletSplit{1'500'000'000'000'001, 1'500'000'000'000'000}));
}

TEST(WalletRefund, PiecesAddUpToExactlyWhatTheChargeTook) {
  WalletSplit charged{917, 91};
  WalletSplit refunded;
  for (int64_t piece : {1, 333, 7, 500}) {
    auto s = SplitRefund(charged, refunded, piece);
    ASSERT_TRUE(s.has_value()) << piece << ": " << s.error().ToString();
    EXPECT_EQ(s->total_minor(), piece);
    EXPECT_GE(s->paid_minor, 0);
    EXPECT_GE(s->bonus_minor, 0);
    refunded.paid_minor += s->paid_minor;
    refunded.bonus_minor += s->bonus_minor;
  }
  auto rest = SplitRefund(charged, refunded, std::nullopt);  // absent: what is left
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(rest->total_minor(), 1008 - 841);
  refunded.paid_minor += rest->paid_minor;
  refunded.bonus_minor += rest->bonus_minor;
  EXPECT_EQ(refunded, charged);
}

TEST(WalletRefund, FirstPieceFavoursPaidLikeTheCharge) {
  auto s = SplitRefund({500, 50}, {}, 11);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, (WalletSplit{10, 1}));
  EXPECT_EQ(*SplitRefund({500, 50}, {}, 1), (WalletSplit{1, 0}));
  EXPECT_EQ(*SplitRefund({500, 50}, {}, std::nullopt), (WalletSplit{500, 50}));
}

TEST(WalletRefund, BeyondWhatIsLeftIsRefused) {
  auto over = SplitRefund({500, 50}, {300, 30}, 221);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(over.error().message, "amount_minor: only 220 of this charge can still be refunded");
  EXPECT_EQ(over.error().field, "amount_minor");
  auto done = SplitRefund({500, 50}, {500, 50}, std::nullopt);
  ASSERT_FALSE(done.has_value());
  EXPECT_EQ(done.error().message, "charge_id: this charge was already refunded in full");
  EXPECT_EQ(done.error().field, "charge_id");
  EXPECT_EQ(SplitRefund({500, 50}, {}, 0).error().message,
            "amount_minor: must be a positive integer");
}

TEST(WalletAdjust, NeverBelowZero) {
  EXPECT_EQ(*ApplyWalletAdjustment({100, 10}, -100, 5), (WalletBalance{0, 15}));
  auto paid = ApplyWalletAdjustment({100, 10}, -101, 0);
  EXPECT_EQ(paid.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(paid.error().message, "paid_minor: the wallet holds only 100 of paid value");
  auto bonus = ApplyWalletAdjustment({100, 10}, 0, -11);
  EXPECT_EQ(bonus.error().message, "bonus_minor: the wallet holds only 10 of bonus value");
  EXPECT_EQ(bonus.error().field, "bonus_minor");
}

TEST(WalletValidation, EveryErrorNamesItsField) {
  struct Case {
    std::string name;
    Status got;
    std::string message;
  } cases[] = {
      {"top-up without amount", ValidateWalletTopUp({}), "amount_minor: is required"},
      {"zero top-up", ValidateWalletTopUp({.amount_minor = 0}),
       "amount_minor: must be a positive integer"},
      {"negative top-up", ValidateWalletTopUp({.amount_minor = -5}),
       "amount_minor: must be a positive integer"},
      {"huge top-up", ValidateWalletTopUp({.amount_minor = kMaxWalletAmountMinor + 1}),
       "amount_minor: must be at most 1000000000000"},
      {"payment method", ValidateWalletTopUp({.amount_minor = 1, .payment_method = "Credit Card"}),
       "payment_method: must be 1 to 32 lowercase letters, digits or underscores"},
      {"long note", ValidateWalletTopUp({.amount_minor = 1, .note = std::string(501, 'x')}),
       "note: must be at most 500 characters"},
      {"charge without amount", ValidateWalletCharge({}), "amount_minor: is required"},
      {"empty order", ValidateWalletCharge({.amount_minor = 1, .order_id = ""}),
       "order_id: must be 1 to 128 characters"},
      {"refund without charge", ValidateWalletRefund({.amount_minor = 1}),
       "charge_id: is required"},
      {"negative refund", ValidateWalletRefund({.charge_id = 1, .amount_minor = -1}),
       "amount_minor: must be a positive integer"},
      {"empty adjustment", ValidateWalletAdjust({.reason = "x"}),
       "paid_minor: give a non-zero paid_minor or bonus_minor"},
      {"adjustment without reason", ValidateWalletAdjust({.paid_minor = 5}), "reason: is required"},
      {"blank reason", ValidateWalletAdjust({.bonus_minor = -5, .reason = "  "}),
       "reason: is required"},
      {"huge adjustment",
       ValidateWalletAdjust({.paid_minor = -kMaxWalletAmountMinor - 1, .reason = "x"}),
       "paid_minor: must be between -1000000000000 and 1000000000000"},
  };
  for (const auto& c : cases) {
    ASSERT_FALSE(c.got.has_value()) << c.name;
    EXPECT_EQ(c.got.error().code, Code::kInvalidArgument) << c.name;
    EXPECT_EQ(c.got.error().message, c.message) << c.name;
    EXPECT_EQ(c.got.error().field, c.message.substr(0, c.message.find(':'))) << c.name;
  }
  EXPECT_TRUE(ValidateWalletTopUp(
      {.amount_minor = 1, .payment_method = "line_pay", .note = std::string(500, 'x')}));
  // Characters, not bytes: 500 Chinese characters are fine.
  std::string zh;
  for (int i = 0; i < 500; ++i) zh += "儲";
  EXPECT_TRUE(ValidateWalletCharge({.amount_minor = 1, .note = zh}));
  EXPECT_TRUE(ValidateWalletAdjust({.bonus_minor = -5, .reason = "typo at the counter"}));
}

TEST(WalletSchemes, CreateAndPatchRules) {
  BonusScheme s;
  auto missing = ApplySchemeInput(s, {.name = "Pay 1000 get 100", .pay_minor = 100000}, true);
  EXPECT_EQ(missing.error().message, "bonus_minor: is required");
  BonusSchemeInput in{.name = "Pay 1000 get 100", .pay_minor = 100000, .bonus_minor = 10000};
  in.valid_from = std::optional<std::string>("2026-10-01T00:00:00+08:00");
  ASSERT_TRUE(ApplySchemeInput(s, in, true));
  EXPECT_EQ(s.valid_from, ParseRfc3339("2026-09-30T16:00:00Z"));
  BonusSchemeInput bad_time;
  bad_time.valid_to = std::optional<std::string>("tomorrow");
  EXPECT_EQ(ApplySchemeInput(s, bad_time, false).error().message,
            "valid_to: must be an RFC 3339 time");
  BonusSchemeInput backwards;
  backwards.valid_to = std::optional<std::string>("2026-09-01T00:00:00Z");
  EXPECT_EQ(ApplySchemeInput(s, backwards, false).error().message,
            "valid_to: must be after valid_from");
  BonusSchemeInput clear;
  clear.valid_from = std::optional<std::string>();
  clear.active = false;
  ASSERT_TRUE(ApplySchemeInput(s, clear, false));
  EXPECT_FALSE(s.valid_from.has_value());
  EXPECT_FALSE(s.active);
  EXPECT_EQ(ApplySchemeInput(s, {.pay_minor = 0}, false).error().message,
            "pay_minor: must be a positive integer");
  EXPECT_EQ(ApplySchemeInput(s, {.name = ""}, false).error().message, "name: must not be empty");
}

}  // namespace
}  // namespace regulars::loyalty
