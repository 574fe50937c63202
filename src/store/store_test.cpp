// The database contract from db.h, run on every backend (SQLite always; PostgreSQL when
// REGULARS_TEST_PG is set, e.g. through scripts/with-postgres.sh).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "store/db.h"
#include "store/migrations.h"
#include "store/testing.h"

namespace regulars::store {
namespace {

std::string Show(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return "NULL";
  if (auto p = std::get_if<int64_t>(&v)) return fmt::format("int {}", *p);
  if (auto p = std::get_if<double>(&v)) return fmt::format("double {}", *p);
  return fmt::format("text '{}'", std::get<std::string>(v));
}

constexpr std::string_view kItemsTable = R"sql(
CREATE TABLE items (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  i BIGINT,
  d DOUBLE PRECISION,
  s TEXT,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX items_s ON items (merchant_id, s);
CREATE TABLE counters (
  merchant_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, name)
);
INSERT INTO counters (merchant_id, name, n) VALUES (1, 'writes', 0);
)sql";

class StoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto s = db().Write([](Tx& tx) { return tx.ExecScript(kItemsTable); });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
  }

  Status Insert(Tx& tx, int64_t id, Value i = Null(), Value d = Null(), Value s = Null()) {
    RG_TRY(tx.Exec("INSERT INTO items (merchant_id, id, i, d, s) VALUES (1, ?, ?, ?, ?)",
                   {id, i, d, s}));
    return {};
  }

  // Ids of the rows in `items`, in order.
  std::vector<int64_t> Ids() {
    auto ids = db().ReadValue([](Tx& tx) -> Result<std::vector<int64_t>> {
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT id FROM items ORDER BY id"));
      std::vector<int64_t> out;
      for (const Row& r : rows) out.push_back(r.Int(0));
      return out;
    });
    EXPECT_TRUE(ids.has_value()) << ids.error().ToString();
    return ids.value_or(std::vector<int64_t>{});
  }
};
RG_INSTANTIATE_BACKENDS(StoreTest);

// Every Value kind goes in as a parameter and comes back as the same kind and the same value,
// both through a typed column and straight through `SELECT ?`.
TEST_P(StoreTest, ValuesRoundTrip) {
  struct Case {
    std::string name;
    std::string column;  // where it is stored
    Value value;
  };
  const std::vector<Case> cases = {
      {"null int", "i", Null()},
      {"null double", "d", Null()},
      {"null text", "s", Null()},
      {"zero", "i", int64_t{0}},
      {"negative", "i", int64_t{-42}},
      {"int64 max", "i", std::numeric_limits<int64_t>::max()},
      {"int64 min", "i", std::numeric_limits<int64_t>::min()},
      {"micros timestamp", "i", int64_t{1'790'000'000'123'456}},
      {"double tenth", "d", 0.1},
      {"double third", "d", 1.0 / 3.0},
      {"double negative", "d", -2.5},
      {"double huge", "d", 1.7976931348623157e308},
      {"double tiny", "d", 2.2250738585072014e-308},
      {"double zero", "d", 0.0},
      {"double integral", "d", 3.0},
      {"empty text", "s", std::string()},
      {"ascii text", "s", std::string("hello, world")},
      {"quotes and marks", "s", std::string("it's a \"?\" -- /* not */ $1 $$")},
      {"unicode text", "s", std::string("臺北市信義區 café 🎉 ñ")},
      {"newlines", "s", std::string("line 1\nline 2\r\n\ttab")},
      {"long text", "s", fmt::format("{:->2000}", "end")},
  };
  int64_t id = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ++id;
    auto got = db().WriteValue([&](Tx& tx) -> Result<Row> {
      RG_TRY(
          tx.Exec(fmt::format("INSERT INTO items (merchant_id, id, {}) VALUES (1, ?, ?)", c.column),
                  {id, c.value}));
      RG_ASSIGN_OR_RETURN(
          Rows rows,
          tx.Query(fmt::format("SELECT {} FROM items WHERE merchant_id = 1 AND id = ?", c.column),
                   {id}));
      if (rows.size() != 1) return Fail(Code::kInternal, "row not found");
      return rows[0];
    });
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->At(0), c.value) << "stored " << Show(c.value) << ", read " << Show(got->At(0));

    auto direct = db().ReadValue([&](Tx& tx) -> Result<Row> {
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT ?", {c.value}));
      return rows[0];
    });
    ASSERT_TRUE(direct.has_value()) << direct.error().ToString();
    EXPECT_EQ(direct->At(0), c.value)
        << "sent " << Show(c.value) << ", got back " << Show(direct->At(0));
  }
}

