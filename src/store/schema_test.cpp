// The tenancy rule from DESIGN.md, checked against the real catalog of a migrated database on
// every backend: every table carries merchant_id, and its primary key and every unique index lead
// with it (so every lookup is scoped to a merchant and PostgreSQL can later shard by merchant).
// Only the tables in store::kGlobalTables are exempt. A second test feeds the checker bad tables
// to prove it can fail.

#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "store/db.h"
#include "store/migrations.h"
#include "store/testing.h"

namespace regulars::store {
namespace {

struct Violation {
  std::string table;
  std::string index;  // the offending primary key or unique index, or empty
  // "no merchant_id", "primary key" or "unique index".
  std::string kind;
  std::string first_column;  // what the key leads with instead

  std::string ToString() const {
    if (kind == "no merchant_id") return fmt::format("table {} has no merchant_id column", table);
    return fmt::format("table {}: {} {} leads with {}, not merchant_id", table, kind, index,
                       first_column.empty() ? "an expression" : first_column);
  }
};

bool IsGlobal(std::string_view table) {
  return std::ranges::find(kGlobalTables, table) != std::ranges::end(kGlobalTables);
}

Result<std::vector<Violation>> CheckSqlite(Tx& tx) {
  std::vector<Violation> out;
  RG_ASSIGN_OR_RETURN(Rows tables,
                      tx.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                               "LIKE 'sqlite_%' ORDER BY name"));
  for (const Row& t : tables) {
    std::string table = t.Str(0);
    if (IsGlobal(table)) continue;
    // pk is the column's position in the primary key (1-based), 0 when not part of it. An
    // INTEGER PRIMARY KEY declared inline has no index at all, so this is the reliable source.
    RG_ASSIGN_OR_RETURN(Rows cols, tx.Query("SELECT name, pk FROM pragma_table_info(?)", {table}));
    bool has_merchant = false;
    std::string pk_first;
    for (const Row& c : cols) {
      if (c.Str(0) == "merchant_id") has_merchant = true;
      if (c.Int(1) == 1) pk_first = c.Str(0);
    }
    if (!has_merchant) out.push_back({table, "", "no merchant_id", ""});
    RG_ASSIGN_OR_RETURN(
        Rows indexes,
        tx.Query("SELECT name, \"unique\", origin FROM pragma_index_list(?) ORDER BY name",
                 {table}));
    if (!pk_first.empty() && pk_first != "merchant_id") {
      std::string pk_index = "PRIMARY KEY";
      for (const Row& ix : indexes)
        if (ix.Str(2) == "pk") pk_index = ix.Str(0);
      out.push_back({table, pk_index, "primary key", pk_first});
    }
    for (const Row& ix : indexes) {
      if (!ix.Bool(1) || ix.Str(2) == "pk") continue;
      RG_ASSIGN_OR_RETURN(
          Rows key,
          tx.Query("SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno LIMIT 1",
                   {ix.Str(0)}));
      std::string first = key.empty() ? "" : key[0].Str(0);
      if (first != "merchant_id") out.push_back({table, ix.Str(0), "unique index", first});
    }
  }
  return out;
}

Result<std::vector<Violation>> CheckPostgres(Tx& tx) {
  std::vector<Violation> out;
  RG_ASSIGN_OR_RETURN(Rows tables, tx.Query(R"sql(
    SELECT c.relname,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                   AND a.attname = 'merchant_id' AND a.attnum > 0 AND NOT a.attisdropped)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    ORDER BY c.relname)sql"));
  for (const Row& t : tables) {
    if (IsGlobal(t.Str(0))) continue;
    if (!t.Bool(1)) out.push_back({t.Str(0), "", "no merchant_id", ""});
  }
  // indkey[0] is the first key column, 0 for an expression.
  RG_ASSIGN_OR_RETURN(Rows indexes, tx.Query(R"sql(
    SELECT t.relname, i.relname, ix.indisprimary,
           (SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = t.oid AND a.attnum = ix.indkey[0])
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema() AND (ix.indisunique OR ix.indisprimary)
    ORDER BY t.relname, i.relname)sql"));
  for (const Row& ix : indexes) {
    if (IsGlobal(ix.Str(0))) continue;
    std::string first = ix.Str(3);
    if (first == "merchant_id") continue;
    out.push_back({ix.Str(0), ix.Str(1), ix.Bool(2) ? "primary key" : "unique index", first});
  }
  return out;
}

// Every violation of the tenancy rule in the current database (schema, on PostgreSQL).
Result<std::vector<Violation>> FindTenancyViolations(Database& db) {
  return db.ReadValue([](Tx& tx) {
    return tx.dialect() == Dialect::kSqlite ? CheckSqlite(tx) : CheckPostgres(tx);
  });
}

std::string Describe(const std::vector<Violation>& vs) {
  std::string out;
  for (const Violation& v : vs) out += "\n  " + v.ToString();
  return out;
}

class SchemaTest : public BackendTest {};
RG_INSTANTIATE_BACKENDS(SchemaTest);

TEST_P(SchemaTest, EveryKeyLeadsWithMerchantId) {
  auto violations = FindTenancyViolations(db());
  ASSERT_TRUE(violations.has_value()) << violations.error().ToString();
  EXPECT_TRUE(violations->empty())
      << "tenancy rule broken (see DESIGN.md):" << Describe(*violations);
}

TEST_P(SchemaTest, MigratedSchemaHasTables) {
  // Guards the test above against passing on an empty catalog.
  auto n = db().ReadValue([](Tx& tx) -> Result<int64_t> {
    auto rows = tx.dialect() == Dialect::kSqlite
                    ? tx.Query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                    : tx.Query(
                          "SELECT COUNT(*) FROM pg_tables WHERE schemaname = "
                          "current_schema()");
    if (!rows) return std::unexpected(rows.error());
    return (*rows)[0].Int(0);
  });
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_GE(*n, 5);
}

// The checker on hand-made tables, each in a fresh empty database.
TEST_P(SchemaTest, CheckerReportsBadTables) {
  struct Case {
    std::string name;
    std::string sql;
    // table + kind of each expected violation, in the checker's order.
    std::vector<std::pair<std::string, std::string>> expected;
  };
  const std::vector<Case> cases = {
      {"good table",
       "CREATE TABLE good (merchant_id BIGINT NOT NULL, id BIGINT NOT NULL, code TEXT, "
       "PRIMARY KEY (merchant_id, id)); CREATE UNIQUE INDEX good_code ON good (merchant_id, code);"
       "CREATE INDEX good_lookup ON good (code)",
       {}},
      {"primary key not leading",
       "CREATE TABLE bad (id BIGINT PRIMARY KEY, merchant_id BIGINT)",
       {{"bad", "primary key"}}},
      {"integer primary key (rowid alias on SQLite)",
       "CREATE TABLE bad (id INTEGER PRIMARY KEY, merchant_id BIGINT)",
       {{"bad", "primary key"}}},
      {"composite primary key in the wrong order",
       "CREATE TABLE bad (merchant_id BIGINT NOT NULL, id BIGINT NOT NULL, "
       "PRIMARY KEY (id, merchant_id))",
       {{"bad", "primary key"}}},
      {"unique index not leading",
       "CREATE TABLE bad (merchant_id BIGINT NOT NULL, id BIGINT NOT NULL, code TEXT, "
       "PRIMARY KEY (merchant_id, id)); CREATE UNIQUE INDEX bad_code ON bad (code, merchant_id)",
       {{"bad", "unique index"}}},
      {"inline unique constraint",
       "CREATE TABLE bad (merchant_id BIGINT NOT NULL, id BIGINT NOT NULL, code TEXT UNIQUE, "
       "PRIMARY KEY (merchant_id, id))",
       {{"bad", "unique index"}}},
      {"no merchant_id",
       "CREATE TABLE bad (id BIGINT NOT NULL, name TEXT)",
       {{"bad", "no merchant_id"}}},
      {"global table is exempt",
       "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT)",
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto fresh = OpenTestDatabase(GetParam(), /*migrate=*/false);
    ASSERT_TRUE(fresh.has_value()) << fresh.error().ToString();
    auto s = (*fresh)->Write([&](Tx& tx) { return tx.ExecScript(c.sql); });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    auto violations = FindTenancyViolations(**fresh);
    ASSERT_TRUE(violations.has_value()) << violations.error().ToString();
    std::vector<std::pair<std::string, std::string>> got;
    for (const Violation& v : *violations) got.emplace_back(v.table, v.kind);
    EXPECT_EQ(got, c.expected) << "reported:" << Describe(*violations);
    for (const Violation& v : *violations) {
      if (v.kind != "no merchant_id") {
        EXPECT_FALSE(v.index.empty()) << v.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace regulars::store
