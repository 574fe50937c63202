#pragma once

// One database interface, two drivers (SQLite, PostgreSQL). SQL is written once for both with
// `?` placeholders; the PostgreSQL driver numbers them. Nothing outside store/ includes sqlite3.h
// or libpq-fe.h.
//
// Writes: Database::Write runs a function inside one transaction and commits it, or rolls it back
// when the function returns an error. On SQLite a single writer thread batches concurrent Write
// calls into one transaction with a savepoint each (group commit: one fsync for many commands; a
// failing command rolls back alone). On PostgreSQL each Write takes a pooled connection.
// The function may run more than once (PostgreSQL retries serialization failures and deadlocks),
// so it must have no effects outside the transaction. It must not call Write or Read itself.
//
// Durability (WriteOptions): a Write is durable by default: once it returns success the commit
// survives power loss (SQLite synchronous as configured, FULL by default; PostgreSQL
// synchronous_commit as configured). A relaxed Write (`.durable = false`) is as atomic, isolated
// and visible to later reads as a durable one and survives a crash (SIGKILL) of this process, but
// not an OS crash or power loss (on PostgreSQL, nor a crash of the server): then the last relaxed
// commits may be lost, at most those of the last 200 ms plus one batch on SQLite (the writer syncs
// the WAL once a relaxed commit has waited that long), of the last 3 × wal_writer_delay on
// PostgreSQL (600 ms by default). What is lost is always a suffix of the commit order: a durable
// commit makes every earlier commit durable too. Only for writes whose loss is harmless or
// repaired by a retry (the sender's status marks: a lost `sent` re-delivers the message with the
// same identity, see messaging/sender.h). SQLite: a group-commit batch is durable when any of its
// commands is; PostgreSQL: `SET LOCAL synchronous_commit = off` in that transaction.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/error.h"

namespace regulars::store {

enum class Dialect { kSqlite, kPostgres };

// A parameter or column value. Booleans are stored as 0/1 integers.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

inline Value Null() { return std::monostate{}; }
template <class T>
Value Opt(const std::optional<T>& v) {
  if (!v) return std::monostate{};
  if constexpr (std::is_same_v<T, bool>)
    return int64_t{*v ? 1 : 0};
  else if constexpr (std::is_integral_v<T>)
    return static_cast<int64_t>(*v);
  else
    return Value(*v);
}

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  // Conversions are lenient across representations (an integer stored as text is parsed).
  // A NULL reads as 0 / "" ; use Opt* to tell NULL apart.
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  std::string Str(size_t i) const;
  bool Bool(size_t i) const { return Int(i) != 0; }
  std::optional<int64_t> OptInt(size_t i) const;
  std::optional<std::string> OptStr(size_t i) const;
  const Value& At(size_t i) const { return values_.at(i); }

 private:
  std::vector<Value> values_;
};

struct Rows {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  const Row& operator[](size_t i) const { return rows[i]; }
  auto begin() const { return rows.begin(); }
  auto end() const { return rows.end(); }
};

// One open transaction. Not thread-safe; lives only inside a Write or Read callback.
// Driver errors are mapped to our codes: unique violation -> already_exists, foreign-key
// violation -> failed_precondition, lock timeouts -> unavailable, conflicts -> aborted.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs several statements with no parameters (migrations).
  virtual Status ExecScript(std::string_view sql) = 0;
  virtual Dialect dialect() const = 0;
  // Time spent in the database by this transaction so far, in microseconds.
  virtual int64_t db_micros() const = 0;

  // Adds work that runs in this transaction after the Write callback returned success, right
  // before COMMIT (on SQLite: at the end of this command, inside its savepoint), in the order
  // added; work it adds itself runs too. An error from it fails the Write like the callback's
  // own, and rolls everything back. Meant for statements that take a lock every writer needs
  // (the event sequence, see events::AppendEvent): taken last, it is held until COMMIT only.
  // A Read's callback must not use it (its work never runs).
  void BeforeCommit(std::function<Status(Tx&)> fn) { before_commit_.push_back(std::move(fn)); }
  // For drivers: runs the work added with BeforeCommit and forgets it.
  Status RunBeforeCommit() {
    for (size_t i = 0; i < before_commit_.size(); ++i) {
      auto fn = std::move(before_commit_[i]);
      if (auto s = fn(*this); !s) {
        before_commit_.clear();
        return s;
      }
    }
    before_commit_.clear();
    return {};
  }
  // For drivers: forgets it unrun (the command failed or is run again).
  void ClearBeforeCommit() { before_commit_.clear(); }

 private:
  std::vector<std::function<Status(Tx&)>> before_commit_;
};

