// The per-merchant configuration cache on SQLite and PostgreSQL: every configuration write
// changes merchants.config_version, and the very next order sees the change, whether it was made
// through the same Database, through a second one on the same file / server, or rolled back.

#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "loyalty/config_cache.h"
#include "loyalty/coupon_service.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/referral_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;

constexpr const char* kPer30 = R"({"kind":"per_amount","points":1,"per_amount_minor":3000})";
constexpr const char* kPer10 = R"({"kind":"per_amount","points":1,"per_amount_minor":1000})";

class ConfigCacheTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ClearConfigCache();
    auto m = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
      Actor a = accounts::SystemActor(merchant.id, clock_.Now());
      PointTypeInput pt;
      pt.code = "points";
      pt.name = "Points";
      RG_ASSIGN_OR_RETURN(auto type, CreatePointType(tx, a, pt));
      point_type_ = type.id;
      RuleInput rule;
      rule.point_type = "points";
      rule.name = "1 per NT$30";
      rule.definition_json = kPer30;
      RG_ASSIGN_OR_RETURN(auto stored, CreateRule(tx, a, rule));
      rule_ = stored.rule.id;
      members::MemberInput mi;
      mi.phone = "0912345678";
      RG_ASSIGN_OR_RETURN(auto member, members::CreateMember(tx, a, {"TW"}, mi));
      member_ = member.id;
      return merchant.id;
    });
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    merchant_ = *m;
  }
  Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }
  // Points the order earned, or -1 on error.
  int64_t Order(store::Database& on, const std::string& ext, int64_t total) {
    OrderInput in;
    in.external_id = ext;
    in.member_id = member_;
    in.total_minor = total;
    auto r = on.WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r) return -1;
    int64_t points = 0;
    for (const auto& e : r->effects)
      if (e.point_type_id == point_type_) points += e.points;
    return points;
  }
  Status SetRule(store::Database& on, const char* definition) {
    return on.Write([&](store::Tx& tx) -> Status {
      RuleInput in;
      in.definition_json = definition;
      RG_TRY(UpdateRule(tx, A(), rule_, in));
      return {};
    });
  }
  int64_t Version() {
    auto v = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(
          store::Rows rows,
          tx.Query("SELECT config_version FROM merchants WHERE merchant_id = ?", {merchant_}));
      return rows[0].Int(0);
    });
    EXPECT_TRUE(v.has_value());
    return v.value_or(-1);
  }
  Id merchant_ = 0, member_ = 0, point_type_ = 0, rule_ = 0;
};

TEST_P(ConfigCacheTest, TheSecondOrderUsesTheCachedCopy) {
  EXPECT_EQ(Order(db(), "o1", 30000), 10);
  EXPECT_EQ(Order(db(), "o2", 60000), 20);
  EXPECT_EQ(Order(db(), "o3", 3000), 1);
  ConfigCacheStats s = GetConfigCacheStats();
  EXPECT_EQ(s.loads, 1);
  EXPECT_EQ(s.hits, 2);
}

TEST_P(ConfigCacheTest, ANewMerchantIsCachedBeforeAnyConfigurationWrite) {
  auto id = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
    accounts::Merchant in;
    in.name = "Bare";
    RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
    return merchant.id;
  });
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto v = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query("SELECT config_version FROM merchants WHERE "
                                                   "merchant_id = ?",
                                                   {*id}));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(v.has_value());
  EXPECT_NE(*v, 0);
  ClearConfigCache();
  for (int i = 0; i < 2; ++i) {
    auto c = db().ReadValue([&](store::Tx& tx) {
      return ConfigAtVersion(tx, accounts::SystemActor(*id, clock_.Now()), *v);
    });
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    EXPECT_EQ((*c)->version, *v);
  }
  ConfigCacheStats s = GetConfigCacheStats();
  EXPECT_EQ(s.loads, 1);
  EXPECT_EQ(s.hits, 1);
}

