// Loyalty scenarios on SQLite and PostgreSQL. Every scenario ends with the ledger audit
// (CheckLedger, what `regulars check` runs): balance = sum of entries = open lots - debt.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "accounts/account_service.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;

class LoyaltyTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // 2026-01-31 17:00 UTC = 2026-02-01 01:00 in Taipei.
    clock_.Set(*ParseRfc3339("2026-01-31T17:00:00Z"));
    auto m = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
      Actor a = accounts::SystemActor(merchant.id, clock_.Now());
      PointTypeInput pt;
      pt.code = "points";
      pt.name = "Points";
      pt.expiry = ExpiryPolicy{ExpiryKind::kEndOfMonth, 0};
      RG_TRY(CreatePointType(tx, a, pt));
      RuleInput rule;
      rule.point_type = "points";
      rule.name = "1 per NT$30";
      rule.definition_json = R"({"kind":"per_amount","points":1,"per_amount_minor":3000})";
      RG_TRY(CreateRule(tx, a, rule));
      members::MemberInput mi;
      mi.phone = "0912345678";
      RG_ASSIGN_OR_RETURN(auto member, members::CreateMember(tx, a, {"TW"}, mi));
      member_ = member.id;
      return merchant.id;
    });
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    merchant_ = *m;
  }
  void TearDown() override {
    if (!db_) return;
    std::vector<std::string> problems;
    auto s = db().Read([&](store::Tx& tx) { return CheckLedger(tx, &problems); });
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    for (const auto& p : problems) ADD_FAILURE() << "ledger audit: " << p;
  }
  Actor A() {
    Actor a = accounts::SystemActor(merchant_, clock_.Now());
    a.staff_id = 9;
    return a;
  }
  Result<OrderResult> Order(const std::string& ext, int64_t total, std::optional<Micros> at = {}) {
    OrderInput in;
    in.external_id = ext;
    in.member_id = member_;
    in.total_minor = total;
    in.occurred_at = at;
    return db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
  }
  int64_t Balance() {
    auto b = db().ReadValue([&](store::Tx& tx) { return MemberBalances(tx, A(), member_); });
    EXPECT_TRUE(b.has_value());
    return b->empty() ? 0 : (*b)[0].balance;
  }
  Result<Redemption> Redeem(int64_t points, bool commit = true) {
    RedeemInput in;
    in.member_id = member_;
    in.point_type = "points";
    in.points = points;
    in.commit = commit;
    return db().WriteValue([&](store::Tx& tx) { return Reserve(tx, A(), in); });
  }

  Id merchant_ = 0, member_ = 0;
};

TEST_P(LoyaltyTest, OrderEarnsAndRefundsReverseExactly) {
  auto o = Order("A-1", 100000);  // NT$1,000 → 33 points
  ASSERT_TRUE(o.has_value()) << o.error().ToString();
  ASSERT_EQ(o->effects.size(), 1u);
  EXPECT_EQ(o->effects[0].points, 33);
  EXPECT_EQ(o->earned.lines[0].explanation, "1 per 30.00 on 1000.00");
  // Three partial refunds and the rest reverse exactly 33 in all.
  RefundInput part;
  part.amount_minor = 33333;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        db().WriteValue([&](store::Tx& tx) { return RefundOrder(tx, A(), o->order.id, part); }));
  EXPECT_EQ(Balance(), 33 - 33 * 99999 / 100000);
  auto rest = db().WriteValue([&](store::Tx& tx) { return RefundOrder(tx, A(), o->order.id, {}); });
  ASSERT_TRUE(rest.has_value()) << rest.error().ToString();
  EXPECT_EQ(Balance(), 0);
  auto again =
      db().WriteValue([&](store::Tx& tx) { return RefundOrder(tx, A(), o->order.id, {}); });
  EXPECT_EQ(again.error().message, "the order is already fully refunded");
  RefundInput too_much;
  too_much.amount_minor = 1;
  auto over =
      db().WriteValue([&](store::Tx& tx) { return RefundOrder(tx, A(), o->order.id, too_much); });
  EXPECT_EQ(over.error().message, "amount_minor: must be 1 to 0 (what is not yet refunded)");
}

