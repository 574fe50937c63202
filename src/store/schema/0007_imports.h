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

-- Returns and cancellations read from imported order history, one row per return document
-- (a cancelled invoice "C536379", or an order's returned lines "1001/return"), keyed by its
-- external id so a re-run skips it. amount_minor is what the return is worth (positive);
-- standalone_minor the part that matched no earlier order (a stand-alone return). The matched
-- part is in refunds rows (return_id) against the orders it refunds.
CREATE TABLE order_returns (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  external_id TEXT NOT NULL,
  member_id BIGINT,
  branch_id BIGINT,
  occurred_at BIGINT NOT NULL,
  currency TEXT NOT NULL,
  amount_minor BIGINT NOT NULL,
  standalone_minor BIGINT NOT NULL,
  source TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX order_returns_external ON order_returns (merchant_id, external_id);
CREATE INDEX order_returns_member ON order_returns (merchant_id, member_id, occurred_at);

-- The lines of a return; order_id / order_line name the order line it refunded, NULL when the
-- line is part of the stand-alone return.
CREATE TABLE order_return_items (
  merchant_id BIGINT NOT NULL,
  return_id BIGINT NOT NULL,
  line INTEGER NOT NULL,
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  quantity BIGINT NOT NULL,
  unit_price_minor BIGINT NOT NULL,
  order_id BIGINT,
  order_line INTEGER,
  PRIMARY KEY (merchant_id, return_id, line),
  FOREIGN KEY (merchant_id, return_id) REFERENCES order_returns (merchant_id, id)
);

-- A refund written by an import names the return it came from.
ALTER TABLE refunds ADD COLUMN return_id BIGINT;
)sql";

}  // namespace regulars::store::schema
