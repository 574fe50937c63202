#pragma once

// Migration 11: the outbox's secondary indexes that only some statuses need become partial, so
// queueing a message writes three b-trees (the row, its dedup key, the due index) instead of
// six: leases exist only while a row is `sending`, provider ids and sent times only once sent.
// Every query that used them (Claim's expired-lease branch, receipts by provider id, the
// frequency caps' recent sends) has a condition that implies the index's WHERE.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kOutboxPartialIndexes = R"sql(
DROP INDEX outbox_lease;
CREATE INDEX outbox_lease ON outbox (status, lease_until) WHERE status = 'sending';
DROP INDEX outbox_provider;
CREATE INDEX outbox_provider ON outbox (channel_id, provider_id) WHERE provider_id IS NOT NULL;
DROP INDEX outbox_member_sent;
CREATE INDEX outbox_member_sent ON outbox (merchant_id, member_id, medium, sent_at)
  WHERE sent_at IS NOT NULL;
)sql";

}  // namespace regulars::store::schema
