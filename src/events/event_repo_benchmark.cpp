// bench_events: one transaction that appends N events for one merchant, as the daily point-expiry
// sweep does over thousands of members, timed two ways in the same run:
//
//   bench_events --database URL [--events 10000] [--runs 3]
//
// - "append": events::AppendEvent N times (what the code does today: the events are numbered and
//   written right before COMMIT, buffered into one seq reservation and multi-row INSERTs);
// - "per_event": the statements AppendEvent ran before it buffered, one numbering UPDATE (on
//   PostgreSQL inside one WITH ... INSERT) per event, each bumping the same merchants row.
// On PostgreSQL the per-event form is quadratic: every UPDATE of the merchant row leaves a dead
// version the next one has to walk past, and none can be pruned before COMMIT.
// Prints one JSON line per way and N: the median wall time of --runs transactions (each on a new
// merchant of an existing migrated database, or a fresh SQLite file).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/ids.h"
#include "events/event_repo.h"
#include "store/db.h"
#include "store/migrations.h"

using namespace regulars;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "bench_events: %s: %s\n", what.c_str(), e.ToString().c_str());
  return 1;
}

Status NewMerchant(store::Database& db, Id id) {
  return db.Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
        "created_at, updated_at) VALUES (?, 'bench', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
        {id}));
    return {};
  });
}

// The pre-buffering statements, one event at a time, in the transaction itself.
Status PerEvent(store::Tx& tx, Id merchant, int n) {
  for (int i = 0; i < n; ++i) {
    Id id = NewId();
    std::string data = fmt::format(R"({{"points":{}}})", i);
    if (tx.dialect() == store::Dialect::kPostgres) {
      RG_TRY(
          tx.Query("WITH s AS (UPDATE merchants SET last_event_seq = last_event_seq + 1 WHERE "
                   "merchant_id = ? RETURNING last_event_seq) INSERT INTO events (merchant_id, "
                   "seq, id, type, member_id, occurred_at, actor, data) SELECT ?, "
                   "s.last_event_seq, ?, ?, CAST(? AS BIGINT), ?, ?, ? FROM s RETURNING seq",
                   {merchant, merchant, id, std::string("points_expired"), Id{1000 + i}, int64_t{1},
                    "bench", data}));
    } else {
      RG_ASSIGN_OR_RETURN(int64_t seq, events::ReserveEventSeqs(tx, merchant, 1));
      RG_TRY(tx.Exec(
          "INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, actor, data) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          {merchant, seq, id, std::string("points_expired"), Id{1000 + i}, int64_t{1}, "bench",
           data}));
    }
  }
  return {};
}

Status Append(store::Tx& tx, Id merchant, int n) {
  for (int i = 0; i < n; ++i)
    RG_TRY(events::AppendEvent(
        tx, merchant, 1,
        {"points_expired", Id{1000 + i}, "bench", fmt::format(R"({{"points":{}}})", i)}));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int runs = 3;
  std::vector<int> sizes;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--database")
      url = argv[i + 1];
    else if (flag == "--events")
      sizes.push_back(std::max(1, std::atoi(argv[i + 1])));
    else if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "bench_events: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (url.empty()) {
    std::fprintf(stderr, "usage: bench_events --database URL [--events N]... [--runs R]\n");
    return 2;
  }
  if (sizes.empty()) sizes.push_back(10000);
  store::Options options;
  options.url = url;
  options.pool_size = 2;
  auto db = store::Open(options);
  if (!db) return Die("open", db.error());
  if (auto m = store::Migrate(**db, *SystemClock::Default()); !m) return Die("migrate", m.error());
  for (int n : sizes) {
    for (const char* way : {"per_event", "append"}) {
      std::vector<double> times;
      for (int r = 0; r < runs; ++r) {
        Id merchant = NewId();
        if (auto s = NewMerchant(**db, merchant); !s) return Die("merchant", s.error());
        auto started = std::chrono::steady_clock::now();
        auto s = (*db)->Write([&](store::Tx& tx) {
          return std::string_view(way) == "append" ? Append(tx, merchant, n)
                                                   : PerEvent(tx, merchant, n);
        });
        times.push_back(Seconds(started));
        if (!s) return Die(way, s.error());
        auto check = (*db)->ReadValue([&](store::Tx& tx) -> Result<int64_t> {
          RG_ASSIGN_OR_RETURN(
              store::Rows rows,
              tx.Query("SELECT COUNT(*), MIN(seq), MAX(seq) FROM events WHERE merchant_id = ?",
                       {merchant}));
          if (rows[0].Int(0) != n || rows[0].Int(1) != 1 || rows[0].Int(2) != n)
            return Fail(Code::kInternal,
                        fmt::format("events {} seqs {}..{}, expected {} 1..{}", rows[0].Int(0),
                                    rows[0].Int(1), rows[0].Int(2), n, n));
          return rows[0].Int(0);
        });
        if (!check) return Die(way, check.error());
      }
      std::sort(times.begin(), times.end());
      std::printf(
          "{\"database\": \"%s\", \"way\": \"%s\", \"events\": %d, \"median_s\": %.3f, "
          "\"runs\": %d}\n",
          (*db)->Describe().c_str(), way, n, times[times.size() / 2], runs);
      std::fflush(stdout);
    }
  }
  return 0;
}
