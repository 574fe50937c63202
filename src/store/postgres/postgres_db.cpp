// PostgreSQL driver (libpq): a bounded pool of connections, each with a cache of prepared
// statements keyed by SQL text; one connection per Write or Read for its whole duration.
//
// Writes run at READ COMMITTED (PostgreSQL's default). Unlike SQLite's single writer, two
// concurrent Writes are not serialized: a read-decide-write sequence must lock what it depends on
// (e.g. a conditional `UPDATE ... WHERE balance >= ?`, or an UPDATE of a parent row first).
// Serialization failures and deadlocks abort the transaction and the whole function runs again,
// up to kMaxAttempts times with a short jittered backoff.
//
// PostgreSQL aborts the whole transaction on the first failed statement (SQLite fails only that
// statement). A function that ignores an error and carries on would silently lose its earlier
// writes at COMMIT, so the driver remembers the first error: later statements in the same
// transaction fail with kInternal naming it, and a function that returns success after it gets
// that first error back from Write. Use `INSERT ... ON CONFLICT` instead of catching
// already_exists inside a Write.
//
// Parameters are sent as text; int64 and double parameters are declared int8 / float8 and the
// rest (text, NULL) are left for the server to infer from context, so a string can still fill a
// BIGINT column and an integer can fill an INTEGER one. Result columns become int64_t (integer
// and bool types, and numeric values without a fraction, e.g. SUM(bigint)), double (float and
// other numeric values) or text, matching what SQLite returns for the same SQL.

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "store/db.h"

namespace regulars::store {
namespace {

// Type OIDs from PostgreSQL's pg_type.h (stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// How many times a function that lost a conflict (serialization failure, deadlock) is run.
constexpr int kMaxAttempts = 10;
// Prepared statements kept per connection before the cache is dropped and started over.
constexpr size_t kMaxPrepared = 512;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string TrimMessage(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Maps a failed result (or a null one: out of memory, lost connection) to our codes.
Error MapPgError(PGconn* conn, const PGresult* res, std::string_view sql) {
  const char* state_c = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view state = state_c ? state_c : "";
  std::string msg;
  if (res) {
    // The primary message only: the detail line repeats row values (phone numbers, e-mails),
    // which do not belong in logs.
    msg = TrimMessage(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    if (msg.empty()) msg = TrimMessage(PQresultErrorMessage(res));
  }
  if (msg.empty()) msg = TrimMessage(PQerrorMessage(conn));

  if (state == "23505")
    return MakeError(Code::kAlreadyExists, fmt::format("already exists ({})", msg));
  if (state == "23503")
    return MakeError(Code::kFailedPrecondition,
                     fmt::format("refers to something that does not exist ({})", msg));
  if (state == "23502" || state == "23514" || state.starts_with("22"))
    return MakeError(Code::kInvalidArgument, fmt::format("constraint failed ({})", msg));
  if (state == "40001" || state == "40P01")
    return MakeError(Code::kAborted, fmt::format("transaction conflict ({})", msg));
  if (state == "57014" || state == "55P03" || state.starts_with("08") || state == "57P01" ||
      state == "57P02" || state == "57P03" || state == "53300")
    return MakeError(Code::kUnavailable, fmt::format("database is unavailable ({})", msg));
  if (PQstatus(conn) != CONNECTION_OK)
    return MakeError(Code::kUnavailable, fmt::format("connection to PostgreSQL lost ({})", msg));
  return MakeError(Code::kInternal,
                   fmt::format("postgres error {}: {} in: {}", state.empty() ? "?" : state, msg,
                               sql.substr(0, 200)));
}

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Rewrites `?` placeholders to $1..$n. Skips quoted literals and identifiers, comments and
// dollar-quoted bodies. Returns the number of placeholders through `count`.
std::string RewritePlaceholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  size_t i = 0;
  auto copy_until = [&](std::string_view end) {
    size_t j = sql.find(end, i);
    j = j == std::string_view::npos ? sql.size() : j + end.size();
    out.append(sql.substr(i, j - i));
    i = j;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // '' inside a literal closes and reopens it, which this loop handles naturally.
      size_t j = sql.find(c, i + 1);
      j = j == std::string_view::npos ? sql.size() : j + 1;
      out.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copy_until("\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      copy_until("*/");
    } else if (c == '$' && (i == 0 || !IsIdentChar(sql[i - 1])) && i + 1 < sql.size() &&
               !(sql[i + 1] >= '0' && sql[i + 1] <= '9')) {
      size_t j = i + 1;
      while (j < sql.size() && IsIdentChar(sql[j])) ++j;
      if (j < sql.size() && sql[j] == '$') {
        std::string tag(sql.substr(i, j + 1 - i));
        out.append(tag);
        i = j + 1;
        copy_until(tag);
      } else {
        out.push_back(c);
        ++i;
      }
    } else if (c == '?') {
      out += fmt::format("${}", ++n);
      ++i;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  *count = n;
  return out;
}

Value ConvertCell(const PGresult* res, int row, int col, Oid type) {
  if (PQgetisnull(res, row, col)) return std::monostate{};
  const char* p = PQgetvalue(res, row, col);
  int len = PQgetlength(res, row, col);
  switch (type) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      int64_t v = 0;
      std::from_chars(p, p + len, v);
      return v;
    }
    case kNumericOid: {
      // SUM(bigint) and COUNT-like arithmetic come back as numeric; keep whole numbers integers
      // (as SQLite does) and everything else a double.
      int64_t i = 0;
      auto [end, ec] = std::from_chars(p, p + len, i);
      if (ec == std::errc() && end == p + len) return i;
      [[fallthrough]];
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      double v = 0;
      auto [end, ec] = std::from_chars(p, p + len, v);
      if (ec != std::errc()) v = std::strtod(p, nullptr);  // out of range: +-HUGE_VAL
      return v;
    }
    case kBoolOid:
      return int64_t{len > 0 && p[0] == 't' ? 1 : 0};
    default:
      return std::string(p, static_cast<size_t>(len));
  }
}

// One libpq connection and its prepared statements. Used by one thread at a time.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  ~Conn() {
    if (pg_) PQfinish(pg_);
  }

