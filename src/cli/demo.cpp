#include "cli/demo.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>
#include <set>

#include "accounts/account_service.h"
#include "base/crypto.h"
#include "commerce/branch_service.h"
#include "loyalty/coupon_service.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/referral_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier_service.h"
#include "loyalty/wallet_service.h"
#include "members/member_service.h"

namespace regulars::cli {
namespace {

constexpr const char* kSurnames[] = {"陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊",
                                     "許", "鄭", "謝", "郭", "洪", "曾", "邱", "廖", "賴", "周"};
constexpr const char* kGiven[] = {"怡君", "雅婷", "家豪", "志明", "淑芬", "俊傑", "美玲", "宗翰",
                                  "欣怡", "冠宇", "佳穎", "建宏", "詩涵", "承恩", "郁婷", "柏翰",
                                  "小明", "婉婷", "哲瑋", "品妍", "子晴", "宇軒", "思妤", "彥廷"};
constexpr const char* kEnglishFirst[] = {"Alice",   "Brian", "Cindy", "David", "Emily",  "Frank",
                                         "Grace",   "Henry", "Irene", "Jason", "Kevin",  "Linda",
                                         "Michael", "Nina",  "Oscar", "Peggy", "Vivian", "Wendy"};
constexpr const char* kEnglishLast[] = {"Chen", "Lin", "Huang", "Chang", "Lee", "Wang",
                                        "Wu",   "Liu", "Tsai",  "Yang",  "Hsu", "Cheng"};
struct Place {
  const char* region;
  const char* cities[4];
};
constexpr Place kPlaces[] = {{"台北市", {"大安區", "信義區", "中山區", "士林區"}},
                             {"新北市", {"板橋區", "新莊區", "中和區", "淡水區"}},
                             {"台中市", {"西屯區", "北屯區", "南屯區", "西區"}},
                             {"高雄市", {"左營區", "三民區", "苓雅區", "鳳山區"}}};
struct MenuItem {
  const char* sku;
  const char* name;
  const char* category;
  int64_t price_minor;
};
constexpr MenuItem kMenu[] = {
    {"BT-PEARL", "珍珠奶茶", "milk_tea", 6000}, {"BT-OOLONG", "四季春青茶", "tea", 3500},
    {"BT-BLACK", "錫蘭紅茶", "tea", 3000},      {"BT-MATCHA", "抹茶拿鐵", "latte", 7000},
    {"BT-MANGO", "芒果冰沙", "smoothie", 7500}, {"BT-TARO", "芋頭鮮奶", "latte", 6500},
    {"SN-WAFFLE", "格子鬆餅", "snack", 5500}};
constexpr const char* kTags[] = {"常客", "喜歡少糖", "學生", "上班族", "團購", "VIP"};

// A loyalty program and a year of orders and redemptions for the demo members.
Status SeedLoyalty(store::Database& db, const Clock& clock, const accounts::Merchant& merchant,
                   const std::vector<Id>& branch_ids, std::mt19937& rng) {
  const Micros now = clock.Now();
  const Micros year_ago = now - 365 * kMicrosPerDay;
  Id reward_id = 0;
  std::vector<Id> member_ids;
  RG_TRY(db.Write([&](store::Tx& tx) -> Status {
    accounts::Actor a = accounts::SystemActor(merchant.id, year_ago - kMicrosPerDay);
    loyalty::PointTypeInput pt;
    pt.code = "points";
    pt.name = "點數";
    pt.expiry = loyalty::ExpiryPolicy{loyalty::ExpiryKind::kEndOfYear, 1};
    pt.value_minor_per_1000 = 10000;  // 1,000 points are worth NT$100
    RG_TRY(loyalty::CreatePointType(tx, a, pt));
    loyalty::RuleInput base{"points", "每 NT$30 累積 1 點",
                            R"({"kind":"per_amount","points":1,"per_amount_minor":3000})", true};
    RG_TRY(loyalty::CreateRule(tx, a, base));
    loyalty::RuleInput birthday{
        "points", "生日月點數雙倍",
        R"({"kind":"multiplier","factor":2,"birthday_month":true,"stacking":"best_of"})", true};
    RG_TRY(loyalty::CreateRule(tx, a, birthday));
    loyalty::RuleInput wednesday{
        "points", "週三會員日 1.5 倍",
        R"({"kind":"multiplier","factor":1.5,"weekdays":[3],"stacking":"best_of"})", true};
    RG_TRY(loyalty::CreateRule(tx, a, wednesday));
    loyalty::RewardInput tea;
    tea.name = "免費中杯紅茶";
    tea.point_type = "points";
    tea.points = 30;
    RG_ASSIGN_OR_RETURN(auto w, loyalty::CreateReward(tx, a, tea));
    reward_id = w.id;
    loyalty::RewardInput voucher;
    voucher.name = "NT$100 折價券";
    voucher.point_type = "points";
    voucher.points = 100;
    voucher.stock = std::optional<int64_t>(500);
    RG_TRY(loyalty::CreateReward(tx, a, voucher));
    RG_TRY(loyalty::SetTierProgram(
        tx, a, {loyalty::TierMetric::kSpend, {}, loyalty::TierWindow::kRollingDays, 365, 30}));
    RG_TRY(loyalty::CreateTier(
        tx, a, {1, "銀卡 Silver", 100000, 1000, R"({"birthday_gift":"free drink"})"}));
    RG_TRY(loyalty::CreateTier(tx, a,
                               {2, "金卡 Gold", 300000, 1500,
                                R"({"birthday_gift":"free drink","member_price_percent":5})"}));
    RG_TRY(loyalty::CreateTier(tx, a,
                               {3, "黑卡 Black", 800000, 2000,
                                R"({"birthday_gift":"two drinks","member_price_percent":10})"}));
    // A stamp card (集點卡): every milk tea or latte is a stamp; ten make a free drink.
    RG_TRY(loyalty::CreatePointType(tx, a, {"stamps", "集點", {}, {}, {}, {}}));
    loyalty::StampCardInput card;
    card.name = "集滿 10 杯送 1 杯";
    card.point_type = "stamps";
    card.stamps_needed = 10;
    card.per = loyalty::StampPer::kItem;
    card.categories = std::vector<std::string>{"milk_tea", "latte"};
    card.reward_name = "免費中杯飲品";
    card.restart = true;
    RG_TRY(loyalty::CreateStampCard(tx, a, card));
    // Coupons: a welcome offer, a birthday treat a week ahead, and a gift above NT$300 (滿額贈).
    loyalty::CouponTemplateInput welcome;
    welcome.name = "新會員 NT$50 折價券";
    welcome.kind = loyalty::CouponKind::kAmountOff;
    welcome.amount_off_minor = std::optional<int64_t>(5000);
    welcome.min_spend_minor = 10000;
    welcome.valid_days = std::optional<int>(30);
    welcome.issue_on = loyalty::IssueOn::kWelcome;
    RG_ASSIGN_OR_RETURN(auto welcome_t, loyalty::CreateCouponTemplate(tx, a, welcome));
    loyalty::CouponTemplateInput birthday_gift;
    birthday_gift.name = "生日快樂：任選飲品一杯";
    birthday_gift.kind = loyalty::CouponKind::kFreeItem;
    birthday_gift.free_item = std::optional<std::string>("任選中杯飲品");
    birthday_gift.item_value_minor = std::optional<int64_t>(6000);
    birthday_gift.valid_days = std::optional<int>(21);
    birthday_gift.birthday_days_before = std::optional<int>(7);
    birthday_gift.issue_on = loyalty::IssueOn::kBirthday;
    RG_TRY(loyalty::CreateCouponTemplate(tx, a, birthday_gift));
    loyalty::CouponTemplateInput spend_gift;
    spend_gift.name = "滿 NT$300 送 NT$30";
    spend_gift.kind = loyalty::CouponKind::kAmountOff;
    spend_gift.amount_off_minor = std::optional<int64_t>(3000);
    spend_gift.valid_days = std::optional<int>(60);
    spend_gift.spend_threshold_minor = std::optional<int64_t>(30000);
    spend_gift.issue_on = loyalty::IssueOn::kSpend;
    RG_TRY(loyalty::CreateCouponTemplate(tx, a, spend_gift));
    // Referrals: 50 points for the friend who brought a newcomer, the welcome coupon for the
    // newcomer, on a first purchase of NT$100 or more.
    loyalty::ReferralProgramInput referral;
    referral.referrer_reward = loyalty::ReferralRewardInput{.point_type = "points", .points = 50};
    referral.newcomer_reward = loyalty::ReferralRewardInput{.coupon_template_id = welcome_t.id};
    referral.min_spend_minor = 10000;
    referral.limit_per_referrer = 20;
    RG_TRY(loyalty::SetReferralProgram(tx, a, referral));
    RG_ASSIGN_OR_RETURN(
        auto rows,
        tx.Query("SELECT id FROM members WHERE merchant_id = ? ORDER BY id", {merchant.id}));
    for (const auto& r : rows) member_ids.push_back(r.Int(0));
    return {};
  }));

  // Each member's visits, shaped like the histories the churn models describe: members join
  // through the year, come back at their own pace (a few weekly, most now and then), buy
  // baskets of their own size, and after any visit may stop coming for good, so the insight
  // pages have regulars, newcomers and people slipping away.
  struct Visit {
    Micros at;
    Id member;
    int basket;  // the most lines this member buys at once
  };
  std::vector<Visit> visits;
  std::exponential_distribution<double> habit(1.0 / 10.0);  // visits a year while a customer
  std::uniform_int_distribution<Micros> joined(0, 340 * kMicrosPerDay);
  std::uniform_real_distribution<double> dropout(0.02, 0.3);  // chance to stop after a visit
  for (Id m : member_ids) {
    double per_day = std::max(1.0, habit(rng)) / 365.0;
    std::exponential_distribution<double> gap_days(per_day);
    std::bernoulli_distribution stops(dropout(rng));
    int basket = std::uniform_int_distribution<int>(1, 4)(rng);
    Micros at = year_ago + joined(rng);
    for (int i = 0; i < 60 && at < now; ++i) {
      visits.push_back({at, m, basket});
      if (stops(rng)) break;
      at += kMicrosPerDay / 4 + static_cast<Micros>(gap_days(rng) * kMicrosPerDay);
    }
  }
  std::sort(visits.begin(), visits.end(),
            [](const Visit& a, const Visit& b) { return a.at < b.at; });
  const size_t kBatch = 500;
  int serial = 0;
  for (size_t start = 0; start < visits.size(); start += kBatch) {
    RG_TRY(db.Write([&](store::Tx& tx) -> Status {
      for (size_t k = start; k < std::min(visits.size(), start + kBatch); ++k) {
        const Visit& v = visits[k];
        accounts::Actor a = accounts::SystemActor(merchant.id, v.at);
        loyalty::OrderInput o;
        o.external_id = fmt::format("POS-{:06}", ++serial);
        o.member_id = v.member;
        o.branch_id =
            branch_ids[std::uniform_int_distribution<size_t>(0, branch_ids.size() - 1)(rng)];
        o.occurred_at = v.at;
        int lines = std::uniform_int_distribution<int>(1, v.basket)(rng);
        o.total_minor = 0;
        for (int l = 0; l < lines; ++l) {
          const MenuItem& item =
              kMenu[std::uniform_int_distribution<size_t>(0, std::size(kMenu) - 1)(rng)];
          int64_t qty = std::uniform_int_distribution<int>(1, 2)(rng);
          o.items.push_back(
              {item.sku, item.name, std::string(item.category), qty, item.price_minor});
          o.total_minor += qty * item.price_minor;
        }
        // Some regulars keep a prepaid balance: top up now and then, pay from it often.
        loyalty::WalletContext wc{merchant.currency};
        if (std::bernoulli_distribution(0.03)(rng)) {
          loyalty::WalletTopUpInput top;
          top.amount_minor = std::bernoulli_distribution(0.7)(rng) ? 100000 : 50000;
          top.payment_method = std::bernoulli_distribution(0.5)(rng) ? "cash" : "card";
          top.branch_id = o.branch_id;
          RG_TRY(loyalty::TopUpWallet(tx, a, wc, v.member, top));
        }
        RG_ASSIGN_OR_RETURN(auto placed, loyalty::CreateOrder(tx, a, o));
        // Members bring their gift coupons back now and then.
        if (std::bernoulli_distribution(0.25)(rng)) {
          RG_ASSIGN_OR_RETURN(
              auto mine,
              loyalty::ListCoupons(
                  tx, a, {.member_id = v.member, .state = loyalty::CouponState::kAvailable},
                  std::nullopt, 1));
          if (!mine.items.empty()) {
            loyalty::RedeemCouponInput use;
            use.order_total_minor = o.total_minor;
            use.order_ref = o.external_id;
            use.branch_id = o.branch_id;
            auto used = loyalty::RedeemCoupon(tx, a, mine.items[0].coupon.code, use);
            if (!used && used.error().code != Code::kFailedPrecondition)
              return std::unexpected(used.error());
          }
        }
        // About one order in a hundred comes back: a drink refunded the next day.
        if (std::bernoulli_distribution(0.01)(rng)) {
          accounts::Actor next_day = a;
          next_day.now += kMicrosPerDay;
          loyalty::RefundInput back;
          back.items = std::vector<loyalty::RefundLine>{{placed.order.items[0].line, 1}};
          back.reason = "飲品做錯，退款";
          RG_TRY(loyalty::RefundOrder(tx, next_day, placed.order.id, back));
        }
        if (std::bernoulli_distribution(0.3)(rng)) {
          loyalty::WalletChargeInput pay;
          pay.amount_minor = o.total_minor;
          pay.order_id = IdToString(placed.order.id);
          pay.branch_id = o.branch_id;
          auto charged = loyalty::ChargeWallet(tx, a, wc, v.member, pay);
          if (!charged && charged.error().code != Code::kFailedPrecondition)
            return std::unexpected(charged.error());
        }
        // Now and then a member trades points for a free tea.
        if (std::bernoulli_distribution(0.06)(rng)) {
          loyalty::RedeemInput r;
          r.member_id = v.member;
          r.reward_id = reward_id;
          r.branch_id = o.branch_id;
          r.commit = true;
          accounts::Actor later = a;
          later.now += kMicrosPerSecond;
          auto redeemed = loyalty::Reserve(tx, later, r);
          if (!redeemed && redeemed.error().code != Code::kFailedPrecondition)
            return std::unexpected(redeemed.error());
        }
      }
      return {};
    }));
  }
  spdlog::info("demo orders created: {}", visits.size());
  return {};
}

}  // namespace

Result<bool> SeedDemo(store::Database& db, const Clock& clock, int member_count, uint32_t seed) {
  RG_ASSIGN_OR_RETURN(auto existing,
                      db.ReadValue([](store::Tx& tx) { return accounts::ListMerchants(tx); }));
  if (!existing.empty()) return false;
  DemoLogins logins;
  RG_ASSIGN_OR_RETURN(std::string owner_hash, HashPassword(logins.owner_password));
  RG_ASSIGN_OR_RETURN(std::string manager_hash, HashPassword("demo-manager-pass"));
  RG_ASSIGN_OR_RETURN(std::string cashier_hash, HashPassword(logins.cashier_password));
  std::mt19937 rng(seed);
  auto pick = [&](auto& arr) -> decltype(auto) {
    return arr[std::uniform_int_distribution<size_t>(0, std::size(arr) - 1)(rng)];
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };

  const Micros now = clock.Now();
  accounts::Merchant merchant;
  std::vector<Id> branch_ids;
  RG_TRY(db.Write([&](store::Tx& tx) -> Status {
    accounts::Merchant in;
    in.name = "Demo Tea 示範茶飲";
    RG_ASSIGN_OR_RETURN(merchant, accounts::CreateMerchant(tx, now, in));
    accounts::Actor system = accounts::SystemActor(merchant.id, now);
    const char* names[][3] = {{"台北信義店", "TPE-XY", "台北市信義區松高路 11 號"},
                              {"台北公館店", "TPE-GG", "台北市中正區羅斯福路四段 52 號"},
                              {"台中逢甲店", "TXG-FJ", "台中市西屯區文華路 100 號"},
                              {"高雄巨蛋店", "KHH-JD", "高雄市左營區博愛二路 777 號"}};
    for (auto& n : names) {
      commerce::BranchPatch p;
      p.name = n[0];
      p.code = std::optional<std::string>(n[1]);
      p.address = std::optional<std::string>(n[2]);
      RG_ASSIGN_OR_RETURN(auto b, commerce::CreateBranch(tx, system, p));
      branch_ids.push_back(b.id);
    }
    RG_TRY(accounts::CreateStaff(
        tx, system, {"王店長 Owner", logins.owner_email, accounts::Role::kOwner, owner_hash, {}}));
    RG_TRY(accounts::CreateStaff(tx, system,
                                 {"林經理 Manager",
                                  "manager@demo.regulars.test",
                                  accounts::Role::kManager,
                                  manager_hash,
                                  {}}));
    RG_TRY(accounts::CreateStaff(tx, system,
                                 {"陳小美 Cashier",
                                  logins.cashier_email,
                                  accounts::Role::kCashier,
                                  cashier_hash,
                                  {branch_ids[0]}}));
    return {};
  }));

  // Members, registered over the past three years at the counters, in batches.
  std::set<std::string> phones;
  members::MerchantContext mc{merchant.region};
  const int kBatch = 500;
  for (int start = 0; start < member_count; start += kBatch) {
    std::vector<members::MemberInput> batch;
    for (int i = start; i < std::min(member_count, start + kBatch); ++i) {
      members::MemberInput in;
      std::string phone;
      do {
        phone =
            fmt::format("09{:08}", std::uniform_int_distribution<int>(10'000'000, 99'999'999)(rng));
      } while (!phones.insert(phone).second);
      in.phone = phone;
      bool english = chance(0.15);
      if (chance(0.92))
        in.name = english ? std::optional<std::string>(
                                fmt::format("{} {}", pick(kEnglishFirst), pick(kEnglishLast)))
                          : std::optional<std::string>(std::string(pick(kSurnames)) + pick(kGiven));
      if (chance(0.45)) {
        std::string local = english ? std::string(pick(kEnglishFirst)) : "member";
        std::transform(local.begin(), local.end(), local.begin(), ::tolower);
        in.email = std::optional<std::string>(fmt::format("{}{}@example.com", local, i));
      }
      if (chance(0.7)) {
        int month = std::uniform_int_distribution<int>(1, 12)(rng);
        int day = std::uniform_int_distribution<int>(1, 28)(rng);
        int year = std::uniform_int_distribution<int>(1965, 2008)(rng);
        in.birthday = std::optional<std::string>(
            chance(0.85) ? fmt::format("{:04}-{:02}-{:02}", year, month, day)
                         : fmt::format("--{:02}-{:02}", month, day));
      }
      if (chance(0.8)) in.gender = std::optional<std::string>(chance(0.62) ? "female" : "male");
      const Place& place = pick(kPlaces);
      in.region = std::optional<std::string>(place.region);
      in.city = std::optional<std::string>(pick(place.cities));
      std::vector<std::string> tags;
      if (chance(0.3)) tags.push_back(pick(kTags));
      if (!tags.empty()) in.tags = tags;
      in.language = std::optional<std::string>(english ? "en" : "zh-TW");
      in.consent = {{members::Channel::kSms, chance(0.7)},
                    {members::Channel::kEmail, chance(0.4)},
                    {members::Channel::kLine, chance(0.55)}};
      in.consent_source = "counter";
      in.branch_id =
          branch_ids[std::uniform_int_distribution<size_t>(0, branch_ids.size() - 1)(rng)];
      batch.push_back(std::move(in));
    }
    RG_TRY(db.Write([&](store::Tx& tx) -> Status {
      for (size_t k = 0; k < batch.size(); ++k) {
        // Spread registration over three years, oldest first.
        int index = start + static_cast<int>(k);
        Micros joined = now - (3 * 365 * kMicrosPerDay) * (member_count - index) / member_count;
        accounts::Actor actor = accounts::SystemActor(merchant.id, joined);
        RG_TRY(members::CreateMember(tx, actor, mc, batch[k]));
      }
      return {};
    }));
  }
  RG_TRY(SeedLoyalty(db, clock, merchant, branch_ids, rng));
  spdlog::info("demo merchant created: merchant={} members={}", merchant.id, member_count);
  return true;
}

}  // namespace regulars::cli