TEST_P(StoreTest, ResultTypesAreTheSameOnEveryBackend) {
  auto row = db().ReadValue([](Tx& tx) -> Result<Row> {
    RG_ASSIGN_OR_RETURN(
        Rows rows, tx.Query("SELECT 1 = 1, 1 = 0, COUNT(*), CAST(7 AS INTEGER), 2.5, 'x', NULL, "
                            "(SELECT SUM(n) FROM counters), (SELECT SUM(i) FROM items) "
                            "FROM counters"));
    return rows[0];
  });
  ASSERT_TRUE(row.has_value()) << row.error().ToString();
  EXPECT_EQ(row->At(0), Value(int64_t{1}));
  EXPECT_EQ(row->At(1), Value(int64_t{0}));
  EXPECT_EQ(row->At(2), Value(int64_t{1}));
  EXPECT_EQ(row->At(3), Value(int64_t{7}));
  EXPECT_EQ(row->At(4), Value(2.5));
  EXPECT_EQ(row->At(5), Value(std::string("x")));
  EXPECT_EQ(row->At(6), Null());
  EXPECT_EQ(row->At(7), Value(int64_t{0})) << Show(row->At(7));  // SUM(bigint): numeric on PG
  EXPECT_EQ(row->At(8), Null());                                 // SUM over no rows
}

TEST_P(StoreTest, PlaceholdersAreNumberedOutsideQuotes) {
  auto row = db().ReadValue([](Tx& tx) -> Result<Row> {
    RG_ASSIGN_OR_RETURN(Rows rows,
                        tx.Query("SELECT ?, '?', 'it''s ?', ? AS \"q?\", /* ? */ ? -- ?\n",
                                 {int64_t{1}, std::string("two"), int64_t{3}}));
    return rows[0];
  });
  ASSERT_TRUE(row.has_value()) << row.error().ToString();
  ASSERT_EQ(row->size(), 5u);
  EXPECT_EQ(row->At(0), Value(int64_t{1}));
  EXPECT_EQ(row->Str(1), "?");
  EXPECT_EQ(row->Str(2), "it's ?");
  EXPECT_EQ(row->Str(3), "two");
  EXPECT_EQ(row->At(4), Value(int64_t{3}));

  // Placeholders in WHERE and in a string compared with one.
  auto s = db().Write([&](Tx& tx) { return Insert(tx, 1, Null(), Null(), std::string("a?b")); });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  auto n = db().ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(
        Rows rows, tx.Query("SELECT COUNT(*) FROM items WHERE s = 'a?b' AND merchant_id = ? AND "
                            "s = ? AND id IN (?, ?)",
                            {int64_t{1}, std::string("a?b"), int64_t{1}, int64_t{9}}));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(*n, 1);
}

TEST_P(StoreTest, WrongParameterCountIsAnError) {
  auto r = db().ReadValue([](Tx& tx) { return tx.Query("SELECT ?, ?", {int64_t{1}}); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInternal) << r.error().ToString();
}

TEST_P(StoreTest, UniqueViolationIsAlreadyExistsAndRollsBack) {
  ASSERT_TRUE(db().Write([&](Tx& tx) { return Insert(tx, 1); }).has_value());
  auto s = db().Write([&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 2));
    RG_TRY(Insert(tx, 1));  // duplicate primary key
    return {};
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Code::kAlreadyExists) << s.error().ToString();
  EXPECT_TRUE(s.error().message.starts_with("already exists (")) << s.error().message;
  EXPECT_EQ(Ids(), std::vector<int64_t>{1}) << "row 2 must have been rolled back";

  // A unique index other than the primary key.
  ASSERT_TRUE(db().Write([&](Tx& tx) { return Insert(tx, 3, Null(), Null(), std::string("x")); }));
  auto dup = db().Write([&](Tx& tx) { return Insert(tx, 4, Null(), Null(), std::string("x")); });
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists) << dup.error().ToString();
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 3}));
}

TEST_P(StoreTest, ConstraintErrorsMapToCodes) {
  struct Case {
    std::string name;
    std::string sql;
    Code code;
  };
  const std::vector<Case> cases = {
      {"not null", "INSERT INTO counters (merchant_id, name, n) VALUES (1, 'x', NULL)",
       Code::kInvalidArgument},
      {"foreign key",
       "INSERT INTO branches (merchant_id, id, name, created_at, updated_at) "
       "VALUES (999, 1, 'b', 0, 0)",
       Code::kFailedPrecondition},
      {"duplicate", "INSERT INTO counters (merchant_id, name, n) VALUES (1, 'writes', 0)",
       Code::kAlreadyExists},
      {"syntax error", "INSERT INTO nowhere VALUES (1)", Code::kInternal},
  };
  for (const Case& c : cases) {
    auto s = db().Write([&](Tx& tx) -> Status {
      RG_TRY(tx.Exec(c.sql));
      return {};
    });
    ASSERT_FALSE(s.has_value()) << c.name;
    EXPECT_EQ(s.error().code, c.code) << c.name << ": " << s.error().ToString();
  }
}

