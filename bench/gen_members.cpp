// bench_gen_members: fills a database with one merchant, an owner API key and N members, fast.
//
//   bench_gen_members --database sqlite:/tmp/bench.db --members 1000000
//   bench_gen_members --database postgresql://postgres@127.0.0.1:5432/regulars_test
//
// Prints one JSON object on stdout: {"merchant_id": "...", "api_key": "rk_...", "members": N, ...}.
// Progress goes to stderr.
//
// Members are written with batched multi-row INSERTs (not through CreateMember, which would take
// an hour for a million), into the same columns InsertMember writes, derived search columns
// included (phone_rev, name_fold, email_fold, birth_month, birth_day). No member_created events
// and no consent rows are written: the event log stays empty.
//
// Phones are a formula of the member's index i (0 <= i < N), so a load generator needs no file:
//   k = (i * 7919 + 1234567) mod 10^7        (a bijection of 0..10^7-1: 7919 is prime, not 2 or 5)
//   national "091" + k as 7 digits            e.g. "0911234567"
//   E.164    "+88691" + k as 7 digits          e.g. "+886911234567"
// bench/lookup.lua uses the same formula. --phones-out FILE also writes the national numbers,
// one a line, for other tools.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounts/account_service.h"
#include "base/ids.h"
#include "base/phone.h"
#include "base/text.h"
#include "base/time.h"
#include "members/member.h"
#include "store/db.h"
#include "store/migrations.h"

namespace {

using namespace regulars;
using store::Value;

constexpr int64_t kPhoneSpace = 10'000'000;

int64_t PhoneKey(int64_t i) { return (i * 7919 + 1234567) % kPhoneSpace; }
std::string NationalPhone(int64_t i) { return fmt::format("091{:07d}", PhoneKey(i)); }
std::string E164Phone(int64_t i) { return fmt::format("+88691{:07d}", PhoneKey(i)); }

// Unique per index: an odd multiplier is a bijection modulo 2^40 = 32^8.
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

// Traditional Chinese names, so name_fold (t2s) does real work.
constexpr const char* kSurnames[] = {"陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊",
                                     "許", "鄭", "謝", "郭", "洪", "曾", "邱", "廖", "賴", "周",
                                     "徐", "蘇", "葉", "莊", "呂", "江", "何", "蕭", "羅", "高"};
constexpr const char* kGiven[] = {"雅", "婷", "怡", "君", "志", "明", "家", "豪", "佳", "穎",
                                  "建", "宏", "淑", "芬", "俊", "傑", "美", "玲", "冠", "宇",
                                  "詩", "涵", "柏", "翰", "欣", "儀", "承", "恩", "鈺", "綺"};

struct Generator {
  std::unordered_map<std::string, std::string> fold_cache;

  const std::string& Fold(const std::string& name) {
    auto it = fold_cache.find(name);
    if (it == fold_cache.end()) it = fold_cache.emplace(name, FoldForSearch(name)).first;
    return it->second;
  }

