// Tier scenarios on both databases: an order lifts a member at once; a review downgrades only
// after the grace period; overrides end on their date; the tier multiplies earning.

#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/tier_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

class TierServiceTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    clock_.Set(*ParseRfc3339("2026-03-01T00:00:00Z"));
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      merchant_ = m.id;
      accounts::Actor a = A();
      RG_TRY(CreatePointType(tx, a, {"points", "Points", {}, {}, {}, {}}));
      RG_TRY(CreateRule(tx, a,
                        {"points", "1 per 100",
                         R"({"kind":"per_amount","points":1,"per_amount_minor":10000})", true}));
      RG_TRY(SetTierProgram(tx, a, {TierMetric::kSpend, {}, TierWindow::kRollingDays, 90, 30}));
      RG_TRY(CreateTier(tx, a, {1, "Silver", 100000, 1000, "{}"}));
      RG_TRY(CreateTier(tx, a, {2, "Gold", 300000, 2000, R"({"member_price_percent":5})"}));
      members::MemberInput mi;
      mi.phone = "0912345678";
      RG_ASSIGN_OR_RETURN(auto member, members::CreateMember(tx, a, {"TW"}, mi));
      member_ = member.id;
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  void TearDown() override {
    if (!db_) return;
    std::vector<std::string> problems;
    ASSERT_TRUE(db().Read([&](store::Tx& tx) { return CheckLedger(tx, &problems); }));
    for (const auto& p : problems) ADD_FAILURE() << p;
  }
  accounts::Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }
  Result<OrderResult> Order(const std::string& ext, int64_t total) {
    OrderInput in;
    in.external_id = ext;
    in.member_id = member_;
    in.total_minor = total;
    return db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
  }
  MemberTierView View() {
    return *db().ReadValue([&](store::Tx& tx) { return MemberTier(tx, A(), member_); });
  }
  Id merchant_ = 0, member_ = 0;
};

TEST_P(TierServiceTest, OrdersUpgradeAtOnceAndTheTierMultipliesEarning) {
  ASSERT_TRUE(Order("1", 150000).has_value());  // NT$1,500: Silver
  auto v = View();
  ASSERT_TRUE(v.tier.has_value());
  EXPECT_EQ(v.tier->name, "Silver");
  EXPECT_EQ(v.next->name, "Gold");
  EXPECT_EQ(v.to_next, 150000);
  auto o2 = Order("2", 200000);  // NT$3,500 in the window: Gold
  EXPECT_EQ(View().tier->name, "Gold");
  // The upgrade happened after scoring, so order 2 earned as Silver (×1): 20 points.
  EXPECT_EQ(o2->effects[0].points, 20);
  auto o3 = Order("3", 100000);  // as Gold (×2): 10 + 10
  EXPECT_EQ(o3->effects[0].points, 20);
  EXPECT_EQ(o3->earned.lines.back().explanation, "×2 for Gold on 10");
}

TEST_P(TierServiceTest, DowngradeOnlyAtReviewAfterGrace) {
  ASSERT_TRUE(Order("1", 350000).has_value());
  EXPECT_EQ(View().tier->level, 2);
  auto review = [&] {
    return *db().WriteValue(
        [&](store::Tx& tx) { return ReviewTiers(tx, merchant_, clock_.Now()); });
  };
  clock_.Advance(100 * kMicrosPerDay);  // the order left the 90-day window
  EXPECT_EQ(review(), 0);               // grace starts, still Gold
  EXPECT_EQ(View().tier->level, 2);
  EXPECT_TRUE(View().state.grace_until.has_value());
  clock_.Advance(29 * kMicrosPerDay);
  EXPECT_EQ(review(), 0);
  clock_.Advance(kMicrosPerDay);
  EXPECT_EQ(review(), 1);  // 30 days of grace are over
  EXPECT_FALSE(View().tier.has_value());
  auto history = db().ReadValue([&](store::Tx& tx) { return TierHistory(tx, A(), member_); });
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].reason, "downgrade");
  EXPECT_EQ((*history)[0].from_level, 2);
  EXPECT_EQ((*history)[1].reason, "upgrade");
}

TEST_P(TierServiceTest, OverrideWithAnEndDate) {
  Micros until = clock_.Now() + 10 * kMicrosPerDay;
  auto v = db().WriteValue([&](store::Tx& tx) { return OverrideTier(tx, A(), member_, 2, until); });
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(v->tier->name, "Gold");
  auto bad =
      db().WriteValue([&](store::Tx& tx) { return OverrideTier(tx, A(), member_, 7, until); });
  EXPECT_EQ(bad.error().message, "level: no tier has level 7");
  clock_.Advance(11 * kMicrosPerDay);
  EXPECT_FALSE(View().tier.has_value());
  EXPECT_EQ(
      *db().WriteValue([&](store::Tx& tx) { return ReviewTiers(tx, merchant_, clock_.Now()); }), 1);
}

RG_INSTANTIATE_BACKENDS(TierServiceTest);

}  // namespace
}  // namespace regulars::loyalty