TEST_P(LoyaltyTest, RefundAfterRedemptionGoesNegative) {
  auto o = Order("A-1", 30000);  // 10 points
  ASSERT_TRUE(o.has_value());
  ASSERT_TRUE(Redeem(8).has_value());
  EXPECT_EQ(Balance(), 2);
  auto r = db().WriteValue([&](store::Tx& tx) { return RefundOrder(tx, A(), o->order.id, {}); });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->effects[0].points, -10);
  EXPECT_EQ(Balance(), -8);
  // Future earnings fill the hole first.
  ASSERT_TRUE(Order("A-2", 30000).has_value());
  EXPECT_EQ(Balance(), 2);
}

TEST_P(LoyaltyTest, OverdraftIsRefusedWithTheBalance) {
  ASSERT_TRUE(Order("A-1", 30000).has_value());
  auto r = Redeem(11);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(r.error().message, "points: the balance is only 10");
  EXPECT_EQ(Balance(), 10);
}

TEST_P(LoyaltyTest, ExpiryAtEndOfMonthInTheMerchantsZone) {
  // Earned 01:00 on Feb 1 in Taipei (still Jan 31 in UTC): the lot lasts until the end of
  // February Taipei time, i.e. 2026-02-28T16:00Z.
  ASSERT_TRUE(Order("A-1", 30000).has_value());
  auto sweep = [&](const char* at) {
    clock_.Set(*ParseRfc3339(at));
    return db().WriteValue([&](store::Tx& tx) { return RunExpiry(tx, clock_.Now()); });
  };
  EXPECT_EQ(sweep("2026-02-28T15:59:59Z")->points_expired, 0);
  EXPECT_EQ(Balance(), 10);
  EXPECT_EQ(sweep("2026-02-28T16:00:00Z")->points_expired, 10);
  EXPECT_EQ(Balance(), 0);
  EXPECT_EQ(sweep("2026-03-05T00:00:00Z")->points_expired, 0);  // running again changes nothing
  auto ledger =
      db().ReadValue([&](store::Tx& tx) { return MemberLedger(tx, A(), member_, {}, 10); });
  EXPECT_EQ(ledger->items[0].kind, "expire");
  EXPECT_EQ(ledger->items[0].amount, -10);
}

TEST_P(LoyaltyTest, OrdersAreScoredByTheRulesInForceWhenTheyHappened) {
  Micros before_change = clock_.Now();
  clock_.Advance(kMicrosPerDay);
  auto rules = db().ReadValue([&](store::Tx& tx) { return ListRules(tx, A()); });
  RuleInput change;
  change.definition_json = R"({"kind":"per_amount","points":2,"per_amount_minor":3000})";
  ASSERT_TRUE(db().WriteValue(
      [&](store::Tx& tx) { return UpdateRule(tx, A(), (*rules)[0].rule.id, change); }));
  clock_.Advance(kMicrosPerSecond);
  auto old_order = Order("OLD", 30000, before_change + kMicrosPerSecond);
  auto new_order = Order("NEW", 30000);
  EXPECT_EQ(old_order->effects[0].points, 10);
  EXPECT_EQ(new_order->effects[0].points, 20);
}

TEST_P(LoyaltyTest, ReserveCommitCancelAndTimeout) {
  ASSERT_TRUE(Order("A-1", 90000).has_value());  // 30
  auto held = Redeem(10, false);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->status, "reserved");
  EXPECT_EQ(Balance(), 20);
  auto cancelled =
      db().WriteValue([&](store::Tx& tx) { return CancelRedemption(tx, A(), held->id); });
  EXPECT_EQ(cancelled->status, "cancelled");
  EXPECT_EQ(Balance(), 30);
  auto committed =
      db().WriteValue([&](store::Tx& tx) { return CancelRedemption(tx, A(), held->id); });
  EXPECT_EQ(committed->status, "cancelled");  // cancelling twice changes nothing
  EXPECT_EQ(Balance(), 30);

  auto lapsing = Redeem(5, false);
  clock_.Advance(16 * 60 * kMicrosPerSecond);
  auto late =
      db().WriteValue([&](store::Tx& tx) { return CommitRedemption(tx, A(), lapsing->id); });
  EXPECT_EQ(late.error().message, "the reservation timed out; reserve again");
  EXPECT_EQ(Balance(), 25);  // a refused commit writes nothing; the sweep releases the hold
  auto sweep = db().WriteValue([&](store::Tx& tx) { return RunExpiry(tx, clock_.Now()); });
  EXPECT_EQ(sweep->reservations_released, 1);
  EXPECT_EQ(Balance(), 30);
}

