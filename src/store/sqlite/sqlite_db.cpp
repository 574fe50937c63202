// SQLite driver: WAL, foreign keys, busy timeout, synchronous=FULL by default, and group commit
// through one writer thread (see db.h).
//
// Relaxed writes (WriteOptions::durable = false): a batch whose commands are all relaxed commits
// with synchronous=NORMAL (in WAL mode: no fsync at COMMIT; the commit is in the OS page cache,
// so a crash of this process loses nothing); the writer switches back to the configured level
// before a batch with any durable command, whose fsync of the WAL makes every earlier frame
// durable too. Power-loss bound: once a relaxed commit has waited kRelaxedSyncMicros (200 ms) for
// a durable one, the next batch is durable, or, when no batch comes, the writer syncs the WAL
// itself; so at most the relaxed commits of the last 200 ms plus one batch can be lost. With
// synchronous NORMAL or OFF configured, relaxed and durable batches commit alike.

#include <linux/futex.h>
#include <sqlite3.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "store/db.h"

namespace regulars::store {
namespace {

// The WAL's size past which the writer checkpoints between batches so that the next batch starts
// the WAL again from its beginning (see BoundWal).
constexpr int64_t kWalBoundBytes = int64_t{64} << 20;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One Write's result, handed from the writer thread to the caller waiting in WriteImpl. A futex
// word instead of std::promise, whose set_value makes a FUTEX_WAKE system call every time (its
// call_once) and which allocates a shared state: Set makes no system call when the caller has
// not gone to sleep yet, and one wake when it has; Wait makes none when the result is already
// set. One Set and one Wait per object, on two different threads.
class Completion {
 public:
  // The writer: stores the result and wakes the caller if it sleeps. The caller may return and
  // destroy this object as soon as the state is kDone; the wake after that only passes the
  // word's address to the kernel (a stale wake of whatever waits there later is spurious, which
  // every futex waiter, Wait's loop included, tolerates).
  void Set(Status result) {
    result_ = std::move(result);
    uint32_t* word = reinterpret_cast<uint32_t*>(&state_);
    if (state_.exchange(kDone, std::memory_order_acq_rel) == kSleeping)
      syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

  // The caller: blocks until Set, then takes the result.
  Status Wait() {
    uint32_t expected = kPending;
    if (state_.compare_exchange_strong(expected, kSleeping, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      uint32_t* word = reinterpret_cast<uint32_t*>(&state_);
      while (state_.load(std::memory_order_acquire) != kDone)
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
    }
    return std::move(result_);
  }

 private:
  static constexpr uint32_t kPending = 0, kSleeping = 1, kDone = 2;
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::atomic<uint32_t> state_{kPending};
  Status result_;
};

Error MapSqliteError(sqlite3* db, int rc, std::string_view sql) {
  const char* msg = sqlite3_errmsg(db);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return MakeError(Code::kAlreadyExists, fmt::format("already exists ({})", msg));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return MakeError(Code::kFailedPrecondition,
                       fmt::format("refers to something that does not exist ({})", msg));
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
      return MakeError(Code::kInvalidArgument, fmt::format("constraint failed ({})", msg));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MakeError(Code::kUnavailable, fmt::format("database is busy ({})", msg));
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return MakeError(Code::kUnavailable, fmt::format("database I/O failed ({})", msg));
    default:
      return MakeError(Code::kInternal,
                       fmt::format("sqlite error {}: {} in: {}", rc, msg, sql.substr(0, 200)));
  }
}

// A connection with a cache of prepared statements. Used by one thread at a time.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  ~Conn() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  Status Open(const std::string& path, const Options& o, bool writer) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK)
      return Fail(Code::kUnavailable, fmt::format("cannot open sqlite database {}: {}", path,
                                                  db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, o.busy_timeout_ms);
    // Every connection keeps its own page cache: 64 MiB for the writer, 16 MiB per reader, so
    // a pool of readers does not hold many copies of the same hot pages.
    std::string pragmas = fmt::format(
        "PRAGMA foreign_keys=ON; PRAGMA synchronous={}; PRAGMA temp_store=MEMORY;"
        "PRAGMA cache_size={};",
        o.sqlite_synchronous, writer ? -65536 : -16384);
    // The writer never checkpoints inside COMMIT (wal_autocheckpoint=0): a checkpointer thread
    // with its own connection copies the WAL back in the background (see CheckpointLoop), and
    // the writer finishes the copy itself between batches once the WAL passes kWalBoundBytes
    // (see BoundWal). journal_size_limit (on every connection, so that any of them reports the
    // bound) shrinks the WAL file back to the bound when the writer restarts it.
    pragmas += fmt::format("PRAGMA journal_size_limit={};", kWalBoundBytes);
    if (writer) pragmas = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; " + pragmas;
    return Script(pragmas);
  }