struct Options {
  // "sqlite:/path/to/file.db", a plain file path, or "postgresql://user@host:port/db?..."
  std::string url;
  // SQLite: PRAGMA synchronous. FULL survives power loss; NORMAL survives process crashes only.
  std::string sqlite_synchronous = "FULL";
  // SQLite: how long a connection waits on a lock before failing, in milliseconds.
  int busy_timeout_ms = 5000;
  // SQLite read connections / PostgreSQL connections in the pool.
  int pool_size = 8;
  // SQLite group commit: most commands folded into one transaction.
  int max_batch = 512;
};

// How one Write commits; see the file comment ("Durability").
struct WriteOptions {
  // false: relaxed, survives a crash of this process but not power loss.
  bool durable = true;
};

// Commit counters of a database since it was opened (for tests and metrics).
struct WriteStats {
  int64_t durable_commits = 0;  // transactions committed durably
  int64_t relaxed_commits = 0;  // transactions committed relaxed (every command relaxed)
  int64_t relaxed_syncs = 0;    // SQLite: WAL syncs forced because relaxed commits were pending
  int64_t waiting = 0;          // SQLite: Writes queued for the writer thread right now
};

class Database {
 public:
  virtual ~Database() = default;

  // Runs `fn` in one read-write transaction; see the file comment for the contract.
  Status Write(const std::function<Status(Tx&)>& fn) { return WriteImpl(fn, WriteOptions{}); }
  Status Write(const WriteOptions& options, const std::function<Status(Tx&)>& fn) {
    return WriteImpl(fn, options);
  }
  template <class F>
  auto WriteValue(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return WriteValue(WriteOptions{}, std::forward<F>(fn));
  }
  template <class F>
  auto WriteValue(const WriteOptions& options, F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    using R = decltype(fn(std::declval<Tx&>()));
    std::optional<typename R::value_type> out;
    Status s = WriteImpl(
        [&](Tx& tx) -> Status {
          auto r = fn(tx);
          if (!r) return std::unexpected(std::move(r.error()));
          out = std::move(*r);
          return {};
        },
        options);
    if (!s) return std::unexpected(std::move(s.error()));
    return std::move(*out);
  }

  // Runs `fn` on a consistent read-only snapshot.
  Status Read(const std::function<Status(Tx&)>& fn) { return ReadImpl(fn); }
  template <class F>
  auto ReadValue(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    std::optional<typename decltype(fn(std::declval<Tx&>()))::value_type> out;
    Status s = ReadImpl([&](Tx& tx) -> Status {
      auto r = fn(tx);
      if (!r) return std::unexpected(std::move(r.error()));
      out = std::move(*r);
      return {};
    });
    if (!s) return std::unexpected(std::move(s.error()));
    return std::move(*out);
  }

  virtual Dialect dialect() const = 0;
  // A short description for logs, without secrets ("sqlite:var/regulars.db").
  virtual std::string Describe() const = 0;
  // Total microseconds spent in the database since start (for /metrics).
  virtual int64_t TotalDbMicros() const = 0;
  // How commits were made since the database was opened.
  virtual WriteStats Stats() const { return {}; }

 protected:
  virtual Status WriteImpl(const std::function<Status(Tx&)>& fn, const WriteOptions& options) = 0;
  virtual Status ReadImpl(const std::function<Status(Tx&)>& fn) = 0;
};

// Opens a database by URL. Does not migrate.
Result<std::unique_ptr<Database>> Open(const Options& options);

// Drivers.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, const Options& options);
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& conninfo, const Options& options);

}  // namespace regulars::store
