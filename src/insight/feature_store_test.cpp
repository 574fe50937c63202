// The feature store on SQLite and PostgreSQL: a build from the database matches hand-computed
// features (orders, refunds, anonymous orders, erased members), and catching up on the event log
// after more writes gives exactly what a fresh build of the same data gives, column by column.

#include "insight/feature_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "accounts/account_service.h"
#include "commerce/branch_service.h"
#include "insight/rfm.h"
#include "insight/scores.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::insight {
namespace {

using accounts::Actor;

constexpr Micros kDay = kMicrosPerDay;

class FeatureStoreTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The merchant and its earning rule exist 60 days before "now" (orders are back-dated).
    Micros now = clock_.Now();
    clock_.Set(now - 60 * kDay);
    auto m = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
      Actor a = accounts::SystemActor(merchant.id, clock_.Now());
      loyalty::PointTypeInput pt;
      pt.code = "points";
      pt.name = "Points";
      pt.expiry = loyalty::ExpiryPolicy{loyalty::ExpiryKind::kNever, 0};
      RG_TRY(loyalty::CreatePointType(tx, a, pt));
      loyalty::RuleInput rule;
      rule.point_type = "points";
      rule.name = "1 per NT$30";
      rule.definition_json = R"({"kind":"per_amount","points":1,"per_amount_minor":3000})";
      RG_TRY(loyalty::CreateRule(tx, a, rule));
      commerce::BranchPatch b;
      b.name = "Main street";
      RG_ASSIGN_OR_RETURN(auto branch, commerce::CreateBranch(tx, a, b));
      branch_ = branch.id;
      return merchant.id;
    });
    clock_.Set(now);
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    merchant_ = *m;
  }
  Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }

  Id Member(const std::string& phone, members::MemberInput mi = {}) {
    mi.phone = phone;
    auto m =
        db().WriteValue([&](store::Tx& tx) { return members::CreateMember(tx, A(), {"TW"}, mi); });
    EXPECT_TRUE(m.has_value()) << m.error().ToString();
    return m ? m->id : 0;
  }
  Id Order(const std::string& ext, std::optional<Id> member, int64_t total, Micros at,
           std::vector<loyalty::OrderItemInput> items = {}, std::optional<Id> branch = {}) {
    loyalty::OrderInput in;
    in.external_id = ext;
    in.member_id = member;
    in.total_minor = total;
    in.occurred_at = at;
    in.items = std::move(items);
    in.branch_id = branch;
    auto r = db().WriteValue([&](store::Tx& tx) { return loyalty::CreateOrder(tx, A(), in); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->order.id : 0;
  }
  void Refund(Id order, std::optional<int64_t> amount) {
    loyalty::RefundInput in;
    in.amount_minor = amount;
    in.reason = "test";
    auto r =
        db().WriteValue([&](store::Tx& tx) { return loyalty::RefundOrder(tx, A(), order, in); });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  MerchantFeatures Fresh() {
    auto f = db().ReadValue(
        [&](store::Tx& tx) { return BuildMerchantFeatures(tx, merchant_, clock_.Now()); });
    EXPECT_TRUE(f.has_value()) << f.error().ToString();
    return f ? std::move(*f) : MerchantFeatures{};
  }

  Id merchant_ = 0;
  Id branch_ = 0;
};
RG_INSTANTIATE_BACKENDS(FeatureStoreTest);

loyalty::OrderItemInput Item(std::string sku, std::optional<std::string> category, int64_t qty,
                             int64_t price) {
  return {std::move(sku), "item", std::move(category), qty, price};
}

// Members of a bitmap as member ids, by the dictionary string.
std::set<Id> Who(const MerchantFeatures& f, const Dictionary& d,
                 const std::vector<roaring::Roaring>& bitmaps, const std::string& name) {
  std::set<Id> out;
  auto code = d.Find(name);
  if (!code || *code >= bitmaps.size()) return out;
  for (uint32_t i : bitmaps[*code]) out.insert(f.member_ids.at(i));
  return out;
}

// An order fact with its codes as strings, comparable across stores.
using FactView = std::tuple<int64_t, int64_t, std::string, std::vector<std::string>>;
std::vector<FactView> Facts(const MerchantFeatures& f, uint32_t i) {
  std::vector<FactView> out;
  EXPECT_LT(i, f.logs.size());
  for (const OrderFact& o : f.Orders(i)) {
    std::vector<std::string> codes;
    for (uint32_t c : f.Items(o)) {
      codes.push_back(c & MerchantFeatures::kSkuCodeBit
                          ? "sku:" + f.skus.Name(c & ~MerchantFeatures::kSkuCodeBit)
                          : "category:" + f.categories.Name(c));
    }
    std::sort(codes.begin(), codes.end());
    out.emplace_back(o.at_s, f.NetMinor(o), f.branches.Name(f.Branch(o)), std::move(codes));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every bitmap as name -> member ids.
std::map<std::string, std::set<Id>> Sets(const MerchantFeatures& f) {
  std::map<std::string, std::set<Id>> out;
  auto add = [&](const char* kind, const Dictionary& d, const std::vector<roaring::Roaring>& b) {
    for (uint32_t c = 1; c < d.size(); ++c) {
      auto who = Who(f, d, b, d.Name(c));
      if (!who.empty()) out[std::string(kind) + ":" + d.Name(c)] = who;
    }
  };
  add("tag", f.tags, f.tag_members);
  add("category", f.categories, f.category_members);
  add("sku", f.skus, f.sku_members);
  add("branch", f.branches, f.branch_members);
  return out;
}

// Compares every column of two stores of the same merchant, member by member id.
void ExpectSameFeatures(const MerchantFeatures& got, const MerchantFeatures& want) {
  ASSERT_EQ(got.member_ids.size(), want.member_ids.size());
  ASSERT_EQ(got.index_of.size(), want.index_of.size());
  // Every column has one entry per member.
  size_t n = got.member_ids.size();
  auto& g = const_cast<MerchantFeatures&>(got);
  EXPECT_EQ(g.joined_at.size(), n);
  EXPECT_EQ(g.logs.size(), n);
  EXPECT_EQ(g.consent.size(), n);
  EXPECT_EQ(g.rfm_group.size(), n);
  EXPECT_EQ(got.last_seq, want.last_seq);
  EXPECT_EQ(got.timezone, want.timezone);
  EXPECT_EQ(got.currency, want.currency);
  for (uint32_t w = 0; w < want.member_ids.size(); ++w) {
    Id id = want.member_ids[w];
    auto it = got.index_of.find(id);
    ASSERT_NE(it, got.index_of.end()) << "member " << id << " missing";
    uint32_t i = it->second;
    SCOPED_TRACE("member " + IdToString(id));
    EXPECT_EQ(got.member_ids[i], id);
    EXPECT_EQ(got.joined_at[i], want.joined_at[w]);
    EXPECT_EQ(got.first_order_at[i], want.first_order_at[w]);
    EXPECT_EQ(got.last_order_at[i], want.last_order_at[w]);
    EXPECT_EQ(got.orders[i], want.orders[w]);
    EXPECT_EQ(got.spend_minor[i], want.spend_minor[w]);
    EXPECT_EQ(got.birth_month[i], want.birth_month[w]);
    EXPECT_EQ(got.birth_day[i], want.birth_day[w]);
    EXPECT_EQ(got.regions.Name(got.region[i]), want.regions.Name(want.region[w]));
    EXPECT_EQ(got.cities.Name(got.city[i]), want.cities.Name(want.city[w]));
    EXPECT_EQ(got.genders.Name(got.gender[i]), want.genders.Name(want.gender[w]));
    EXPECT_EQ(got.languages.Name(got.language[i]), want.languages.Name(want.language[w]));
    EXPECT_EQ(got.tier_rank[i], want.tier_rank[w]);
    EXPECT_EQ(got.tier_id[i], want.tier_id[w]);
    EXPECT_EQ(got.points[i], want.points[w]);
    EXPECT_EQ(got.wallet_minor[i], want.wallet_minor[w]);
    EXPECT_EQ(got.consent[i], want.consent[w]);
    EXPECT_EQ(Facts(got, i), Facts(want, w));
  }
  EXPECT_EQ(Sets(got), Sets(want));
}

TEST_P(FeatureStoreTest, BuildMatchesHandComputedFeatures) {
  Micros now = clock_.Now();
  members::MemberInput ai;
  ai.gender = std::optional<std::string>("female");
  ai.region = std::optional<std::string>("TPE");
  ai.city = std::optional<std::string>("Da'an");
  ai.language = std::optional<std::string>("en");
  ai.birthday = std::optional<std::string>("1990-03-15");
  ai.tags = std::vector<std::string>{"vip", "tea"};
  ai.consent[members::Channel::kSms] = true;
  ai.consent[members::Channel::kEmail] = false;
  ai.consent[members::Channel::kLine] = true;
  Id a = Member("0912000001", ai);
  Id b = Member("0912000002");
  Id c = Member("0912000003");
  Order("A-1", a, 30000, now - 10 * kDay, {Item("T1", "tea", 2, 15000)}, branch_);
  Id a2 = Order("A-2", a, 12000, now - 3 * kDay,
                {Item("C1", "cake", 1, 6000), Item("T1", "tea", 1, 6000)});
  Refund(a2, 3000);
  Id b1 = Order("B-1", b, 9000, now - 30 * kDay, {Item("T2", std::nullopt, 1, 9000)});
  Refund(b1, std::nullopt);
  Order("C-1", c, 5000, now - 5 * kDay, {Item("X9", "secret", 1, 5000)});
  Order("ANON-1", std::nullopt, 7000, now - 1 * kDay, {Item("Z1", "anon", 1, 7000)}, branch_);
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return members::EraseMember(tx, A(), c); }));

  MerchantFeatures f = Fresh();
  ASSERT_EQ(f.size(), 2u);  // c erased
  EXPECT_FALSE(f.index_of.contains(c));
  EXPECT_EQ(f.timezone, "Asia/Taipei");
  EXPECT_EQ(f.currency, "TWD");
  uint32_t ia = f.index_of.at(a), ib = f.index_of.at(b);
  EXPECT_EQ(f.orders[ia], 2);
  EXPECT_EQ(f.spend_minor[ia], 30000 + 9000);
  EXPECT_EQ(f.first_order_at[ia], now - 10 * kDay);
  EXPECT_EQ(f.last_order_at[ia], now - 3 * kDay);
  EXPECT_EQ(f.points[ia], 10 + 4 - 1);  // 1 per NT$30; a quarter of A-2 refunded takes back 1
  EXPECT_EQ(f.consent[ia], 1 | 4);
  EXPECT_EQ(f.birth_month[ia], 3);
  EXPECT_EQ(f.birth_day[ia], 15);
  EXPECT_EQ(f.genders.Name(f.gender[ia]), "female");
  EXPECT_EQ(f.regions.Name(f.region[ia]), "TPE");
  EXPECT_EQ(f.cities.Name(f.city[ia]), "Da'an");
  EXPECT_EQ(f.languages.Name(f.language[ia]), "en");
  EXPECT_EQ(f.tier_rank[ia], 0);
  EXPECT_EQ(f.wallet_minor[ia], 0);
  EXPECT_TRUE(std::isnan(f.p_alive[ia]));
  // B's only order was refunded in full: in the log with net 0, not counted.
  EXPECT_EQ(f.orders[ib], 0);
  EXPECT_EQ(f.spend_minor[ib], 0);
  EXPECT_EQ(f.first_order_at[ib], 0);
  EXPECT_EQ(f.last_order_at[ib], 0);
  EXPECT_EQ(f.points[ib], 0);
  EXPECT_EQ(f.consent[ib], 0);
  EXPECT_EQ(f.gender[ib], 0u);
  ASSERT_EQ(f.Orders(ib).size(), 1u);
  EXPECT_EQ(f.NetMinor(f.Orders(ib)[0]), 0);
  // A's log, oldest first, with its items' codes.
  std::vector<FactView> want_a = {
      {(now - 10 * kDay) / kMicrosPerSecond,
       30000,
       IdToString(branch_),
       {"category:tea", "sku:T1"}},
      {(now - 3 * kDay) / kMicrosPerSecond,
       9000,
       "",
       {"category:cake", "category:tea", "sku:C1", "sku:T1"}},
  };
  EXPECT_EQ(Facts(f, ia), want_a);
  EXPECT_LT(f.Orders(ia)[0].at_s, f.Orders(ia)[1].at_s);
  // A fresh build lays the logs out in member order with nothing between them.
  EXPECT_EQ(f.garbage_facts, 0u);
  EXPECT_EQ(f.order_facts.size(), 3u);
  // Sets: the erased member's and the anonymous order's items are nowhere.
  std::map<std::string, std::set<Id>> want_sets = {
      {"tag:vip", {a}},      {"tag:tea", {a}},
      {"category:tea", {a}}, {"category:cake", {a}},
      {"sku:T1", {a}},       {"sku:C1", {a}},
      {"sku:T2", {b}},       {"branch:" + IdToString(branch_), {a}},
  };
  EXPECT_EQ(Sets(f), want_sets);
  EXPECT_FALSE(f.skus.Find("X9").has_value());
  EXPECT_FALSE(f.skus.Find("Z1").has_value());
  EXPECT_GT(f.MemoryBytes(), 0u);

  // The holder: Read by merchant, not_found for another.
  FeatureStore store(db(), clock_);
  ASSERT_TRUE(store.Build().has_value());
  auto orders =
      store.Read(merchant_, [&](const MerchantFeatures& m) { return m.orders[m.index_of.at(a)]; });
  ASSERT_TRUE(orders.has_value());
  EXPECT_EQ(*orders, 2);
  auto missing = store.Read(merchant_ + 1, [](const MerchantFeatures&) {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(missing.error().message,
            "merchant " + IdToString(merchant_ + 1) + " has no features yet");
  EXPECT_EQ(store.MemberCount(), 2u);
  EXPECT_GT(store.MemoryBytes(), f.MemoryBytes() / 2);
}

TEST_P(FeatureStoreTest, CatchUpEqualsAFreshBuild) {
  Micros now = clock_.Now();
  Id a = Member("0912000001");
  Id b = Member("0912000002");
  Id c = Member("0912000003");
  Id a1 = Order("A-1", a, 30000, now - 10 * kDay, {Item("T1", "tea", 2, 15000)}, branch_);
  Order("B-1", b, 6000, now - 8 * kDay, {Item("C1", "cake", 1, 6000)});
  Order("C-1", c, 4500, now - 7 * kDay, {Item("T1", "tea", 1, 4500)});

  FeatureStore store(db(), clock_);
  ASSERT_TRUE(store.Build().has_value());
  auto seq0 = store.Read(merchant_, [](const MerchantFeatures& f) { return f.last_seq; });
  ASSERT_TRUE(seq0.has_value());

  // New orders (one at an earlier time than the member's last), refunds, a new member, an
  // anonymous order, a profile change, an erasure and a merge.
  Order("A-2", a, 9000, now - 2 * kDay, {Item("T3", "tea", 1, 9000)});
  Order("A-0", a, 3000, now - 20 * kDay, {Item("C1", "cake", 1, 3000)}, branch_);
  Refund(a1, 10000);
  Refund(a1, std::nullopt);
  Id d = Member("0912000004");
  Order("D-1", d, 12000, now - 1 * kDay, {Item("M1", "milk", 4, 3000)}, branch_);
  Order("ANON-1", std::nullopt, 7000, now - 1 * kDay, {Item("Z1", "anon", 1, 7000)});
  members::MemberInput patch;
  patch.tags = std::vector<std::string>{"regular"};
  patch.gender = std::optional<std::string>("male");
  ASSERT_TRUE(db().WriteValue(
      [&](store::Tx& tx) { return members::UpdateMember(tx, A(), {"TW"}, b, patch); }));
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return members::EraseMember(tx, A(), c); }));
  Id e = Member("0912000005");
  Order("E-1", e, 8000, now - 4 * kDay, {Item("E1", "eclair", 1, 8000)});
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, A(), d, e));
    return loyalty::MergeBalances(tx, A(), d, e);
  }));

  auto applied = store.CatchUp();
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
  EXPECT_GT(*applied, 10);
  auto again = store.CatchUp();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0);

  MerchantFeatures fresh = Fresh();
  ASSERT_TRUE(store
                  .Read(merchant_,
                        [&](const MerchantFeatures& got) {
                          EXPECT_GT(got.last_seq, *seq0);
                          ExpectSameFeatures(got, fresh);
                          // A's log moved past C's (A-2), B's reload and C's erasure left
                          // their old slices behind: the live path, not a rebuild.
                          EXPECT_EQ(got.garbage_facts, 3u);
                          EXPECT_EQ(fresh.garbage_facts, 0u);
                        })
                  .has_value());
  // Compacted, it is still the fresh build, with the facts laid out without garbage.
  ASSERT_TRUE(store.Update(merchant_, [](MerchantFeatures& f) { f.CompactOrderLogs(); }));
  ASSERT_TRUE(store
                  .Read(merchant_,
                        [&](const MerchantFeatures& got) {
                          ExpectSameFeatures(got, fresh);
                          EXPECT_EQ(got.garbage_facts, 0u);
                          EXPECT_EQ(got.order_facts.size(), fresh.order_facts.size());
                        })
                  .has_value());
  // Hand checks on the result: A's first order fully refunded, A-0 now the first.
  uint32_t ia = fresh.index_of.at(a);
  EXPECT_EQ(fresh.orders[ia], 2);
  EXPECT_EQ(fresh.spend_minor[ia], 12000);
  EXPECT_EQ(fresh.first_order_at[ia], now - 20 * kDay);
  EXPECT_FALSE(fresh.index_of.contains(c));
  EXPECT_FALSE(fresh.index_of.contains(e));
  EXPECT_EQ(fresh.orders[fresh.index_of.at(d)], 1);  // a merge moves balances, not orders
  EXPECT_EQ(Who(fresh, fresh.tags, fresh.tag_members, "regular"), std::set<Id>{b});
}

