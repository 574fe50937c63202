// Coupon use cases on every database: templates for managers only, issue to one member and in
// bulk, redemption with its exact refusals (already redeemed and when, expired, not yet valid,
// below the minimum spend), the welcome and spend-threshold hooks, and the birthday job in the
// merchant's time zone. The concurrency test proves "redeemed once": 8 cashiers redeem one code
// at the same moment; exactly one succeeds and the other 7 are told when it was redeemed.

#include "loyalty/coupon_service.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <set>
#include <thread>

#include "accounts/account_service.h"
#include "events/event_repo.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;

Micros T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

class CouponServiceTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    merchant_ = NewMerchant("Asia/Taipei");
    other_merchant_ = NewMerchant("UTC");
    member_ = NewMember(merchant_, "0912345678");
  }

  Id NewMerchant(const std::string& tz) {
    auto r = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      accounts::Merchant in;
      in.name = "Tea House";
      in.timezone = tz;
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      return m.id;
    });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(0);
  }
  Id NewMember(Id merchant, const std::string& phone,
               std::optional<std::string> birthday = std::nullopt, bool sms_consent = false) {
    auto r = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      members::MemberInput mi;
      mi.phone = phone;
      if (birthday) mi.birthday = birthday;
      if (sms_consent) mi.consent[members::Channel::kSms] = true;
      RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(merchant), {}, mi));
      return m.id;
    });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(0);
  }

  Actor Owner(Id merchant = 0) {
    Actor a = accounts::SystemActor(merchant ? merchant : merchant_, clock_.Now());
    a.staff_id = 5;
    return a;
  }
  Actor Cashier() {
    Actor a = Owner();
    a.role = accounts::Role::kCashier;
    a.staff_id = 6;
    return a;
  }

  template <class F>
  auto W(F&& fn) {
    return db().WriteValue(std::forward<F>(fn));
  }

  CouponTemplate NewTemplate(CouponTemplateInput in, Id merchant = 0) {
    if (!in.name) in.name = "NT$50 off";
    if (!in.kind) {
      in.kind = CouponKind::kAmountOff;
      in.amount_off_minor = int64_t{5000};
    }
    auto r = W([&](store::Tx& tx) { return CreateCouponTemplate(tx, Owner(merchant), in); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(CouponTemplate{});
  }
  Result<CouponView> Issue(Id template_id, Id member = 0) {
    return W([&](store::Tx& tx) {
      return IssueCoupon(tx, Owner(), template_id, member ? member : member_);
    });
  }
  Result<CouponView> Redeem(const std::string& code, RedeemCouponInput in = {}) {
    return W([&](store::Tx& tx) { return RedeemCoupon(tx, Cashier(), code, in); });
  }
  std::vector<CouponView> CouponsOf(Id member, Id merchant = 0) {
    auto r = db().ReadValue([&](store::Tx& tx) {
      return ListCoupons(tx, Owner(merchant), {.member_id = member}, std::nullopt, 500);
    });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->items : std::vector<CouponView>{};
  }
  int64_t Count(const std::string& table) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM " + table));
      return rows[0].Int(0);
    });
    return r.value_or(-1);
  }
  int64_t Birthdays(Micros now) {
    auto r = W([&](store::Tx& tx) { return IssueBirthdayCoupons(tx, now); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(-1);
  }
  static void ExpectError(const Status& s, Code code, const std::string& message,
                          const std::string& field = "") {
    ASSERT_FALSE(s.has_value()) << "expected: " << message;
    EXPECT_EQ(s.error().code, code) << s.error().ToString();
    EXPECT_EQ(s.error().message, message);
    if (!field.empty()) {
      EXPECT_EQ(s.error().field, field);
    }
  }
  template <class T>
  static Status AsStatus(const Result<T>& r) {
    if (!r) return std::unexpected(r.error());
    return {};
  }

  Id merchant_ = 0, other_merchant_ = 0, member_ = 0;
};

TEST_P(CouponServiceTest, TemplatesAreForManagersAndStayWithTheirMerchant) {
  CouponTemplate t = NewTemplate({.name = "85折",
                                  .kind = CouponKind::kPercentOff,
                                  .max_discount_minor = int64_t{20000},
                                  .percent_off = 15});
  EXPECT_EQ(t.kind, CouponKind::kPercentOff);
  EXPECT_EQ(t.percent_off, 15);
  ExpectError(AsStatus(W([&](store::Tx& tx) {
                return CreateCouponTemplate(tx, Cashier(), {.name = "x"});
              })),
              Code::kPermissionDenied, "only an owner or manager may configure coupons");
  auto patched = W([&](store::Tx& tx) {
    return UpdateCouponTemplate(tx, Owner(), t.id, {.percent_off = 20, .active = false});
  });
  ASSERT_TRUE(patched) << patched.error().ToString();
  EXPECT_EQ(patched->percent_off, 20);
  EXPECT_FALSE(patched->active);
  EXPECT_EQ(patched->max_discount_minor, 20000);
  ExpectError(AsStatus(W([&](store::Tx& tx) {
                return UpdateCouponTemplate(tx, Owner(), t.id, {.percent_off = 0});
              })),
              Code::kInvalidArgument, "percent_off: must be 1 to 100", "percent_off");
  // Another merchant sees nothing of it.
  ExpectError(AsStatus(W([&](store::Tx& tx) {
                return UpdateCouponTemplate(tx, Owner(other_merchant_), t.id, {.name = "x"});
              })),
              Code::kNotFound, "coupon template not found");
  auto list = db().ReadValue(
      [&](store::Tx& tx) { return ListCouponTemplates(tx, Owner(other_merchant_)); });
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  // A retired template issues nothing.
  ExpectError(AsStatus(Issue(t.id)), Code::kFailedPrecondition,
              "template_id: the template is not active", "template_id");
}

TEST_P(CouponServiceTest, IssueRedeemOnceWithDiscountAndEvents) {
  CouponTemplate t = NewTemplate({.valid_days = 30, .min_spend_minor = 30000});
  ExpectError(AsStatus(W([&](store::Tx& tx) { return IssueCoupon(tx, Cashier(), t.id, member_); })),
              Code::kPermissionDenied, "only an owner or manager may issue coupons");
  auto c = Issue(t.id);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->coupon.code.size(), 10u);
  EXPECT_EQ(c->coupon.valid_until, clock_.Now() + 30 * kMicrosPerDay);
  EXPECT_EQ(c->coupon.StateAt(clock_.Now()), CouponState::kAvailable);

  ExpectError(AsStatus(Redeem(c->coupon.code, {.order_total_minor = 29999})),
              Code::kFailedPrecondition, "order_total_minor: the minimum spend is 30000",
              "order_total_minor");
  ExpectError(AsStatus(Redeem(c->coupon.code)), Code::kInvalidArgument,
              "order_total_minor: is required: the minimum spend is 30000", "order_total_minor");
  ExpectError(AsStatus(Redeem("NOSUCHCODE", {.order_total_minor = 30000})), Code::kNotFound,
              "coupon not found");
  Id stranger = NewMember(merchant_, "0922333444");
  ExpectError(AsStatus(Redeem(c->coupon.code, {.member_id = stranger, .order_total_minor = 30000})),
              Code::kFailedPrecondition, "member_id: the coupon belongs to another member");

  clock_.Advance(kMicrosPerSecond);
  const Micros redeemed_at = clock_.Now();
  // Codes are read in any case, with blanks and dashes ignored.
  std::string typed = c->coupon.code.substr(0, 5) + "-" + c->coupon.code.substr(5);
  for (auto& ch : typed) ch = static_cast<char>(std::tolower(ch));
  auto r = Redeem(typed, {.member_id = member_, .order_total_minor = 30000, .order_ref = "POS-1"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->coupon.discount_minor, 5000);
  EXPECT_EQ(r->coupon.redeemed_at, redeemed_at);

  clock_.Advance(kMicrosPerSecond);
  ExpectError(AsStatus(Redeem(c->coupon.code, {.order_total_minor = 30000})),
              Code::kFailedPrecondition,
              "coupon already redeemed at " + FormatRfc3339(redeemed_at));

  auto events =
      db().ReadValue([&](store::Tx& tx) { return events::ReadEvents(tx, merchant_, 0, 100); });
  ASSERT_TRUE(events);
  int issued = 0, redeemed = 0;
  for (const auto& e : *events) {
    issued += e.type == "coupon_issued";
    redeemed += e.type == "coupon_redeemed";
  }
  EXPECT_EQ(issued, 1);
  EXPECT_EQ(redeemed, 1);
  // Another merchant cannot see or redeem it.
  ExpectError(AsStatus(W([&](store::Tx& tx) {
                return RedeemCoupon(tx, Owner(other_merchant_), c->coupon.code,
                                    {.order_total_minor = 30000});
              })),
              Code::kNotFound, "coupon not found");
}

TEST_P(CouponServiceTest, ExpiryAndNotYetValid) {
  CouponTemplate week = NewTemplate({.valid_days = 7});
  auto c = Issue(week.id);
  ASSERT_TRUE(c);
  const Micros until = *c->coupon.valid_until;
  clock_.Set(until - 1);
  auto in_time = Redeem(c->coupon.code);
  ASSERT_TRUE(in_time) << in_time.error().ToString();

  clock_.Set(T("2026-09-21T00:00:00Z"));
  auto c2 = Issue(week.id);
  ASSERT_TRUE(c2);
  clock_.Set(*c2->coupon.valid_until);
  ExpectError(AsStatus(Redeem(c2->coupon.code)), Code::kFailedPrecondition,
              "coupon expired at " + FormatRfc3339(*c2->coupon.valid_until));
  auto expired = db().ReadValue([&](store::Tx& tx) {
    return ListCoupons(tx, Owner(), {.state = CouponState::kExpired}, std::nullopt, 50);
  });
  ASSERT_TRUE(expired);
  ASSERT_EQ(expired->items.size(), 1u);
  EXPECT_EQ(expired->items[0].coupon.id, c2->coupon.id);

  CouponTemplate later = NewTemplate({.valid_from = clock_.Now() + kMicrosPerDay});
  auto c3 = Issue(later.id);
  ASSERT_TRUE(c3);
  ExpectError(AsStatus(Redeem(c3->coupon.code)), Code::kFailedPrecondition,
              "coupon is not valid until " + FormatRfc3339(clock_.Now() + kMicrosPerDay));

  CouponTemplate over = NewTemplate({.valid_to = clock_.Now() + kMicrosPerSecond});
  clock_.Advance(kMicrosPerDay);
  ExpectError(AsStatus(Issue(over.id)), Code::kFailedPrecondition,
              "the template's validity ended at " +
                  FormatRfc3339(clock_.Now() - kMicrosPerDay + kMicrosPerSecond));
}

// Eight cashiers redeem one code at the same moment. Redemption is a conditional UPDATE (`...
// AND redeemed_at IS NULL`): on PostgreSQL the losers wait on the winner's row lock, find the
// condition false once it commits and change nothing; on SQLite the single writer runs them
// one by one. Exactly one succeeds, whatever the interleaving; the rest learn when it happened.
TEST_P(CouponServiceTest, EightConcurrentRedeemersOneSuccess) {
  CouponTemplate t = NewTemplate({});
  auto c = Issue(t.id);
  ASSERT_TRUE(c);
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = Redeem(c->coupon.code, {.order_total_minor = 10000});
      if (r) {
        ++ok;
      } else if (r.error().code == Code::kFailedPrecondition &&
                 r.error().message.starts_with("coupon already redeemed at ")) {
        ++refused;
      } else {
        ADD_FAILURE() << r.error().ToString();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, 7);
  auto events =
      db().ReadValue([&](store::Tx& tx) { return events::ReadEvents(tx, merchant_, 0, 100); });
  ASSERT_TRUE(events);
  int redeemed = 0;
  for (const auto& e : *events) redeemed += e.type == "coupon_redeemed";
  EXPECT_EQ(redeemed, 1);
}

TEST_P(CouponServiceTest, BulkToListedMembersOrToEveryoneWithConsent) {
  CouponTemplate t = NewTemplate({});
  Id second = NewMember(merchant_, "0922333444", std::nullopt, /*sms_consent=*/true);
  Id third = NewMember(merchant_, "0933444555", std::nullopt, /*sms_consent=*/true);
  Id foreign = NewMember(other_merchant_, "0944555666");
  // A bad id anywhere refuses the whole call, naming its position.
  auto bad = W([&](store::Tx& tx) {
    return IssueCouponsBulk(tx, Owner(),
                            {.template_id = t.id, .member_ids = std::vector<Id>{member_, foreign}});
  });
  ExpectError(AsStatus(bad), Code::kInvalidArgument, "member_ids[1]: member not found",
              "member_ids[1]");
  EXPECT_EQ(Count("coupons"), 0);
  // Duplicates count once.
  auto listed = W([&](store::Tx& tx) {
    return IssueCouponsBulk(
        tx, Owner(),
        {.template_id = t.id, .member_ids = std::vector<Id>{member_, second, member_}});
  });
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->issued, 2);
  auto consented = W([&](store::Tx& tx) {
    return IssueCouponsBulk(tx, Owner(), {.template_id = t.id, .consented = true});
  });
  ASSERT_TRUE(consented) << consented.error().ToString();
  EXPECT_EQ(consented->issued, 2);  // second and third; member_ gave no consent
  EXPECT_EQ(CouponsOf(member_).size(), 1u);
  EXPECT_EQ(CouponsOf(second).size(), 2u);
  EXPECT_EQ(CouponsOf(third).size(), 1u);
  auto batch = db().ReadValue([&](store::Tx& tx) {
    return ListCoupons(tx, Owner(), {.batch_id = consented->batch_id}, std::nullopt, 50);
  });
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->items.size(), 2u);
  std::set<std::string> codes;
  for (const auto& v : batch->items) codes.insert(v.coupon.code);
  EXPECT_EQ(codes.size(), 2u);
  ExpectError(
      AsStatus(
          W([&](store::Tx& tx) { return IssueCouponsBulk(tx, Owner(), {.template_id = t.id}); })),
      Code::kInvalidArgument, "member_ids: give member_ids or audience, not both or neither");
}

