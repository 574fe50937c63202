// What these tests prove: AppendEvent numbers and writes an event at the end of its transaction
// (Tx::BeforeCommit), in the order appended, gap-free per merchant, and only if the transaction
// commits; a merchant that does not exist fails the whole transaction; MoveMemberEvents moves the
// events appended before it in the same transaction and none appended after it.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "events/event_repo.h"
#include "store/testing.h"

namespace regulars::events {
namespace {

constexpr Id kMerchant = 42;

class EventRepoTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto s = db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec(
          "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
          "created_at, updated_at) VALUES (?, 'm', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
          {kMerchant}));
      return tx.ExecScript("CREATE TABLE test_rows (merchant_id BIGINT NOT NULL, n BIGINT)");
    });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
  }

  std::vector<Event> All() {
    auto events = db().ReadValue([](store::Tx& tx) { return ReadEvents(tx, kMerchant, 0, 1000); });
    EXPECT_TRUE(events.has_value()) << events.error().ToString();
    return events.value_or(std::vector<Event>{});
  }

  int64_t Scalar(const std::string& sql) {
    auto n = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query(sql));
      return rows[0].Int(0);
    });
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  }
};
RG_INSTANTIATE_BACKENDS(EventRepoTest);

TEST_P(EventRepoTest, EventsAreNumberedAtCommitInTheOrderAppended) {
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(Event a, AppendEvent(tx, kMerchant, 100, {"first", Id{7}, "test", "{}"}));
    EXPECT_EQ(a.seq, 0);  // not numbered yet
    EXPECT_NE(a.id, 0);
    RG_TRY(AppendEvent(tx, kMerchant, 200, {"second", std::nullopt, "test", R"({"k":1})"}));
    // Written at the end: the transaction does not see them yet.
    RG_ASSIGN_OR_RETURN(store::Rows n, tx.Query("SELECT COUNT(*) FROM events"));
    EXPECT_EQ(n[0].Int(0), 0);
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  auto events = All();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 1);
  EXPECT_EQ(events[0].type, "first");
  EXPECT_EQ(events[0].member_id, std::optional<Id>(7));
  EXPECT_EQ(events[0].occurred_at, 100);
  EXPECT_EQ(events[1].seq, 2);
  EXPECT_EQ(events[1].type, "second");
  EXPECT_EQ(events[1].member_id, std::nullopt);
  EXPECT_EQ(events[1].data, R"({"k":1})");
  EXPECT_EQ(Scalar("SELECT last_event_seq FROM merchants WHERE merchant_id = 42"), 2);

  // A transaction that fails after appending leaves neither its event nor a gap.
  auto failed = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AppendEvent(tx, kMerchant, 300, {"lost", std::nullopt, "test", "{}"}));
    return Fail(Code::kFailedPrecondition, "changed my mind");
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, Code::kFailedPrecondition);
  auto s3 = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AppendEvent(tx, kMerchant, 400, {"third", std::nullopt, "test", "{}"}));
    return {};
  });
  ASSERT_TRUE(s3.has_value()) << s3.error().ToString();
  events = All();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].seq, 3);
  EXPECT_EQ(events[2].type, "third");
}

TEST_P(EventRepoTest, UnknownMerchantFailsTheTransaction) {
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec("INSERT INTO test_rows (merchant_id, n) VALUES (?, 1)", {kMerchant}));
    RG_TRY(AppendEvent(tx, 999, 100, {"orphan", std::nullopt, "test", "{}"}));
    return {};
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Code::kNotFound);
  EXPECT_EQ(s.error().message, "merchant not found");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM test_rows"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM events"), 0);
}

TEST_P(EventRepoTest, MoveMemberEventsMovesWhatWasAppendedBeforeIt) {
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AppendEvent(tx, kMerchant, 100, {"old", Id{5}, "test", "{}"}));
    return {};
  }));
  auto s = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AppendEvent(tx, kMerchant, 200, {"before_merge", Id{5}, "test", "{}"}));
    RG_TRY(MoveMemberEvents(tx, kMerchant, 5, 6));
    RG_TRY(AppendEvent(tx, kMerchant, 300, {"after_merge", Id{5}, "test", "{}"}));
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  auto events = All();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].member_id, std::optional<Id>(6));
  EXPECT_EQ(events[1].type, "before_merge");
  EXPECT_EQ(events[1].member_id, std::optional<Id>(6));
  EXPECT_EQ(events[2].type, "after_merge");
  EXPECT_EQ(events[2].member_id, std::optional<Id>(5));
}