TEST_P(ConfigCacheTest, ARuleChangeIsSeenByTheVeryNextOrder) {
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o1", 30000), 10);
  clock_.Advance(kMicrosPerSecond);
  ASSERT_TRUE(SetRule(db(), kPer10));
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o2", 30000), 30);
  EXPECT_EQ(GetConfigCacheStats().loads, 2);
}

TEST_P(ConfigCacheTest, AChangeThroughAnotherDatabaseIsSeenByTheVeryNextOrder) {
  store::Options o;
  o.url = url_;
  o.pool_size = 2;
  auto other = store::Open(o);
  ASSERT_TRUE(other.has_value()) << other.error().ToString();
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o1", 30000), 10);
  clock_.Advance(kMicrosPerSecond);
  ASSERT_TRUE(SetRule(**other, kPer10));
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o2", 30000), 30);
  // And back, the other way round: the second Database's orders see the first one's change.
  clock_.Advance(kMicrosPerSecond);
  ASSERT_TRUE(SetRule(db(), kPer30));
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(**other, "o3", 30000), 10);
}

TEST_P(ConfigCacheTest, AChangeThatRolledBackIsNeverUsed) {
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o1", 30000), 10);
  clock_.Advance(kMicrosPerSecond);
  // The change and an order that caches it, in one transaction that then fails.
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RuleInput in;
    in.definition_json = kPer10;
    RG_TRY(UpdateRule(tx, A(), rule_, in));
    OrderInput order;
    order.external_id = "inside";
    order.member_id = member_;
    order.total_minor = 30000;
    RG_ASSIGN_OR_RETURN(auto r, CreateOrder(tx, A(), order));
    EXPECT_EQ(r.effects.at(0).points, 30);
    return Fail(Code::kAborted, "rolled back on purpose");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "rolled back on purpose");
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o2", 30000), 10);
}

TEST_P(ConfigCacheTest, EveryConfigurationWriteChangesTheVersion) {
  int64_t before = Version();
  EXPECT_NE(before, 0);
  auto changes = [&](const char* what, const std::function<Status(store::Tx&)>& write) {
    clock_.Advance(kMicrosPerSecond);
    int64_t v = Version();
    auto s = db().Write(write);
    ASSERT_TRUE(s.has_value()) << what << ": " << s.error().ToString();
    EXPECT_NE(Version(), v) << what;
  };
  changes("create point type", [&](store::Tx& tx) -> Status {
    PointTypeInput in;
    in.code = "stamps";
    in.name = "Stamps";
    RG_TRY(CreatePointType(tx, A(), in));
    return {};
  });
  changes("update point type", [&](store::Tx& tx) -> Status {
    PointTypeInput in;
    in.name = "Loyalty points";
    RG_TRY(UpdatePointType(tx, A(), point_type_, in));
    return {};
  });
  changes("create rule", [&](store::Tx& tx) -> Status {
    RuleInput in;
    in.point_type = "points";
    in.name = "Second";
    in.definition_json = kPer10;
    RG_TRY(CreateRule(tx, A(), in));
    return {};
  });
  changes("update rule", [&](store::Tx& tx) -> Status {
    RuleInput in;
    in.active = false;
    RG_TRY(UpdateRule(tx, A(), rule_, in));
    return {};
  });
  Id card = 0;
  changes("create stamp card", [&](store::Tx& tx) -> Status {
    StampCardInput in;
    in.name = "Tea card";
    in.point_type = "stamps";
    in.stamps_needed = 3;
    in.reward_name = "Free tea";
    RG_ASSIGN_OR_RETURN(auto c, CreateStampCard(tx, A(), in));
    card = c.id;
    return {};
  });
  changes("update stamp card", [&](store::Tx& tx) -> Status {
    StampCardInput in;
    in.active = false;
    RG_TRY(UpdateStampCard(tx, A(), card, in));
    return {};
  });
  Id tier = 0;
  changes("create tier", [&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(auto t, CreateTier(tx, A(), {1, "Silver", 100000, 1000, "{}"}));
    tier = t.id;
    return {};
  });
  changes("update tier", [&](store::Tx& tx) -> Status {
    TierInput in;
    in.name = "Bronze";
    RG_TRY(UpdateTier(tx, A(), tier, in));
    return {};
  });
  changes("set tier program", [&](store::Tx& tx) -> Status {
    RG_TRY(SetTierProgram(tx, A(), TierProgram{}));
    return {};
  });
  Id tmpl = 0;
  changes("create coupon template", [&](store::Tx& tx) -> Status {
    CouponTemplateInput in;
    in.name = "NT$50 off";
    in.kind = CouponKind::kAmountOff;
    in.amount_off_minor = int64_t{5000};
    RG_ASSIGN_OR_RETURN(auto t, CreateCouponTemplate(tx, A(), in));
    tmpl = t.id;
    return {};
  });
  changes("update coupon template", [&](store::Tx& tx) -> Status {
    CouponTemplateInput in;
    in.name = "NT$60 off";
    RG_TRY(UpdateCouponTemplate(tx, A(), tmpl, in));
    return {};
  });
  changes("set referral program", [&](store::Tx& tx) -> Status {
    ReferralProgramInput in;
    in.referrer_reward = ReferralRewardInput{.point_type = "points", .points = 100};
    RG_TRY(SetReferralProgram(tx, A(), in));
    return {};
  });
}