TEST_P(CouponServiceTest, BulkOfTwoThousandInOneCall) {
  CouponTemplate t = NewTemplate({});
  std::vector<Id> ids;
  auto made = W([&](store::Tx& tx) -> Result<int> {
    for (int i = 0; i < 2000; ++i) {
      members::MemberInput mi;
      mi.phone = fmt::format("09{:08d}", 10000000 + i);
      RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(), {}, mi));
      ids.push_back(m.id);
    }
    return 0;
  });
  ASSERT_TRUE(made) << made.error().ToString();
  auto r = W([&](store::Tx& tx) {
    return IssueCouponsBulk(tx, Owner(), {.template_id = t.id, .member_ids = ids});
  });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->issued, 2000);
  EXPECT_EQ(Count("coupons"), 2000);
}

TEST_P(CouponServiceTest, WelcomeOfferOnceAndSpendGiftPerQualifyingOrder) {
  CouponTemplate welcome = NewTemplate({.name = "Welcome", .issue_on = IssueOn::kWelcome});
  CouponTemplate gift = NewTemplate({.name = "滿 1000 送 100",
                                     .spend_threshold_minor = int64_t{100000},
                                     .issue_on = IssueOn::kSpend});
  for (int i = 0; i < 2; ++i) {
    auto s = db().Write([&](store::Tx& tx) { return OnMemberJoined(tx, Owner(), member_); });
    ASSERT_TRUE(s) << s.error().ToString();
  }
  auto mine = CouponsOf(member_);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].coupon.source, "welcome");
  EXPECT_EQ(mine[0].tmpl.id, welcome.id);

  auto order = [&](const std::string& ext, int64_t total) {
    return W([&](store::Tx& tx) -> Result<int> {
      OrderInput in;
      in.external_id = ext;
      in.member_id = member_;
      in.total_minor = total;
      RG_ASSIGN_OR_RETURN(OrderResult res, CreateOrder(tx, Owner(), in));
      // The hook may run more than once for one order (a retried transaction); it gives once.
      RG_TRY(OnOrderForCoupons(tx, Owner(), res));
      RG_TRY(OnOrderForCoupons(tx, Owner(), res));
      return 0;
    });
  };
  ASSERT_TRUE(order("O-1", 99999));
  EXPECT_EQ(CouponsOf(member_).size(), 1u);
  ASSERT_TRUE(order("O-2", 100000));
  ASSERT_TRUE(order("O-3", 250000));
  mine = CouponsOf(member_);
  ASSERT_EQ(mine.size(), 3u);
  EXPECT_EQ(mine[0].coupon.source, "spend");
  EXPECT_EQ(mine[0].tmpl.id, gift.id);
}