// A transaction appending thousands of events (the expiry sweep over many members) writes them
// in one buffered reservation and multi-row INSERTs: each merchant's seqs stay consecutive in the
// order appended (interleaved merchants included, across INSERT chunks), a reader sees every
// event with its fields, and the next transaction continues the numbering.
TEST_P(EventRepoTest, ThousandsOfEventsInOneTransactionGetConsecutiveSeqs) {
  constexpr Id kOther = 43;
  constexpr int kEvents = 3000;
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
        "created_at, updated_at) VALUES (?, 'o', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
        {kOther}));
    // The other merchant goes first, then every seventh event is its.
    RG_TRY(AppendEvent(tx, kOther, 1, {"other", std::nullopt, "test", "{}"}));
    return {};
  }));
  auto s = db().Write([&](store::Tx& tx) -> Status {
    for (int i = 0; i < kEvents; ++i) {
      Id merchant = i % 7 == 3 ? kOther : kMerchant;
      RG_TRY(AppendEvent(tx, merchant, 1000 + i,
                         {"points_expired", i % 2 ? std::optional<Id>(Id{100 + i}) : std::nullopt,
                          "sweep", "{\"i\":" + std::to_string(i) + "}"}));
    }
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  auto mine = db().ReadValue([](store::Tx& tx) { return ReadEvents(tx, kMerchant, 0, 10000); });
  auto other = db().ReadValue([](store::Tx& tx) { return ReadEvents(tx, kOther, 0, 10000); });
  ASSERT_TRUE(mine.has_value()) << mine.error().ToString();
  ASSERT_TRUE(other.has_value()) << other.error().ToString();
  int others = 0;
  for (int i = 0; i < kEvents; ++i) others += i % 7 == 3;
  ASSERT_EQ(mine->size(), static_cast<size_t>(kEvents - others));
  ASSERT_EQ(other->size(), static_cast<size_t>(others + 1));
  size_t m = 0, o = 1;
  for (int i = 0; i < kEvents; ++i) {
    const Event& e = i % 7 == 3 ? (*other)[o++] : (*mine)[m++];
    int64_t want_seq = i % 7 == 3 ? static_cast<int64_t>(o) : static_cast<int64_t>(m);
    ASSERT_EQ(e.seq, want_seq) << "event " << i;
    ASSERT_EQ(e.data, "{\"i\":" + std::to_string(i) + "}") << "seq " << e.seq;
    ASSERT_EQ(e.occurred_at, 1000 + i) << "seq " << e.seq;
    ASSERT_EQ(e.member_id, i % 2 ? std::optional<Id>(Id{100 + i}) : std::nullopt)
        << "seq " << e.seq;
    ASSERT_EQ(e.type, "points_expired");
    ASSERT_EQ(e.actor, "sweep");
  }
  EXPECT_EQ(Scalar("SELECT last_event_seq FROM merchants WHERE merchant_id = 42"),
            kEvents - others);
  EXPECT_EQ(Scalar("SELECT last_event_seq FROM merchants WHERE merchant_id = 43"), others + 1);
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AppendEvent(tx, kMerchant, 1, {"next", std::nullopt, "test", "{}"}));
    return {};
  }));
  auto last = db().ReadValue(
      [&](store::Tx& tx) { return ReadEvents(tx, kMerchant, kEvents - others, 10); });
  ASSERT_TRUE(last.has_value()) << last.error().ToString();
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].seq, kEvents - others + 1);
  EXPECT_EQ((*last)[0].type, "next");
}

// Writers of one merchant at once: every committed event has its own seq, 1..N without a gap,
// and each transaction's two events are adjacent (the numbering holds the merchant row until
// COMMIT, so no other transaction's event can come between).
TEST_P(EventRepoTest, ConcurrentWritersGetGapFreeAdjacentSeqs) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        auto s = db().Write([&](store::Tx& tx) -> Status {
          std::string tag = std::to_string(t * 1000 + k);
          RG_TRY(AppendEvent(tx, kMerchant, 1, {"a", std::nullopt, tag, "{}"}));
          RG_TRY(tx.Exec("INSERT INTO test_rows (merchant_id, n) VALUES (?, ?)",
                         {kMerchant, int64_t{t}}));
          RG_TRY(AppendEvent(tx, kMerchant, 1, {"b", std::nullopt, tag, "{}"}));
          return {};
        });
        if (!s) ++errors;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  auto events = All();
  ASSERT_EQ(events.size(), static_cast<size_t>(2 * kThreads * kPerThread));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(events[i].type, i % 2 == 0 ? "a" : "b") << "seq " << events[i].seq;
    if (i % 2 == 1) EXPECT_EQ(events[i].actor, events[i - 1].actor) << "seq " << events[i].seq;
  }
}

}  // namespace
}  // namespace regulars::events
