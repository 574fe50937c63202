// Every write that changes a feature the insight store holds (points, wallet, tier, consent,
// tags, region, city, birthday, language) appends a member event in its own transaction, so the
// store's tailer sees it: for each such write, on SQLite and PostgreSQL, a store built before
// the write is caught up on the event log and must show the changed feature, with exactly the
// value a fresh build of the database gives. The store reloads a member only when an event
// names it, so a write that forgot its event leaves the old value and fails here (the point
// expiry job and lapsed reservations did, and so did the referrer's side of a reversed referral).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "accounts/account_service.h"
#include "insight/feature_store.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/referral_service.h"
#include "loyalty/tier_service.h"
#include "loyalty/wallet_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::insight {
namespace {

using accounts::Actor;
using nlohmann::json;

constexpr Micros kDay = kMicrosPerDay;

// One member's features as the store holds them (or absent).
struct Held {
  bool present = false;
  int64_t points = 0, wallet = 0;
  int32_t tier_rank = 0;
  Id tier_id = 0;
  uint8_t consent = 0;
  std::string region, city, language;
  int birth_month = 0, birth_day = 0;
  std::set<std::string> tags;
  bool operator==(const Held&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Held& h) {
  if (!h.present) return os << "(absent)";
  os << "points=" << h.points << " wallet=" << h.wallet << " tier_rank=" << h.tier_rank
     << " tier_id=" << h.tier_id << " consent=" << int{h.consent} << " region=" << h.region
     << " city=" << h.city << " language=" << h.language << " birthday=" << h.birth_month << "-"
     << h.birth_day << " tags=";
  for (const auto& t : h.tags) os << t << ",";
  return os;
}

Held HeldOf(const MerchantFeatures& f, Id member) {
  Held h;
  auto it = f.index_of.find(member);
  if (it == f.index_of.end()) return h;
  uint32_t i = it->second;
  h.present = true;
  h.points = f.points[i];
  h.wallet = f.wallet_minor[i];
  h.tier_rank = f.tier_rank[i];
  h.tier_id = f.tier_id[i];
  h.consent = f.consent[i];
  h.region = f.regions.Name(f.region[i]);
  h.city = f.cities.Name(f.city[i]);
  h.language = f.languages.Name(f.language[i]);
  h.birth_month = f.birth_month[i];
  h.birth_day = f.birth_day[i];
  for (uint32_t code = 1; code < f.tags.size() && code < f.tag_members.size(); ++code)
    if (f.tag_members[code].contains(i)) h.tags.insert(f.tags.Name(code));
  return h;
}

class FeatureEventsTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      merchant_ = m.id;
      Actor a = A();
      loyalty::PointTypeInput pt;
      pt.code = "points";
      pt.name = "Points";
      pt.expiry = loyalty::ExpiryPolicy{loyalty::ExpiryKind::kDays, 30};
      RG_TRY(loyalty::CreatePointType(tx, a, pt));
      RG_TRY(loyalty::SetTierProgram(
          tx, a, {loyalty::TierMetric::kSpend, {}, loyalty::TierWindow::kRollingDays, 30, 5}));
      RG_ASSIGN_OR_RETURN(auto silver,
                          loyalty::CreateTier(tx, a, {1, "Silver", 100000, 1000, "{}"}));
      RG_ASSIGN_OR_RETURN(auto gold, loyalty::CreateTier(tx, a, {2, "Gold", 300000, 1000, "{}"}));
      silver_ = silver.id;
      gold_ = gold.id;
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    ana_ = NewMember("0912000001");
    ben_ = NewMember("0912000002");
  }
  Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }

  Id NewMember(const std::string& phone) {
    members::MemberInput mi;
    mi.phone = phone;
    auto m =
        db().WriteValue([&](store::Tx& tx) { return members::CreateMember(tx, A(), {"TW"}, mi); });
    EXPECT_TRUE(m.has_value()) << m.error().ToString();
    if (m) codes_[m->id] = m->referral_code;
    return m ? m->id : 0;
  }
  template <typename Fn>
  void Write(Fn&& fn) {
    auto r = db().Write([&](store::Tx& tx) -> Status {
      auto v = fn(tx);
      if (!v) return std::unexpected(v.error());
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  void AdjustPoints(Id member, int64_t points) {
    Write(
        [&](store::Tx& tx) { return loyalty::Adjust(tx, A(), member, "points", points, "test"); });
  }
  Id OrderOf(Id member, const std::string& ext, int64_t total) {
    loyalty::OrderInput in;
    in.external_id = ext;
    in.member_id = member;
    in.total_minor = total;
    auto r = db().WriteValue([&](store::Tx& tx) { return loyalty::CreateOrder(tx, A(), in); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->order.id : 0;
  }

  // The store built now, before the write under test.
  std::unique_ptr<FeatureStore> BuiltStore() {
    auto s = std::make_unique<FeatureStore>(db(), clock_);
    auto b = s->Build();
    EXPECT_TRUE(b.has_value()) << b.error().ToString();
    return s;
  }
  Held InStore(FeatureStore& s, Id member) {
    Held h;
    auto r = s.Read(merchant_, [&](const MerchantFeatures& f) { h = HeldOf(f, member); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return h;
  }
  Held InFreshBuild(Id member) {
    auto f = db().ReadValue(
        [&](store::Tx& tx) { return BuildMerchantFeatures(tx, merchant_, clock_.Now()); });
    EXPECT_TRUE(f.has_value()) << f.error().ToString();
    return f ? HeldOf(*f, member) : Held{};
  }
  // Catches `s` up and returns what it holds for `member`, checked against a fresh build.
  Held CaughtUp(FeatureStore& s, Id member) {
    auto n = s.CatchUp();
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    Held h = InStore(s, member);
    EXPECT_EQ(h, InFreshBuild(member)) << "the caught-up store differs from a fresh build";
    return h;
  }
  // The data of the events of `type`, oldest first, as (member, data).
  std::vector<std::pair<Id, json>> EventsOf(const std::string& type) {
    auto rows = db().ReadValue([&](store::Tx& tx) {
      return tx.Query(
          "SELECT member_id, data FROM events WHERE merchant_id = ? AND type = ? "
          "ORDER BY seq",
          {merchant_, type});
    });
    EXPECT_TRUE(rows.has_value()) << rows.error().ToString();
    std::vector<std::pair<Id, json>> out;
    if (rows)
      for (const auto& r : *rows) out.emplace_back(r.Int(0), json::parse(r.Str(1)));
    return out;
  }

  Id merchant_ = 0, silver_ = 0, gold_ = 0, ana_ = 0, ben_ = 0;
  std::map<Id, std::string> codes_;
};
RG_INSTANTIATE_BACKENDS(FeatureEventsTest);

// The expiry sweep takes Ana's first lot (100, 30 days old) and leaves her later 20 and Ben's
// 50: one points_expired event for Ana, and the store shows 20.
TEST_P(FeatureEventsTest, ExpiredPointsReachTheStore) {
  AdjustPoints(ana_, 100);
  clock_.Advance(10 * kDay);
  AdjustPoints(ana_, 20);
  AdjustPoints(ben_, 50);
  clock_.Advance(21 * kDay);
  auto store = BuiltStore();
  ASSERT_EQ(InStore(*store, ana_).points, 120);
  auto sweep = db().WriteValue([&](store::Tx& tx) { return loyalty::RunExpiry(tx, clock_.Now()); });
  ASSERT_TRUE(sweep.has_value()) << sweep.error().ToString();
  EXPECT_EQ(sweep->points_expired, 100);
  EXPECT_EQ(CaughtUp(*store, ana_).points, 20);
  EXPECT_EQ(CaughtUp(*store, ben_).points, 50);
  auto events = EventsOf("points_expired");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, ana_);
  EXPECT_EQ(events[0].second, json::parse(R"({"point_type":"points","points":100,
                                               "balance_after":20})"));
  // Running again expires nothing and announces nothing.
  auto again = db().WriteValue([&](store::Tx& tx) { return loyalty::RunExpiry(tx, clock_.Now()); });
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->points_expired, 0);
  EXPECT_EQ(EventsOf("points_expired").size(), 1u);
}

// A reservation that lapses is released by the same sweep: the points come back to the store.
TEST_P(FeatureEventsTest, LapsedReservationReachesTheStore) {
  AdjustPoints(ana_, 100);
  loyalty::RedeemInput in;
  in.member_id = ana_;
  in.point_type = "points";
  in.points = 40;
  Id redemption = 0;
  Write([&](store::Tx& tx) -> Result<loyalty::Redemption> {
    auto r = loyalty::Reserve(tx, A(), in);
    if (r) redemption = r->id;
    return r;
  });
  auto store = BuiltStore();
  ASSERT_EQ(InStore(*store, ana_).points, 60);
  clock_.Advance(16 * 60 * kMicrosPerSecond);
  auto sweep = db().WriteValue([&](store::Tx& tx) { return loyalty::RunExpiry(tx, clock_.Now()); });
  ASSERT_TRUE(sweep.has_value()) << sweep.error().ToString();
  EXPECT_EQ(sweep->reservations_released, 1);
  EXPECT_EQ(CaughtUp(*store, ana_).points, 100);
  auto events = EventsOf("points_released");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, ana_);
  EXPECT_EQ(events[0].second, (json{{"redemption_id", IdToString(redemption)},
                                    {"points", 40},
                                    {"balance_after", 100},
                                    {"status", "expired"}}));
}

// A manual override shows at once; the review after its end takes it back; an order lifts the
// member and a review after the window and the grace period lowers them again.
TEST_P(FeatureEventsTest, TierOverridesAndReviewsReachTheStore) {
  auto store = BuiltStore();
  Write([&](store::Tx& tx) {
    return loyalty::OverrideTier(tx, A(), ana_, 2, clock_.Now() + 2 * kDay);
  });
  Held h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.tier_rank, 2);
  EXPECT_EQ(h.tier_id, gold_);
  clock_.Advance(3 * kDay);
  auto review = [&] {
    auto n = db().WriteValue(
        [&](store::Tx& tx) { return loyalty::ReviewTiers(tx, merchant_, clock_.Now()); });
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  };
  EXPECT_EQ(review(), 1);
  h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.tier_rank, 0);
  EXPECT_EQ(h.tier_id, 0);

  OrderOf(ben_, "B-1", 150000);  // Silver at once
  EXPECT_EQ(CaughtUp(*store, ben_).tier_id, silver_);
  clock_.Advance(31 * kDay);  // the order left the 30-day window: the grace period starts
  EXPECT_EQ(review(), 0);
  EXPECT_EQ(CaughtUp(*store, ben_).tier_id, silver_);
  clock_.Advance(6 * kDay);  // past the 5 days of grace: down
  EXPECT_EQ(review(), 1);
  h = CaughtUp(*store, ben_);
  EXPECT_EQ(h.tier_rank, 0);
  EXPECT_EQ(h.tier_id, 0);
  std::vector<std::string> reasons;
  for (const auto& [member, data] : EventsOf("tier_changed"))
    reasons.push_back(IdToString(member) + ":" + data.value("reason", ""));
  EXPECT_EQ(reasons, (std::vector<std::string>{
                         IdToString(ana_) + ":override", IdToString(ana_) + ":override_ended",
                         IdToString(ben_) + ":upgrade", IdToString(ben_) + ":downgrade"}));
}

TEST_P(FeatureEventsTest, PointAdjustmentsReachTheStore) {
  AdjustPoints(ana_, 70);
  auto store = BuiltStore();
  AdjustPoints(ana_, -25);
  EXPECT_EQ(CaughtUp(*store, ana_).points, 45);
}

TEST_P(FeatureEventsTest, WalletChangesReachTheStore) {
  auto store = BuiltStore();
  loyalty::WalletTopUpInput top;
  top.amount_minor = 50000;
  top.payment_method = "cash";
  Write([&](store::Tx& tx) { return loyalty::TopUpWallet(tx, A(), {"TWD"}, ana_, top); });
  EXPECT_EQ(CaughtUp(*store, ana_).wallet, 50000);
  loyalty::WalletAdjustInput adj;
  adj.paid_minor = -12000;
  adj.reason = "correction";
  Write([&](store::Tx& tx) { return loyalty::AdjustWallet(tx, A(), {"TWD"}, ana_, adj); });
  EXPECT_EQ(CaughtUp(*store, ana_).wallet, 38000);
  loyalty::WalletChargeInput charge;
  charge.amount_minor = 8000;
  Write([&](store::Tx& tx) { return loyalty::ChargeWallet(tx, A(), {"TWD"}, ana_, charge); });
  EXPECT_EQ(CaughtUp(*store, ana_).wallet, 30000);
}

// Profile edits (tags, region, city, birthday, language) and consent decisions.
TEST_P(FeatureEventsTest, ProfileAndConsentEditsReachTheStore) {
  auto store = BuiltStore();
  members::MemberInput in;
  in.tags = std::vector<std::string>{"vip", "oolong"};
  in.region = std::optional<std::string>("Taipei");
  in.city = std::optional<std::string>("Da'an");
  in.birthday = std::optional<std::string>("1990-07-14");
  in.language = std::optional<std::string>("en");
  in.consent[members::Channel::kSms] = true;
  in.consent[members::Channel::kLine] = true;
  Write([&](store::Tx& tx) { return members::UpdateMember(tx, A(), {"TW"}, ana_, in); });
  Held h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.tags, (std::set<std::string>{"vip", "oolong"}));
  EXPECT_EQ(h.region, "Taipei");
  EXPECT_EQ(h.city, "Da'an");
  EXPECT_EQ(h.birth_month, 7);
  EXPECT_EQ(h.birth_day, 14);
  EXPECT_EQ(h.language, "en");
  EXPECT_EQ(h.consent, 1 | 4);
  // A consent change alone (no profile field) and a tag removed.
  members::MemberInput off;
  off.consent[members::Channel::kSms] = false;
  off.tags = std::vector<std::string>{"oolong"};
  Write([&](store::Tx& tx) { return members::UpdateMember(tx, A(), {"TW"}, ana_, off); });
  h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.consent, 4);
  EXPECT_EQ(h.tags, (std::set<std::string>{"oolong"}));
  members::MemberInput only_consent;
  only_consent.consent[members::Channel::kEmail] = true;
  Write([&](store::Tx& tx) { return members::UpdateMember(tx, A(), {"TW"}, ana_, only_consent); });
  EXPECT_EQ(CaughtUp(*store, ana_).consent, 2 | 4);
}

