#pragma once

// Migration 12: the outbox's status indexes hold only the rows their readers look for, so that
// recording `sent` (messaging::CompleteMany, one commit per delivery by default) touches fewer
// index pages: a `sent` row leaves outbox_lease and never enters outbox_due again.
//
// - outbox_due: queued and deferred rows only (Claim's first two legs: `status = 'queued' AND
//   next_attempt_at <= ?`, `status = 'deferred' AND ...`; each names one arm of the predicate,
//   which SQLite and PostgreSQL both accept as implying it).
// - outbox_lease: sending rows only, keyed by lease_until (Claim's third leg, `status =
//   'sending' AND lease_until <= ?`).
// - outbox_provider: rows with a provider id only (ApplyReceipt's `provider_id = ?` implies
//   `provider_id IS NOT NULL`); a queued row no longer has an entry, so `sent` inserts one
//   instead of moving one.
// Readers' WHERE clauses must keep naming those terms literally, or the planner cannot use the
// partial index (outbox_test checks the plans on SQLite).

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kOutboxPartialIndexes = R"sql(
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at)
  WHERE status = 'queued' OR status = 'deferred';
DROP INDEX outbox_lease;
CREATE INDEX outbox_lease ON outbox (lease_until) WHERE status = 'sending';
DROP INDEX outbox_provider;
CREATE INDEX outbox_provider ON outbox (channel_id, provider_id) WHERE provider_id IS NOT NULL;
)sql";

}  // namespace regulars::store::schema
