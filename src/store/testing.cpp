#include "store/testing.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "base/crypto.h"
#include "store/migrations.h"

namespace regulars::store {

std::vector<std::string> TestBackendNames() { return {"sqlite", "postgres"}; }

std::string TestPostgresUrl() {
  const char* url = std::getenv("REGULARS_TEST_PG");
  return url ? std::string(url) : std::string();
}

Result<std::string> CreateTestDatabaseUrl(const std::string& backend, bool migrate) {
  std::string url;
  { RG_ASSIGN_OR_RETURN(auto db, OpenTestDatabase(backend, migrate, Options{}, &url)); }
  return url;
}

Result<std::unique_ptr<Database>> OpenTestDatabase(const std::string& backend, bool migrate,
                                                   Options options, std::string* url_out) {
  std::unique_ptr<Database> db;
  if (backend == "sqlite") {
    auto dir =
        std::filesystem::temp_directory_path() / fmt::format("regulars-test-{}", RandomToken(9));
    std::filesystem::create_directories(dir);
    options.url = "sqlite:" + (dir / "test.db").string();
    RG_ASSIGN_OR_RETURN(db, Open(options));
  } else if (backend == "postgres") {
    std::string base = TestPostgresUrl();
    if (base.empty())
      return Fail(Code::kUnavailable, "REGULARS_TEST_PG is not set; run through `make test`");
    // A fresh schema per test: cheap, and nothing leaks between tests.
    std::string schema = "t_" + Sha256Hex(RandomToken(16)).substr(0, 16);
    {
      Options admin = options;
      admin.url = base;
      admin.pool_size = 1;
      RG_ASSIGN_OR_RETURN(auto admin_db, Open(admin));
      RG_TRY(admin_db->Write(
          [&](Tx& tx) { return tx.ExecScript(fmt::format("CREATE SCHEMA {}", schema)); }));
    }
    options.url = base + (base.find('?') == std::string::npos ? "?" : "&") +
                  "options=-c%20search_path%3D" + schema;
    RG_ASSIGN_OR_RETURN(db, Open(options));
  } else {
    return Fail(Code::kInvalidArgument, "unknown backend " + backend);
  }
  if (url_out) *url_out = options.url;
  if (migrate) {
    ManualClock clock(1'790'000'000'000'000);
    RG_TRY(Migrate(*db, clock));
  }
  return db;
}

void BackendTest::SetUp() {
  if (GetParam() == "postgres" && TestPostgresUrl().empty())
    GTEST_SKIP() << "REGULARS_TEST_PG is not set; `make test` starts a PostgreSQL and sets it";
  auto db = OpenTestDatabase(GetParam(), true, Options{}, &url_);
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  db_ = std::move(*db);
}

}  // namespace regulars::store