TEST_P(StoreTest, CallbackErrorRollsBackAndIsReturnedUnchanged) {
  auto s = db().Write([&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 1));
    return Fail(Code::kFailedPrecondition, "balance too low", "points");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(s.error().message, "balance too low");
  EXPECT_EQ(s.error().field, "points");
  EXPECT_TRUE(Ids().empty());

  // An exception is a bug; it fails the command as internal and rolls back too.
  auto t = db().Write([&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 2));
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, Code::kInternal);
  EXPECT_TRUE(Ids().empty());
}

// Many threads write at once; every 7th command inserts a row, bumps a shared counter and then
// fails. On SQLite these commands share group-commit transactions, so this proves each failing
// command's savepoint rolls back alone; on PostgreSQL it proves the pool and per-transaction
// rollback. Exactly the successful commands' rows and counter increments must survive.
TEST_P(StoreTest, ConcurrentWritesKeepExactlyTheSuccessfulOnes) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 200;
  std::atomic<int> ok{0}, failed{0}, wrong_error{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        int64_t id = t * kPerThread + k;
        bool fail = id % 7 == 0;
        auto s = db().Write([&](Tx& tx) -> Status {
          RG_TRY(Insert(tx, id, id));
          RG_TRY(tx.Exec("UPDATE counters SET n = n + 1 WHERE merchant_id = 1 AND name = ?",
                         {std::string("writes")}));
          if (fail) return Fail(Code::kFailedPrecondition, "every 7th fails");
          return {};
        });
        if (s)
          ++ok;
        else if (fail && s.error().code == Code::kFailedPrecondition)
          ++failed;
        else
          ++wrong_error;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong_error.load(), 0);

  std::vector<int64_t> expected;
  for (int64_t id = 0; id < kThreads * kPerThread; ++id)
    if (id % 7 != 0) expected.push_back(id);
  EXPECT_EQ(ok.load(), static_cast<int>(expected.size()));
  EXPECT_EQ(failed.load(), kThreads * kPerThread - static_cast<int>(expected.size()));
  EXPECT_EQ(Ids(), expected);
  auto n = db().ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT n FROM counters WHERE name = 'writes'"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(*n, static_cast<int64_t>(expected.size()));
}

TEST_P(StoreTest, WriteValueAndReadValueReturnValues) {
  auto changed = db().WriteValue([&](Tx& tx) -> Result<int64_t> {
    RG_TRY(Insert(tx, 1, int64_t{10}));
    RG_TRY(Insert(tx, 2, int64_t{20}));
    return tx.Exec("UPDATE items SET i = i + 1 WHERE merchant_id = ?", {int64_t{1}});
  });
  ASSERT_TRUE(changed.has_value()) << changed.error().ToString();
  EXPECT_EQ(*changed, 2);

  auto none = db().WriteValue([&](Tx& tx) -> Result<int64_t> {
    return tx.Exec("DELETE FROM items WHERE id = ?", {int64_t{99}});
  });
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, 0);

  auto sum = db().ReadValue([](Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT i FROM items ORDER BY id"));
    return fmt::format("{}+{}", rows[0].Int(0), rows[1].Int(0));
  });
  ASSERT_TRUE(sum.has_value());
  EXPECT_EQ(*sum, "11+21");

  auto err =
      db().ReadValue([](Tx& tx) -> Result<int> { return Fail(Code::kNotFound, "no such member"); });
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().code, Code::kNotFound);

  auto werr = db().WriteValue([&](Tx& tx) -> Result<int> {
    RG_TRY(Insert(tx, 3));
    return Fail(Code::kNotFound, "no such member");
  });
  ASSERT_FALSE(werr.has_value());
  EXPECT_EQ(werr.error().code, Code::kNotFound);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2}));
}