TEST_P(FeatureStoreTest, BuildInTinyChunksEqualsTheNormalBuild) {
  Micros now = clock_.Now();
  members::MemberInput tagged;
  tagged.tags = std::vector<std::string>{"vip"};
  tagged.gender = std::optional<std::string>("female");
  tagged.consent[members::Channel::kEmail] = true;
  std::vector<Id> ids;
  for (int k = 0; k < 7; ++k)
    ids.push_back(
        Member("09120001" + std::to_string(10 + k), k % 2 ? tagged : members::MemberInput{}));
  // Orders for most members (several per member, shared skus and categories, a refund); one
  // anonymous order; an erased member and a merged one inside the id range, so chunk boundaries
  // fall next to members that are not live.
  for (int k = 0; k < 7; ++k) {
    if (k == 3) continue;
    for (int o = 0; o <= k % 3; ++o)
      Order("O-" + std::to_string(k) + "-" + std::to_string(o), ids[k], 3000 * (k + 1) + o,
            now - (10 + o * 3 + k) * kDay,
            {Item(k % 2 ? "T1" : "C" + std::to_string(k), k % 2 ? "tea" : "cake", 1, 3000)},
            o % 2 ? std::optional<Id>(branch_) : std::nullopt);
  }
  Id refunded = Order("R-1", ids[4], 9000, now - 2 * kDay, {Item("M1", "milk", 3, 3000)});
  Refund(refunded, 4000);
  Order("ANON-1", std::nullopt, 7000, now - 1 * kDay, {Item("Z1", "anon", 1, 7000)});
  ASSERT_TRUE(
      db().WriteValue([&](store::Tx& tx) { return members::EraseMember(tx, A(), ids[2]); }));
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(members::MergeMembers(tx, A(), ids[6], ids[5]));
    return loyalty::MergeBalances(tx, A(), ids[6], ids[5]);
  }));

  MerchantFeatures normal = Fresh();
  ASSERT_EQ(normal.size(), 5u);  // 7 members, one erased, one merged away
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{6}}) {
    SCOPED_TRACE("members_per_chunk " + std::to_string(chunk));
    auto f = db().ReadValue([&](store::Tx& tx) {
      return BuildMerchantFeatures(tx, merchant_, now, BuildOptions{chunk});
    });
    ASSERT_TRUE(f.has_value()) << f.error().ToString();
    ExpectSameFeatures(*f, normal);
    // Same dense order and the same dictionary codes, not only the same values.
    EXPECT_EQ(f->member_ids, normal.member_ids);
    EXPECT_EQ(f->order_facts, normal.order_facts);
    EXPECT_EQ(f->logs, normal.logs);
    EXPECT_EQ(f->shapes.size(), normal.shapes.size());
    EXPECT_EQ(f->skus.size(), normal.skus.size());
    EXPECT_EQ(f->categories.size(), normal.categories.size());
    EXPECT_EQ(f->tags.size(), normal.tags.size());
    EXPECT_EQ(f->points, normal.points);
    EXPECT_EQ(f->gender, normal.gender);
  }
  auto zero = db().ReadValue(
      [&](store::Tx& tx) { return BuildMerchantFeatures(tx, merchant_, now, BuildOptions{0}); });
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, Code::kInvalidArgument);
  EXPECT_EQ(zero.error().field, "members_per_chunk");
}