  Status Open(const std::string& conninfo) {
    // Entries before `dbname` are defaults the URL may override; entries after it win.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                          "client_encoding", nullptr};
    const char* values[] = {"10", "regulars", conninfo.c_str(), "UTF8", nullptr};
    pg_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (!pg_) return Fail(Code::kUnavailable, "cannot connect to PostgreSQL: out of memory");
    if (PQstatus(pg_) != CONNECTION_OK)
      return Fail(Code::kUnavailable, fmt::format("cannot connect to PostgreSQL: {}",
                                                  TrimMessage(PQerrorMessage(pg_))));
    // Notices (e.g. "relation already exists, skipping") are not errors; keep stderr clean.
    PQsetNoticeProcessor(
        pg_, [](void*, const char*) {}, nullptr);
    return {};
  }

  PGconn* pg() const { return pg_; }
  bool Healthy() const { return pg_ && PQstatus(pg_) == CONNECTION_OK; }
  bool Idle() const { return Healthy() && PQtransactionStatus(pg_) == PQTRANS_IDLE; }

  struct Prepared {
    std::string name;
    int params = 0;
  };

  // Finds or prepares the statement for `sql` with these parameter types.
  Result<const Prepared*> Prepare(std::string_view sql, const std::vector<Oid>& types,
                                  size_t given) {
    key_.assign(sql);
    key_.push_back('\0');
    for (Oid t : types) key_ += t == kInt8Oid ? 'i' : t == kFloat8Oid ? 'd' : 'u';
    if (auto it = cache_.find(key_); it != cache_.end()) return &it->second;
    int count = 0;
    std::string rewritten = RewritePlaceholders(sql, &count);
    if (static_cast<size_t>(count) != given)
      return Fail(Code::kInternal, fmt::format("sql expects {} parameters, got {}: {}", count,
                                               given, sql.substr(0, 200)));
    Prepared p{fmt::format("rg{}", next_id_++), count};
    PgResult res(PQprepare(pg_, p.name.c_str(), rewritten.c_str(), count,
                           types.empty() ? nullptr : types.data()));
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK)
      return std::unexpected(MapPgError(pg_, res.get(), sql));
    auto [it, inserted] = cache_.emplace(key_, std::move(p));
    return &it->second;
  }

