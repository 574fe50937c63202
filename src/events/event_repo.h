#pragma once

#include <vector>

#include "base/error.h"
#include "events/event.h"
#include "store/db.h"

namespace regulars::events {

// Appends an event to the caller's transaction. The event is numbered and written at the end of
// the transaction, right before COMMIT (Tx::BeforeCommit), in the order appended: the numbering
// bumps merchants.last_event_seq, whose row lock serialises event writers of one merchant until
// COMMIT so that seq order is commit order (no reader can skip an event), and taken last it
// covers one statement and the commit instead of the whole transaction. The returned event has
// its id but seq 0 (not numbered yet); a failure to write it (merchant not found) fails the
// transaction. The same transaction does not see the event in queries. Events appended in a row
// are written together by one BeforeCommit function (one seq reservation per merchant, then
// multi-row INSERTs), so a transaction of n events costs O(n): work another module defers with
// Tx::BeforeCommit between two appends runs after both (only MoveMemberEvents splits a run).
Result<Event> AppendEvent(store::Tx& tx, Id merchant_id, Micros now, NewEvent e);

// Reserves `n` consecutive seq numbers for events the caller inserts itself in this transaction
// (bulk writers such as imports); returns the first. Same serialisation as AppendEvent.
Result<int64_t> ReserveEventSeqs(store::Tx& tx, Id merchant_id, int64_t n);

// Events of one merchant with seq > after_seq, oldest first, at most `limit`.
Result<std::vector<Event>> ReadEvents(store::Tx& tx, Id merchant_id, int64_t after_seq, int limit);

// Events about one member, newest first, with seq < before_seq (0 = from the newest).
Result<std::vector<Event>> MemberEvents(store::Tx& tx, Id merchant_id, Id member_id,
                                        int64_t before_seq, int limit);

// Re-points events of `from_member` at `to_member` (member merge keeps one timeline), at the end
// of the transaction like AppendEvent, so the events appended before it move too.
Status MoveMemberEvents(store::Tx& tx, Id merchant_id, Id from_member, Id to_member);

}  // namespace regulars::events
