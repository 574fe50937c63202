#pragma once

// Migration 12 (PostgreSQL only; SQLite keeps numbering events in the writing transaction): events
// are numbered after they commit (events/event_repo.h, NumberPending). A writer inserts its events
// with `seq` NULL; the column defaults give each one `gid`, its place in insert order (a global
// sequence), and `xid`, its transaction. The sequencer numbers, per merchant by (xid, gid), the
// committed events whose xid is below the oldest running transaction, and bumps
// merchants.last_event_seq. The key becomes (merchant_id, id); seq stays unique per merchant
// (a unique index admits many NULLs), and a partial index finds the events not yet numbered.
// Rows already numbered keep gid and xid NULL.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kEventSequencer = R"sql(-- PostgreSQL only
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE events ADD PRIMARY KEY (merchant_id, id);
CREATE UNIQUE INDEX events_seq ON events (merchant_id, seq);
CREATE SEQUENCE events_gid;
ALTER TABLE events ADD COLUMN gid BIGINT;
ALTER SEQUENCE events_gid OWNED BY events.gid;
ALTER TABLE events ALTER COLUMN gid SET DEFAULT nextval('events_gid');
ALTER TABLE events ADD COLUMN xid xid8;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_pending ON events (merchant_id, gid) WHERE seq IS NULL;
)sql";

}  // namespace regulars::store::schema