TEST_P(FeatureStoreTest, TailerSeesANewMerchantAndKeepsScoresAcrossAReload) {
  Id a = Member("0912000001");
  Order("A-1", a, 30000, clock_.Now() - kDay);
  FeatureStore store(db(), clock_);
  ASSERT_TRUE(store.Build().has_value());
  ASSERT_TRUE(store
                  .Update(merchant_,
                          [&](MerchantFeatures& f) {
                            f.p_alive[f.index_of.at(a)] = 0.5f;
                            ApplyRfm(f, clock_.Now());
                          })
                  .has_value());
  members::MemberInput patch;
  patch.city = std::optional<std::string>("Hsinchu");
  ASSERT_TRUE(db().WriteValue(
      [&](store::Tx& tx) { return members::UpdateMember(tx, A(), {"TW"}, a, patch); }));
  auto other = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
    accounts::Merchant in;
    in.name = "Cakes";
    RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
    return m.id;
  });
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(store.CatchUp().has_value());
  auto got = store.Read(merchant_, [&](const MerchantFeatures& f) {
    uint32_t i = f.index_of.at(a);
    return std::make_tuple(f.cities.Name(f.city[i]), f.p_alive[i], f.rfm_r[i],
                           static_cast<RfmGroup>(f.rfm_group[i]));
  });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::get<0>(*got), "Hsinchu");
  EXPECT_EQ(std::get<1>(*got), 0.5f);
  EXPECT_EQ(std::get<2>(*got), 1);  // the only buyer: position 0 of 1
  EXPECT_EQ(std::get<3>(*got), RfmGroup::kLost);
  auto ids = store.MerchantIds();
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(std::find(ids.begin(), ids.end(), *other) != ids.end());
}

