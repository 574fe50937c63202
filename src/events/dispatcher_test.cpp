// What these tests prove: the event log is written in the same transaction as the change, and
// the dispatcher hands each event to a database-backed consumer exactly once, even when the
// process dies at any moment — between a commit and its dispatch, in the middle of a dispatch
// batch, or in the middle of writing. The crash test forks a child that writes events and
// dispatches them in a loop, kills it with SIGKILL after a random delay, then lets a fresh
// dispatcher finish the job and counts deliveries per event: each must be exactly 1.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "events/dispatcher.h"
#include "events/event_repo.h"
#include "store/testing.h"

namespace regulars::events {
namespace {

constexpr Id kMerchant = 42;

// Records every delivery in a table with no unique key, so a double delivery shows as a count.
class Recorder final : public Consumer {
 public:
  explicit Recorder(std::string name, bool fail_on_seq_7 = false)
      : name_(std::move(name)), fail_(fail_on_seq_7) {}
  std::string name() const override { return name_; }
  Status Handle(store::Tx& tx, const Event& e) override {
    if (fail_ && e.seq == 7) return Fail(Code::kUnavailable, "consumer is down");
    RG_TRY(tx.Exec("INSERT INTO test_deliveries (merchant_id, consumer, seq) VALUES (?, ?, ?)",
                   {e.merchant_id, name_, e.seq}));
    return {};
  }

 private:
  std::string name_;
  bool fail_;
};

class DispatcherTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec(
          "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
          "created_at, updated_at) VALUES (?, 'm', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
          {kMerchant}));
      return tx.ExecScript(
          "CREATE TABLE test_deliveries (merchant_id BIGINT NOT NULL, consumer TEXT NOT NULL, "
          "seq BIGINT NOT NULL)");
    }));
  }

  Status AppendN(store::Database& db, int n) {
    for (int i = 0; i < n; ++i) {
      RG_TRY(db.Write([&](store::Tx& tx) -> Status {
        RG_TRY(
            AppendEvent(tx, kMerchant, clock_.Now(), {"test_event", std::nullopt, "test", "{}"}));
        return {};
      }));
    }
    return {};
  }

  // Number of events, and how many (consumer, seq) pairs were delivered other than once.
  std::pair<int64_t, int64_t> Audit(const std::string& consumer) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<std::pair<int64_t, int64_t>> {
      RG_ASSIGN_OR_RETURN(auto n, tx.Query("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events "
                                           "WHERE merchant_id = ?",
                                           {kMerchant}));
      EXPECT_EQ(n[0].Int(0), n[0].Int(1)) << "event seqs have a gap";
      RG_ASSIGN_OR_RETURN(
          auto bad,
          tx.Query("SELECT COUNT(*) FROM events e WHERE e.merchant_id = ? AND (SELECT COUNT(*) "
                   "FROM test_deliveries d WHERE d.merchant_id = e.merchant_id AND d.seq = e.seq "
                   "AND d.consumer = ?) <> 1",
                   {kMerchant, consumer}));
      return std::pair{n[0].Int(0), bad[0].Int(0)};
    });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(std::pair<int64_t, int64_t>{-1, -1});
  }
};

TEST_P(DispatcherTest, CommittedButUndispatchedEventsAreDeliveredOnce) {
  ASSERT_TRUE(AppendN(db(), 10));
  // "Crash" between commit and dispatch: no dispatcher ran. A new one delivers everything.
  Recorder rec("recorder");
  {
    Dispatcher d(db(), clock_, 4);
    d.Register(&rec);
    auto n = d.RunOnce();
    ASSERT_TRUE(n.has_value()) << n.error().ToString();
    EXPECT_EQ(*n, 10);
    EXPECT_EQ(*d.RunOnce(), 0);  // replay delivers nothing twice
  }
  ASSERT_TRUE(AppendN(db(), 3));
  Dispatcher d2(db(), clock_);
  d2.Register(&rec);
  EXPECT_EQ(*d2.RunOnce(), 3);
  auto [events, bad] = Audit("recorder");
  EXPECT_EQ(events, 13);
  EXPECT_EQ(bad, 0);
}

TEST_P(DispatcherTest, FailingConsumerDoesNotAdvanceAndOthersContinue) {
  ASSERT_TRUE(AppendN(db(), 10));
  Recorder broken("broken", /*fail_on_seq_7=*/true);
  Recorder fine("fine");
  Dispatcher d(db(), clock_, 5);
  d.Register(&broken);
  d.Register(&fine);
  ASSERT_TRUE(d.RunOnce().has_value());
  auto cursor = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT last_seq FROM event_cursors WHERE merchant_id = "
                                         "? AND consumer = 'broken'",
                                         {kMerchant}));
    return r.empty() ? 0 : r[0].Int(0);
  });
  EXPECT_EQ(*cursor, 5);  // the batch 6..10 rolled back as a whole
  EXPECT_EQ(Audit("fine").second, 0);
}

TEST_P(DispatcherTest, SigkillAtRandomMomentsLosesAndDuplicatesNothing) {
  std::mt19937 rng(20261123);
  std::string url = url_;
  db_.reset();  // the parent holds no threads or connections across fork()
  for (int round = 0; round < 15; ++round) {
    // The child says on `ready` when its first events are committed, so that every round kills
    // a child that is working, however slowly the machine starts it.
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      store::Options o;
      o.url = url;
      o.pool_size = 2;
      auto child_db = store::Open(o);
      if (!child_db) _exit(3);
      Recorder rec("recorder");
      Dispatcher d(**child_db, clock_, 3);
      d.Register(&rec);
      bool told = false;
      for (;;) {
        bool appended = AppendN(**child_db, 2).has_value();
        if (appended && !told) {
          told = write(ready[1], "r", 1) == 1;
          close(ready[1]);
        }
        (void)d.RunOnce();
      }
    }
    close(ready[1]);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child never committed its first events";
    close(ready[0]);
    usleep(std::uniform_int_distribution<int>(2'000, 40'000)(rng));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
  }
  store::Options o;
  o.url = url;
  auto reopened = store::Open(o);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
  db_ = std::move(*reopened);
  Recorder rec("recorder");
  Dispatcher d(db(), clock_);
  d.Register(&rec);
  ASSERT_TRUE(d.RunOnce().has_value());
  auto [events, bad] = Audit("recorder");
  EXPECT_GE(events, 30);  // at least each round's first two
  EXPECT_EQ(bad, 0) << "events delivered other than exactly once";
}

RG_INSTANTIATE_BACKENDS(DispatcherTest);

}  // namespace
}  // namespace regulars::events
