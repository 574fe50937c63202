// bench_sqlite_loop: the row writes of one order-with-earn, in a plain loop on the sqlite3 C API,
// with the server's durability (WAL, synchronous=FULL): what SQLite itself costs on this machine
// for an order, next to the HTTP figures of run_orders.sh.
//
//   bench_sqlite_loop --db /tmp/x/bench.db                         # per-tx 1, 32, 32+savepoints
//   bench_sqlite_loop --db /tmp/x/bench.db --per-tx 1,8,32,256 --seconds 5
//
// The database must come from bench_gen_members (the project's schema with all its indexes, a
// merchant, members) and have a point type (run_orders.sh creates "points" through the API; this
// program uses the type with code "points", or the merchant's first one). Foreign keys are on,
// as in the server.
//
// What one order writes here is what POST /api/v1/orders with an Idempotency-Key writes on a
// merchant with one earning rule and no tiers or stamp cards (loyalty/order_service.cpp,
// ledger_repo.cpp, events/event_repo.cpp, http/router.cpp):
//   orders 1, order_items 1-3 (2 on average), order_earnings 1, point_balances 1 (upsert),
//   ledger_entries 1, point_lots 1, lot_moves 1, merchants 1 (event sequence), events 1,
//   idempotency_keys 1                                      = 11 row writes on average
// with one statement a row (the server runs about 25 for the same writes: it also reads, e.g. the
// member, the rules, the tier, stamp cards and coupon templates). None of the server's reads are
// done here, and nothing is parsed.
//
// Variants (--per-tx): N orders per transaction, each a BEGIN IMMEDIATE ... COMMIT; "Ns" also
// puts each order in a SAVEPOINT ... RELEASE, as the server's group commit did until it ran
// batches without savepoints (it now takes one only to run a batch again after a failure). One
// COMMIT is one fsync of the WAL (synchronous=FULL), so per-tx 1 measures the disk's sync rate and
// larger batches how far group commit can go. Each variant runs for --seconds.
//
// Checkpoints: by default SQLite's own rule, as in the server (a PASSIVE checkpoint inside the
// COMMIT that takes the WAL past 1,000 pages; --wal-autocheckpoint changes the threshold, 0 turns
// checkpoints off). --checkpoint-thread MS moves them to a second connection on its own thread,
// every MS ms, so the writer never checkpoints.
//
// Prints one line per variant, then a markdown table:
//   RESULT variant=32s per_tx=32 savepoints=1 orders=N seconds=S orders_per_s=R rows_per_s=W
//          tx_per_s=T p50_tx_us=A p99_tx_us=B wal_kb_per_order=K checkpoints=C checkpoint_ms=M
//          cpu_us_per_order=U checkpoint_thread_ms=0
// WAL kB per order counts the frames each commit appends (a page and a 24-byte header each): a
// commit writes every page it changed, so one order alone writes about 31 pages (its rows touch
// that many tables and indexes), and orders batched together share pages.

#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(sqlite3* db, const char* what) {
  std::fprintf(stderr, "bench_sqlite_loop: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  std::exit(1);
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "bench_sqlite_loop: %s: %s\n", sql, err ? err : "?");
    std::exit(1);
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    Die(db, sql);
  return s;
}