TEST_P(StoreTest, ReadSeesCommittedDataOnAStableSnapshot) {
  ASSERT_TRUE(db().Write([&](Tx& tx) { return Insert(tx, 1); }).has_value());
  EXPECT_EQ(Ids(), std::vector<int64_t>{1});

  // A write that commits while a Read is open is not visible inside that Read.
  auto counts = db().ReadValue([&](Tx& tx) -> Result<std::pair<int64_t, int64_t>> {
    RG_ASSIGN_OR_RETURN(Rows before, tx.Query("SELECT COUNT(*) FROM items"));
    Status w;
    std::thread writer([&] { w = db().Write([&](Tx& wtx) { return Insert(wtx, 2); }); });
    writer.join();
    if (!w) return std::unexpected(w.error());
    RG_ASSIGN_OR_RETURN(Rows after, tx.Query("SELECT COUNT(*) FROM items"));
    return std::pair{before[0].Int(0), after[0].Int(0)};
  });
  ASSERT_TRUE(counts.has_value()) << counts.error().ToString();
  EXPECT_EQ(counts->first, 1);
  EXPECT_EQ(counts->second, 1);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2}));
}

TEST_P(StoreTest, DbTimeIsCounted) {
  int64_t before = db().TotalDbMicros();
  int64_t inside = -1;
  ASSERT_TRUE(db().Write([&](Tx& tx) -> Status {
    for (int i = 0; i < 20; ++i) RG_TRY(Insert(tx, i + 1));
    inside = tx.db_micros();
    return {};
  }));
  EXPECT_GT(inside, 0);
  EXPECT_GE(db().TotalDbMicros() - before, inside);
}

TEST_P(StoreTest, DescribeNamesTheBackend) {
  std::string d = db().Describe();
  if (db().dialect() == Dialect::kSqlite) {
    EXPECT_TRUE(d.starts_with("sqlite:")) << d;
  } else {
    EXPECT_TRUE(d.starts_with("postgresql://")) << d;
  }
}

// PostgreSQL fails the whole transaction at the first failed statement; SQLite only that
// statement. Either way a function that ignores an error must never commit half its work
// silently on PostgreSQL.
TEST_P(StoreTest, IgnoredStatementErrorNeverCommitsPartially) {
  ASSERT_TRUE(db().Write([&](Tx& tx) { return Insert(tx, 1); }).has_value());
  auto s = db().Write([&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 2));
    auto dup = Insert(tx, 1);
    if (dup || dup.error().code != Code::kAlreadyExists)
      return Fail(Code::kInternal, "expected already_exists");
    // Carry on as if nothing happened.
    (void)Insert(tx, 3);
    return {};
  });
  if (db().dialect() == Dialect::kSqlite) {
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2, 3}));
  } else {
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, Code::kAlreadyExists) << s.error().ToString();
    EXPECT_EQ(Ids(), std::vector<int64_t>{1});
  }
}

// Tx::BeforeCommit: the work runs after the callback returned success, in the order added (work
// it adds runs too), inside the same transaction; its error fails the Write and rolls back the
// callback's rows; after a failed callback it never runs.
TEST_P(StoreTest, BeforeCommitRunsLastInOrderAndItsErrorRollsBack) {
  auto insert_count = [this](int64_t id) {
    return [this, id](Tx& tx) -> Status {
      RG_ASSIGN_OR_RETURN(Rows n, tx.Query("SELECT COUNT(*) FROM items"));
      return Insert(tx, id, n[0].Int(0));
    };
  };
  auto s = db().Write([&](Tx& tx) -> Status {
    tx.BeforeCommit(insert_count(10));
    RG_TRY(Insert(tx, 1));
    tx.BeforeCommit([&](Tx& t) -> Status {
      t.BeforeCommit(insert_count(12));
      return insert_count(11)(t);
    });
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  auto rows =
      db().ReadValue([](Tx& tx) { return tx.Query("SELECT id, i FROM items ORDER BY id"); });
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[1].Int(0), 10);
  EXPECT_EQ((*rows)[1].Int(1), 1);  // after the callback's row 1
  EXPECT_EQ((*rows)[2].Int(1), 2);  // then 11
  EXPECT_EQ((*rows)[3].Int(1), 3);  // then 12, which 11's work added

  auto late = db().Write([&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 20));
    tx.BeforeCommit([](Tx&) -> Status { return Fail(Code::kFailedPrecondition, "too late"); });
    tx.BeforeCommit(insert_count(21));
    return {};
  });
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(late.error().message, "too late");

  auto failed = db().Write([&](Tx& tx) -> Status {
    tx.BeforeCommit(insert_count(30));
    return Fail(Code::kInvalidArgument, "bad", "x");
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, Code::kInvalidArgument);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 10, 11, 12}));
}