  // Forgets every prepared statement; only between transactions.
  void DropCacheIfLarge(bool force = false) {
    if (cache_.empty() || (!force && cache_.size() <= kMaxPrepared)) return;
    PgResult res(PQexec(pg_, "DEALLOCATE ALL"));
    cache_.clear();
  }
  void ForgetCache() { force_drop_ = true; }
  bool force_drop() const { return force_drop_; }
  void clear_force_drop() { force_drop_ = false; }

 private:
  PGconn* pg_ = nullptr;
  std::unordered_map<std::string, Prepared> cache_;
  std::string key_;
  uint64_t next_id_ = 0;
  bool force_drop_ = false;
};

class PgTx final : public Tx {
 public:
  explicit PgTx(Conn& conn) : conn_(conn) {}

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    Rows out;
    RG_TRY(Run(sql, params, &out, nullptr));
    return out;
  }

  Result<int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    int64_t changed = 0;
    RG_TRY(Run(sql, params, nullptr, &changed));
    return changed;
  }

  Status ExecScript(std::string_view sql) override {
    if (auto s = CheckNotFailed(); !s) return s;
    int64_t start = NowMicros();
    std::string text(sql);
    PgResult res(PQexec(conn_.pg(), text.c_str()));
    micros_ += NowMicros() - start;
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
      return Failed(MapPgError(conn_.pg(), res.get(), sql));
    return {};
  }

  Dialect dialect() const override { return Dialect::kPostgres; }
  int64_t db_micros() const override { return micros_; }

  // Runs a transaction-control statement (BEGIN, COMMIT, ROLLBACK).
  Status Control(const char* sql) {
    int64_t start = NowMicros();
    PgResult res(PQexec(conn_.pg(), sql));
    micros_ += NowMicros() - start;
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK)
      return std::unexpected(MapPgError(conn_.pg(), res.get(), sql));
    return {};
  }

  // The first statement error of this transaction, if any.
  const std::optional<Error>& first_error() const { return first_error_; }

 private:
  Status CheckNotFailed() {
    if (!first_error_) return {};
    return Fail(Code::kInternal,
                fmt::format("statement after a failed one in the same transaction (PostgreSQL "
                            "aborts the transaction at the first error: {})",
                            first_error_->message));
  }

  std::unexpected<Error> Failed(Error e) {
    if (!first_error_) first_error_ = e;
    return std::unexpected(std::move(e));
  }

  Status Run(std::string_view sql, const std::vector<Value>& params, Rows* out, int64_t* changed) {
    if (auto s = CheckNotFailed(); !s) return s;
    int64_t start = NowMicros();
    auto status = RunInner(sql, params, out, changed);
    micros_ += NowMicros() - start;
    return status;
  }

  Status RunInner(std::string_view sql, const std::vector<Value>& params, Rows* out,
                  int64_t* changed) {
    size_t n = params.size();
    types_.assign(n, 0);
    texts_.resize(n);
    values_.assign(n, nullptr);
    for (size_t i = 0; i < n; ++i) {
      const Value& v = params[i];
      if (auto p = std::get_if<int64_t>(&v)) {
        types_[i] = kInt8Oid;
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, *p);
        texts_[i].assign(buf, r.ptr);
        values_[i] = texts_[i].c_str();
      } else if (auto d = std::get_if<double>(&v)) {
        types_[i] = kFloat8Oid;
        // Shortest text that reads back as the same double; locale-independent.
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, *d);
        texts_[i].assign(buf, r.ptr);
        values_[i] = texts_[i].c_str();
      } else if (auto s = std::get_if<std::string>(&v)) {
        if (s->find('\0') != std::string::npos)
          return Fail(Code::kInvalidArgument,
                      fmt::format("text parameter {} contains a NUL character", i + 1));
        values_[i] = s->c_str();
      }
    }
    auto prepared = conn_.Prepare(sql, types_, n);
    if (!prepared) {
      // Only a server-side failure aborts the transaction (a parameter-count mismatch is ours).
      if (PQtransactionStatus(conn_.pg()) != PQTRANS_INTRANS) return Failed(prepared.error());
      return std::unexpected(prepared.error());
    }
    PgResult res(PQexecPrepared(conn_.pg(), (*prepared)->name.c_str(), static_cast<int>(n),
                                n ? values_.data() : nullptr, nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
      // "cached plan must not change result type": the table changed under a cached
      // statement. Forget the cache and let the retry loop run the function again.
      const char* primary = res ? PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      if (state && std::string_view(state) == "0A000" && primary &&
          std::string_view(primary).starts_with("cached plan must not change result type")) {
        conn_.ForgetCache();
        return Failed(MakeError(Code::kAborted, "prepared statement went stale; retrying"));
      }
      return Failed(MapPgError(conn_.pg(), res.get(), sql));
    }
    if (changed) {
      const char* tuples = PQcmdTuples(res.get());
      int64_t v = 0;
      if (tuples && *tuples) std::from_chars(tuples, tuples + std::strlen(tuples), v);
      *changed = v;
    }
    if (out) {
      int cols = PQnfields(res.get());
      int rows = PQntuples(res.get());
      out->columns.reserve(cols);
      std::vector<Oid> col_types(cols);
      for (int c = 0; c < cols; ++c) {
        out->columns.emplace_back(PQfname(res.get(), c));
        col_types[c] = PQftype(res.get(), c);
      }
      out->rows.reserve(rows);
      for (int r = 0; r < rows; ++r) {
        std::vector<Value> values;
        values.reserve(cols);
        for (int c = 0; c < cols; ++c) values.push_back(ConvertCell(res.get(), r, c, col_types[c]));
        out->rows.emplace_back(std::move(values));
      }
    }
    return {};
  }

  Conn& conn_;
  int64_t micros_ = 0;
  std::optional<Error> first_error_;
  // Scratch space for parameters, reused across statements.
  std::vector<Oid> types_;
  std::vector<std::string> texts_;
  std::vector<const char*> values_;
};