// 16 cashiers redeem 3 points each from one 30-point balance at the same moment: exactly 10
// succeed, the rest are refused, and the balance ends at 0 — never below.
TEST_P(LoyaltyTest, SixteenConcurrentRedeemersNeverOverdraw) {
  ASSERT_TRUE(Order("A-1", 90000).has_value());
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&] {
      auto r = Redeem(3);
      if (r)
        ++ok;
      else if (r.error().code == Code::kFailedPrecondition)
        ++refused;
      else
        ++other;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(refused.load(), 6);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Balance(), 0);
}

TEST_P(LoyaltyTest, MergeMovesBalancesWithTheirExpiry) {
  ASSERT_TRUE(Order("A-1", 30000).has_value());
  auto other = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
    members::MemberInput mi;
    mi.phone = "0922333444";
    RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, A(), {"TW"}, mi));
    return m.id;
  });
  OrderInput in;
  in.external_id = "B-1";
  in.member_id = *other;
  in.total_minor = 60000;
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); }));
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, A(), member_, *other));
    return MergeBalances(tx, A(), member_, *other);
  }));
  EXPECT_EQ(Balance(), 30);
  auto lots = db().ReadValue([&](store::Tx& tx) {
    auto types = ListPointTypes(tx, A());
    return MemberLots(tx, A(), member_, (*types)[0].id);
  });
  ASSERT_EQ(lots->size(), 2u);
  EXPECT_EQ((*lots)[0].expires_at, (*lots)[1].expires_at);
}

TEST_P(LoyaltyTest, UnknownPhoneRegistersAMemberAndAnonymousOrdersEarnNothing) {
  OrderInput in;
  in.external_id = "W-1";
  in.phone = "0955 000 111";
  in.total_minor = 30000;
  auto r = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->member_created);
  EXPECT_EQ(r->effects[0].points, 10);
  OrderInput anon;
  anon.external_id = "W-2";
  anon.total_minor = 30000;
  auto a = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), anon); });
  EXPECT_TRUE(a->effects.empty());
  auto dup = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), anon); });
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  EXPECT_EQ(dup.error().details[0].second, IdToString(a->order.id));
}

// The HTTP layer reads the phone before the transaction (PrenormalizeOrderPhone); the order then
// finds the member by E.164 alone. A phone read for another region than the merchant's is read
// again, and a phone that does not parse is reported by the transaction as before.
TEST_P(LoyaltyTest, APrenormalizedPhoneFindsTheMemberAndAStaleRegionIsReadAgain) {
  OrderInput in;
  in.external_id = "P-1";
  in.phone = "0912 345 678";
  in.total_minor = 30000;
  PrenormalizeOrderPhone(in, "TW");
  EXPECT_EQ(in.phone_e164, std::optional<std::string>("+886912345678"));
  EXPECT_EQ(in.phone_region, "TW");
  auto r = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), in); });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->order.member_id, std::optional<Id>(member_));
  EXPECT_FALSE(r->member_created);
  ASSERT_EQ(r->effects.size(), 1u);
  EXPECT_EQ(r->effects[0].points, 10);
  ASSERT_TRUE(r->point_type_codes.has_value());
  EXPECT_EQ(r->point_type_codes->at(r->effects[0].point_type_id), "points");

  OrderInput stale;
  stale.external_id = "P-2";
  stale.phone = "0912345678";
  stale.total_minor = 30000;
  stale.phone_e164 = "+12025550123";  // as if read for the US: not this merchant's region
  stale.phone_region = "US";
  auto s = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), stale); });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->order.member_id, std::optional<Id>(member_));
  EXPECT_FALSE(s->member_created);

  OrderInput bad;
  bad.external_id = "P-3";
  bad.phone = "12";
  bad.total_minor = 30000;
  PrenormalizeOrderPhone(bad, "TW");
  EXPECT_EQ(bad.phone_e164, std::nullopt);
  auto b = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), bad); });
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, Code::kInvalidArgument);
  EXPECT_EQ(b.error().field, "phone");
  EXPECT_EQ(Balance(), 20);
}