  Status Script(std::string_view sql) {
    char* err = nullptr;
    std::string s(sql);
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      Error e = MapSqliteError(db_, sqlite3_extended_errcode(db_), sql);
      if (err) sqlite3_free(err);
      return std::unexpected(std::move(e));
    }
    return {};
  }

  // Runs one statement without parameters through the statement cache: the transaction control
  // of group commit (BEGIN IMMEDIATE, SAVEPOINT, RELEASE, COMMIT) is parsed once, not per batch.
  // Only for statements without parameters (see the binding contract at SqliteTx::RunInner).
  Status Step(std::string_view sql) {
    RG_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    if (sqlite3_bind_parameter_count(stmt) != 0)
      return Fail(Code::kInternal,
                  fmt::format("Step of a statement with parameters: {}", sql.substr(0, 200)));
    int rc = sqlite3_step(stmt);
    Status s;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
      s = std::unexpected(MapSqliteError(db_, sqlite3_extended_errcode(db_), sql));
    sqlite3_reset(stmt);
    return s;
  }

  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;  // no copy of `sql`
    std::string key(sql);
    if (cache_.size() > 512) {
      for (auto& [s, stmt] : cache_) sqlite3_finalize(stmt);
      cache_.clear();
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(MapSqliteError(db_, rc, sql));
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }

  sqlite3* db() const { return db_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Conn& conn) : conn_(conn) {}

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    Rows out;
    RG_TRY(Run(sql, params, &out));
    return out;
  }