TEST_P(FeatureStoreTest, NightlyFitIsSavedOnceADayAndAppliedByAnotherStore) {
  Micros now = clock_.Now();  // 14:13 UTC = 22:13 in Taipei: past 03:00, so a fit is due
  std::vector<Id> members;
  for (int i = 0; i < 8; ++i) {
    Id m = Member("09120001" + std::to_string(10 + i));
    members.push_back(m);
    for (int k = 0; k <= i % 4; ++k)
      Order("O-" + std::to_string(i) + "-" + std::to_string(k), m, 1000 + 250 * (i + k),
            now - (40 - 7 * k - i) * kDay);
  }
  Id never = Member("0912000999");
  FeatureStore one(db(), clock_), two(db(), clock_);
  ASSERT_TRUE(one.Build().has_value());
  ASSERT_TRUE(two.Build().has_value());
  FitSweepState s1, s2;
  auto fitted = RunDueFits(db(), one, now, s1);
  ASSERT_TRUE(fitted.has_value()) << fitted.error().ToString();
  EXPECT_EQ(*fitted, 1);
  EXPECT_EQ(*RunDueFits(db(), one, now, s1), 0);  // fitted today
  auto rows = db().ReadValue([&](store::Tx& tx) -> Result<std::vector<int64_t>> {
    RG_ASSIGN_OR_RETURN(auto m, tx.Query("SELECT COUNT(*), MAX(customers), MAX(fitted_at) FROM "
                                         "insight_models WHERE kind = 'bgnbd_gg'"));
    RG_ASSIGN_OR_RETURN(auto sc, tx.Query("SELECT COUNT(*), COUNT(p_alive) FROM member_scores"));
    return std::vector<int64_t>{m[0].Int(0), m[0].Int(1), m[0].Int(2), sc[0].Int(0), sc[0].Int(1)};
  });
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  EXPECT_EQ(*rows, (std::vector<int64_t>{1, 8, now, 9, 8}));  // the non-buyer has no p_alive

  // The other store (another server) applies the saved fit without fitting again.
  EXPECT_EQ(*RunDueFits(db(), two, now, s2), 1);
  EXPECT_EQ(*RunDueFits(db(), two, now, s2), 0);
  auto scores = [&](FeatureStore& store) {
    return *store.Read(merchant_, [&](const MerchantFeatures& f) {
      std::vector<std::tuple<float, float, float, int>> out;
      for (Id m : members) {
        uint32_t i = f.index_of.at(m);
        out.emplace_back(f.p_alive[i], f.expected_purchases_90d[i], f.expected_value_minor[i],
                         f.rfm_group[i]);
      }
      EXPECT_TRUE(std::isnan(f.p_alive[f.index_of.at(never)]));
      // Eight steady buyers give BG/NBD no dropout to fit: applied in the closed-form limit
      // (scores.h), by the second store too, from the saved params_json.
      EXPECT_EQ(f.model_kind, "bgnbd_gg_limit");
      EXPECT_EQ(f.model_fitted_at, now);
      return out;
    });
  };
  EXPECT_EQ(scores(one), scores(two));

  // The next local day: not before 03:00, then once.
  Micros two_am = *ParseRfc3339("2026-09-21T18:00:00Z");  // 02:00 on the 22nd in Taipei
  EXPECT_EQ(*RunDueFits(db(), one, two_am, s1), 0);
  EXPECT_EQ(*RunDueFits(db(), one, two_am + 90 * 60 * kMicrosPerSecond, s1), 1);
  EXPECT_EQ(*RunDueFits(db(), one, two_am + 120 * 60 * kMicrosPerSecond, s1), 0);
}