// PrenormalizeOrderPhone keeps what it read by region and phone as typed: the second read of
// a phone is a hit with the same answer, the same text for another region is read for that
// region, and an invalid phone is never kept (it misses every time and stays unset).
TEST(OrderPhoneCache, KeepsValidPhonesByRegionAndTextOnly) {
  auto read = [](const std::string& phone, const std::string& region) {
    OrderInput in;
    in.phone = phone;
    PrenormalizeOrderPhone(in, region);
    return in.phone_e164;
  };
  auto [hits0, misses0] = OrderPhoneCacheCounts();
  EXPECT_EQ(read("0933 111 222", "TW"), std::optional<std::string>("+886933111222"));
  EXPECT_EQ(read("0933 111 222", "TW"), std::optional<std::string>("+886933111222"));
  EXPECT_EQ(read("(202) 555-0187", "US"), std::optional<std::string>("+12025550187"));
  EXPECT_EQ(read("(202) 555-0187", "TW"), std::nullopt);  // not a Taiwanese number
  EXPECT_EQ(read("(202) 555-0187", "US"), std::optional<std::string>("+12025550187"));
  EXPECT_EQ(read("12", "TW"), std::nullopt);
  EXPECT_EQ(read("12", "TW"), std::nullopt);
  auto [hits1, misses1] = OrderPhoneCacheCounts();
  EXPECT_EQ(hits1 - hits0, 2);
  EXPECT_EQ(misses1 - misses0, 5);
  OrderInput by_id;  // a member id wins over the phone: nothing is read
  by_id.member_id = 5;
  by_id.phone = "0933 111 222";
  PrenormalizeOrderPhone(by_id, "TW");
  EXPECT_EQ(by_id.phone_e164, std::nullopt);
  EXPECT_EQ(OrderPhoneCacheCounts(), std::make_pair(hits1, misses1));
}

// A rule with a daily cap reads what the member earned today (orders without one skip that
// query): 5 a visit, at most 12 a local day, so 5, 5, 2, 0, and 5 again the next day.
TEST_P(LoyaltyTest, DailyCapCountsTheMembersEarlierOrdersThatDay) {
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RuleInput rule;
    rule.point_type = "points";
    rule.name = "5 a visit, 12 a day";
    rule.definition_json = R"({"kind":"per_visit","points":5,"cap_per_day":12})";
    RG_TRY(CreateRule(tx, A(), rule));
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  std::vector<int64_t> earned;
  for (int i = 0; i < 4; ++i) {
    auto o = Order(fmt::format("D-{}", i), 100);  // NT$1: nothing from the per-amount rule
    ASSERT_TRUE(o.has_value()) << o.error().ToString();
    earned.push_back(o->effects.empty() ? 0 : o->effects[0].points);
  }
  EXPECT_EQ(earned, (std::vector<int64_t>{5, 5, 2, 0}));
  clock_.Advance(24 * 3600 * kMicrosPerSecond);
  auto next = Order("D-next", 100);
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  ASSERT_EQ(next->effects.size(), 1u);
  EXPECT_EQ(next->effects[0].points, 5);
  EXPECT_EQ(Balance(), 17);
}

TEST_P(LoyaltyTest, AdjustmentsNeedAManagerAndAReason) {
  Actor cashier = A();
  cashier.role = accounts::Role::kCashier;
  auto denied = db().WriteValue(
      [&](store::Tx& tx) { return Adjust(tx, cashier, member_, "points", 5, "gift"); });
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);
  auto no_reason =
      db().WriteValue([&](store::Tx& tx) { return Adjust(tx, A(), member_, "points", 5, ""); });
  EXPECT_EQ(no_reason.error().message, "reason: must be 1 to 500 bytes");
  auto ok =
      db().WriteValue([&](store::Tx& tx) { return Adjust(tx, A(), member_, "points", 5, "gift"); });
  EXPECT_EQ(ok->balance_after, 5);
  auto under =
      db().WriteValue([&](store::Tx& tx) { return Adjust(tx, A(), member_, "points", -6, "fix"); });
  EXPECT_EQ(under.error().message, "points: the balance is only 5");
}

RG_INSTANTIATE_BACKENDS(LoyaltyTest);

}  // namespace
}  // namespace regulars::loyalty
