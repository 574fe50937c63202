#pragma once

// Runs one test suite on every database: SQLite always, PostgreSQL when REGULARS_TEST_PG names a
// server (`make test` starts a throwaway one). Each test gets a fresh, migrated database: a new
// SQLite file in a temporary folder, or a new PostgreSQL schema.
//
//   class MyTest : public regulars::store::BackendTest {};
//   TEST_P(MyTest, Works) { Database& db = this->db(); ... }
//   RG_INSTANTIATE_BACKENDS(MyTest);

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "store/db.h"

namespace regulars::store {

// "sqlite" and "postgres".
std::vector<std::string> TestBackendNames();

// A fresh empty database on the named backend, or an error (e.g. REGULARS_TEST_PG unset).
// `migrate` applies every migration.
Result<std::unique_ptr<Database>> OpenTestDatabase(const std::string& backend, bool migrate = true,
                                                   Options options = {},
                                                   std::string* url_out = nullptr);

// Creates a fresh empty (optionally migrated) database and returns the URL that opens it, for
// tests that open it again from another process.
Result<std::string> CreateTestDatabaseUrl(const std::string& backend, bool migrate = true);

// Where OpenTestDatabase("postgres") connects, or empty.
std::string TestPostgresUrl();

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  Database& db() { return *db_; }
  std::unique_ptr<Database> db_;
  std::string url_;                           // opens the same database again
  ManualClock clock_{1'790'000'000'000'000};  // 2026-09-21
};

}  // namespace regulars::store

#define RG_INSTANTIATE_BACKENDS(Suite)                                             \
  INSTANTIATE_TEST_SUITE_P(                                                        \
      Backends, Suite, ::testing::ValuesIn(::regulars::store::TestBackendNames()), \
      [](const ::testing::TestParamInfo<std::string>& info) { return info.param; })