// A merge (as POST /members/{id}/merge runs it): the survivor holds both balances, the other
// member leaves the store.
TEST_P(FeatureEventsTest, MergesReachTheStore) {
  AdjustPoints(ana_, 30);
  AdjustPoints(ben_, 20);
  loyalty::WalletTopUpInput top;
  top.amount_minor = 1000;
  top.payment_method = "cash";
  Write([&](store::Tx& tx) { return loyalty::TopUpWallet(tx, A(), {"TWD"}, ben_, top); });
  auto store = BuiltStore();
  Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, A(), ana_, ben_));
    RG_TRY(loyalty::MergeBalances(tx, A(), ana_, ben_));
    RG_TRY(loyalty::MergeWallets(tx, A(), {"TWD"}, ana_, ben_));
    return {};
  });
  Held h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.points, 50);
  EXPECT_EQ(h.wallet, 1000);
  EXPECT_FALSE(CaughtUp(*store, ben_).present);
}

// Refunding the newcomer's qualifying order takes the referrer's 100 points back: the
// referrer gets a referral_reversed event of their own, so the store sees the lower balance.
TEST_P(FeatureEventsTest, ReversedReferralReachesTheReferrer) {
  Write([&](store::Tx& tx) {
    loyalty::ReferralProgramInput p;
    p.referrer_reward = loyalty::ReferralRewardInput{
        .point_type = "points", .points = 100, .coupon_template_id = std::nullopt};
    p.min_spend_minor = 50000;
    return loyalty::SetReferralProgram(tx, A(), p);
  });
  Id newcomer = NewMember("0912000003");
  Write([&](store::Tx& tx) {
    return loyalty::RecordReferral(tx, A(), {newcomer, codes_[ana_], std::nullopt});
  });
  Id order = OrderOf(newcomer, "N-1", 80000);
  auto store = BuiltStore();
  ASSERT_EQ(InStore(*store, ana_).points, 100);
  Write([&](store::Tx& tx) {
    loyalty::RefundInput r;
    r.amount_minor = 40000;
    r.reason = "returned";
    return loyalty::RefundOrder(tx, A(), order, r);
  });
  EXPECT_EQ(CaughtUp(*store, ana_).points, 0);
  auto events = EventsOf("referral_reversed");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, newcomer);
  EXPECT_EQ(events[0].second.value("side", ""), "newcomer");
  EXPECT_EQ(events[1].first, ana_);
  EXPECT_EQ(events[1].second.value("side", ""), "referrer");
}

// Tiers are ranked by level: a new level below Ana's tier raises her rank (tier_created, a
// merchant event, makes the store re-rank everyone).
TEST_P(FeatureEventsTest, ANewTierBelowShiftsRanksInTheStore) {
  Id diamond = 0;
  Write([&](store::Tx& tx) -> Result<loyalty::Tier> {
    auto t = loyalty::CreateTier(tx, A(), {5, "Diamond", 900000, 1000, "{}"});
    if (t) diamond = t->id;
    return t;
  });
  Write([&](store::Tx& tx) { return loyalty::OverrideTier(tx, A(), ana_, 5, std::nullopt); });
  auto store = BuiltStore();
  ASSERT_EQ(InStore(*store, ana_).tier_rank, 3);
  Write([&](store::Tx& tx) {
    return loyalty::CreateTier(tx, A(), {4, "Platinum", 600000, 1000, "{}"});
  });
  Held h = CaughtUp(*store, ana_);
  EXPECT_EQ(h.tier_rank, 4);
  EXPECT_EQ(h.tier_id, diamond);
}

}  // namespace
}  // namespace regulars::insight