TEST(ApplyOrderTest, KeepsTheLogSortedAndCountsOnlyOrdersWithANetAmount) {
  MerchantFeatures f;
  f.member_ids = {7};
  f.index_of = {{7, 0}};
  f.joined_at = {0};
  f.first_order_at = {0};
  f.last_order_at = {0};
  f.orders = {0};
  f.spend_minor = {0};
  f.logs.resize(1);
  OrderInput late{1, 7, 0, 200 * kMicrosPerSecond, 5000, 0, {{"S1", "tea"}, {"S1", "tea"}}};
  OrderInput early{2, 7, 3, 100 * kMicrosPerSecond, 4000, 4000, {{"S2", ""}}};
  OrderInput anon{3, 0, 0, 300 * kMicrosPerSecond, 9000, 0, {{"S3", "x"}}};
  ApplyOrder(f, late);
  ApplyOrder(f, early);
  ApplyOrder(f, anon);
  ASSERT_EQ(f.Orders(0).size(), 2u);
  EXPECT_EQ(f.Orders(0)[0].at_s, 100u);
  EXPECT_EQ(f.NetMinor(f.Orders(0)[0]), 0);
  EXPECT_EQ(f.Items(f.Orders(0)[0]).size(), 1u);  // sku S2 only: no category
  EXPECT_EQ(f.Items(f.Orders(0)[1]).size(), 2u);  // tea and S1 once each
  EXPECT_EQ(f.orders[0], 1);
  EXPECT_EQ(f.spend_minor[0], 5000);
  EXPECT_EQ(f.first_order_at[0], 200 * kMicrosPerSecond);
  EXPECT_EQ(f.branches.Name(f.Branch(f.Orders(0)[0])), "3");
  EXPECT_FALSE(f.skus.Find("S3").has_value());
  // Refund the rest of the later order: nothing counts any more.
  EXPECT_TRUE(ApplyRefund(f, 7, 200 * kMicrosPerSecond, 5000, 5000));
  EXPECT_EQ(f.orders[0], 0);
  EXPECT_EQ(f.spend_minor[0], 0);
  EXPECT_EQ(f.last_order_at[0], 0);
  EXPECT_FALSE(ApplyRefund(f, 7, 200 * kMicrosPerSecond, 5000, 1));
}