// A stamp card, a tier and a spend gift made after the configuration was cached all apply to
// the very next order.
TEST_P(ConfigCacheTest, NewStampCardsTiersAndSpendGiftsApplyToTheNextOrder) {
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o1", 30000), 10);
  clock_.Advance(kMicrosPerSecond);
  auto s = db().Write([&](store::Tx& tx) -> Status {
    PointTypeInput pt;
    pt.code = "stamps";
    pt.name = "Stamps";
    RG_TRY(CreatePointType(tx, A(), pt));
    StampCardInput card;
    card.name = "Visit card";
    card.point_type = "stamps";
    card.stamps_needed = 5;
    card.reward_name = "Free tea";
    RG_TRY(CreateStampCard(tx, A(), card));
    RG_TRY(CreateTier(tx, A(), {1, "Silver", 1, 2000, "{}"}));
    CouponTemplateInput gift;
    gift.name = "Spend gift";
    gift.kind = CouponKind::kAmountOff;
    gift.amount_off_minor = int64_t{5000};
    gift.issue_on = IssueOn::kSpend;
    gift.spend_threshold_minor = int64_t{10000};
    RG_TRY(CreateCouponTemplate(tx, A(), gift));
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  clock_.Advance(kMicrosPerSecond);
  OrderInput in;
  in.external_id = "o2";
  in.member_id = member_;
  in.total_minor = 30000;
  auto r = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  // The tier is read when the order is scored, before the order requalifies the member: o2
  // still earns at level 0, and makes the member Silver.
  ASSERT_EQ(r->effects.size(), 2u);
  EXPECT_EQ(r->effects[0].point_type, "points");
  EXPECT_EQ(r->effects[0].points, 10);
  EXPECT_EQ(r->effects[1].point_type, "stamps");
  EXPECT_EQ(r->effects[1].points, 1);
  auto coupons = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query("SELECT COUNT(*) FROM coupons WHERE merchant_id = ? AND "
                                 "member_id = ? AND source = 'spend'",
                                 {merchant_, member_}));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(coupons.has_value());
  EXPECT_EQ(*coupons, 1);
  // o2 lifted the member to Silver, so o3 earns double.
  clock_.Advance(kMicrosPerSecond);
  EXPECT_EQ(Order(db(), "o3", 30000), 20);
}

RG_INSTANTIATE_BACKENDS(ConfigCacheTest);

}  // namespace
}  // namespace regulars::loyalty
