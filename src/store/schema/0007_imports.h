#pragma once

// Migration 7: order history imports.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kImports = R"sql(
-- One import run started from the console or the API; the CLI runs without a row. The worker
-- updates progress after each batch; report_json holds the ImportReport when it ends.
-- status: queued, running, succeeded, failed, cancelled. A running job is held by one worker
-- (claimed_by) until lease_until; the worker renews the lease after each batch, so a job whose
-- server died goes back to queued once its lease lapses (at once on SQLite, one server per file).
-- cancel_requested: the worker stops after its current batch.
CREATE TABLE import_jobs (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  status TEXT NOT NULL,
  file_name TEXT NOT NULL,
  file_path TEXT NOT NULL,
  options_json TEXT NOT NULL,
  lines BIGINT NOT NULL DEFAULT 0,
  bytes_consumed BIGINT NOT NULL DEFAULT 0,
  total_bytes BIGINT NOT NULL DEFAULT 0,
  report_json TEXT,
  error TEXT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  lease_until BIGINT,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX import_jobs_status ON import_jobs (status, created_at);
)sql";

}  // namespace regulars::store::schema
