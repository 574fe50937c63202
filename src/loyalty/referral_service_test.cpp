// Referrals on every database: the program (managers only, rewards checked), recording a
// newcomer with its guards — self-referral by own code, phone, e-mail or device, one referral
// per newcomer and device, newcomers only, a limit per referrer that holds under concurrency —
// and the reward: the first qualifying purchase rewards both sides exactly once, even when the
// newcomer places several orders, some at the same moment.

#include "loyalty/referral_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "accounts/account_service.h"
#include "loyalty/coupon_service.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "members/member_repo.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;

class ReferralServiceTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = "Tea House";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      merchant_ = m.id;
      PointTypeInput pti;
      pti.code = "points";
      pti.name = "Points";
      RG_ASSIGN_OR_RETURN(auto pt, CreatePointType(tx, Owner(), pti));
      points_ = pt.id;
      CouponTemplateInput ti;
      ti.name = "Welcome friend";
      ti.kind = CouponKind::kAmountOff;
      ti.amount_off_minor = int64_t{5000};
      RG_ASSIGN_OR_RETURN(auto t, CreateCouponTemplate(tx, Owner(), ti));
      template_ = t.id;
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    referrer_ = NewMember("0912345678", "amy@example.com");
  }

  Actor Owner() {
    Actor a = accounts::SystemActor(merchant_, clock_.Now());
    a.staff_id = 5;
    return a;
  }
  Actor Cashier() {
    Actor a = Owner();
    a.role = accounts::Role::kCashier;
    a.staff_id = 6;
    return a;
  }
  Id NewMember(const std::string& phone, std::optional<std::string> email = std::nullopt) {
    auto r = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      members::MemberInput mi;
      mi.phone = phone;
      if (email) mi.email = email;
      RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(), {}, mi));
      return m.id;
    });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(0);
  }
  std::string CodeOf(Id member) {
    auto m = db().ReadValue([&](store::Tx& tx) -> Result<members::Member> {
      RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, merchant_, member));
      return *m;
    });
    return m ? m->referral_code : "";
  }
  Status SetProgram(ReferralProgramInput in) {
    return db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(SetReferralProgram(tx, Owner(), in));
      return {};
    });
  }
  Status DefaultProgram(std::optional<int> limit = std::nullopt) {
    return SetProgram(
        {.referrer_reward = ReferralRewardInput{.point_type = "points", .points = 100},
         .newcomer_reward = ReferralRewardInput{.coupon_template_id = template_},
         .min_spend_minor = 50000,
         .limit_per_referrer = limit});
  }
  Result<Referral> Refer(Id newcomer, const std::string& code,
                         std::optional<std::string> device = std::nullopt) {
    return db().WriteValue([&](store::Tx& tx) {
      return RecordReferral(tx, Cashier(), {newcomer, code, device});
    });
  }
  // An order by `member`, with the referral hook run as AfterOrderCreated will run it.
  Status Order(Id member, const std::string& ext, int64_t total) {
    return db().Write([&](store::Tx& tx) -> Status {
      OrderInput in;
      in.external_id = ext;
      in.member_id = member;
      in.total_minor = total;
      RG_ASSIGN_OR_RETURN(OrderResult res, CreateOrder(tx, Cashier(), in));
      return OnOrderForReferrals(tx, Cashier(), res);
    });
  }
  int64_t Points(Id member) {
    auto r = db().ReadValue([&](store::Tx& tx) { return LoadBalances(tx, merchant_, member); });
    if (!r) return -1;
    for (const auto& b : *r)
      if (b.point_type_id == points_) return b.balance;
    return 0;
  }
  size_t Coupons(Id member) {
    auto r = db().ReadValue([&](store::Tx& tx) {
      return ListCoupons(tx, Owner(), {.member_id = member}, std::nullopt, 100);
    });
    return r ? r->items.size() : 999;
  }
  template <class T>
  static void ExpectError(const Result<T>& r, Code code, const std::string& message,
                          const std::string& field = "") {
    ASSERT_FALSE(r.has_value()) << "expected: " << message;
    EXPECT_EQ(r.error().code, code) << r.error().ToString();
    EXPECT_EQ(r.error().message, message);
    if (!field.empty()) {
      EXPECT_EQ(r.error().field, field);
    }
  }

  Id merchant_ = 0, points_ = 0, template_ = 0, referrer_ = 0;
};