  // Appends the 24 values of one row in the INSERT's column order.
  void Row(std::vector<Value>& v, Id merchant_id, int64_t i, Micros now) {
    uint64_t r = SplitMix(static_cast<uint64_t>(i));
    std::string phone = E164Phone(i);
    std::string name =
        std::string(kSurnames[r % 30]) + kGiven[(r >> 8) % 30] + kGiven[(r >> 16) % 30];
    std::optional<std::string> email;
    if ((r >> 24) % 10 < 3) email = fmt::format("member{}@example.com", i);
    std::optional<Date> birthday;
    if ((r >> 28) % 10 < 6)
      birthday = Date{1960 + static_cast<int>((r >> 32) % 45), 1 + static_cast<int>((r >> 40) % 12),
                      1 + static_cast<int>((r >> 44) % 28)};
    std::optional<std::string> gender;
    if ((r >> 50) % 3 == 0)
      gender = "female";
    else if ((r >> 50) % 3 == 1)
      gender = "male";
    Micros created = now - static_cast<Micros>((r >> 52) % (3 * 365 * 86400)) * kMicrosPerSecond;

    v.push_back(merchant_id);
    v.push_back(NewId());
    v.push_back(phone);
    v.push_back(name);
    v.push_back(store::Opt(email));
    v.push_back(birthday ? Value(FormatDate(*birthday)) : Value());
    v.push_back(store::Opt(gender));
    v.push_back(store::Null());      // region
    v.push_back(store::Null());      // city
    v.push_back(std::string("[]"));  // tags
    v.push_back(std::string("{}"));  // attributes
    v.push_back(store::Null());      // notes
    v.push_back(store::Null());      // language
    v.push_back(ReferralCode(i));
    v.push_back(store::Null());  // home_branch_id
    v.push_back(store::Null());  // merged_into
    v.push_back(store::Null());  // erased_at
    v.push_back(created);
    v.push_back(created);
    v.push_back(members::ReversedDigits(phone));  // phone_rev
    v.push_back(Fold(name));                      // name_fold
    v.push_back(store::Opt(email));               // email_fold (emails are already lower case)
    v.push_back(birthday ? Value(int64_t{birthday->month}) : Value());
    v.push_back(birthday ? Value(int64_t{birthday->day}) : Value());
  }
};

constexpr std::string_view kInsertHead =
    "INSERT INTO members (merchant_id, id, phone, name, email, birthday, gender, region, city, "
    "tags, attributes, notes, language, referral_code, home_branch_id, merged_into, erased_at, "
    "created_at, updated_at, phone_rev, name_fold, email_fold, birth_month, birth_day) VALUES ";
constexpr int kColumns = 24;

std::string InsertSql(int rows) {
  std::string one = "(?";
  for (int c = 1; c < kColumns; ++c) one += ", ?";
  one += ")";
  std::string sql(kInsertHead);
  sql.reserve(sql.size() + static_cast<size_t>(rows) * (one.size() + 2));
  for (int r = 0; r < rows; ++r) {
    if (r) sql += ", ";
    sql += one;
  }
  return sql;
}

int Die(const std::string& what, const Error& e) {
  std::cerr << "bench_gen_members: " << what << ": " << e.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fill a database with a merchant, an API key and N members for benchmarks"};
  std::string url;
  int64_t n = 1'000'000;
  int per_tx = 5000;
  int per_insert = 1000;
  std::string phones_out;
  std::string merchant_name = "Bench Shop";
  app.add_option("--database", url, "sqlite:PATH or postgresql://...")->required();
  app.add_option("--members", n, "how many members (default 1000000, at most 10000000)");
  app.add_option("--rows-per-transaction", per_tx, "rows per write transaction (default 5000)");
  app.add_option("--rows-per-insert", per_insert,
                 "rows per INSERT statement (default 1000; 24 parameters a row)");
  app.add_option("--phones-out", phones_out, "also write the national phone numbers to FILE");
  app.add_option("--merchant-name", merchant_name, "the merchant's name");
  CLI11_PARSE(app, argc, argv);
  if (n < 0 || n > kPhoneSpace) {
    std::cerr << "bench_gen_members: --members must be 0 to 10000000\n";
    return 2;
  }
  if (per_insert < 1 || per_insert > 1300 || per_tx < per_insert) {
    std::cerr << "bench_gen_members: need 1 <= --rows-per-insert <= 1300 (SQLite's 32766 "
                 "parameter limit) and --rows-per-transaction >= --rows-per-insert\n";
    return 2;
  }

  // The formula must produce numbers the server accepts and normalises back to our E.164.
  for (int64_t i = 0; i < n; i += 997) {
    auto p = NormalizePhone(NationalPhone(i), "TW");
    if (!p || p->e164 != E164Phone(i)) {
      std::cerr << "bench_gen_members: phone formula gives an invalid number at index " << i << ": "
                << NationalPhone(i) << "\n";
      return 1;
    }
  }

  store::Options options;
  options.url = url;
  options.sqlite_synchronous = "NORMAL";  // a generated database; crash safety is irrelevant
  options.pool_size = 2;
  auto db = store::Open(options);
  if (!db) return Die("open", db.error());
  const Clock& clock = *SystemClock::Default();
  auto migrated = store::Migrate(**db, clock);
  if (!migrated) return Die("migrate", migrated.error());

  struct Created {
    accounts::Merchant merchant;
    accounts::NewApiKey key;
  };
  auto created = (*db)->WriteValue([&](store::Tx& tx) -> Result<Created> {
    accounts::Merchant m;
    m.name = merchant_name;
    RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock.Now(), m));
    RG_ASSIGN_OR_RETURN(auto key, accounts::CreateApiKey(tx, clock.Now(), merchant.id, "benchmark",
                                                         accounts::Role::kOwner));
    return Created{merchant, key};
  });
  if (!created) return Die("create merchant", created.error());
  const Id merchant_id = created->merchant.id;

  auto started = std::chrono::steady_clock::now();
  Generator gen;
  const Micros now = clock.Now();
  std::unordered_map<int, std::string> sql_by_rows;
  std::vector<Value> params;
  int64_t next_report = 100'000;
  for (int64_t begin = 0; begin < n; begin += per_tx) {
    const int64_t end = std::min<int64_t>(n, begin + per_tx);
    auto s = (*db)->Write([&](store::Tx& tx) -> Status {
      for (int64_t b = begin; b < end; b += per_insert) {
        const int rows = static_cast<int>(std::min<int64_t>(end, b + per_insert) - b);
        params.clear();
        params.reserve(static_cast<size_t>(rows) * kColumns);
        for (int64_t i = b; i < b + rows; ++i) gen.Row(params, merchant_id, i, now);
        auto it = sql_by_rows.find(rows);
        if (it == sql_by_rows.end()) it = sql_by_rows.emplace(rows, InsertSql(rows)).first;
        RG_TRY(tx.Exec(it->second, params));
      }
      return {};
    });
    if (!s) return Die(fmt::format("insert rows {}..{}", begin, end), s.error());
    if (end >= next_report || end == n) {
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::cerr << fmt::format("  {} members, {:.1f} s, {:.0f} rows/s\n", end, secs, end / secs);
      next_report += 100'000;
    }
  }
  double insert_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto analyze_started = std::chrono::steady_clock::now();
  auto analyzed = (*db)->Write([](store::Tx& tx) -> Status { return tx.ExecScript("ANALYZE"); });
  if (!analyzed) return Die("analyze", analyzed.error());
  double analyze_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - analyze_started).count();

  if (!phones_out.empty()) {
    std::ofstream out(phones_out);
    for (int64_t i = 0; i < n; ++i) out << NationalPhone(i) << '\n';
    if (!out) {
      std::cerr << "bench_gen_members: cannot write " << phones_out << "\n";
      return 1;
    }
  }

  std::cout << nlohmann::json{{"merchant_id", IdToString(merchant_id)},
                              {"api_key", created->key.secret},
                              {"members", n},
                              {"database", (*db)->Describe()},
                              {"insert_seconds", insert_secs},
                              {"analyze_seconds", analyze_secs},
                              {"phone_formula",
                               "national '091' + 7 digits of (i*7919+1234567) mod 10^7, "
                               "0 <= i < members"}}
                   .dump()
            << std::endl;
  return 0;
}
