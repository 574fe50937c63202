// Reports on both databases: liability equals the balances' sum and value; activity groups by
// the merchant's local day (an order at 01:00 Taipei on Feb 1 counts on Feb 1, not Jan 31).

#include "loyalty/report_service.h"

#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

class ReportTest : public store::BackendTest {};

TEST_P(ReportTest, LiabilityAndActivityByLocalDay) {
  clock_.Set(*ParseRfc3339("2026-01-31T17:00:00Z"));  // 01:00 Feb 1 in Taipei
  Id merchant = 0;
  auto r = db().Write([&](store::Tx& tx) -> Status {
    accounts::Merchant in;
    in.name = "Tea";
    RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
    merchant = m.id;
    accounts::Actor a = accounts::SystemActor(m.id, clock_.Now());
    RG_TRY(CreatePointType(tx, a, {"points", "Points", {}, int64_t{10000}, {}, {}}));
    RG_TRY(CreateRule(tx, a,
                      {"points", "1 per 30",
                       R"({"kind":"per_amount","points":1,"per_amount_minor":3000})", true}));
    for (const char* phone : {"0912345678", "0922345678"}) {
      members::MemberInput mi;
      mi.phone = phone;
      RG_ASSIGN_OR_RETURN(auto member, members::CreateMember(tx, a, {"TW"}, mi));
      OrderInput o;
      o.external_id = phone;
      o.member_id = member.id;
      o.total_minor = 300000;  // 100 points each
      RG_TRY(CreateOrder(tx, a, o));
    }
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  accounts::Actor a = accounts::SystemActor(merchant, clock_.Now());
  auto liability = db().ReadValue([&](store::Tx& tx) { return LiabilityReport(tx, a); });
  ASSERT_TRUE(liability.has_value()) << liability.error().ToString();
  ASSERT_EQ(liability->size(), 1u);
  EXPECT_EQ((*liability)[0].outstanding, 200);
  EXPECT_EQ((*liability)[0].members, 2);
  EXPECT_EQ((*liability)[0].value_minor, 2000);  // 1,000 points = NT$100
  auto activity = db().ReadValue([&](store::Tx& tx) {
    return PointsActivityReport(tx, a, *ParseRfc3339("2026-01-30T16:00:00Z"),
                                *ParseRfc3339("2026-02-02T16:00:00Z"), std::nullopt);
  });
  ASSERT_TRUE(activity.has_value()) << activity.error().ToString();
  ASSERT_EQ(activity->size(), 1u);
  EXPECT_EQ((*activity)[0].day, "2026-02-01");
  EXPECT_EQ((*activity)[0].earned, 200);
  EXPECT_EQ(ActivityCsv(*activity),
            "day,branch_id,point_type,earned,redeemed,expired,reversed\r\n"
            "2026-02-01,,points,200,0,0,0\r\n");
  accounts::Actor cashier = a;
  cashier.role = accounts::Role::kCashier;
  EXPECT_EQ(
      db().ReadValue([&](store::Tx& tx) { return LiabilityReport(tx, cashier); }).error().code,
      Code::kPermissionDenied);
}

RG_INSTANTIATE_BACKENDS(ReportTest);

}  // namespace
}  // namespace regulars::loyalty
