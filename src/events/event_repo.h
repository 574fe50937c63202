#pragma once

#include <vector>

#include "base/error.h"
#include "events/event.h"
#include "store/db.h"

namespace regulars::events {

// Numbering (`seq`, per merchant, from 1, without gaps). The contract every reader relies on:
// once a reader has seen seq n of a merchant, no event of that merchant can later appear with a
// seq <= n, so reading `seq > cursor` never skips an event. How it holds depends on the database:
// - SQLite (one writer): an event is numbered in its own transaction, right before COMMIT, by
//   bumping merchants.last_event_seq; its seq is visible when the transaction commits.
// - PostgreSQL: an event is inserted with seq NULL (its `gid`, insert order, and `xid`, its
//   transaction, come from column defaults) and is numbered after it commits, by NumberPending,
//   which the Dispatcher runs every ~10 ms (a `Sequencer`) and whenever it dispatches. So the
//   writers of one merchant no longer queue on the merchant row, and PostgreSQL flushes their
//   commits together. Readers by seq see an event one sequencer tick after its commit; readers
//   of a member's events (MemberEvents) see it at once, before the numbered ones.
// Bulk writers that insert numbered events themselves (ReserveEventSeqs) work on both.

// Appends an event to the caller's transaction. The event is written at the end of the
// transaction, right before COMMIT (Tx::BeforeCommit), in the order appended; on SQLite it is
// numbered there too (the merchant row's lock, taken last, covers one statement and the commit).
// The returned event has its id but seq 0 (not numbered yet); a failure to write it (merchant
// not found) fails the transaction. The same transaction does not see the event in queries.
// Events appended in a row are written together by one BeforeCommit function (on SQLite one seq
// reservation per merchant; multi-row INSERTs), so a transaction of n events costs O(n): work
// another module defers with Tx::BeforeCommit between two appends runs after both (only
// MoveMemberEvents splits a run).
Result<Event> AppendEvent(store::Tx& tx, Id merchant_id, Micros now, NewEvent e);

// Reserves `n` consecutive seq numbers for events the caller inserts itself in this transaction
// (bulk writers such as imports); returns the first. Holds the merchant row's lock until COMMIT
// (on PostgreSQL, NumberPending waits for it), so these events become visible with their seqs
// at COMMIT and nothing is numbered below them later.
Result<int64_t> ReserveEventSeqs(store::Tx& tx, Id merchant_id, int64_t n);

// PostgreSQL: numbers the committed events not numbered yet, in their own transaction(s), and
// returns how many. Events are numbered per merchant by transaction, then in insert order (xid,
// gid: one transaction's events get adjacent seqs in the order appended), continuing from
// merchants.last_event_seq, which it advances; only events whose transaction is older than the
// oldest transaction still running (xid < pg_snapshot_xmin), so every event that could still
// commit gets a higher number than any given now. A long-running transaction therefore delays
// the numbering of every merchant's events (not their writes). One caller at a time (an
// advisory lock; several processes are safe); a caller waits for a running one. When it returns,
// every event whose transaction had ended before the call, and that is older than every
// transaction still running then, is numbered (tests and CLI verbs call it before reading by seq).
// SQLite: numbering happens at commit; returns 0.
Result<int64_t> NumberPending(store::Database& db);

// Events of one merchant with seq > after_seq, oldest first, at most `limit`.
Result<std::vector<Event>> ReadEvents(store::Tx& tx, Id merchant_id, int64_t after_seq, int limit);

// Events about one member, newest first, with seq < before_seq (0 = from the newest: then the
// events not numbered yet come first, newest first, with seq 0 in the result).
Result<std::vector<Event>> MemberEvents(store::Tx& tx, Id merchant_id, Id member_id,
                                        int64_t before_seq, int limit);

// Re-points events of `from_member` at `to_member` (member merge keeps one timeline), at the end
// of the transaction like AppendEvent, so the events appended before it move too.
Status MoveMemberEvents(store::Tx& tx, Id merchant_id, Id from_member, Id to_member);

}  // namespace regulars::events