TEST_P(ReferralServiceTest, ProgramForManagersWithCheckedRewards) {
  auto none = db().ReadValue([&](store::Tx& tx) { return GetReferralProgram(tx, Owner()); });
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->configured);
  EXPECT_FALSE(none->active);
  ExpectError(db().WriteValue([&](store::Tx& tx) { return SetReferralProgram(tx, Cashier(), {}); }),
              Code::kPermissionDenied, "only an owner or manager may configure referrals");
  ExpectError(db().WriteValue([&](store::Tx& tx) {
    return SetReferralProgram(
        tx, Owner(), {.referrer_reward = ReferralRewardInput{.point_type = "nope", .points = 1}});
  }),
              Code::kInvalidArgument, "referrer_reward.point_type: no point type 'nope'");
  ExpectError(db().WriteValue([&](store::Tx& tx) {
    return SetReferralProgram(
        tx, Owner(), {.newcomer_reward = ReferralRewardInput{.point_type = "points", .points = 0}});
  }),
              Code::kInvalidArgument, "newcomer_reward.points: must be 1 to 1000000000");
  ExpectError(db().WriteValue([&](store::Tx& tx) {
    return SetReferralProgram(tx, Owner(), {.limit_per_referrer = 0});
  }),
              Code::kInvalidArgument,
              "limit_per_referrer: must be 1 to 1000000, or null for no limit");
  ASSERT_TRUE(DefaultProgram(5));
  auto p = db().ReadValue([&](store::Tx& tx) { return GetReferralProgram(tx, Owner()); });
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->active);
  EXPECT_EQ(p->referrer.point_type, "points");
  EXPECT_EQ(p->referrer.points, 100);
  EXPECT_EQ(p->newcomer.coupon_template_id, template_);
  EXPECT_EQ(p->min_spend_minor, 50000);
  EXPECT_EQ(p->limit_per_referrer, 5);
}

TEST_P(ReferralServiceTest, SelfReferralIsRefused) {
  ASSERT_TRUE(DefaultProgram());
  const std::string code = CodeOf(referrer_);
  ExpectError(Refer(referrer_, code), Code::kFailedPrecondition,
              "referral_code: self-referral is not allowed (the member's own code)",
              "referral_code");

  Id same_email = NewMember("0922000001", "amy@example.com");
  ExpectError(Refer(same_email, code), Code::kFailedPrecondition,
              "referral_code: self-referral is not allowed (same e-mail address as the referrer)",
              "referral_code");

  // A newcomer also known by the referrer's phone number (e.g. through a merge).
  Id same_phone = NewMember("0922000002");
  ASSERT_TRUE(db().Write([&](store::Tx& tx) {
    return members::AddIdentity(tx, merchant_, same_phone, {"phone", "+886912345678", 0});
  }));
  ExpectError(Refer(same_phone, code), Code::kFailedPrecondition,
              "referral_code: self-referral is not allowed (same phone number as the referrer)",
              "referral_code");

  ASSERT_TRUE(db().Write(
      [&](store::Tx& tx) { return RecordMemberDevice(tx, Owner(), referrer_, "device-of-amy"); }));
  Id same_device = NewMember("0922000003");
  ExpectError(Refer(same_device, code, "device-of-amy"), Code::kFailedPrecondition,
              "referral_code: self-referral is not allowed (same device as the referrer)",
              "referral_code");

  // The same newcomer with its own device is fine; that device cannot serve another referral.
  auto ok = Refer(same_device, code, "device-of-bob");
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->referrer_id, referrer_);
  EXPECT_EQ(ok->status, "pending");
  Id next = NewMember("0922000004");
  ExpectError(Refer(next, code, "device-of-bob"), Code::kFailedPrecondition,
              "device_id: this device was already used for a referral", "device_id");
  ExpectError(Refer(same_device, code), Code::kAlreadyExists,
              "member_id: the member was already referred", "member_id");
  ExpectError(Refer(next, "ZZZZZZZZ"), Code::kInvalidArgument,
              "referral_code: no member has this referral code", "referral_code");
}

TEST_P(ReferralServiceTest, OnlyNewcomersAndOnlyWithAProgram) {
  Id newcomer = NewMember("0922000001");
  ExpectError(Refer(newcomer, CodeOf(referrer_)), Code::kFailedPrecondition,
              "there is no active referral program");
  ASSERT_TRUE(DefaultProgram());
  ASSERT_TRUE(Order(newcomer, "O-0", 1000));
  ExpectError(Refer(newcomer, CodeOf(referrer_)), Code::kFailedPrecondition,
              "member_id: the member has already made a purchase", "member_id");
  Id late = NewMember("0922000002");
  clock_.Advance(kReferralJoinWindow + 1);
  ExpectError(Refer(late, CodeOf(referrer_)), Code::kFailedPrecondition,
              "member_id: the member joined too long ago to be referred", "member_id");
  ExpectError(db().WriteValue([&](store::Tx& tx) {
    return RecordReferral(tx, Cashier(), {123, CodeOf(referrer_), std::nullopt});
  }),
              Code::kNotFound, "member not found");
}