// A store of `n` members (ids 100..) with empty logs, as AddMember leaves them.
MerchantFeatures EmptyStore(uint32_t n) {
  MerchantFeatures f;
  for (uint32_t i = 0; i < n; ++i) {
    f.member_ids.push_back(100 + i);
    f.index_of[100 + i] = i;
  }
  f.joined_at.assign(n, 0);
  f.first_order_at.assign(n, 0);
  f.last_order_at.assign(n, 0);
  f.orders.assign(n, 0);
  f.spend_minor.assign(n, 0);
  f.logs.assign(n, {});
  return f;
}

OrderInput At(Id member, int64_t at_s, int64_t total, std::string sku = "S1") {
  return OrderInput{at_s, member, 0, at_s * kMicrosPerSecond, total, 0, {{std::move(sku), "tea"}}};
}

TEST(ApplyOrderTest, ALiveOrderMovesTheLogToTheEndAndCompactionDropsTheOldCopies) {
  MerchantFeatures f = EmptyStore(3);
  // Built in member order: 0's log, then 1's, then 2's, nothing between them.
  for (uint32_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 3; ++k) ApplyOrder(f, At(100 + i, 1000 * (i + 1) + k, 100));
  EXPECT_EQ(f.order_facts.size(), 9u);
  EXPECT_EQ(f.garbage_facts, 0u);
  EXPECT_EQ(f.logs[0], (OrderLogRef{0, 3}));
  EXPECT_EQ(f.logs[2], (OrderLogRef{6, 3}));
  // Member 2's log is the last: an order is inserted in place (here before its newest one).
  ApplyOrder(f, At(102, 3001, 7));
  EXPECT_EQ(f.logs[2], (OrderLogRef{6, 4}));
  EXPECT_EQ(f.garbage_facts, 0u);
  EXPECT_EQ(f.Orders(2)[2].at_s, 3001u);
  EXPECT_EQ(f.NetMinor(f.Orders(2)[2]), 7);
  // Member 0's is not: it moves to the end, its old three facts become garbage.
  ApplyOrder(f, At(100, 999, 5));
  EXPECT_EQ(f.logs[0], (OrderLogRef{10, 4}));
  EXPECT_EQ(f.garbage_facts, 3u);
  ASSERT_EQ(f.Orders(0).size(), 4u);
  EXPECT_EQ(f.Orders(0)[0].at_s, 999u);
  EXPECT_EQ(f.Orders(0)[3].at_s, 1002u);
  EXPECT_EQ(f.orders[0], 4);
  EXPECT_EQ(f.spend_minor[0], 305);
  EXPECT_EQ(f.first_order_at[0], 999 * kMicrosPerSecond);
  // Compaction: member order again, the same logs, no garbage.
  std::vector<std::vector<OrderFact>> before;
  for (uint32_t i = 0; i < 3; ++i) before.emplace_back(f.Orders(i).begin(), f.Orders(i).end());
  f.CompactOrderLogs();
  EXPECT_EQ(f.garbage_facts, 0u);
  EXPECT_EQ(f.order_facts.size(), 11u);
  EXPECT_EQ(f.logs[0], (OrderLogRef{0, 4}));
  EXPECT_EQ(f.logs[1], (OrderLogRef{4, 3}));
  EXPECT_EQ(f.logs[2], (OrderLogRef{7, 4}));
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(std::vector<OrderFact>(f.Orders(i).begin(), f.Orders(i).end()), before[i]);
}

