// RFM quintiles and groups, and the model scores' inputs, with hand-computed expectations.

#include "insight/rfm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "insight/clv.h"
#include "insight/feature_store.h"
#include "insight/scores.h"

namespace regulars::insight {
namespace {

TEST(RfmTest, QuintilesByRankWithTiesSharingTheFirstPosition) {
  EXPECT_EQ(QuintileScores({10, 20, 30, 40, 50}), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(QuintileScores({50, 40, 30, 20, 10}), (std::vector<uint8_t>{5, 4, 3, 2, 1}));
  // Sorted: 1 at position 0; the three 5s start at position 1: 1 + 5*1/4 = 2.
  EXPECT_EQ(QuintileScores({5, 5, 5, 1}), (std::vector<uint8_t>{2, 2, 2, 1}));
  EXPECT_EQ(QuintileScores({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
            (std::vector<uint8_t>{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));
  // n = 3: positions 0, 1, 2 score 1, 1 + 5/3 = 2, 1 + 10/3 = 4.
  EXPECT_EQ(QuintileScores({3, 1, 2}), (std::vector<uint8_t>{4, 1, 2}));
  EXPECT_EQ(QuintileScores({7, 7, 7}), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_TRUE(QuintileScores({}).empty());
}

TEST(RfmTest, GroupsFollowTheMap) {
  EXPECT_EQ(GroupOf(5, 5, 5), RfmGroup::kChampions);
  EXPECT_EQ(GroupOf(5, 4, 3), RfmGroup::kChampions);  // FM = (4 + 3 + 1) / 2 = 4
  EXPECT_EQ(GroupOf(5, 1, 1), RfmGroup::kNewCustomers);
  EXPECT_EQ(GroupOf(5, 2, 3), RfmGroup::kPotentialLoyalist);  // FM 3
  EXPECT_EQ(GroupOf(4, 1, 1), RfmGroup::kPromising);
  EXPECT_EQ(GroupOf(4, 5, 4), RfmGroup::kLoyal);         // FM 5
  EXPECT_EQ(GroupOf(3, 1, 2), RfmGroup::kAboutToSleep);  // FM 2
  EXPECT_EQ(GroupOf(3, 3, 3), RfmGroup::kNeedAttention);
  EXPECT_EQ(GroupOf(3, 4, 4), RfmGroup::kLoyal);
  EXPECT_EQ(GroupOf(2, 1, 2), RfmGroup::kHibernating);
  EXPECT_EQ(GroupOf(2, 3, 4), RfmGroup::kAtRisk);  // FM 4
  EXPECT_EQ(GroupOf(1, 5, 5), RfmGroup::kCantLose);
  EXPECT_EQ(GroupOf(2, 5, 4), RfmGroup::kCantLose);
  EXPECT_EQ(GroupOf(1, 1, 1), RfmGroup::kLost);
  EXPECT_EQ(GroupOf(1, 2, 1), RfmGroup::kLost);
  EXPECT_EQ(GroupOf(0, 1, 1), RfmGroup::kNone);
  EXPECT_EQ(GroupOf(1, 6, 1), RfmGroup::kNone);
  // Every cell of the grid has a group.
  for (int r = 1; r <= 5; ++r)
    for (int f = 1; f <= 5; ++f)
      for (int m = 1; m <= 5; ++m) EXPECT_NE(GroupOf(r, f, m), RfmGroup::kNone);
}

TEST(RfmTest, NamesRoundTrip) {
  EXPECT_EQ(RfmGroupNames().size(), 11u);
  for (auto name : RfmGroupNames()) {
    auto g = ParseRfmGroup(name);
    ASSERT_TRUE(g.has_value()) << name;
    EXPECT_EQ(RfmGroupName(*g), name);
  }
  EXPECT_EQ(RfmGroupName(RfmGroup::kCantLose), "cant_lose");
  EXPECT_EQ(RfmGroupName(RfmGroup::kNone), "");
  EXPECT_FALSE(ParseRfmGroup("others").has_value());
}

TEST(RfmTest, ScoresFiveBuyers) {
  // A recent frequent big spender, B recent once, C middling, D long ago but frequent, E lost.
  std::vector<RfmInput> in = {
      {1, 10, 1000}, {5, 1, 100}, {30, 3, 500}, {200, 8, 900}, {400, 1, 50}};
  auto s = ScoreRfm(in);
  ASSERT_EQ(s.size(), 5u);
  auto rfm = [&](size_t i) { return std::vector<int>{s[i].r, s[i].f, s[i].m}; };
  EXPECT_EQ(rfm(0), (std::vector<int>{5, 5, 5}));
  EXPECT_EQ(rfm(1), (std::vector<int>{4, 1, 2}));  // F: B and E tie at position 0
  EXPECT_EQ(rfm(2), (std::vector<int>{3, 3, 3}));
  EXPECT_EQ(rfm(3), (std::vector<int>{2, 4, 4}));
  EXPECT_EQ(rfm(4), (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(s[0].group, RfmGroup::kChampions);
  EXPECT_EQ(s[1].group, RfmGroup::kPotentialLoyalist);
  EXPECT_EQ(s[2].group, RfmGroup::kNeedAttention);
  EXPECT_EQ(s[3].group, RfmGroup::kAtRisk);
  EXPECT_EQ(s[4].group, RfmGroup::kLost);
}

// A store with members and their order logs (times in whole days from the epoch).
MerchantFeatures Store(const std::vector<std::vector<std::pair<int64_t, int64_t>>>& logs) {
  MerchantFeatures f;
  size_t n = logs.size();
  for (size_t i = 0; i < n; ++i) {
    f.member_ids.push_back(static_cast<Id>(100 + i));
    f.index_of[static_cast<Id>(100 + i)] = static_cast<uint32_t>(i);
  }
  f.joined_at.assign(n, 0);
  f.first_order_at.assign(n, 0);
  f.last_order_at.assign(n, 0);
  f.orders.assign(n, 0);
  f.spend_minor.assign(n, 0);
  f.logs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (auto [day, net] : logs[i])
      f.InsertOrder(static_cast<uint32_t>(i), day * 86400 + 3600, net, 0, {});
    RecomputeOrderTotals(f, static_cast<uint32_t>(i));
  }
  return f;
}

TEST(RfmTest, ApplyRfmScoresBuyersOnlyByDaysSinceTheLastOrder) {
  // Member 0 bought on day 100; member 1 on day 90 twice; member 2 only had a refunded order.
  MerchantFeatures f = Store({{{100, 500}}, {{80, 100}, {90, 900}}, {{95, 0}}});
  Micros now = 101 * kMicrosPerDay + 12 * 3600 * kMicrosPerSecond;
  ApplyRfm(f, now);
  EXPECT_EQ((std::vector<uint8_t>{f.rfm_r[0], f.rfm_f[0], f.rfm_m[0]}),
            (std::vector<uint8_t>{3, 1, 1}));  // 1 day ago: position 1 of 2 -> 1 + 5/2 = 3
  EXPECT_EQ((std::vector<uint8_t>{f.rfm_r[1], f.rfm_f[1], f.rfm_m[1]}),
            (std::vector<uint8_t>{1, 3, 3}));
  EXPECT_EQ(static_cast<RfmGroup>(f.rfm_group[0]), RfmGroup::kAboutToSleep);
  EXPECT_EQ(static_cast<RfmGroup>(f.rfm_group[1]), RfmGroup::kAtRisk);
  EXPECT_EQ(f.rfm_r[2], 0);
  EXPECT_EQ(f.rfm_group[2], 0);
}

TEST(ScoresTest, MemberSummaryCountsPurchaseDaysLikeTheModelsSummary) {
  // Day 100 twice (one purchase day of 1500), a refunded order on day 103, then 110 and 120.
  MerchantFeatures f = Store({{{100, 1000}, {100, 500}, {103, 0}, {110, 300}, {120, 700}}, {}});
  Micros now = 130 * kMicrosPerDay + 5 * 3600 * kMicrosPerSecond;
  auto s = MemberSummary(f, 0, now);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->x, 2);
  EXPECT_EQ(s->t_x, 20);
  EXPECT_EQ(s->T, 30);
  EXPECT_EQ(s->monetary, 500);  // (300 + 700) / 2: the first day is left out
  EXPECT_FALSE(MemberSummary(f, 1, now).has_value());
  // The same as clv.h's Summarise over the purchases with a net amount.
  std::vector<Transaction> tx = {
      {"m", 100, 1000}, {"m", 100, 500}, {"m", 110, 300}, {"m", 120, 700}};
  auto want = Summarise(tx, 130, 1);
  ASSERT_TRUE(want.has_value());
  ASSERT_EQ(want->size(), 1u);
  EXPECT_EQ((*want)[0].rfm.x, s->x);
  EXPECT_EQ((*want)[0].rfm.t_x, s->t_x);
  EXPECT_EQ((*want)[0].rfm.T, s->T);
  EXPECT_EQ((*want)[0].rfm.monetary, s->monetary);
}

TEST(ScoresTest, FitNeedsRepeatBuyers) {
  auto none = FitModels({}, 0);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(none.error().message, "no member has bought yet");
  auto once = FitModels({{0, 0, 10, 0}, {0, 0, 5, 0}}, 0);
  ASSERT_FALSE(once.has_value());
  EXPECT_EQ(once.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(once.error().message,
            "no member has bought on two different days yet: the purchase model needs repeat "
            "buyers");
}

TEST(ScoresTest, ApplyModelsUsesBothModelsAndLeavesNonBuyersUnscored) {
  // 200 members buying every `gap` days `purchases` times from `start` (seeded mt19937, whose
  // output is fixed by the standard), and one who never bought.
  std::mt19937 rng(7);
  std::vector<std::vector<std::pair<int64_t, int64_t>>> logs;
  int64_t buyers = 0, repeaters = 0;
  for (int i = 0; i < 200; ++i) {
    int64_t gap = 5 + rng() % 40, purchases = 1 + rng() % 6, start = 1000 + rng() % 300;
    std::vector<std::pair<int64_t, int64_t>> log;
    for (int64_t k = 0; k < purchases && start + k * gap < 1400; ++k)
      log.push_back({start + k * gap, 100 + static_cast<int64_t>(rng() % 900)});
    buyers += log.empty() ? 0 : 1;
    repeaters += log.size() > 1 ? 1 : 0;
    logs.push_back(log);
  }
  logs.push_back({});
  MerchantFeatures f = Store(logs);
  Micros now = 1400 * kMicrosPerDay;
  auto fit = FitModels(BuyerSummaries(f, now), now);
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_EQ(fit->customers, buyers);
  EXPECT_EQ(fit->repeat_buyers, repeaters);
  ASSERT_TRUE(fit->gamma_gamma.has_value());
  // Every member stops after a fixed number of purchases, at the same rate: no heterogeneity in
  // dropout for a and b to describe, so the fit runs them off to infinity (a ~ 6.6e7,
  // b ~ 1.6e8, not converged) and the models are applied in the closed-form limit.
  EXPECT_FALSE(fit->converged);
  EXPECT_GT(fit->bgnbd.a, kMaxDropoutShape);
  EXPECT_TRUE(UsesLimit(*fit));
  int64_t series_before = Hyp2F1SeriesCalls();
  ApplyModels(f, *fit, now);
  EXPECT_EQ(Hyp2F1SeriesCalls(), series_before);
  for (uint32_t i = 0; i < 200; ++i) {
    auto s = MemberSummary(f, i, now);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(f.p_alive[i], static_cast<float>(BgNbdProbabilityAlive(fit->bgnbd, *s)));
    // E[Y(t)]: the limit for a fixed dropout probability pd = a / (a + b), spelled out.
    auto expected = [&](double t) {
      const auto& p = fit->bgnbd;
      double pd = p.a / (p.a + p.b);
      return BgNbdProbabilityAlive(p, *s) *
             -std::expm1(-(p.r + s->x) * std::log1p(pd * t / (p.alpha + s->T))) / pd;
    };
    // It is where the paper's eq. 10 tends as a and b grow at that pd (eq. 10 itself overflows
    // at the fitted a and b; checked on a few members at a + b = 4000).
    if (i < 5) {
      const auto& p = fit->bgnbd;
      double pd = p.a / (p.a + p.b);
      double e10 =
          BgNbdConditionalExpectedPurchases({p.r, p.alpha, pd * 4000, (1 - pd) * 4000}, *s, 90);
      EXPECT_NEAR(expected(90), e10, 1e-2 * e10);
    }
    EXPECT_EQ(f.expected_purchases_90d[i], static_cast<float>(expected(90)));
    EXPECT_EQ(f.expected_value_minor[i],
              static_cast<float>(expected(365) * GammaGammaExpectedSpend(*fit->gamma_gamma, *s)));
    EXPECT_TRUE(std::isfinite(f.expected_value_minor[i]));
    EXPECT_GT(f.expected_value_minor[i], 0.0f);
    EXPECT_LE(f.expected_purchases_90d[i], expected(365));
    EXPECT_GE(f.p_alive[i], 0.0f);
    EXPECT_LE(f.p_alive[i], 1.0f);
  }
  EXPECT_TRUE(std::isnan(f.p_alive[200]));
  EXPECT_TRUE(std::isnan(f.expected_value_minor[200]));
  EXPECT_EQ(f.rfm_group[200], 0);
  EXPECT_NE(f.rfm_group[0], 0);
  EXPECT_EQ(f.model_kind, "bgnbd_gg_limit");
  EXPECT_EQ(f.model_fitted_at, now);

  // The saved parameters read back the same.
  auto back = ParseModelParams(ModelParamsJson(*fit));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->bgnbd.r, fit->bgnbd.r);
  EXPECT_EQ(back->bgnbd.alpha, fit->bgnbd.alpha);
  EXPECT_EQ(back->bgnbd.a, fit->bgnbd.a);
  EXPECT_EQ(back->bgnbd.b, fit->bgnbd.b);
  EXPECT_EQ(back->gamma_gamma->q, fit->gamma_gamma->q);
  EXPECT_EQ(back->repeat_buyers, repeaters);
  auto bad = ParseModelParams(R"({"bgnbd": {"r": 1}})");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "params_json.bgnbd");
  EXPECT_EQ(bad.error().message, "params_json.bgnbd: needs r, alpha, a and b");
}

TEST(ScoresTest, LargeParametersAreAppliedInTheClosedFormLimitWithoutASeries) {
  // Member 0: purchase days 100, 110, 130 (x = 2, t_x = 30, T = 40 at day 140, monetary 500);
  // member 1 never bought; member 2 bought once on day 120 (x = 0, T = 20).
  MerchantFeatures f = Store({{{100, 1000}, {110, 300}, {130, 700}}, {}, {{120, 400}}});
  Micros now = 140 * kMicrosPerDay;
  ModelFit fit;
  fit.gamma_gamma = GammaGammaParams{1, 3, 1000};  // spend (1000 + x * m) / (x + 2) = 500
  fit.converged = true;
  fit.fitted_at = now;

  // a = b = 1e5: the dropout probability is pd = 1/2 after every purchase.
  fit.bgnbd = {1, 25, 1e5, 1e5};
  EXPECT_TRUE(UsesLimit(fit));
  int64_t before = Hyp2F1SeriesCalls();
  ApplyModels(f, fit, now);
  EXPECT_EQ(Hyp2F1SeriesCalls(), before);
  EXPECT_EQ(f.model_kind, "bgnbd_gg_limit");
  EXPECT_EQ(f.model_fitted_at, now);
  // Member 2: p_alive 1, E[Y(90)] = (1 - 45 / (45 + 90 / 2)) / (1/2) = 1.
  EXPECT_EQ(f.p_alive[2], 1.0f);
  EXPECT_EQ(f.expected_purchases_90d[2], 1.0f);
  EXPECT_EQ(f.expected_value_minor[2], static_cast<float>((1 - 45.0 / 227.5) / 0.5 * 500));
  // Member 0: p_alive = 1 / (1 + a / (b + 1) (65 / 55)^3).
  const double alive0 = 1 / (1 + 1e5 / (1e5 + 1) * std::pow(65.0 / 55, 3));
  EXPECT_EQ(f.p_alive[0], static_cast<float>(alive0));
  EXPECT_EQ(f.expected_purchases_90d[0],
            static_cast<float>(alive0 * (1 - std::pow(65.0 / 110, 3)) / 0.5));
  EXPECT_TRUE(std::isnan(f.p_alive[1]));
  EXPECT_TRUE(std::isnan(f.expected_value_minor[1]));
  EXPECT_EQ(nlohmann::json::parse(ModelParamsJson(fit))["purchase_model"], "bgnbd_limit");

  // b far beyond a: pd ~ 0, the no-dropout NBD, (r + x) / (alpha + T) t = 4 / 64 t for member 0.
  fit.bgnbd = {2, 24, 2, 1e300};
  ApplyModels(f, fit, now);
  EXPECT_EQ(Hyp2F1SeriesCalls(), before);
  EXPECT_EQ(f.p_alive[0], 1.0f);
  EXPECT_EQ(f.expected_purchases_90d[0], 5.625f);
  EXPECT_EQ(f.expected_value_minor[0], 22.8125f * 500);
  EXPECT_EQ(f.p_alive[2], 1.0f);
  EXPECT_EQ(f.expected_purchases_90d[2], static_cast<float>(2.0 / 44 * 90));

  // A fit that did not converge is applied in the limit whatever its a and b.
  fit.bgnbd = {2, 24, 0.8, 2.4};
  fit.converged = false;
  EXPECT_TRUE(UsesLimit(fit));
  ApplyModels(f, fit, now);
  EXPECT_EQ(Hyp2F1SeriesCalls(), before);
  EXPECT_EQ(f.model_kind, "bgnbd_gg_limit");
  auto back = ParseModelParams(ModelParamsJson(fit));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_TRUE(UsesLimit(*back));

  // Converged with moderate a and b: eq. 10, one series per horizon per buyer.
  fit.converged = true;
  EXPECT_FALSE(UsesLimit(fit));
  ApplyModels(f, fit, now);
  EXPECT_EQ(Hyp2F1SeriesCalls(), before + 4);
  EXPECT_EQ(f.model_kind, "bgnbd_gg");
  auto s0 = MemberSummary(f, 0, now);
  ASSERT_TRUE(s0.has_value());
  EXPECT_EQ(f.expected_purchases_90d[0],
            static_cast<float>(BgNbdConditionalExpectedPurchases(fit.bgnbd, *s0, 90)));
  EXPECT_EQ(nlohmann::json::parse(ModelParamsJson(fit))["purchase_model"], "bgnbd");
}

}  // namespace
}  // namespace regulars::insight