// Like ConcurrentWritesKeepExactlyTheSuccessfulOnes, with the failure and a row in the work left
// for before the commit: on SQLite a batch that holds a failing command runs again with a
// savepoint each, and each command's late work belongs to that command alone.
TEST_P(StoreTest, ConcurrentBeforeCommitFailuresRollBackAlone) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        int64_t id = t * kPerThread + k;
        bool fail = id % 5 == 0;
        auto s = db().Write([&](Tx& tx) -> Status {
          RG_TRY(Insert(tx, id, id));
          tx.BeforeCommit([&, id](Tx& t2) -> Status {
            RG_TRY(Insert(t2, 100'000 + id, id));
            if (fail) return Fail(Code::kFailedPrecondition, "every 5th fails late");
            return {};
          });
          return {};
        });
        bool right = fail ? (!s && s.error().code == Code::kFailedPrecondition) : s.has_value();
        if (!right) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  std::vector<int64_t> expected;
  for (int64_t id = 0; id < kThreads * kPerThread; ++id)
    if (id % 5 != 0) expected.push_back(id);
  for (int64_t id = 0; id < kThreads * kPerThread; ++id)
    if (id % 5 != 0) expected.push_back(100'000 + id);
  EXPECT_EQ(Ids(), expected);
}

// The level a Write's transaction commits at, read inside it: SQLite's PRAGMA synchronous (1 =
// NORMAL, 2 = FULL) or PostgreSQL's synchronous_commit.
Result<std::string> CommitLevel(Tx& tx) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(tx.dialect() == Dialect::kSqlite ? "PRAGMA synchronous"
                                                                : "SHOW synchronous_commit"));
  return rows[0].Str(0);
}

// A relaxed Write commits at the relaxed level, is visible to every later read, and counts as
// relaxed; a durable one after it goes back to the configured level.
TEST_P(StoreTest, RelaxedWriteIsVisibleAndDurableOneStaysDurable) {
  const bool sqlite = db().dialect() == Dialect::kSqlite;
  const WriteStats before = db().Stats();
  std::string relaxed_level, durable_level;
  auto s = db().Write(WriteOptions{.durable = false}, [&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 1, int64_t{7}));
    RG_ASSIGN_OR_RETURN(relaxed_level, CommitLevel(tx));
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(relaxed_level, sqlite ? "1" : "off");
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1}));

  auto v = db().WriteValue(WriteOptions{.durable = true}, [&](Tx& tx) -> Result<int64_t> {
    RG_TRY(Insert(tx, 2, int64_t{8}));
    RG_ASSIGN_OR_RETURN(durable_level, CommitLevel(tx));
    return int64_t{42};
  });
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(*v, 42);
  // As configured: FULL on SQLite; PostgreSQL's server setting (scripts/with-postgres.sh runs it
  // with synchronous_commit=off for speed, PG_DURABLE=1 with on), which a read sees too.
  auto configured = db().ReadValue([](Tx& tx) { return CommitLevel(tx); });
  ASSERT_TRUE(configured.has_value()) << configured.error().ToString();
  EXPECT_EQ(durable_level, sqlite ? "2" : *configured);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2}));

  // A failing relaxed Write rolls back like a durable one and is not counted.
  auto failed = db().Write(WriteOptions{.durable = false}, [&](Tx& tx) -> Status {
    RG_TRY(Insert(tx, 3));
    return Fail(Code::kFailedPrecondition, "no");
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2}));

  const WriteStats after = db().Stats();
  EXPECT_EQ(after.relaxed_commits - before.relaxed_commits, 1);
  EXPECT_EQ(after.durable_commits - before.durable_commits, 1);
}

TEST_P(StoreTest, MigrationsAreIdempotent) {
  ManualClock clock(1'790'000'000'000'000);
  auto again = Migrate(db(), clock);
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, 0);
  auto version = SchemaVersion(db());
  ASSERT_TRUE(version.has_value()) << version.error().ToString();
  EXPECT_EQ(*version, AllMigrations().back().version);

  auto fresh = OpenTestDatabase(GetParam(), /*migrate=*/false);
  ASSERT_TRUE(fresh.has_value()) << fresh.error().ToString();
  auto v0 = SchemaVersion(**fresh);
  ASSERT_TRUE(v0.has_value()) << v0.error().ToString();
  EXPECT_EQ(*v0, 0);
  auto first = Migrate(**fresh, clock);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(*first, static_cast<int>(AllMigrations().size()));
  auto second = Migrate(**fresh, clock);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(*second, 0);
  auto v1 = SchemaVersion(**fresh);
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(*v1, AllMigrations().back().version);
}