TEST(ApplyOrderTest, CompactsOnItsOwnWhenTheGarbageExceedsASixteenth) {
  MerchantFeatures f = EmptyStore(2);
  // Alternating members: each order moves its member's log past the other's, so the garbage
  // grows by the log's length every time, until it passes 4,096 facts and a sixteenth.
  int64_t compactions = 0;
  size_t last_garbage = 0;
  for (int64_t k = 0; k < 400; ++k) {
    ApplyOrder(f, At(100 + k % 2, 10'000 + k, 10 + k, "S" + std::to_string(k % 5)));
    if (f.garbage_facts < last_garbage) ++compactions;
    last_garbage = f.garbage_facts;
    ASSERT_LE(f.garbage_facts * 16, f.order_facts.size() + 16 * 4096);
  }
  EXPECT_GE(compactions, 1);
  // Whatever the compactions did, each log is its member's orders, oldest first.
  for (uint32_t i = 0; i < 2; ++i) {
    auto log = f.Orders(i);
    ASSERT_EQ(log.size(), 200u);
    int64_t spend = 0;
    for (size_t k = 0; k < log.size(); ++k) {
      const int64_t n = 2 * static_cast<int64_t>(k) + i;
      EXPECT_EQ(log[k].at_s, static_cast<uint32_t>(10'000 + n));
      EXPECT_EQ(f.NetMinor(log[k]), 10 + n);
      ASSERT_EQ(f.Items(log[k]).size(), 2u);
      EXPECT_EQ(f.skus.Name(f.Items(log[k])[1] & ~MerchantFeatures::kSkuCodeBit),
                "S" + std::to_string(n % 5));
      spend += 10 + n;
    }
    EXPECT_EQ(f.spend_minor[i], spend);
    EXPECT_EQ(f.orders[i], 200);
  }
  // 2 members x 5 skus, one branch (none): 5 shapes besides shape 0 (the same sku, the same
  // shape, whoever bought it).
  EXPECT_EQ(f.shapes.size(), 6u);
}

TEST(ApplyOrderTest, NetsAboveInt32AndTimesOutsideUint32) {
  MerchantFeatures f = EmptyStore(1);
  const int64_t big = int64_t{5'000'000'000};
  ApplyOrder(f, OrderInput{1, 100, 0, 50 * kMicrosPerSecond, big, 0, {}});
  ApplyOrder(f, OrderInput{2, 100, 0, -7 * kMicrosPerSecond, 10, 0, {}});
  ApplyOrder(f, OrderInput{3, 100, 0, int64_t{5'000'000'000} * kMicrosPerSecond, 20, 0, {}});
  ASSERT_EQ(f.Orders(0).size(), 3u);
  EXPECT_EQ(f.Orders(0)[0].at_s, 0u);  // before 1970: stored as 1970-01-01T00:00:00Z
  EXPECT_EQ(f.Orders(0)[1].at_s, 50u);
  EXPECT_EQ(f.NetMinor(f.Orders(0)[1]), big);
  EXPECT_EQ(f.big_nets, std::vector<int64_t>{big});
  EXPECT_EQ(f.Orders(0)[2].at_s, 4'294'967'295u);  // after 2106-02-07: the last second kept
  EXPECT_EQ(f.spend_minor[0], big + 30);
  // A refund of a big net: the side table is updated in place, then a small one is inline.
  EXPECT_TRUE(ApplyRefund(f, 100, 50 * kMicrosPerSecond, big, 1));
  EXPECT_EQ(f.NetMinor(f.Orders(0)[1]), big - 1);
  EXPECT_EQ(f.big_nets.size(), 1u);
  EXPECT_TRUE(ApplyRefund(f, 100, 50 * kMicrosPerSecond, big - 1, big - 101));
  EXPECT_EQ(f.NetMinor(f.Orders(0)[1]), 100);
  EXPECT_EQ(f.Orders(0)[1].net, 100);
  EXPECT_EQ(f.spend_minor[0], 130);
}

TEST(MemberIndexTest, SortedIdsWithTheirIndexes) {
  MemberIndex m{{30, 2}, {10, 0}};
  m[20] = 1;  // inserted in the middle
  m[40] = 3;  // appended
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m.at(20), 1u);
  EXPECT_EQ(m.find(40)->second, 3u);
  EXPECT_TRUE(m.find(25) == m.end());
  EXPECT_FALSE(m.contains(25));
  EXPECT_THROW(m.at(25), std::out_of_range);
  std::vector<std::pair<Id, uint32_t>> all;
  for (const auto& e : m) all.emplace_back(e.first, e.second);
  EXPECT_EQ(all, (std::vector<std::pair<Id, uint32_t>>{{10, 0}, {20, 1}, {30, 2}, {40, 3}}));
  EXPECT_EQ(m.erase(20), 1u);
  EXPECT_EQ(m.erase(20), 0u);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at(30), 2u);
}

TEST(OrderShapesTest, InternsEachBranchAndCodesOnce) {
  OrderShapes s;
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.Branch(0), 0u);
  EXPECT_TRUE(s.Codes(0).empty());
  std::vector<uint32_t> a{1, 5}, b{1, 6};
  uint32_t x = s.Intern(3, a);
  EXPECT_EQ(x, 1u);
  EXPECT_EQ(s.Intern(3, a), x);
  EXPECT_EQ(s.Intern(4, a), 2u);  // another branch
  EXPECT_EQ(s.Intern(3, b), 3u);
  EXPECT_EQ(s.Intern(0, {}), 0u);
  EXPECT_EQ(s.Branch(2), 4u);
  EXPECT_EQ(std::vector<uint32_t>(s.Codes(3).begin(), s.Codes(3).end()), b);
  // Past the first rehash (64 slots at load 1/2): every id still found.
  for (uint32_t k = 0; k < 200; ++k) s.Intern(k + 10, a);
  EXPECT_EQ(s.size(), 204u);
  for (uint32_t k = 0; k < 200; ++k) EXPECT_EQ(s.Intern(k + 10, a), 4u + k);
  EXPECT_EQ(s.Intern(3, a), x);
}

}  // namespace
}  // namespace regulars::insight