// A spend gift (滿額贈) rests on its order: a refund that brings the order's net total below the
// threshold voids the gift if it is still unused, with a reason the cashier sees at redemption;
// a refund that leaves the total above it, or a gift already used, changes nothing.
TEST_P(CouponServiceTest, RefundBelowThresholdVoidsAnUnusedSpendGift) {
  NewTemplate({.name = "滿 1000 送 100",
               .spend_threshold_minor = int64_t{100000},
               .issue_on = IssueOn::kSpend});
  auto order = [&](const std::string& ext, int64_t total) {
    return W([&](store::Tx& tx) -> Result<Id> {
      OrderInput in;
      in.external_id = ext;
      in.member_id = member_;
      in.total_minor = total;
      RG_ASSIGN_OR_RETURN(OrderResult res, CreateOrder(tx, Owner(), in));
      return res.order.id;
    });
  };
  auto refund = [&](Id order_id, int64_t amount) {
    return W([&](store::Tx& tx) {
      return RefundOrder(tx, Owner(), order_id, {.amount_minor = amount});
    });
  };
  auto gift_of = [&](const std::string& ext) -> std::optional<CouponView> {
    for (auto& v : CouponsOf(member_))
      if (v.coupon.source_key && v.coupon.source_key->ends_with(ext)) return v;
    return std::nullopt;
  };
  auto o1 = order("O-1", 150000);
  auto o2 = order("O-2", 120000);
  auto o3 = order("O-3", 100000);
  ASSERT_TRUE(o1 && o2 && o3);
  ASSERT_EQ(CouponsOf(member_).size(), 3u);

  // O-1: 150,000 - 40,000 = 110,000 still reaches the threshold: the gift stays.
  ASSERT_TRUE(refund(*o1, 40000));
  auto g1 = gift_of(IdToString(*o1));
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->coupon.StateAt(clock_.Now()), CouponState::kAvailable);

  // O-2: 120,000 - 30,000 = 90,000 is below: the unused gift is voided, once.
  ASSERT_TRUE(refund(*o2, 30000));
  ASSERT_TRUE(refund(*o2, 10000));
  auto g2 = gift_of(IdToString(*o2));
  ASSERT_TRUE(g2);
  EXPECT_EQ(g2->coupon.StateAt(clock_.Now()), CouponState::kVoided);
  ASSERT_TRUE(g2->coupon.voided_at);
  EXPECT_EQ(*g2->coupon.voided_at, clock_.Now());
  EXPECT_EQ(g2->coupon.void_reason.value_or(""),
            "order O-2 was refunded below the gift's minimum spend");
  ExpectError(AsStatus(Redeem(g2->coupon.code)), Code::kFailedPrecondition,
              "coupon was voided at " + FormatRfc3339(clock_.Now()) +
                  ": order O-2 was refunded below the gift's minimum spend");
  EXPECT_EQ(Count("events WHERE type = 'coupon_voided'"), 1);
  auto voided = db().ReadValue([&](store::Tx& tx) {
    return ListCoupons(tx, Owner(), {.member_id = member_, .state = CouponState::kVoided},
                       std::nullopt, 50);
  });
  ASSERT_TRUE(voided);
  ASSERT_EQ(voided->items.size(), 1u);
  EXPECT_EQ(voided->items[0].coupon.id, g2->coupon.id);
  auto available = db().ReadValue([&](store::Tx& tx) {
    return ListCoupons(tx, Owner(), {.member_id = member_, .state = CouponState::kAvailable},
                       std::nullopt, 50);
  });
  ASSERT_TRUE(available);
  EXPECT_EQ(available->items.size(), 2u);

  // O-3: the gift was used before the refund; it stays redeemed.
  auto g3 = gift_of(IdToString(*o3));
  ASSERT_TRUE(g3);
  ASSERT_TRUE(Redeem(g3->coupon.code));
  ASSERT_TRUE(refund(*o3, 100000));
  g3 = gift_of(IdToString(*o3));
  ASSERT_TRUE(g3);
  EXPECT_EQ(g3->coupon.StateAt(clock_.Now()), CouponState::kRedeemed);
  EXPECT_FALSE(g3->coupon.voided_at.has_value());
}

