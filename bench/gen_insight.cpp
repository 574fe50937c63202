// bench_gen_insight: one merchant with N members and M orders (with items, refunds, branches,
// tiers, consents, tags, points and wallet balances) for the insight benchmark, fast.
//
//   bench_gen_insight --database sqlite:/tmp/insight.db --members 1000000 --orders 10000000
//                     --csv-dir /tmp/insight-csv
//   bench_gen_insight --database "$REGULARS_TEST_PG" --members 1000000 --orders 10000000
//
// Prints one JSON object on stdout: {"merchant_id": ..., "members": N, "orders": M, "items": ...,
// "now": ..., "seconds": {...}}. Progress goes to stderr.
//
// Contract:
// - Deterministic: the same --members, --orders, --seed and --now give the same rows on every
//   database (member, order and other ids included; only the merchant's id and API-free setup
//   rows made by accounts::CreateMerchant differ), so counts from SQLite, PostgreSQL and the CSV
//   files agree. Every random draw is a function of (seed, entity index), not of the batching.
// - The schema is made by store::Migrate; rows go in with multi-row INSERTs in transactions of
//   --members-per-transaction members (with their orders), not through the order service. Like
//   an import of history, it writes no events: merchants.last_event_seq stays 0.
// - --csv-dir also writes the columns the segment question reads (members, member_consents,
//   orders, order_items) as CSV files with a header line, for DuckDB.
// - Times are whole seconds (micros divisible by 10^6); orders fall between 10:00 and 21:00
//   Asia/Taipei. "now" (--now, default 2026-12-01T00:00:00Z) is the end of the history.
//
// The data: members join uniformly over the three years before now; a member's order count is
// proportional to a Gamma(0.7) draw (so a few members buy a lot and ~12% never buy), 35% of
// members stop buying at a uniform time before now, and each order has 1-3 lines from a
// catalogue of 6 categories x 12 skus, 55% from the member's favourite category. 3% of orders are
// anonymous (no member). 1% of orders are refunded, half fully and half by their last line.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounts/account_service.h"
#include "base/ids.h"
#include "base/text.h"
#include "base/time.h"
#include "members/member.h"
#include "store/db.h"
#include "store/migrations.h"