// The SQLite writer never checkpoints inside COMMIT; a background checkpointer copies the WAL
// into the database file once it passes 1,000 pages. Without it, the database file would stay
// at its first few pages and the WAL would grow without end: after ~8 MB of committed rows
// the main file must come to hold them (polled for up to 30 s; no timing is asserted).
TEST(SqliteCheckpointTest, WalIsCopiedBackOffTheWriter) {
  std::string url;
  auto opened = OpenTestDatabase("sqlite", /*migrate=*/false, {}, &url);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  std::string path = url.starts_with("sqlite:") ? url.substr(7) : url;
  ASSERT_TRUE(db.Write(
      [](Tx& tx) { return tx.ExecScript("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b TEXT)"); }));
  const std::string payload(4000, 'x');
  for (int batch = 0; batch < 20; ++batch) {
    auto s = db.Write([&](Tx& tx) -> Status {
      for (int i = 0; i < 100; ++i)
        RG_TRY(tx.Exec("INSERT INTO blobs (id, b) VALUES (?, ?)",
                       {int64_t{batch * 100 + i}, payload}));
      return {};
    });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
  }
  std::error_code ec;
  uintmax_t size = 0;
  for (int i = 0; i < 300 && size < 6'000'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    size = std::filesystem::file_size(path, ec);
  }
  EXPECT_GE(size, 6'000'000u) << path;
  auto n = db.ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT COUNT(*) FROM blobs"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2000);
}