  Result<int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    RG_TRY(Run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes64(conn_.db()));
  }

  Status ExecScript(std::string_view sql) override {
    int64_t start = NowMicros();
    auto s = conn_.Script(sql);
    micros_ += NowMicros() - start;
    return s;
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  int64_t db_micros() const override { return micros_; }

 private:
  Status Run(std::string_view sql, const std::vector<Value>& params, Rows* out) {
    int64_t start = NowMicros();
    auto status = RunInner(sql, params, out);
    micros_ += NowMicros() - start;
    return status;
  }

  // Binding contract: strings are bound SQLITE_STATIC, pointing into `params`, which outlives
  // every step of this call; the statement is reset (not cleared) when the call ends, so its
  // bindings then point at buffers the caller may free. That is safe because a statement is
  // only ever stepped by this function, which checks that `params` has one value per parameter
  // and binds every one of them before the first step: a stale binding is always replaced
  // before SQLite could read it (no sqlite3_clear_bindings, no copy of each bound string).
  Status RunInner(std::string_view sql, const std::vector<Value>& params, Rows* out) {
    RG_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, conn_.Prepare(sql));
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() { sqlite3_reset(s); }
    } reset{stmt};
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt))
      return Fail(Code::kInternal, fmt::format("sql expects {} parameters, got {}: {}",
                                               sqlite3_bind_parameter_count(stmt), params.size(),
                                               sql.substr(0, 200)));
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const Value& v = params[i];
      if (auto p = std::get_if<int64_t>(&v))
        sqlite3_bind_int64(stmt, idx, *p);
      else if (auto d = std::get_if<double>(&v))
        sqlite3_bind_double(stmt, idx, *d);
      else if (auto s = std::get_if<std::string>(&v))
        sqlite3_bind_text(stmt, idx, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
      else
        sqlite3_bind_null(stmt, idx);
    }
    if (out) {
      int n = sqlite3_column_count(stmt);
      out->columns.reserve(n);
      for (int c = 0; c < n; ++c) out->columns.emplace_back(sqlite3_column_name(stmt, c));
    }
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return {};
      if (rc != SQLITE_ROW)
        return std::unexpected(
            MapSqliteError(conn_.db(), sqlite3_extended_errcode(conn_.db()), sql));
      if (!out) continue;
      int n = sqlite3_column_count(stmt);
      std::vector<Value> values;
      values.reserve(n);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            values.emplace_back(int64_t{sqlite3_column_int64(stmt, c)});
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_NULL:
            values.emplace_back(std::monostate{});
            break;
          default: {
            const char* txt = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            values.emplace_back(std::string(txt ? txt : "", sqlite3_column_bytes(stmt, c)));
          }
        }
      }
      out->rows.emplace_back(std::move(values));
    }
  }

  Conn& conn_;
  int64_t micros_ = 0;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, Options options)
      : path_(std::move(path)), options_(std::move(options)) {}

  ~SqliteDatabase() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    {
      std::lock_guard lock(ckpt_mu_);
      ckpt_stopping_ = true;
    }
    ckpt_cv_.notify_all();
    if (ckpt_thread_.joinable()) ckpt_thread_.join();
  }

  Status Start() {
    std::error_code ec;
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    writer_ = std::make_unique<Conn>();
    RG_TRY(writer_->Open(path_, options_, /*writer=*/true));
    for (int i = 0; i < std::max(1, options_.pool_size); ++i) {
      auto c = std::make_unique<Conn>();
      RG_TRY(c->Open(path_, options_, /*writer=*/false));
      readers_.push_back(std::move(c));
      free_readers_.push_back(readers_.back().get());
    }
    checkpointer_ = std::make_unique<Conn>();
    RG_TRY(checkpointer_->Open(path_, options_, /*writer=*/false));
    sqlite3_wal_hook(writer_->db(), &SqliteDatabase::OnWalCommit, this);
    {
      sqlite3_stmt* stmt = nullptr;
      int64_t page_size = 4096;
      if (sqlite3_prepare_v2(writer_->db(), "PRAGMA page_size", -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW)
        page_size = std::max<int64_t>(512, sqlite3_column_int64(stmt, 0));
      sqlite3_finalize(stmt);
      wal_bound_pages_ = static_cast<int>(kWalBoundBytes / page_size);
    }
    std::string level = options_.sqlite_synchronous;
    for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    relaxable_ = level == "FULL" || level == "EXTRA" || level == "2" || level == "3";
    durable_pragma_ = fmt::format("PRAGMA synchronous={}", options_.sqlite_synchronous);
    writer_thread_ = std::thread([this] { WriterLoop(); });
    ckpt_thread_ = std::thread([this] { CheckpointLoop(); });
    return {};
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::string Describe() const override { return "sqlite:" + path_; }
  int64_t TotalDbMicros() const override { return total_micros_.load(); }
  WriteStats Stats() const override {
    return WriteStats{durable_commits_.load(), relaxed_commits_.load(), relaxed_syncs_.load(),
                      waiting_.load()};
  }

 protected:
  Status WriteImpl(const std::function<Status(Tx&)>& fn, const WriteOptions& options) override {
    Job job{&fn, options.durable, {}};
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Fail(Code::kUnavailable, "database is closing");
      queue_.push_back(&job);
      ++waiting_;
    }
    cv_.notify_one();
    return job.done.Wait();
  }

  Status ReadImpl(const std::function<Status(Tx&)>& fn) override {
    Conn* conn;
    {
      std::unique_lock lock(reader_mu_);
      reader_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      conn = free_readers_.back();
      free_readers_.pop_back();
    }
    Status result;
    {
      SqliteTx tx(*conn);
      result = conn->Step("BEGIN");  // prepared once per connection, as the writer's
      if (result) {
        try {
          result = fn(tx);
        } catch (const std::exception& e) {
          result = Fail(Code::kInternal, fmt::format("read failed: {}", e.what()));
        }
        (void)conn->Step("COMMIT");
      }
      total_micros_ += tx.db_micros();
    }
    {
      std::lock_guard lock(reader_mu_);
      free_readers_.push_back(conn);
    }
    reader_cv_.notify_one();
    return result;
  }

 private:
  struct Job {
    const std::function<Status(Tx&)>* fn;
    bool durable = true;
    Completion done;
  };

  // Called by SQLite on the writer thread after each commit with the WAL's size in pages. Asks
  // for a background pass once the WAL reaches kCheckpointPages, then once per kCheckpointPages
  // more, not after every commit: while the writer commits continuously the WAL is not restarted,
  // so asking at every commit kept the checkpointer in back-to-back passes, each with two
  // fdatasyncs for the few frames appended since the previous one (~0.25 a delivered message).
  // The tail left after the last request is copied by the checkpointer's once-a-second pass.
  static int OnWalCommit(void* self, sqlite3*, const char*, int pages) {
    auto* db = static_cast<SqliteDatabase*>(self);
    db->wal_written_ = true;  // this commit wrote frames (and, when durable, synced them)
    db->wal_pages_ = pages;
    if (pages < db->ckpt_asked_at_pages_) db->ckpt_asked_at_pages_ = 0;  // the WAL restarted
    if (pages >= kCheckpointPages && pages >= db->ckpt_asked_at_pages_ + kCheckpointPages) {
      db->ckpt_asked_at_pages_ = pages;
      {
        std::lock_guard lock(db->ckpt_mu_);
        db->ckpt_due_ = true;
      }
      db->ckpt_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  // Checkpoints the WAL off the writer thread once it passes kCheckpointPages. PASSIVE never
  // waits for (or blocks) the writer or readers; it copies what no reader still needs, and the
  // writer restarts the WAL from the beginning once everything was copied. Without this the
  // COMMIT that crossed SQLite's threshold did the copying and its fsync itself. While the
  // writer commits batch after batch (an import), this pass never catches up with the frames
  // appended meanwhile, so the WAL is never restarted: BoundWal finishes the copy.
  void CheckpointLoop() {
    for (;;) {
      {
        std::unique_lock lock(ckpt_mu_);
        ckpt_cv_.wait_for(lock, std::chrono::seconds(1),
                          [&] { return ckpt_stopping_ || ckpt_due_; });
        if (ckpt_stopping_) break;
        ckpt_due_ = false;
      }
      std::lock_guard pass(ckpt_pass_mu_);
      (void)sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                      nullptr, nullptr);
    }
    // A last full copy at shutdown keeps the WAL file small between runs.
    std::lock_guard pass(ckpt_pass_mu_);
    (void)sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    nullptr, nullptr);
  }

  // On the writer thread, outside a transaction, after a commit that left the WAL at
  // kWalBoundBytes or more: copies the rest of the WAL back (PASSIVE, after waiting for a
  // background pass in progress to end, whose copying it then does not repeat). When every frame
  // is copied, the writer's next BEGIN restarts the WAL from its beginning and its first commit
  // truncates the file to journal_size_limit, so the WAL stays within about the bound plus a
  // batch. PASSIVE waits for no reader: frames a reader's snapshot still needs stay, and the next
  // commit tries again. Costs the writer the copy of what the background pass had not reached
  // and one fsync of the database file, once per kWalBoundBytes written.
  void BoundWal() {
    if (wal_pages_ < wal_bound_pages_) return;
    wal_pages_ = 0;
    std::lock_guard pass(ckpt_pass_mu_);
    (void)sqlite3_wal_checkpoint_v2(writer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                    nullptr);
  }

  void WriterLoop() {
    std::vector<Job*> batch;
    std::vector<Status> results;
    for (;;) {
      bool sync_due = false;
      {
        std::unique_lock lock(mu_);
        auto ready = [&] { return stopping_ || !queue_.empty(); };
        if (!relaxed_pending_since_)
          cv_.wait(lock, ready);
        else
          sync_due = !cv_.wait_until(
              lock, *relaxed_pending_since_ + std::chrono::microseconds(kRelaxedSyncMicros), ready);
        if (!sync_due && queue_.empty() && stopping_) {
          lock.unlock();
          SyncRelaxed();
          return;
        }
        if (!sync_due) {
          size_t n = std::min(queue_.size(), static_cast<size_t>(std::max(1, options_.max_batch)));
          batch.assign(queue_.begin(), queue_.begin() + n);
          queue_.erase(queue_.begin(), queue_.begin() + n);
          waiting_ -= static_cast<int64_t>(n);
        }
      }
      if (sync_due) {
        SyncRelaxed();
        continue;
      }
      RunBatch(batch, results);
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.Set(std::move(results[i]));
      BoundWal();
    }
  }

  // Runs every job in one transaction. Optimistically without savepoints first (a savepoint
  // costs a statement and a journal copy of every page it first touches, per command): if a
  // command fails, the batch is rolled back and run again with a savepoint per command, so the
  // failure rolls back alone. A function may therefore run twice, which db.h allows. A batch of
  // one needs no second run: its rollback is the failure's.
  void RunBatch(const std::vector<Job*>& batch, std::vector<Status>& results) {
    bool relaxed =
        std::none_of(batch.begin(), batch.end(), [](const Job* j) { return j->durable; });
    if (relaxed && relaxed_pending_since_ &&
        Clock::now() - *relaxed_pending_since_ >= std::chrono::microseconds(kRelaxedSyncMicros))
      relaxed = false;  // relaxed commits have waited long enough: this batch syncs them
    if (auto s = SetRelaxed(relaxed && relaxable_); !s && !relaxed) {
      results.assign(batch.size(), s);  // never commit a durable command relaxed
      return;
    }
    batch_relaxed_ = relaxed;
    if (!RunBatchOnce(batch, results, /*savepoints=*/false))
      RunBatchOnce(batch, results, /*savepoints=*/true);
  }

  // Switches the writer's synchronous level between batches (outside a transaction).
  Status SetRelaxed(bool relaxed) {
    if (relaxed == writer_relaxed_) return {};
    RG_TRY(writer_->Step(relaxed ? "PRAGMA synchronous=NORMAL" : durable_pragma_));
    writer_relaxed_ = relaxed;
    return {};
  }

  // Called after a COMMIT succeeded: counts it and tracks relaxed commits not yet synced.
  void Committed() {
    bool wrote = wal_written_;
    wal_written_ = false;
    ++(batch_relaxed_ ? relaxed_commits_ : durable_commits_);
    if (!writer_relaxed_) {
      if (wrote) relaxed_pending_since_.reset();  // its WAL sync covered every earlier frame
      return;
    }
    if (wrote && !relaxed_pending_since_) relaxed_pending_since_ = Clock::now();
  }

  // Makes the relaxed commits so far durable: fsync of the WAL file, all of whose frames are then
  // on disk.
  void SyncRelaxed() {
    if (!relaxed_pending_since_) return;
    relaxed_pending_since_.reset();
    sqlite3_file* wal = nullptr;
    if (sqlite3_file_control(writer_->db(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) !=
            SQLITE_OK ||
        !wal || !wal->pMethods)
      return;
    (void)wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    ++relaxed_syncs_;
  }

  // Runs one command's function and the work it left for before the commit.
  static Status RunCommand(const Job& job, SqliteTx& tx) {
    Status r;
    try {
      r = (*job.fn)(tx);
      if (r) r = tx.RunBeforeCommit();
    } catch (const std::exception& e) {
      r = Fail(Code::kInternal, fmt::format("write failed: {}", e.what()));
    }
    tx.ClearBeforeCommit();
    return r;
  }

  // One transaction over the batch. Without savepoints, returns false (everything rolled back,
  // `results` meaningless) when a command of a batch of several failed; otherwise true with
  // every command's result.
  bool RunBatchOnce(const std::vector<Job*>& batch, std::vector<Status>& results, bool savepoints) {
    results.assign(batch.size(), Status{});
    SqliteTx tx(*writer_);
    struct Account {
      SqliteDatabase* self;
      SqliteTx& tx;
      ~Account() { self->total_micros_ += tx.db_micros(); }
    } account{this, tx};
    if (auto s = writer_->Step("BEGIN IMMEDIATE"); !s) {
      for (auto& r : results) r = s;
      return true;
    }
    const Status lost = Fail(Code::kUnavailable, "database transaction was rolled back; retry");
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!savepoints) {
        Status r = RunCommand(*batch[i], tx);
        bool rolled_back = sqlite3_get_autocommit(writer_->db());
        if (r && !rolled_back) continue;
        if (!rolled_back) (void)writer_->Step("ROLLBACK");
        if (batch.size() > 1) return false;
        results[0] = r ? lost : r;
        return true;
      }
      if (auto s = writer_->Step("SAVEPOINT rg_cmd"); !s) {
        results[i] = s;
        continue;
      }
      Status r = RunCommand(*batch[i], tx);
      if (sqlite3_get_autocommit(writer_->db())) {
        // SQLite rolled the whole transaction back (I/O error, out of memory): every command of
        // this batch so far is lost with it.
        for (size_t j = 0; j < i; ++j)
          if (results[j]) results[j] = lost;
        results[i] = r ? lost : r;
        (void)writer_->Step("BEGIN IMMEDIATE");
        continue;
      }
      if (r) {
        (void)writer_->Step("RELEASE rg_cmd");
      } else {
        (void)writer_->Script("ROLLBACK TO rg_cmd; RELEASE rg_cmd");
      }
      results[i] = std::move(r);
    }
    wal_written_ = false;
    if (auto s = writer_->Step("COMMIT"); !s) {
      (void)writer_->Step("ROLLBACK");
      for (auto& r : results)
        if (r) r = s;
    } else {
      Committed();
    }
    return true;
  }

  std::string path_;
  Options options_;
  static constexpr int kCheckpointPages = 1000;  // SQLite's own default threshold
  // Relaxed writes (file comment); writer-thread state except the counters.
  using Clock = std::chrono::steady_clock;
  static constexpr int64_t kRelaxedSyncMicros = 200'000;
  bool relaxable_ = false;       // the configured level syncs at COMMIT (FULL, EXTRA)
  std::string durable_pragma_;   // "PRAGMA synchronous=<configured>"
  bool writer_relaxed_ = false;  // the writer connection is at synchronous=NORMAL now
  bool batch_relaxed_ = false;   // the running batch's commands are all relaxed
  bool wal_written_ = false;     // set by OnWalCommit
  std::optional<Clock::time_point> relaxed_pending_since_;  // oldest relaxed commit not synced
  std::atomic<int64_t> durable_commits_{0}, relaxed_commits_{0}, relaxed_syncs_{0}, waiting_{0};
  std::unique_ptr<Conn> writer_;
  std::thread writer_thread_;
  std::unique_ptr<Conn> checkpointer_;
  std::thread ckpt_thread_;
  std::mutex ckpt_mu_;
  std::mutex ckpt_pass_mu_;      // held for each checkpoint call: one pass at a time
  int wal_pages_ = 0;            // the WAL's frames after the last commit (OnWalCommit)
  int ckpt_asked_at_pages_ = 0;  // wal_pages_ when OnWalCommit last asked for a pass
  int wal_bound_pages_ = 0;      // kWalBoundBytes in pages of this database
  std::condition_variable ckpt_cv_;
  bool ckpt_due_ = false;
  bool ckpt_stopping_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  bool stopping_ = false;

  std::vector<std::unique_ptr<Conn>> readers_;
  std::vector<Conn*> free_readers_;
  std::mutex reader_mu_;
  std::condition_variable reader_cv_;
  std::atomic<int64_t> total_micros_{0};
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, const Options& options) {
  auto db = std::make_unique<SqliteDatabase>(path, options);
  RG_TRY(db->Start());
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace regulars::store