// A 29 February birthday in a non-leap year is celebrated on 28 February: with a template that
// issues 3 days before, the coupon comes on local 25 February 2027, once, and again in 2028
// (a leap year: 26 February, 3 days before the 29th).
TEST_P(CouponServiceTest, BirthdayOnTwentyNinthOfFebruary) {
  Id leapling = NewMember(merchant_, "0922333444", "1992-02-29");
  NewMember(merchant_, "0933444555", "--03-01");  // not due yet on the 25th
  CouponTemplate t = NewTemplate({.name = "生日禮",
                                  .valid_days = 30,
                                  .birthday_days_before = 3,
                                  .issue_on = IssueOn::kBirthday});
  // Taipei is UTC+8: local 2027-02-25 00:00 is 2027-02-24T16:00Z.
  EXPECT_EQ(Birthdays(T("2027-02-24T15:59:59Z")), 0);
  EXPECT_EQ(Birthdays(T("2027-02-24T16:00:00Z")), 1);
  EXPECT_EQ(Birthdays(T("2027-02-25T10:00:00Z")), 0);  // idempotent
  EXPECT_EQ(Birthdays(T("2027-02-27T10:00:00Z")), 1);  // only the 1 March member is new
  auto mine = CouponsOf(leapling);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].coupon.source, "birthday");
  EXPECT_EQ(mine[0].coupon.source_key, "birthday:2027");
  EXPECT_EQ(mine[0].tmpl.id, t.id);
  // Leap year: due from local 26 February 2028.
  EXPECT_EQ(Birthdays(T("2028-02-25T10:00:00Z")), 0);
  EXPECT_EQ(Birthdays(T("2028-02-26T10:00:00Z")), 1);
  EXPECT_EQ(CouponsOf(leapling).size(), 2u);
}