TEST_P(ReferralServiceTest, LimitPerReferrer) {
  ASSERT_TRUE(DefaultProgram(2));
  const std::string code = CodeOf(referrer_);
  ASSERT_TRUE(Refer(NewMember("0922000001"), code));
  ASSERT_TRUE(Refer(NewMember("0922000002"), code));
  ExpectError(Refer(NewMember("0922000003"), code), Code::kFailedPrecondition,
              "referral_code: the referrer has reached the limit of 2 referrals", "referral_code");
  // Another referrer is counted apart.
  Id other = NewMember("0933000000");
  EXPECT_TRUE(Refer(NewMember("0922000004"), CodeOf(other)));
}

// Six newcomers use one code at the same moment with a limit of 3. The count is a conditional
// UPDATE on the referrer's counter row, so exactly 3 are recorded whatever the interleaving.
TEST_P(ReferralServiceTest, LimitHoldsUnderConcurrency) {
  ASSERT_TRUE(DefaultProgram(3));
  const std::string code = CodeOf(referrer_);
  std::vector<Id> newcomers;
  for (int i = 0; i < 6; ++i) newcomers.push_back(NewMember(fmt::format("092200000{}", i)));
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (Id n : newcomers)
    threads.emplace_back([&, n] {
      auto r = Refer(n, code);
      if (r)
        ++ok;
      else if (r.error().message ==
               "referral_code: the referrer has reached the limit of 3 referrals")
        ++refused;
      else
        ADD_FAILURE() << r.error().ToString();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(refused, 3);
}

// The newcomer's first order is below the minimum spend (no reward yet); the second qualifies
// and rewards both sides; the third and any replay of the hook reward nobody again.
TEST_P(ReferralServiceTest, FirstQualifyingPurchaseRewardsBothSidesOnce) {
  ASSERT_TRUE(DefaultProgram());
  Id newcomer = NewMember("0922000001");
  auto ref = Refer(newcomer, CodeOf(referrer_), "device-1");
  ASSERT_TRUE(ref) << ref.error().ToString();

  ASSERT_TRUE(Order(newcomer, "O-1", 49999));
  EXPECT_EQ(Points(referrer_), 0);
  EXPECT_EQ(Coupons(newcomer), 0u);

  ASSERT_TRUE(Order(newcomer, "O-2", 50000));
  EXPECT_EQ(Points(referrer_), 100);
  EXPECT_EQ(Coupons(newcomer), 1u);
  EXPECT_EQ(Coupons(referrer_), 0u);

  ASSERT_TRUE(Order(newcomer, "O-3", 90000));
  EXPECT_EQ(Points(referrer_), 100);
  EXPECT_EQ(Coupons(newcomer), 1u);

  auto list = db().ReadValue(
      [&](store::Tx& tx) { return ListReferrals(tx, Owner(), referrer_, std::nullopt, 50); });
  ASSERT_TRUE(list);
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].status, "rewarded");
  EXPECT_TRUE(list->items[0].order_id.has_value());
  EXPECT_EQ(list->items[0].rewarded_at, clock_.Now());
  // The referrer's own orders reward nobody.
  ASSERT_TRUE(Order(referrer_, "O-4", 90000));
  EXPECT_EQ(Points(referrer_), 100);
  std::vector<std::string> problems;
  ASSERT_TRUE(db().Read([&](store::Tx& tx) { return CheckLedger(tx, &problems); }));
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// The referral rests on its qualifying order: refunding that order below the program's minimum
// takes both rewards back once — the referrer's points (already spent points become a negative
// balance, as for an order's own points) and the newcomer's unused coupon — and the referral is
// 'reversed' for good, so buying again does not reward a second time. A smaller refund that
// leaves the order above the minimum changes nothing. The ledger audit holds throughout.
TEST_P(ReferralServiceTest, RefundOfTheQualifyingOrderTakesTheRewardsBack) {
  ASSERT_TRUE(DefaultProgram());
  Id newcomer = NewMember("0922000001");
  ASSERT_TRUE(Refer(newcomer, CodeOf(referrer_), "device-1"));
  auto order_id = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
    OrderInput in;
    in.external_id = "O-9";
    in.member_id = newcomer;
    in.total_minor = 80000;
    RG_ASSIGN_OR_RETURN(OrderResult res, CreateOrder(tx, Cashier(), in));
    return res.order.id;
  });
  ASSERT_TRUE(order_id) << order_id.error().ToString();
  ASSERT_EQ(Points(referrer_), 100);
  ASSERT_EQ(Coupons(newcomer), 1u);
  // The referrer spends 60 of the 100 points.
  ASSERT_TRUE(db().WriteValue(
      [&](store::Tx& tx) { return Adjust(tx, Owner(), referrer_, "points", -60, "gift"); }));
  auto refund = [&](int64_t amount) {
    return db().WriteValue([&](store::Tx& tx) {
      return RefundOrder(tx, Cashier(), *order_id, {.amount_minor = amount});
    });
  };
  // 80,000 - 20,000 = 60,000: still at least 50,000.
  ASSERT_TRUE(refund(20000));
  EXPECT_EQ(Points(referrer_), 40);
  // 60,000 - 20,000 = 40,000: below. Taken back, once.
  ASSERT_TRUE(refund(20000));
  ASSERT_TRUE(refund(10000));
  EXPECT_EQ(Points(referrer_), -60);
  auto coupons = db().ReadValue([&](store::Tx& tx) {
    return ListCoupons(tx, Owner(), {.member_id = newcomer}, std::nullopt, 10);
  });
  ASSERT_TRUE(coupons);
  ASSERT_EQ(coupons->items.size(), 1u);
  EXPECT_EQ(coupons->items[0].coupon.StateAt(clock_.Now()), CouponState::kVoided);
  EXPECT_EQ(coupons->items[0].coupon.void_reason.value_or(""),
            "the referral's order O-9 was refunded");
  auto list = db().ReadValue(
      [&](store::Tx& tx) { return ListReferrals(tx, Owner(), referrer_, std::nullopt, 50); });
  ASSERT_TRUE(list);
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].status, "reversed");
  // Once, with one event on each side whose balance or coupons changed (as referral_rewarded).
  auto events = db().ReadValue([&](store::Tx& tx) -> Result<std::vector<Id>> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT member_id FROM events WHERE type = "
                                            "'referral_reversed' ORDER BY seq"));
    std::vector<Id> out;
    for (const auto& r : rows) out.push_back(r.Int(0));
    return out;
  });
  EXPECT_EQ(events.value_or(std::vector<Id>{}), (std::vector<Id>{newcomer, referrer_}));
  // Buying again rewards nobody.
  ASSERT_TRUE(Order(newcomer, "O-10", 90000));
  EXPECT_EQ(Points(referrer_), -60);
  EXPECT_EQ(Coupons(newcomer), 1u);
  std::vector<std::string> problems;
  ASSERT_TRUE(db().Read([&](store::Tx& tx) { return CheckLedger(tx, &problems); }));
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// Four qualifying orders of one newcomer race; the referral leaves `pending` by a conditional
// UPDATE, so exactly one of them rewards, once per side.
TEST_P(ReferralServiceTest, ConcurrentOrdersRewardOnce) {
  ASSERT_TRUE(
      SetProgram({.referrer_reward = ReferralRewardInput{.point_type = "points", .points = 100},
                  .newcomer_reward = ReferralRewardInput{.point_type = "points", .points = 30}}));
  Id newcomer = NewMember("0922000001");
  ASSERT_TRUE(Refer(newcomer, CodeOf(referrer_)));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto s = Order(newcomer, fmt::format("O-{}", i), 60000);
      EXPECT_TRUE(s) << s.error().ToString();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(Points(referrer_), 100);
  EXPECT_EQ(Points(newcomer), 30);
}

TEST_P(ReferralServiceTest, MergedReferrerIsRewardedAsTheSurvivor) {
  ASSERT_TRUE(DefaultProgram());
  Id newcomer = NewMember("0922000001");
  ASSERT_TRUE(Refer(newcomer, CodeOf(referrer_)));
  Id survivor = NewMember("0933000000");
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, Owner(), survivor, referrer_));
    return MergeBalances(tx, Owner(), survivor, referrer_);
  }));
  ASSERT_TRUE(Order(newcomer, "O-1", 60000));
  EXPECT_EQ(Points(survivor), 100);
}

RG_INSTANTIATE_BACKENDS(ReferralServiceTest);

}  // namespace
}  // namespace regulars::loyalty