// Binds the arguments in order: int64_t, int or std::string (bound without a copy).
void BindOne(sqlite3_stmt* s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
void BindOne(sqlite3_stmt* s, int i, int v) { sqlite3_bind_int64(s, i, v); }
void BindOne(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// Runs a prepared statement with arguments; returns the first column of the first row (or 0).
template <typename... A>
int64_t Run(sqlite3* db, sqlite3_stmt* s, const A&... args) {
  int i = 0;
  (BindOne(s, ++i, args), ...);
  int64_t out = 0;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    out = sqlite3_column_int64(s, 0);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
  }
  if (rc != SQLITE_DONE) Die(db, sqlite3_sql(s));
  sqlite3_reset(s);
  return out;
}

// Like the server's NewId: milliseconds << 22 | a node number, strictly increasing.
struct Ids {
  int64_t last = 0;
  int64_t node = std::random_device{}() % 1024;
  int64_t Next() {
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    int64_t c = (ms << 22) | node;
    last = c > last ? c : last + 1024;
    return last;
  }
};

// This process's CPU time (user + system) in microseconds.
int64_t CpuMicros() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000LL + u.ru_utime.tv_usec +
         u.ru_stime.tv_usec;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stmts {
  sqlite3_stmt *order, *item, *earning, *balance, *entry, *lot, *move, *seq, *event, *idem;
};

Stmts PrepareAll(sqlite3* db) {
  Stmts s;
  s.order = Prepare(db,
                    "INSERT INTO orders (merchant_id, id, external_id, member_id, branch_id, "
                    "staff_id, occurred_at, currency, total_minor, refunded_minor, source, "
                    "created_at) VALUES (?, ?, ?, ?, NULL, NULL, ?, 'TWD', ?, 0, 'api', ?)");
  s.item = Prepare(db,
                   "INSERT INTO order_items (merchant_id, order_id, line, sku, name, category, "
                   "quantity, unit_price_minor, refunded_quantity) VALUES (?, ?, ?, ?, ?, NULL, "
                   "?, ?, 0)");
  s.earning = Prepare(db,
                      "INSERT INTO order_earnings (merchant_id, order_id, line, member_id, "
                      "occurred_at, rule_id, rule_version, point_type_id, points, explanation) "
                      "VALUES (?, ?, 1, ?, ?, ?, 1, ?, ?, ?)");
  s.balance = Prepare(db,
                      "INSERT INTO point_balances (merchant_id, member_id, point_type_id, "
                      "balance, debt, earned_total, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?) "
                      "ON CONFLICT (merchant_id, member_id, point_type_id) DO UPDATE SET "
                      "balance = balance + excluded.balance, earned_total = earned_total + "
                      "excluded.earned_total, updated_at = excluded.updated_at RETURNING balance");
  s.entry = Prepare(db,
                    "INSERT INTO ledger_entries (merchant_id, id, member_id, point_type_id, kind, "
                    "amount, balance_after, reason, source_type, source_id, branch_id, staff_id, "
                    "created_at) VALUES (?, ?, ?, ?, 'earn', ?, ?, ?, 'order', ?, NULL, NULL, ?)");
  s.lot = Prepare(db,
                  "INSERT INTO point_lots (merchant_id, id, member_id, point_type_id, earned_at, "
                  "expires_at, original, remaining, entry_id) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, "
                  "?)");
  s.move = Prepare(db,
                   "INSERT INTO lot_moves (merchant_id, entry_id, lot_id, amount) VALUES (?, ?, "
                   "?, ?)");
  s.seq = Prepare(db,
                  "UPDATE merchants SET last_event_seq = last_event_seq + 1 WHERE merchant_id = "
                  "? RETURNING last_event_seq");
  s.event = Prepare(db,
                    "INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, "
                    "actor, data) VALUES (?, ?, ?, 'order_created', ?, ?, 'api_key:bench', ?)");
  s.idem = Prepare(db,
                   "INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, "
                   "response, created_at) VALUES (?, ?, ?, 201, ?, ?)");
  return s;
}

// Counts the WAL frames each commit appends, and checkpoints like SQLite's own default hook
// (a passive checkpoint once the WAL holds --wal-autocheckpoint pages), which this hook replaces.
struct WalStats {
  int autocheckpoint = 1000;
  int64_t last_pages = 0;
  int64_t frames = 0;
  int64_t checkpoints = 0;
  int64_t checkpoint_us = 0;
};

int WalHook(void* arg, sqlite3* db, const char* name, int pages) {
  auto* w = static_cast<WalStats*>(arg);
  w->frames += pages >= w->last_pages ? pages - w->last_pages : pages;
  w->last_pages = pages;
  if (w->autocheckpoint > 0 && pages >= w->autocheckpoint) {
    auto t0 = std::chrono::steady_clock::now();
    int log = 0, done = 0;
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    // Everything copied back: the next commit starts the WAL over from its first frame.
    if (log == done) w->last_pages = 0;
    w->checkpoint_us +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ++w->checkpoints;
  }
  return SQLITE_OK;
}

struct Context {
  sqlite3* db;
  Stmts st;
  int64_t merchant;
  int64_t point_type;
  int64_t rule;
  std::vector<int64_t> members;
  std::mt19937_64 rng{12345};
  Ids ids;
  std::string run_tag;
  int64_t counter = 0;
  std::string response_body;  // about the size of the server's stored answer
  WalStats wal;
};

// One order-with-earn; returns the rows written.
int WriteOrder(Context& c) {
  const int64_t now = NowMicros();
  const int64_t m = c.members[c.rng() % c.members.size()];
  const int64_t order_id = c.ids.Next();
  const std::string ext = c.run_tag + "-" + std::to_string(++c.counter);
  const int lines = 1 + static_cast<int>(c.rng() % 3);
  int64_t total = 0;
  int64_t qty[3], price[3];
  for (int l = 0; l < lines; ++l) {
    qty[l] = 1 + static_cast<int64_t>(c.rng() % 3);
    price[l] = 50 * (1 + static_cast<int64_t>(c.rng() % 20));
    total += qty[l] * price[l];
  }
  const int64_t points = total / 100;  // the benchmark's rule: 1 point per 100
  int rows = 0;
  Run(c.db, c.st.order, c.merchant, order_id, ext, m, now, total, now);
  ++rows;
  for (int l = 0; l < lines; ++l) {
    int sku = 1 + static_cast<int>(c.rng() % 50);
    std::string sku_s = "SKU-" + std::to_string(sku), name = "Item " + std::to_string(sku);
    Run(c.db, c.st.item, c.merchant, order_id, l + 1, sku_s, name, qty[l], price[l]);
    ++rows;
  }
  const std::string why = "1 per 100 on " + std::to_string(total);
  Run(c.db, c.st.earning, c.merchant, order_id, m, now, c.rule, c.point_type, points, why);
  ++rows;
  if (points > 0) {
    int64_t balance = Run(c.db, c.st.balance, c.merchant, m, c.point_type, points, points, now);
    int64_t entry_id = c.ids.Next(), lot_id = c.ids.Next();
    const std::string reason = "order " + ext;
    Run(c.db, c.st.entry, c.merchant, entry_id, m, c.point_type, points, balance, reason, order_id,
        now);
    Run(c.db, c.st.lot, c.merchant, lot_id, m, c.point_type, now, points, points, entry_id);
    Run(c.db, c.st.move, c.merchant, entry_id, lot_id, points);
    rows += 4;
  }
  int64_t seq = Run(c.db, c.st.seq, c.merchant);
  const std::string data = "{\"order_id\":\"" + std::to_string(order_id) + "\",\"external_id\":\"" +
                           ext + "\",\"total_minor\":" + std::to_string(total) +
                           ",\"currency\":\"TWD\",\"points\":[{\"point_type\":\"points\","
                           "\"points\":" +
                           std::to_string(points) + ",\"balance_after\":0}]}";
  Run(c.db, c.st.event, c.merchant, seq, c.ids.Next(), m, now, data);
  const std::string key = "k-" + ext;
  Run(c.db, c.st.idem, c.merchant, key,
      std::string("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
      c.response_body, now);
  rows += 3;
  return rows;
}

struct Outcome {
  std::string variant;
  int per_tx = 0;
  bool savepoints = false;
  int64_t orders = 0, rows = 0, txs = 0;
  double seconds = 0;
  int64_t p50_us = 0, p99_us = 0;
  int64_t wal_frames = 0, checkpoints = 0, checkpoint_us = 0;
  int64_t cpu_us = 0;
};

Outcome RunVariant(Context& c, int per_tx, bool savepoints, double seconds) {
  Outcome o;
  o.per_tx = per_tx;
  o.savepoints = savepoints;
  o.variant = std::to_string(per_tx) + (savepoints ? "s" : "");
  std::vector<int64_t> tx_us;
  const WalStats wal0 = c.wal;
  const int64_t cpu0 = CpuMicros();
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    if (t0 >= deadline) break;
    Exec(c.db, "BEGIN IMMEDIATE");
    for (int i = 0; i < per_tx; ++i) {
      if (savepoints) Exec(c.db, "SAVEPOINT rg_cmd");
      o.rows += WriteOrder(c);
      if (savepoints) Exec(c.db, "RELEASE rg_cmd");
    }
    Exec(c.db, "COMMIT");
    o.orders += per_tx;
    ++o.txs;
    tx_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.cpu_us = CpuMicros() - cpu0;
  o.wal_frames = c.wal.frames - wal0.frames;
  o.checkpoints = c.wal.checkpoints - wal0.checkpoints;
  o.checkpoint_us = c.wal.checkpoint_us - wal0.checkpoint_us;
  std::sort(tx_us.begin(), tx_us.end());
  if (!tx_us.empty()) {
    o.p50_us = tx_us[tx_us.size() / 2];
    o.p99_us = tx_us[std::min(tx_us.size() - 1, tx_us.size() * 99 / 100)];
  }
  return o;
}

// --checkpoint-thread: a second connection checkpoints (PASSIVE) every `ms` milliseconds on its
// own thread, so the writer never checkpoints inside its COMMIT.
struct Checkpointer {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> checkpoints{0}, checkpoint_us{0};
  std::thread thread;

  void Start(const std::string& path, int ms) {
    thread = std::thread([this, path, ms] {
      sqlite3* db = nullptr;
      if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                          nullptr) != SQLITE_OK)
        Die(db, "open (checkpointer)");
      sqlite3_busy_timeout(db, 5000);
      Exec(db, "PRAGMA synchronous=FULL");
      while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        auto t0 = std::chrono::steady_clock::now();
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        checkpoint_us += std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count();
        ++checkpoints;
      }
      sqlite3_close_v2(db);
    });
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

void Usage() {
  std::fprintf(
      stderr,
      "usage: bench_sqlite_loop --db PATH [--per-tx LIST] [--seconds S] "
      "[--synchronous FULL|NORMAL|EXTRA] [--wal-autocheckpoint PAGES] [--checkpoint-thread MS]\n"
      "  LIST: comma-separated orders per transaction; a trailing 's' adds a savepoint "
      "per order (default 1,32,32s)\n"
      "  PAGES: checkpoint once the WAL holds this many pages (default 1000, SQLite's "
      "and the server's; 0 never)\n"
      "  MS: checkpoint from a second connection on its own thread every MS ms instead "
      "(the writer then never checkpoints)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, per_tx_list = "1,32,32s", synchronous = "FULL";
  double seconds = 5;
  int wal_autocheckpoint = 1000;
  int checkpoint_thread_ms = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db")
      path = value();
    else if (a == "--per-tx")
      per_tx_list = value();
    else if (a == "--seconds")
      seconds = std::atof(value().c_str());
    else if (a == "--synchronous")
      synchronous = value();
    else if (a == "--wal-autocheckpoint")
      wal_autocheckpoint = std::atoi(value().c_str());
    else if (a == "--checkpoint-thread")
      checkpoint_thread_ms = std::atoi(value().c_str());
    else {
      Usage();
      return 2;
    }
  }
  if (path.empty() || seconds <= 0 ||
      (synchronous != "FULL" && synchronous != "NORMAL" && synchronous != "EXTRA")) {
    Usage();
    return 2;
  }

  Context c;
  if (sqlite3_open_v2(path.c_str(), &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    Die(c.db, "open");
  sqlite3_busy_timeout(c.db, 5000);
  // The server's writer connection (store/sqlite/sqlite_db.cpp).
  Exec(c.db, ("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=" + synchronous +
              "; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;")
                 .c_str());

  sqlite3_stmt* q = Prepare(c.db, "SELECT merchant_id FROM merchants ORDER BY created_at LIMIT 1");
  if (sqlite3_step(q) != SQLITE_ROW) Die(c.db, "no merchant; run bench_gen_members first");
  c.merchant = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  q = Prepare(c.db,
              "SELECT id FROM point_types WHERE merchant_id = ? ORDER BY code <> 'points', id "
              "LIMIT 1");
  sqlite3_bind_int64(q, 1, c.merchant);
  if (sqlite3_step(q) != SQLITE_ROW)
    Die(c.db, "the merchant has no point type; create one (run_orders.sh does)");
  c.point_type = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  q = Prepare(c.db, "SELECT id FROM earning_rules WHERE merchant_id = ? LIMIT 1");
  sqlite3_bind_int64(q, 1, c.merchant);
  c.rule = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 1;
  sqlite3_finalize(q);
  q = Prepare(c.db, "SELECT id FROM members WHERE merchant_id = ? AND erased_at IS NULL");
  sqlite3_bind_int64(q, 1, c.merchant);
  while (sqlite3_step(q) == SQLITE_ROW) c.members.push_back(sqlite3_column_int64(q, 0));
  sqlite3_finalize(q);
  if (c.members.empty()) Die(c.db, "the merchant has no members; run bench_gen_members first");
  c.st = PrepareAll(c.db);
  Exec(c.db, "PRAGMA wal_checkpoint(TRUNCATE)");
  c.wal.autocheckpoint = checkpoint_thread_ms > 0 ? 0 : wal_autocheckpoint;
  sqlite3_wal_hook(c.db, WalHook, &c.wal);
  Checkpointer checkpointer;
  if (checkpoint_thread_ms > 0) checkpointer.Start(path, checkpoint_thread_ms);
  c.run_tag = "loop" + std::to_string(NowMicros());
  c.response_body = std::string(700, 'x');

  int64_t page_size = 4096;
  q = Prepare(c.db, "PRAGMA page_size");
  if (sqlite3_step(q) == SQLITE_ROW) page_size = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  std::vector<Outcome> outcomes;
  size_t pos = 0;
  while (pos <= per_tx_list.size()) {
    size_t end = per_tx_list.find(',', pos);
    if (end == std::string::npos) end = per_tx_list.size();
    std::string item = per_tx_list.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    bool sp = item.back() == 's';
    if (sp) item.pop_back();
    int n = std::atoi(item.c_str());
    if (n < 1 || n > 100000) {
      Usage();
      return 2;
    }
    const int64_t cp0 = checkpointer.checkpoints, cp_us0 = checkpointer.checkpoint_us;
    Outcome o = RunVariant(c, n, sp, seconds);
    o.checkpoints += checkpointer.checkpoints - cp0;
    o.checkpoint_us += checkpointer.checkpoint_us - cp_us0;
    std::printf(
        "RESULT variant=%s per_tx=%d savepoints=%d orders=%lld seconds=%.2f orders_per_s=%.0f "
        "rows_per_s=%.0f tx_per_s=%.0f p50_tx_us=%lld p99_tx_us=%lld wal_kb_per_order=%.1f "
        "checkpoints=%lld checkpoint_ms=%.0f cpu_us_per_order=%.0f checkpoint_thread_ms=%d\n",
        o.variant.c_str(), o.per_tx, o.savepoints ? 1 : 0, static_cast<long long>(o.orders),
        o.seconds, o.orders / o.seconds, o.rows / o.seconds, o.txs / o.seconds,
        static_cast<long long>(o.p50_us), static_cast<long long>(o.p99_us),
        o.orders ? o.wal_frames * (page_size + 24) / 1024.0 / o.orders : 0.0,
        static_cast<long long>(o.checkpoints), o.checkpoint_us / 1000.0,
        o.orders ? static_cast<double>(o.cpu_us) / o.orders : 0.0, checkpoint_thread_ms);
    std::fflush(stdout);
    outcomes.push_back(o);
  }

  checkpointer.Stop();
  std::string how =
      checkpoint_thread_ms > 0
          ? "checkpoints on a second thread every " + std::to_string(checkpoint_thread_ms) + " ms"
          : "wal_autocheckpoint=" + std::to_string(wal_autocheckpoint);
  std::printf("\nsqlite %s, WAL, synchronous=%s, %s, %zu members; %.0f s a variant\n\n",
              sqlite3_libversion(), synchronous.c_str(), how.c_str(), c.members.size(), seconds);
  std::printf(
      "| orders per transaction | savepoint per order | orders/s | rows/s | commits/s | "
      "p50 / p99 ms per transaction | WAL kB per order | checkpoints (ms) | CPU µs per order "
      "|\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& o : outcomes)
    std::printf("| %d | %s | %.0f | %.0f | %.0f | %.2f / %.2f | %.1f | %lld (%.0f) | %.0f |\n",
                o.per_tx, o.savepoints ? "yes" : "no", o.orders / o.seconds, o.rows / o.seconds,
                o.txs / o.seconds, o.p50_us / 1000.0, o.p99_us / 1000.0,
                o.orders ? o.wal_frames * (page_size + 24) / 1024.0 / o.orders : 0.0,
                static_cast<long long>(o.checkpoints), o.checkpoint_us / 1000.0,
                o.orders ? static_cast<double>(o.cpu_us) / o.orders : 0.0);
  for (auto* s : {c.st.order, c.st.item, c.st.earning, c.st.balance, c.st.entry, c.st.lot,
                  c.st.move, c.st.seq, c.st.event, c.st.idem})
    sqlite3_finalize(s);
  sqlite3_close_v2(c.db);
  return 0;
}