// The coupon is due at the start of the local day N days before the birthday, not the UTC day.
// Taipei (UTC+8) reaches 24 September eight hours before UTC does; a UTC merchant's member with
// the same birthday gets theirs at UTC midnight. A day the job missed is caught up later.
TEST_P(CouponServiceTest, BirthdayIssueFollowsTheMerchantsTimeZone) {
  Id taipei_member = NewMember(merchant_, "0922333444", "--10-01");
  Id utc_member = NewMember(other_merchant_, "0922333444", "1990-10-01");
  NewTemplate({.birthday_days_before = 7, .issue_on = IssueOn::kBirthday});
  NewTemplate({.birthday_days_before = 7, .issue_on = IssueOn::kBirthday}, other_merchant_);
  EXPECT_EQ(Birthdays(T("2026-09-23T15:59:59Z")), 0);  // Taipei: 23 Sep 23:59:59
  EXPECT_EQ(Birthdays(T("2026-09-23T16:00:00Z")), 1);  // Taipei: 24 Sep 00:00
  EXPECT_EQ(CouponsOf(taipei_member).size(), 1u);
  EXPECT_EQ(CouponsOf(utc_member, other_merchant_).size(), 0u);
  EXPECT_EQ(Birthdays(T("2026-09-23T23:59:59Z")), 0);
  EXPECT_EQ(Birthdays(T("2026-09-30T12:00:00Z")), 1);  // UTC merchant: caught up on the 30th
  EXPECT_EQ(CouponsOf(utc_member, other_merchant_).size(), 1u);
  EXPECT_EQ(Birthdays(T("2026-10-02T12:00:00Z")), 0);  // past the birthday: nothing more
}

TEST_P(CouponServiceTest, MergeMovesCoupons) {
  CouponTemplate t = NewTemplate({});
  Id other = NewMember(merchant_, "0922333444");
  ASSERT_TRUE(Issue(t.id, other));
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, Owner(), member_, other));
    return MergeCoupons(tx, Owner(), member_, other);
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(CouponsOf(member_).size(), 1u);
  EXPECT_EQ(CouponsOf(other).size(), 0u);
}

RG_INSTANTIATE_BACKENDS(CouponServiceTest);

}  // namespace
}  // namespace regulars::loyalty