namespace {

using namespace regulars;
using store::Value;

constexpr int64_t kPhoneSpace = 10'000'000;
constexpr int64_t kDay = 86'400;

// Ids shaped like NewId's (milliseconds in the high bits) but a function of the index.
constexpr Id kMemberIdBase = int64_t{1'672'531'200'000} << 22;  // 2023-01-01
constexpr Id kOrderIdBase = int64_t{1'685'577'600'000} << 22;   // 2023-06-01
constexpr Id kRefundIdBase = int64_t{1'701'388'800'000} << 22;  // 2023-12-01
constexpr Id kSetupIdBase = int64_t{1'669'852'800'000} << 22;   // 2022-12-01: branches, tiers

int64_t PhoneKey(int64_t i) { return (i * 7919 + 1234567) % kPhoneSpace; }
std::string E164Phone(int64_t i) { return fmt::format("+88691{:07d}", PhoneKey(i)); }

std::string ReferralCode(int64_t i) {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  uint64_t x = (static_cast<uint64_t>(i) * 0x9E3779B1ull + 0x2545F491ull) & ((1ull << 40) - 1);
  std::string out(8, 'A');
  for (int p = 7; p >= 0; --p) {
    out[p] = kAlphabet[x & 31];
    x >>= 5;
  }
  return out;
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A small deterministic stream: one per (seed, kind, index).
struct Rng {
  uint64_t s;
  Rng(uint64_t seed, uint64_t kind, uint64_t index)
      : s(SplitMix(seed ^ SplitMix(kind * 0x100000001B3ull ^ SplitMix(index)))) {}
  uint64_t Next() { return s = SplitMix(s); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  bool Chance(double p) { return Unit() < p; }
  // Marsaglia-Tsang, with the shape < 1 boost.
  double Gamma(double shape) {
    if (shape < 1) return Gamma(shape + 1) * std::pow(std::max(Unit(), 1e-300), 1 / shape);
    const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    while (true) {
      double x, v;
      do {
        // Box-Muller normal.
        double u1 = std::max(Unit(), 1e-300), u2 = Unit();
        x = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      double u = Unit();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(std::max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
    }
  }
};

enum Kind : uint64_t { kMemberKind = 1, kOrdersKind, kAnonKind };

template <class T>
const T& Pick(Rng& r, const std::vector<std::pair<T, double>>& weighted) {
  double u = r.Unit(), acc = 0;
  for (auto& [v, w] : weighted) {
    acc += w;
    if (u < acc) return v;
  }
  return weighted.back().first;
}

struct Region {
  std::string name;
  double weight;
  std::vector<std::string> cities;
};
// 8% of members have no region.
const std::vector<Region> kRegions = {
    {"台北市", 0.20, {"大安區", "信義區", "中山區", "內湖區"}},
    {"新北市", 0.18, {"板橋區", "新店區", "中和區", "三重區"}},
    {"桃園市", 0.09, {"桃園區", "中壢區", "龜山區"}},
    {"台中市", 0.13, {"西屯區", "北屯區", "南屯區"}},
    {"台南市", 0.08, {"東區", "永康區", "中西區"}},
    {"高雄市", 0.11, {"左營區", "三民區", "苓雅區"}},
    {"新竹市", 0.05, {"東區", "北區"}},
    {"基隆市", 0.03, {"仁愛區", "信義區"}},
    {"宜蘭縣", 0.03, {"宜蘭市", "羅東鎮"}},
    {"花蓮縣", 0.03, {"花蓮市", "吉安鄉"}},
};
// Branches: three in each of the first six regions, one in each of the others (22).
constexpr int kBranchesPerBigRegion = 3;

struct Category {
  std::string name;
  double weight;       // of a random (non-favourite) line, and of being a favourite
  int64_t lo, hi;      // unit price range in NT$
  const char* prefix;  // sku prefix
  const char* label;   // product name stem
};
const std::vector<Category> kCategories = {
    {"tea", 0.35, 60, 180, "TEA", "茶"},
    {"coffee", 0.30, 80, 200, "COF", "咖啡"},
    {"pastry", 0.15, 50, 120, "PAS", "點心"},
    {"snack", 0.10, 30, 90, "SNK", "零食"},
    {"merchandise", 0.07, 300, 1200, "MER", "周邊"},
    {"gift", 0.03, 500, 2000, "GFT", "禮盒"},
};
constexpr int kSkusPerCategory = 12;

const std::vector<std::pair<std::string, double>> kTags = {
    {"vip", 0.05},      {"student", 0.10},    {"office", 0.20},    {"family", 0.15},
    {"tea-club", 0.12}, {"early-bird", 0.08}, {"wholesale", 0.01}, {"staff", 0.005},
};

struct Sku {
  std::string sku, name;
  int category;
  int64_t price_minor;
};

std::vector<Sku> Catalogue() {
  std::vector<Sku> out;
  for (int c = 0; c < static_cast<int>(kCategories.size()); ++c) {
    const auto& cat = kCategories[c];
    for (int k = 0; k < kSkusPerCategory; ++k) {
      int64_t price = cat.lo + (cat.hi - cat.lo) * k / (kSkusPerCategory - 1);
      price = price / 5 * 5;
      out.push_back({fmt::format("{}-{:02d}", cat.prefix, k + 1),
                     fmt::format("{} {}號", cat.label, k + 1), c, price * 100});
    }
  }
  return out;
}

// Rows of one table for one transaction, inserted in slices of `per_insert` rows.
struct Table {
  Table(std::string n, std::vector<std::string> c) : name(std::move(n)), columns(std::move(c)) {}
  std::string name;
  std::vector<std::string> columns;
  std::vector<Value> values;
  int64_t rows_total = 0;
  std::map<int, std::string> sql_by_rows;

  size_t Rows() const { return values.size() / columns.size(); }
  const std::string& Sql(int rows) {
    auto it = sql_by_rows.find(rows);
    if (it != sql_by_rows.end()) return it->second;
    std::string one = "(?";
    for (size_t c = 1; c < columns.size(); ++c) one += ", ?";
    one += ")";
    std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ", name, fmt::join(columns, ", "));
    for (int r = 0; r < rows; ++r) {
      if (r) sql += ", ";
      sql += one;
    }
    return sql_by_rows.emplace(rows, std::move(sql)).first->second;
  }
  Status Flush(store::Tx& tx, int max_params) {
    const size_t width = columns.size();
    const size_t per = std::max<size_t>(1, static_cast<size_t>(max_params) / width);
    const size_t n = Rows();
    std::vector<Value> slice;
    for (size_t b = 0; b < n; b += per) {
      const size_t rows = std::min(per, n - b);
      slice.assign(values.begin() + static_cast<ptrdiff_t>(b * width),
                   values.begin() + static_cast<ptrdiff_t>((b + rows) * width));
      RG_TRY(tx.Exec(Sql(static_cast<int>(rows)), slice));
    }
    rows_total += static_cast<int64_t>(n);
    values.clear();
    return {};
  }
};

// A CSV file with a big buffer; fields are written already quoted where needed.
class Csv {
 public:
  Csv(const std::filesystem::path& path, std::string_view header) {
    f_ = std::fopen(path.c_str(), "w");
    if (f_) {
      std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
      std::fputs(std::string(header).c_str(), f_);
      std::fputc('\n', f_);
    }
  }
  ~Csv() {
    if (f_) std::fclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  void Line(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), f_);
    std::fputc('\n', f_);
  }
  bool Close() {
    bool good = f_ && std::fflush(f_) == 0 && !std::ferror(f_);
    if (f_) good = std::fclose(f_) == 0 && good;
    f_ = nullptr;
    return good;
  }

 private:
  FILE* f_ = nullptr;
};

std::string CsvQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

int Die(const std::string& what, const Error& e) {
  std::cerr << "bench_gen_insight: " << what << ": " << e.ToString() << "\n";
  return 1;
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Fill a database with one merchant's members and order history for the insight "
      "benchmark"};
  std::string url, csv_dir, now_text = "2026-12-01T00:00:00Z";
  int64_t n_members = 1'000'000, n_orders = 10'000'000;
  int members_per_tx = 5000;
  int max_params = 30000;
  uint64_t seed = 20261201;
  app.add_option("--database", url, "sqlite:PATH or postgresql://...")->required();
  app.add_option("--members", n_members, "members (default 1000000, at most 10000000)");
  app.add_option("--orders", n_orders, "orders, 3% of them anonymous (default 10000000)");
  app.add_option("--csv-dir", csv_dir, "also write the segment question's tables as CSV here");
  app.add_option("--now", now_text, "end of the history, RFC 3339 (default 2026-12-01T00:00:00Z)");
  app.add_option("--seed", seed, "random seed (default 20261201)");
  app.add_option("--members-per-transaction", members_per_tx,
                 "members (with their orders) per write transaction (default 5000)");
  app.add_option("--max-params", max_params,
                 "bound parameters per INSERT statement (default 30000; SQLite allows 32766)");
  CLI11_PARSE(app, argc, argv);
  if (n_members < 1 || n_members > kPhoneSpace) {
    std::cerr << "bench_gen_insight: --members must be 1 to 10000000\n";
    return 2;
  }
  if (n_orders < 0 || n_orders > 1'000'000'000) {
    std::cerr << "bench_gen_insight: --orders must be 0 to 1000000000\n";
    return 2;
  }
  if (members_per_tx < 1 || max_params < 30 || max_params > 32766) {
    std::cerr << "bench_gen_insight: need --members-per-transaction >= 1 and 30 <= --max-params "
                 "<= 32766\n";
    return 2;
  }
  auto now_parsed = ParseRfc3339(now_text);
  if (!now_parsed || *now_parsed % kMicrosPerSecond != 0) {
    std::cerr << "bench_gen_insight: --now: \"" << now_text
              << "\" is not an RFC 3339 time in whole seconds\n";
    return 2;
  }
  const Micros now = *now_parsed;
  const int64_t now_s = now / kMicrosPerSecond;

  store::Options options;
  options.url = url;
  options.sqlite_synchronous = "OFF";  // a generated database; crash safety is irrelevant
  options.pool_size = 2;
  auto db = store::Open(options);
  if (!db) return Die("open", db.error());
  const bool sqlite = (*db)->dialect() == store::Dialect::kSqlite;
  ManualClock clock(now);
  auto migrated = store::Migrate(**db, clock);
  if (!migrated) return Die("migrate", migrated.error());

  auto started = std::chrono::steady_clock::now();
  auto merchant = (*db)->WriteValue([&](store::Tx& tx) -> Result<accounts::Merchant> {
    accounts::Merchant m;
    m.name = "Insight Tea House";
    return accounts::CreateMerchant(tx, now - 3 * 365 * kDay * kMicrosPerSecond, m);
  });
  if (!merchant) return Die("create merchant", merchant.error());
  const Id mid = merchant->id;

  // ---- setup rows: branches, a point type, tiers ----
  struct Branch {
    Id id;
    int region;
  };
  std::vector<Branch> branches;
  std::vector<std::vector<int>> branches_of_region(kRegions.size());
  for (int r = 0; r < static_cast<int>(kRegions.size()); ++r) {
    const int k = r < 6 ? kBranchesPerBigRegion : 1;
    for (int j = 0; j < k; ++j) {
      branches_of_region[r].push_back(static_cast<int>(branches.size()));
      branches.push_back({kSetupIdBase + 100 + static_cast<Id>(branches.size()), r});
    }
  }
  const Id point_type_id = kSetupIdBase + 1;
  struct TierDef {
    Id id;
    int level;
    const char* name;
    int64_t threshold_minor;  // spend in the last 365 days
  };
  const std::vector<TierDef> tiers = {{kSetupIdBase + 11, 1, "銀卡", 200'000},
                                      {kSetupIdBase + 12, 2, "金卡", 800'000},
                                      {kSetupIdBase + 13, 3, "黑卡", 2'000'000}};
  const Micros setup_at = now - 3 * 365 * kDay * kMicrosPerSecond;
  auto setup = (*db)->Write([&](store::Tx& tx) -> Status {
    for (size_t b = 0; b < branches.size(); ++b) {
      const auto& region = kRegions[branches[b].region];
      RG_TRY(tx.Exec(
          "INSERT INTO branches (merchant_id, id, name, code, address, phone, active, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, ?, NULL, 1, ?, ?)",
          {mid, branches[b].id, fmt::format("{}{}店", region.name, b + 1),
           fmt::format("B{:02d}", b + 1), region.name, setup_at, setup_at}));
    }
    RG_TRY(
        tx.Exec("INSERT INTO point_types (merchant_id, id, code, name, expiry_kind, expiry_n, "
                "value_minor_per_1000, refund_shortfall, active, created_at, updated_at) VALUES "
                "(?, ?, 'points', '點數', 'never', 0, 1000, 'negative', 1, ?, ?)",
                {mid, point_type_id, setup_at, setup_at}));
    RG_TRY(tx.Exec(
        "INSERT INTO tier_programs (merchant_id, metric, point_type_id, window_kind, window_days, "
        "grace_days, updated_at) VALUES (?, 'spend', NULL, 'rolling_days', 365, 30, ?)",
        {mid, setup_at}));
    for (const auto& t : tiers)
      RG_TRY(tx.Exec(
          "INSERT INTO tiers (merchant_id, id, level, name, threshold, earn_multiplier_milli, "
          "benefits, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1000, '{}', ?, ?)",
          {mid, t.id, int64_t{t.level}, std::string(t.name), t.threshold_minor, setup_at,
           setup_at}));
    if (sqlite) RG_TRY(tx.ExecScript("PRAGMA cache_size=-1048576"));  // 1 GiB for the load
    return {};
  });
  if (!setup) return Die("setup rows", setup.error());

  // ---- order counts per member: proportional to Gamma(0.7), exactly n_orders in all ----
  const int64_t n_anon = n_orders * 3 / 100;
  const int64_t n_member_orders = n_orders - n_anon;
  std::vector<int32_t> order_count(static_cast<size_t>(n_members));
  {
    std::vector<double> w(static_cast<size_t>(n_members));
    double total = 0;
    for (int64_t i = 0; i < n_members; ++i) {
      Rng r(seed, kOrdersKind, static_cast<uint64_t>(i));
      w[i] = r.Gamma(0.7);
      total += w[i];
    }
    int64_t assigned = 0;
    for (int64_t i = 0; i < n_members; ++i) {
      order_count[i] = static_cast<int32_t>(std::floor(w[i] / total * n_member_orders));
      assigned += order_count[i];
    }
    // The rounding remainder: one more order each for members picked at a fixed stride.
    for (int64_t k = 0; assigned < n_member_orders; ++k, ++assigned)
      order_count[(k * 7919 + 13) % n_members] += 1;
  }

  const std::vector<Sku> catalogue = Catalogue();
  std::vector<std::pair<int, double>> category_weights;
  for (int c = 0; c < static_cast<int>(kCategories.size()); ++c)
    category_weights.push_back({c, kCategories[c].weight});
  std::vector<std::pair<int, double>> region_weights;
  for (int r = 0; r < static_cast<int>(kRegions.size()); ++r)
    region_weights.push_back({r, kRegions[r].weight});
  region_weights.push_back({-1, 1.0});  // the rest: no region

  Table members{"members",
                {"merchant_id", "id", "phone", "phone_rev", "name", "name_fold", "birthday",
                 "birth_month", "birth_day", "gender", "region", "city", "tags", "attributes",
                 "language", "referral_code", "home_branch_id", "created_at", "updated_at"}};
  Table consents{"member_consents",
                 {"merchant_id", "member_id", "channel", "granted", "changed_at", "source"}};
  Table balances{"point_balances",
                 {"merchant_id", "member_id", "point_type_id", "balance", "debt", "earned_total",
                  "updated_at"}};
  Table wallets{
      "wallet_balances",
      {"merchant_id", "member_id", "paid_minor", "bonus_minor", "last_seq", "updated_at"}};
  Table member_tiers{"member_tiers", {"merchant_id", "member_id", "level", "since", "reviewed_at"}};
  Table orders{"orders",
               {"merchant_id", "id", "external_id", "member_id", "branch_id", "occurred_at",
                "currency", "total_minor", "refunded_minor", "source", "created_at"}};
  Table items{"order_items",
              {"merchant_id", "order_id", "line", "sku", "name", "category", "quantity",
               "unit_price_minor", "refunded_quantity"}};
  Table refunds{"refunds",
                {"merchant_id", "id", "order_id", "amount_minor", "reason", "created_at"}};

  std::unique_ptr<Csv> csv_members, csv_consents, csv_orders, csv_items;
  if (!csv_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(csv_dir, ec);
    namespace fs = std::filesystem;
    csv_members = std::make_unique<Csv>(
        fs::path(csv_dir) / "members.csv",
        "merchant_id,id,birth_month,birth_day,gender,region,city,tags,language,home_branch_id,"
        "merged_into,erased_at,created_at");
    csv_consents = std::make_unique<Csv>(fs::path(csv_dir) / "member_consents.csv",
                                         "merchant_id,member_id,channel,granted,changed_at");
    csv_orders = std::make_unique<Csv>(
        fs::path(csv_dir) / "orders.csv",
        "merchant_id,id,member_id,branch_id,occurred_at,total_minor,refunded_minor");
    csv_items = std::make_unique<Csv>(
        fs::path(csv_dir) / "order_items.csv",
        "merchant_id,order_id,line,sku,category,quantity,unit_price_minor,refunded_quantity");
    if (!csv_members->ok() || !csv_consents->ok() || !csv_orders->ok() || !csv_items->ok()) {
      std::cerr << "bench_gen_insight: --csv-dir: cannot create files in " << csv_dir << "\n";
      return 1;
    }
  }

  std::unordered_map<std::string, std::string> fold_cache;
  auto fold = [&](const std::string& name) -> const std::string& {
    auto it = fold_cache.find(name);
    if (it == fold_cache.end()) it = fold_cache.emplace(name, FoldForSearch(name)).first;
    return it->second;
  };
  static constexpr const char* kSurnames[] = {"陳", "林", "黃", "張", "李", "王", "吳", "劉",
                                              "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾"};
  static constexpr const char* kGiven[] = {"雅", "婷", "怡", "君", "志", "明", "家", "豪",
                                           "佳", "穎", "建", "宏", "淑", "芬", "俊", "傑"};
  static constexpr const char* kChannels[] = {"sms", "email", "line"};
  static constexpr double kGranted[] = {0.75, 0.45, 0.55};
  static constexpr double kRefused[] = {0.10, 0.15, 0.10};

  const int64_t history_s = 3 * 365 * kDay;
  int64_t next_order = 0;  // order index, for ids and external ids
  int64_t n_items = 0, n_refunds = 0, n_buyers = 0;
  std::vector<int64_t> times;

  // Appends one order's rows (order, items, refund) to the tables and the CSV files.
  auto add_order = [&](Rng& r, std::optional<Id> member, Id branch, int64_t at_s,
                       int favourite) -> void {
    const int64_t j = next_order++;
    const Id oid = kOrderIdBase + j;
    int lines = 1 + (r.Chance(0.45) ? 1 : 0) + (r.Chance(0.15) ? 1 : 0);
    int64_t total = 0, last_line = 0;
    struct Line {
      const Sku* sku;
      int64_t qty;
    };
    Line ls[3];
    for (int l = 0; l < lines; ++l) {
      int cat = (favourite >= 0 && r.Chance(0.55)) ? favourite : Pick(r, category_weights);
      const Sku& s = catalogue[cat * kSkusPerCategory + r.Below(kSkusPerCategory)];
      int64_t qty = r.Chance(0.8) ? 1 : 2;
      ls[l] = {&s, qty};
      total += s.price_minor * qty;
      last_line = s.price_minor * qty;
    }
    // Refunds: 0.5% fully, 0.5% the last line (fully when it is the only line).
    double u = r.Unit();
    int64_t refunded = 0;
    bool full = false, partial = false;
    if (u < 0.005) {
      full = true;
      refunded = total;
    } else if (u < 0.01) {
      partial = true;
      refunded = last_line;
      if (lines == 1) full = true;
    }
    const Micros at = at_s * kMicrosPerSecond;
    orders.values.insert(orders.values.end(),
                         {mid, oid, fmt::format("ord-{:010d}", j), store::Opt(member), branch, at,
                          std::string("TWD"), total, refunded, std::string("import"), at});
    if (csv_orders)
      csv_orders->Line(fmt::format("{},{},{},{},{},{},{}", mid, oid,
                                   member ? std::to_string(*member) : std::string(), branch, at,
                                   total, refunded));
    for (int l = 0; l < lines; ++l) {
      const Sku& s = *ls[l].sku;
      const int64_t rq = (full || (partial && l == lines - 1)) ? ls[l].qty : 0;
      items.values.insert(items.values.end(),
                          {mid, oid, int64_t{l + 1}, s.sku, s.name, kCategories[s.category].name,
                           ls[l].qty, s.price_minor, rq});
      if (csv_items)
        csv_items->Line(fmt::format("{},{},{},{},{},{},{},{}", mid, oid, l + 1, s.sku,
                                    kCategories[s.category].name, ls[l].qty, s.price_minor, rq));
    }
    n_items += lines;
    if (refunded > 0) {
      const int64_t refund_at = std::min(now_s, at_s + kDay * (1 + r.Below(7)));
      refunds.values.insert(refunds.values.end(),
                            {mid, kRefundIdBase + n_refunds, oid, refunded,
                             std::string("customer request"), refund_at * kMicrosPerSecond});
      ++n_refunds;
    }
  };

  // A whole second between 10:00 and 21:00 Asia/Taipei (02:00-13:00 UTC) on a day in [lo, hi].
  auto time_in = [&](Rng& r, int64_t lo_s, int64_t hi_s) -> int64_t {
    const int64_t lo_day = lo_s / kDay, hi_day = std::max(lo_day, hi_s / kDay);
    const int64_t day = lo_day + r.Below(hi_day - lo_day + 1);
    int64_t t = day * kDay + 2 * 3600 + r.Below(11 * 3600);
    return std::clamp(t, lo_s, std::max(lo_s, hi_s));
  };

  int64_t next_report = 100'000;
  for (int64_t begin = 0; begin < n_members; begin += members_per_tx) {
    const int64_t end = std::min<int64_t>(n_members, begin + members_per_tx);
    for (int64_t i = begin; i < end; ++i) {
      Rng r(seed, kMemberKind, static_cast<uint64_t>(i));
      const Id id = kMemberIdBase + i;
      const int64_t joined_s = now_s - history_s + r.Below(history_s - kDay);
      const int region = Pick(r, region_weights);
      std::optional<std::string> region_name, city;
      if (region >= 0) {
        region_name = kRegions[region].name;
        city =
            kRegions[region].cities[r.Below(static_cast<int64_t>(kRegions[region].cities.size()))];
      }
      const auto& home_list = branches_of_region[region >= 0 ? region : r.Below(6)];
      const Id home_branch =
          branches[home_list[r.Below(static_cast<int64_t>(home_list.size()))]].id;
      std::string name =
          std::string(kSurnames[r.Below(16)]) + kGiven[r.Below(16)] + kGiven[r.Below(16)];
      std::optional<Date> birthday;
      if (r.Chance(0.6))
        birthday = Date{1960 + static_cast<int>(r.Below(45)), 1 + static_cast<int>(r.Below(12)),
                        1 + static_cast<int>(r.Below(28))};
      std::optional<std::string> gender;
      if (double g = r.Unit(); g < 0.52)
        gender = "female";
      else if (g < 0.90)
        gender = "male";
      std::optional<std::string> language;
      if (double g = r.Unit(); g < 0.85)
        language = "zh-TW";
      else if (g < 0.95)
        language = "en";
      std::vector<std::string> tag_list;
      for (auto& [tag, p] : kTags)
        if (r.Chance(p)) tag_list.push_back(tag);
      const std::string tags = nlohmann::json(tag_list).dump();
      const int favourite = Pick(r, category_weights);
      const std::string phone = E164Phone(i);
      const Micros joined = joined_s * kMicrosPerSecond;

      // Orders: uniform over the active span, oldest first.
      const int count = order_count[i];
      const int64_t stop_s = r.Chance(0.35) ? joined_s + r.Below(now_s - joined_s) : now_s - 1;
      times.clear();
      for (int k = 0; k < count; ++k) times.push_back(time_in(r, joined_s, stop_s));
      std::sort(times.begin(), times.end());
      const int64_t first_order = next_order;
      for (int k = 0; k < count; ++k) {
        Id branch = r.Chance(0.8) ? home_branch
                                  : branches[r.Below(static_cast<int64_t>(branches.size()))].id;
        add_order(r, id, branch, times[k], favourite);
      }
      if (count > 0) ++n_buyers;
      // Spend (net) in the last 365 days and overall, for tiers and points.
      int64_t spend_all = 0, spend_365 = 0;
      {
        const size_t width = orders.columns.size();
        const size_t rows = orders.Rows();
        for (size_t k = rows - static_cast<size_t>(next_order - first_order); k < rows; ++k) {
          const int64_t net = std::get<int64_t>(orders.values[k * width + 7]) -
                              std::get<int64_t>(orders.values[k * width + 8]);
          spend_all += net;
          if (std::get<int64_t>(orders.values[k * width + 5]) >=
              (now_s - 365 * kDay) * kMicrosPerSecond)
            spend_365 += net;
        }
      }

      members.values.insert(members.values.end(),
                            {mid, id, phone, members::ReversedDigits(phone), name, fold(name),
                             birthday ? Value(FormatDate(*birthday)) : Value(),
                             birthday ? Value(int64_t{birthday->month}) : Value(),
                             birthday ? Value(int64_t{birthday->day}) : Value(), store::Opt(gender),
                             store::Opt(region_name), store::Opt(city), tags, std::string("{}"),
                             store::Opt(language), ReferralCode(i), home_branch, joined, joined});
      if (csv_members)
        csv_members->Line(fmt::format("{},{},{},{},{},{},{},{},{},{},,,{}", mid, id,
                                      birthday ? std::to_string(birthday->month) : "",
                                      birthday ? std::to_string(birthday->day) : "",
                                      gender.value_or(""), region_name.value_or(""),
                                      city.value_or(""), CsvQuote(tags), language.value_or(""),
                                      home_branch, joined));
      for (int c = 0; c < 3; ++c) {
        double u = r.Unit();
        if (u >= kGranted[c] + kRefused[c]) continue;  // never asked
        const int64_t granted = u < kGranted[c] ? 1 : 0;
        consents.values.insert(consents.values.end(), {mid, id, std::string(kChannels[c]), granted,
                                                       joined, std::string("import")});
        if (csv_consents)
          csv_consents->Line(fmt::format("{},{},{},{},{}", mid, id, kChannels[c], granted, joined));
      }
      if (spend_all > 0) {
        // One point per NT$100 net; some of it spent.
        const int64_t earned = spend_all / 10'000;
        const int64_t balance = earned - earned * r.Below(60) / 100;
        balances.values.insert(balances.values.end(),
                               {mid, id, point_type_id, balance, int64_t{0}, earned, now});
      }
      if (r.Chance(0.18)) {
        const int64_t paid = 100 * 100 * (1 + r.Below(50));
        const int64_t bonus = r.Chance(0.5) ? paid / 10 : 0;
        wallets.values.insert(wallets.values.end(), {mid, id, paid, bonus, int64_t{0}, joined});
      }
      for (auto t = tiers.rbegin(); t != tiers.rend(); ++t) {
        if (spend_365 >= t->threshold_minor) {
          member_tiers.values.insert(
              member_tiers.values.end(),
              {mid, id, int64_t{t->level}, now - r.Below(180) * kDay * kMicrosPerSecond, now});
          break;
        }
      }
      // Anonymous orders, spread evenly over the member indexes.
      const int64_t anon = n_anon * (i + 1) / n_members - n_anon * i / n_members;
      for (int64_t k = 0; k < anon; ++k) {
        Rng ar(seed, kAnonKind, static_cast<uint64_t>(next_order));
        add_order(ar, std::nullopt, branches[ar.Below(static_cast<int64_t>(branches.size()))].id,
                  time_in(ar, now_s - history_s, now_s - 1), -1);
      }
    }
    auto s = (*db)->Write([&](store::Tx& tx) -> Status {
      for (Table* t :
           {&members, &consents, &balances, &wallets, &member_tiers, &orders, &items, &refunds})
        RG_TRY(t->Flush(tx, max_params));
      return {};
    });
    if (!s) return Die(fmt::format("insert members {}..{}", begin, end), s.error());
    if (end >= next_report || end == n_members) {
      const double secs = Since(started);
      std::cerr << fmt::format("  {} members, {} orders, {:.1f} s, {:.0f} orders/s\n", end,
                               next_order, secs, next_order / secs);
      while (next_report <= end) next_report += 100'000;
    }
  }
  const double insert_secs = Since(started);

  auto analyze_started = std::chrono::steady_clock::now();
  auto analyzed = (*db)->Write([](store::Tx& tx) -> Status { return tx.ExecScript("ANALYZE"); });
  if (!analyzed) return Die("analyze", analyzed.error());
  const double analyze_secs = Since(analyze_started);

  bool csv_ok = true;
  for (auto* c : {csv_members.get(), csv_consents.get(), csv_orders.get(), csv_items.get()})
    if (c) csv_ok = c->Close() && csv_ok;
  if (!csv_ok) {
    std::cerr << "bench_gen_insight: --csv-dir: writing the CSV files failed\n";
    return 1;
  }

  std::cout << nlohmann::json{{"merchant_id", IdToString(mid)},
                              {"database", (*db)->Describe()},
                              {"now", FormatRfc3339(now)},
                              {"now_micros", now},
                              {"members", members.rows_total},
                              {"buyers", n_buyers},
                              {"orders", orders.rows_total},
                              {"anonymous_orders", n_anon},
                              {"items", items.rows_total},
                              {"refunds", refunds.rows_total},
                              {"consents", consents.rows_total},
                              {"point_balances", balances.rows_total},
                              {"wallet_balances", wallets.rows_total},
                              {"member_tiers", member_tiers.rows_total},
                              {"branches", branches.size()},
                              {"csv_dir", csv_dir},
                              {"insert_seconds", insert_secs},
                              {"analyze_seconds", analyze_secs}}
                   .dump()
            << std::endl;
  return 0;
}
