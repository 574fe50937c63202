#pragma once

// Versioned schema migrations, applied in order at start-up, each in its own transaction.
// Rules every migration keeps (a test checks them on both databases): every table carries
// `merchant_id`, and every primary key and unique index leads with it — except
// `schema_migrations`, which describes the database itself. SQL is written once for both
// databases (BIGINT, TEXT, INTEGER, DOUBLE PRECISION; booleans as 0/1 integers).

#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "store/db.h"

namespace regulars::store {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& AllMigrations();

// Applies every pending migration. Safe to run from several processes at once (PostgreSQL takes
// an advisory lock; SQLite has one writer). Returns the number applied.
Result<int> Migrate(Database& db, const Clock& clock);

// The highest applied version, or 0 for an empty database.
Result<int> SchemaVersion(Database& db);

// Tables exempt from the merchant_id rule.
inline constexpr std::string_view kGlobalTables[] = {"schema_migrations"};

}  // namespace regulars::store