// "postgresql://user@host:port/dbname" from any conninfo form, without the password.
std::string DescribeConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    if (err) PQfreemem(err);
    return "postgresql://(unparsable conninfo)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "user")
      user = o->val;
    else if (k == "host" || (k == "hostaddr" && host.empty()))
      host = o->val;
    else if (k == "port")
      port = o->val;
    else if (k == "dbname")
      dbname = o->val;
  }
  PQconninfoFree(opts);
  std::string out = "postgresql://";
  if (!user.empty()) out += user + "@";
  out += host;
  if (!port.empty()) out += ":" + port;
  out += "/" + dbname;
  return out;
}

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string conninfo, Options options)
      : conninfo_(std::move(conninfo)),
        options_(std::move(options)),
        max_conns_(std::max(1, options_.pool_size)) {}

  // Opens one connection now so a bad URL or a down server fails at start-up.
  Status Start() {
    RG_ASSIGN_OR_RETURN(Conn * conn, Acquire());
    Release(conn);
    return {};
  }

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::string Describe() const override { return DescribeConninfo(conninfo_); }
  int64_t TotalDbMicros() const override { return total_micros_.load(); }
  WriteStats Stats() const override {
    return WriteStats{durable_commits_.load(), relaxed_commits_.load(), 0};
  }

 protected:
  // A relaxed Write (db.h) commits without waiting for its WAL flush: the walwriter writes it
  // within 3 × wal_writer_delay. Sent with BEGIN in one round trip.
  Status WriteImpl(const std::function<Status(Tx&)>& fn, const WriteOptions& options) override {
    Status s = RunWithRetries(
        fn, options.durable ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit = off", "write");
    if (s) ++(options.durable ? durable_commits_ : relaxed_commits_);
    return s;
  }

  Status ReadImpl(const std::function<Status(Tx&)>& fn) override {
    return RunWithRetries(fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "read");
  }

 private:
  Status RunWithRetries(const std::function<Status(Tx&)>& fn, const char* begin, const char* what) {
    Status result;
    for (int attempt = 1;; ++attempt) {
      bool retry = false;
      result = RunOnce(fn, begin, what, &retry);
      if (result || !retry || attempt >= kMaxAttempts) return result;
      Backoff(attempt);
    }
  }

  // One attempt. Sets *retry when running the function again may succeed: it lost a conflict,
  // or a pooled connection turned out dead before anything ran on it.
  Status RunOnce(const std::function<Status(Tx&)>& fn, const char* begin, const char* what,
                 bool* retry) {
    RG_ASSIGN_OR_RETURN(Conn * conn, Acquire());
    Status result;
    {
      PgTx tx(*conn);
      if (auto s = tx.Control(begin); !s) {
        // A stale pooled connection (server restarted, idle timeout): nothing ran yet.
        *retry = !conn->Healthy() || s.error().code == Code::kAborted;
        total_micros_ += tx.db_micros();
        Release(conn);
        return s;
      }
      try {
        result = fn(tx);
        // Work left for the end (the event sequence's row lock) runs last, before COMMIT.
        if (result) result = tx.RunBeforeCommit();
      } catch (const std::exception& e) {
        result = Fail(Code::kInternal, fmt::format("{} failed: {}", what, e.what()));
      }
      tx.ClearBeforeCommit();
      if (result && tx.first_error()) {
        // The function carried on after a failed statement; PostgreSQL has already dropped
        // everything this transaction did.
        Error e = *tx.first_error();
        e.message =
            fmt::format("transaction aborted by an earlier failed statement: {}", e.message);
        result = std::unexpected(std::move(e));
      }
      if (result) {
        if (auto s = tx.Control("COMMIT"); !s) {
          result = std::move(s);
          if (result.error().code == Code::kUnavailable)
            result.error().message += " (the outcome of COMMIT is unknown)";
        }
      } else if (conn->Healthy()) {
        (void)tx.Control("ROLLBACK");
      }
      if (!result) {
        bool lost_conflict = result.error().code == Code::kAborted ||
                             (tx.first_error() && tx.first_error()->code == Code::kAborted);
        *retry = lost_conflict;
        if (lost_conflict && result.error().code != Code::kAborted) {
          // The function turned a conflict into its own error; the conflict is what happened.
          result = std::unexpected(*tx.first_error());
        }
      }
      total_micros_ += tx.db_micros();
    }
    Release(conn);
    return result;
  }

  static void Backoff(int attempt) {
    thread_local std::minstd_rand rng(std::random_device{}());
    int cap_ms = std::min(100, 2 << std::min(attempt, 6));  // 4, 8, 16, ... 100 ms
    std::uniform_int_distribution<int> dist(cap_ms * 500, cap_ms * 1000);
    std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
  }

  // First come, first served: each caller takes a ticket and waits for its turn, so under load
  // no request loses the race for a freed connection again and again (long tail latencies).
  Result<Conn*> Acquire() {
    {
      std::unique_lock lock(mu_);
      const uint64_t ticket = next_ticket_++;
      cv_.wait(lock, [&] { return ticket == serving_ && (!free_.empty() || open_ < max_conns_); });
      ++serving_;
      cv_.notify_all();  // the next ticket may be servable too
      if (!free_.empty()) {
        Conn* c = free_.back();
        free_.pop_back();
        return c;
      }
      ++open_;  // reserve a slot, then connect without holding the lock
    }
    auto conn = std::make_unique<Conn>();
    if (auto s = conn->Open(conninfo_); !s) {
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      cv_.notify_all();
      return std::unexpected(std::move(s.error()));
    }
    std::lock_guard lock(mu_);
    Conn* raw = conn.get();
    all_.emplace(raw, std::move(conn));
    return raw;
  }

  // Returns a connection to the pool, or closes it when it is broken or mid-transaction.
  void Release(Conn* conn) {
    if (conn->Healthy() && !conn->Idle()) {
      PgResult res(PQexec(conn->pg(), "ROLLBACK"));
    }
    if (conn->Idle()) {
      if (conn->force_drop()) {
        conn->DropCacheIfLarge(/*force=*/true);
        conn->clear_force_drop();
      } else {
        conn->DropCacheIfLarge();
      }
    }
    std::unique_ptr<Conn> dead;
    {
      std::lock_guard lock(mu_);
      if (conn->Idle()) {
        free_.push_back(conn);
      } else {
        auto it = all_.find(conn);
        dead = std::move(it->second);
        all_.erase(it);
        --open_;
      }
    }
    cv_.notify_all();
    // `dead` closes here, outside the lock; the next Acquire opens a fresh connection.
  }

  std::string conninfo_;
  Options options_;
  const int max_conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> all_;
  std::vector<Conn*> free_;
  int open_ = 0;
  uint64_t next_ticket_ = 0;  // guarded by mu_
  uint64_t serving_ = 0;      // guarded by mu_
  std::atomic<int64_t> total_micros_{0};
  std::atomic<int64_t> durable_commits_{0}, relaxed_commits_{0};
};

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& conninfo,
                                               const Options& options) {
  auto db = std::make_unique<PostgresDatabase>(conninfo, options);
  RG_TRY(db->Start());
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace regulars::store
