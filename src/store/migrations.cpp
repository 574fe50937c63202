#include "store/migrations.h"

#include <fmt/format.h>

#include "store/schema/0001_foundation.h"
#include "store/schema/0002_loyalty.h"
#include "store/schema/0003_wallet.h"
#include "store/schema/0004_tiers_stamps.h"
#include "store/schema/0005_coupons_referrals.h"
#include "store/schema/0006_indexes.h"
#include "store/schema/0007_imports.h"
#include "store/schema/0008_refund_reversals.h"
#include "store/schema/0009_insight.h"
#include "store/schema/0010_messaging.h"
#include "store/schema/0011_config_version.h"
#include "store/schema/0012_outbox_partial_indexes.h"

namespace regulars::store {
namespace {}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kAll = {
      {1, "foundation", schema::kFoundation},
      {2, "loyalty", schema::kLoyalty},
      {3, "wallet", schema::kWallet},
      {4, "tiers_stamps", schema::kTiersStamps},
      {5, "coupons_referrals", schema::kCouponsReferrals},
      {6, "indexes", schema::kIndexes},
      {7, "imports", schema::kImports},
      {8, "refund_reversals", schema::kRefundReversals},
      {9, "insight", schema::kInsight},
      {10, "messaging", schema::kMessaging},
      {11, "config_version", schema::kConfigVersion},
      {12, "outbox_partial_indexes", schema::kOutboxPartialIndexes},
  };
  return kAll;
}

Result<int> SchemaVersion(Database& db) {
  return db.ReadValue([&](Tx& tx) -> Result<int> {
    auto exists = tx.dialect() == Dialect::kSqlite
                      ? tx.Query("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'")
                      : tx.Query(
                            "SELECT 1 FROM information_schema.tables WHERE table_name = "
                            "'schema_migrations' AND table_schema = current_schema()");
    if (!exists) return std::unexpected(exists.error());
    if (exists->empty()) return 0;
    RG_ASSIGN_OR_RETURN(Rows rows,
                        tx.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    return static_cast<int>(rows[0].Int(0));
  });
}

Result<int> Migrate(Database& db, const Clock& clock) {
  RG_TRY(db.Write([&](Tx& tx) -> Status {
    // CREATE TABLE IF NOT EXISTS is not safe against a concurrent one on PostgreSQL (both pass
    // the check, one fails on pg_type's unique index); serialize it like the migrations.
    if (tx.dialect() == Dialect::kPostgres)
      RG_TRY(tx.Query("SELECT pg_advisory_xact_lock(727274)"));
    return tx.ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
  }));
  int applied = 0;
  for (const Migration& m : AllMigrations()) {
    bool did = false;
    RG_TRY(db.Write([&](Tx& tx) -> Status {
      did = false;
      if (tx.dialect() == Dialect::kPostgres)
        RG_TRY(tx.Query("SELECT pg_advisory_xact_lock(727274)"));
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT 1 FROM schema_migrations WHERE version = ?",
                                              {int64_t{m.version}}));
      if (!rows.empty()) return {};
      if (auto s = tx.ExecScript(m.sql); !s) {
        Error e = s.error();
        e.message = fmt::format("migration {} ({}) failed: {}", m.version, m.name, e.message);
        return std::unexpected(std::move(e));
      }
      RG_TRY(tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                     {int64_t{m.version}, std::string(m.name), clock.Now()}));
      did = true;
      return {};
    }));
    applied += did ? 1 : 0;
  }
  return applied;
}

}  // namespace regulars::store