// While the writer commits batch after batch, the background checkpointer never catches up with
// the frames appended meanwhile (its pass ends after the next batch has begun); the writer then
// finishes the copy itself once the WAL passes its bound (journal_size_limit, which every
// connection reports), and its next batch starts the WAL again. Two threads keep a Write of ~4 MB
// always queued, 40 Writes in all (~160 MB): after every Write the WAL file stays within the bound
// plus two batches' frames (a batch of at most both queued Writes crosses the bound, the copy lets
// the next one restart it), where without the bound it held all of them.
TEST(SqliteCheckpointTest, WalStaysWithinItsBoundUnderBackToBackCommits) {
  std::string url;
  auto opened = OpenTestDatabase("sqlite", /*migrate=*/false, {}, &url);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  std::string wal = (url.starts_with("sqlite:") ? url.substr(7) : url) + "-wal";
  auto limit = db.ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("PRAGMA journal_size_limit"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(limit.has_value()) << limit.error().ToString();
  EXPECT_EQ(*limit, int64_t{64} << 20);
  ASSERT_TRUE(db.Write(
      [](Tx& tx) { return tx.ExecScript("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b TEXT)"); }));
  const std::string payload(4000, 'x');
  constexpr int kRows = 1000;                               // per Write: a page of the table each
  constexpr int kWrites = 20;                               // per thread
  constexpr int64_t kBatchBytes = 2 * kRows * (4096 + 24);  // both threads' Writes, with headers
  std::atomic<uintmax_t> largest{0};
  std::atomic<int> failed{0};
  auto writer = [&](int thread) {
    for (int w = 0; w < kWrites; ++w) {
      auto s = db.Write([&](Tx& tx) -> Status {
        for (int i = 0; i < kRows; ++i)
          RG_TRY(tx.Exec("INSERT INTO blobs (id, b) VALUES (?, ?)",
                         {int64_t{(thread * kWrites + w) * kRows + i}, payload}));
        return {};
      });
      if (!s) ++failed;
      std::error_code ec;
      uintmax_t size = std::filesystem::file_size(wal, ec);
      uintmax_t seen = largest.load();
      while (size > seen && !largest.compare_exchange_weak(seen, size)) {
      }
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(largest.load(), 0u) << wal;
  EXPECT_LE(largest.load(), static_cast<uintmax_t>(*limit + 2 * kBatchBytes)) << wal;
  auto n = db.ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT COUNT(*) FROM blobs"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2 * kWrites * kRows);
}

// Polls `done` every 5 ms for up to 30 s (no timing is asserted).
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// SQLite group commit: a relaxed command that shares its batch with a durable one commits with
// it at the configured level (FULL): the batch is durable. The first Write holds the writer until
// the other two are queued, so that both land in the next batch.
TEST(SqliteRelaxedTest, DurableCommandMakesItsBatchDurable) {
  auto opened = OpenTestDatabase("sqlite", /*migrate=*/false);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  ASSERT_TRUE(db.Write([](Tx& tx) { return tx.ExecScript("CREATE TABLE t (id INTEGER)"); }));
  const WriteStats before = db.Stats();
  bool both_queued = false;
  std::string relaxed_level, durable_level;
  std::thread relaxed, durable;
  auto hold = db.Write([&](Tx&) -> Status {
    relaxed = std::thread([&] {
      auto s = db.Write(WriteOptions{.durable = false}, [&](Tx& tx) -> Status {
        RG_TRY(tx.Exec("INSERT INTO t (id) VALUES (1)"));
        RG_ASSIGN_OR_RETURN(relaxed_level, CommitLevel(tx));
        return {};
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    });
    durable = std::thread([&] {
      auto s = db.Write([&](Tx& tx) -> Status {
        RG_TRY(tx.Exec("INSERT INTO t (id) VALUES (2)"));
        RG_ASSIGN_OR_RETURN(durable_level, CommitLevel(tx));
        return {};
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    });
    both_queued = Eventually([&] { return db.Stats().waiting == 2; });
    return {};
  });
  relaxed.join();
  durable.join();
  ASSERT_TRUE(hold.has_value()) << hold.error().ToString();
  ASSERT_TRUE(both_queued);
  EXPECT_EQ(relaxed_level, "2");
  EXPECT_EQ(durable_level, "2");
  const WriteStats after = db.Stats();
  EXPECT_EQ(after.durable_commits - before.durable_commits, 2);  // the holder's and the pair's
  EXPECT_EQ(after.relaxed_commits - before.relaxed_commits, 0);
  auto n = db.ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT COUNT(*) FROM t"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2);
}

// A relaxed commit not followed by a durable one is synced by the writer itself (after 200 ms):
// exactly one WAL sync, and none more while nothing relaxed is pending.
TEST(SqliteRelaxedTest, PendingRelaxedCommitsAreSynced) {
  auto opened = OpenTestDatabase("sqlite", /*migrate=*/false);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  ASSERT_TRUE(db.Write([](Tx& tx) { return tx.ExecScript("CREATE TABLE t (id INTEGER)"); }));
  ASSERT_EQ(db.Stats().relaxed_syncs, 0);
  ASSERT_TRUE(db.Write(WriteOptions{.durable = false}, [&](Tx& tx) -> Status {
    RG_TRY(tx.Exec("INSERT INTO t (id) VALUES (1)"));
    return {};
  }));
  EXPECT_EQ(db.Stats().relaxed_commits, 1);
  EXPECT_TRUE(Eventually([&] { return db.Stats().relaxed_syncs == 1; }));
  // A durable Write afterwards syncs by itself; nothing relaxed is pending, so no further sync.
  ASSERT_TRUE(db.Write([](Tx& tx) -> Status {
    RG_TRY(tx.Exec("INSERT INTO t (id) VALUES (9)"));
    return {};
  }));
  EXPECT_EQ(db.Stats().relaxed_syncs, 1);
  EXPECT_EQ(db.Stats().relaxed_commits, 1);
}

// With synchronous=NORMAL configured there is nothing to relax: both kinds commit at NORMAL.
TEST(SqliteRelaxedTest, NormalConfiguredCommitsBothAlike) {
  Options o;
  o.sqlite_synchronous = "NORMAL";
  auto opened = OpenTestDatabase("sqlite", /*migrate=*/false, o);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  std::string relaxed_level, durable_level;
  ASSERT_TRUE(db.Write(WriteOptions{.durable = false}, [&](Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(relaxed_level, CommitLevel(tx));
    return {};
  }));
  ASSERT_TRUE(db.Write([&](Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(durable_level, CommitLevel(tx));
    return {};
  }));
  EXPECT_EQ(relaxed_level, "1");
  EXPECT_EQ(durable_level, "1");
}

TEST(MigrationsTest, VersionsAscend) {
  int last = 0;
  for (const Migration& m : AllMigrations()) {
    EXPECT_GT(m.version, last) << m.name;
    last = m.version;
  }
}

// ---- PostgreSQL-only behaviour: the pool and the retry loop. ----

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestPostgresUrl().empty())
      GTEST_SKIP() << "REGULARS_TEST_PG is not set; `make test` starts a PostgreSQL and sets it";
  }
  std::unique_ptr<Database> Open(int pool_size) {
    Options o;
    o.pool_size = pool_size;
    auto db = OpenTestDatabase("postgres", /*migrate=*/false, o);
    EXPECT_TRUE(db.has_value()) << db.error().ToString();
    return db ? std::move(*db) : nullptr;
  }
};

// Two commands lock two rows in opposite orders. PostgreSQL detects the deadlock and aborts one;
// the driver must run that command again so both succeed.
TEST_F(PostgresTest, DeadlockIsRetried) {
  auto db = Open(4);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Write([](Tx& tx) {
    return tx.ExecScript(
        "CREATE TABLE acc (merchant_id BIGINT, id BIGINT, n BIGINT, PRIMARY KEY (merchant_id, "
        "id)); INSERT INTO acc VALUES (1, 1, 0), (1, 2, 0)");
  }));
  std::mutex mu;
  std::condition_variable cv;
  int locked_first = 0;
  std::atomic<int> runs{0};
  auto worker = [&](int64_t first, int64_t second) {
    return db->Write([&](Tx& tx) -> Status {
      ++runs;
      RG_TRY(tx.Exec("UPDATE acc SET n = n + 1 WHERE merchant_id = 1 AND id = ?", {first}));
      {
        std::unique_lock lock(mu);
        ++locked_first;
        cv.notify_all();
        cv.wait_for(lock, std::chrono::seconds(5), [&] { return locked_first >= 2; });
      }
      RG_TRY(tx.Exec("UPDATE acc SET n = n + 1 WHERE merchant_id = 1 AND id = ?", {second}));
      return {};
    });
  };
  Status a, b;
  std::thread ta([&] { a = worker(1, 2); });
  std::thread tb([&] { b = worker(2, 1); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.has_value()) << a.error().ToString();
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_EQ(runs.load(), 3) << "one command should have run twice";
  auto sum = db->ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT SUM(n) FROM acc"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(sum.has_value()) << sum.error().ToString();
  EXPECT_EQ(*sum, 4);
}

// A pooled connection whose server process died while idle is replaced without the caller
// noticing; one that dies mid-transaction fails that command as unavailable and is not reused.
TEST_F(PostgresTest, BrokenConnectionsAreReplaced) {
  auto db = Open(1);
  auto admin = Open(1);
  ASSERT_TRUE(db && admin);
  auto pid = db->ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT pg_backend_pid()"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(pid.has_value()) << pid.error().ToString();
  auto killed = admin->ReadValue([&](Tx& tx) -> Result<bool> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT pg_terminate_backend(?::int, 5000)", {*pid}));
    return rows[0].Bool(0);
  });
  ASSERT_TRUE(killed.has_value()) << killed.error().ToString();
  ASSERT_TRUE(*killed);

  auto pid2 = db->ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT pg_backend_pid()"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(pid2.has_value()) << pid2.error().ToString();
  EXPECT_NE(*pid2, *pid);

  auto suicide = db->Write([](Tx& tx) -> Status {
    RG_TRY(tx.Query("SELECT pg_terminate_backend(pg_backend_pid())"));
    return {};
  });
  ASSERT_FALSE(suicide.has_value());
  EXPECT_EQ(suicide.error().code, Code::kUnavailable) << suicide.error().ToString();
  auto after = db->ReadValue([](Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT 1"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
}

TEST_F(PostgresTest, DescribeHidesThePassword) {
  // Trust authentication ignores the password, so the URL still connects.
  std::string url = TestPostgresUrl();
  auto at = url.find('@');
  ASSERT_NE(at, std::string::npos) << url;
  Options o;
  o.url = url.substr(0, at) + ":s3cret-pw" + url.substr(at);
  o.pool_size = 1;
  auto db = store::Open(o);
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  std::string d = (*db)->Describe();
  EXPECT_EQ(d.find("s3cret"), std::string::npos) << d;
  EXPECT_TRUE(d.starts_with("postgresql://postgres@127.0.0.1:")) << d;
  EXPECT_TRUE(d.ends_with("/regulars_test")) << d;
}

TEST_F(PostgresTest, UnreachableServerIsUnavailable) {
  Options o;
  o.url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2";
  auto db = store::Open(o);
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code, Code::kUnavailable) << db.error().ToString();
}

// Several processes may start at once against one database; the advisory lock in Migrate must
// make all of them succeed and apply each migration exactly once.
TEST_F(PostgresTest, ConcurrentMigrationsApplyOnce) {
  auto first = Open(1);
  ASSERT_TRUE(first);
  // Four more handles ("processes") on the same fresh schema.
  auto schema = first->ReadValue([](Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT current_schema()"));
    return rows[0].Str(0);
  });
  ASSERT_TRUE(schema.has_value()) << schema.error().ToString();
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < 4; ++i) {
    Options o;
    o.pool_size = 1;
    std::string base = TestPostgresUrl();
    o.url = base + (base.find('?') == std::string::npos ? "?" : "&") +
            "options=-c%20search_path%3D" + *schema;
    auto db = store::Open(o);
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    dbs.push_back(std::move(*db));
  }
  std::vector<Result<int>> results(dbs.size(), 0);
  std::vector<std::thread> threads;
  ManualClock clock(1'790'000'000'000'000);
  for (size_t i = 0; i < dbs.size(); ++i)
    threads.emplace_back([&, i] { results[i] = Migrate(*dbs[i], clock); });
  for (auto& t : threads) t.join();
  int applied = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    applied += *r;
  }
  EXPECT_EQ(applied, static_cast<int>(AllMigrations().size()));
}

}  // namespace
}  // namespace regulars::store
