#pragma once

// The member timeline (GET /api/v1/members/{id}/timeline): the member's events merged with the
// member's outbox rows, each row shown as a `message_queued` entry and, once sent, a
// `message_sent` entry. Neither Enqueue nor recording `sent` appends an event (outbox.h): the
// row records both steps, so the event feed no longer carries them but the timeline still does.
//
// A row's entries have the shape of an event entry: id = the message id, seq = 0 (no event; the
// API renders null), actor "system" (the row keeps no actor). message_queued: occurred_at = the
// row's created_at, data {channel_id, dedup_key, medium, message_id, purpose, subject[,
// template_id]} — what the message_queued event held, plus the subject. message_sent:
// occurred_at = the row's sent_at, data {attempts, channel_id, dedup_key, medium, message_id,
// provider_id, purpose} — what the message_sent event held. Events of type message_queued or
// message_sent written before the changes are left out of the timeline: their outbox rows stand
// for them (rows are never deleted and keep created_at and sent_at), so no step shows twice.
//
// Order, newest first. Two streams, each in its own order: events by seq descending
// (events::MemberEvents), the rows' steps by (time, id, step) descending, a sent step above its
// queued one on equal times (MemberQueuedEntries). The merge looks only at the two heads: the
// step comes next when its time is later than the event's occurred_at, otherwise the event (on
// equal times the event shows newer, so a message's own later events never show below its
// steps).
//
// Paging contract. The cursor names the head of EACH stream where the page stopped — the next
// event's seq and the next step's (time, id, step), both inclusive, or "ended" — so the next page
// resumes the same merge exactly: the pages concatenated are the merge of the two whole streams,
// no entry twice, none skipped; what is added after the first page (newer than both heads) is
// not mixed into later pages. One exception: an event not numbered yet (seq 0; none today, as
// events are numbered at commit, but the merge allows for the numbering after commit proposed in
// docs/architecture.md, events/) has no seq to name. When the next event is one,
// the cursor says "events from the newest again, without these ids" (the unnumbered events
// already shown), so nothing repeats or is skipped, but events written meanwhile may show on
// that next page. The cursor is opaque to clients ("<seq>.<time>:<id>" with ":1" appended when
// the next step is a sent one, "-" for a stream that ended, "*~<id>~<id>" for the events from
// the newest again); anything else is invalid_argument naming `cursor`. A cursor given out
// before sent steps existed reads as naming a queued step, which resumes at the same place.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "base/ids.h"
#include "base/page.h"
#include "events/event_repo.h"
#include "messaging/outbox.h"
#include "store/db.h"

namespace regulars::messaging {

// Where a timeline page starts in each stream. nullopt with !ended: from the newest.
struct TimelineCursor {
  std::optional<int64_t> event_seq;  // the next event has seq <= this
  bool events_ended = false;
  std::vector<Id> shown;  // with event_seq nullopt: unnumbered events already on a page
  std::optional<QueuedPosition> queued;  // the next row is at or before this
  bool queued_ended = false;
};
std::string FormatTimelineCursor(const TimelineCursor& c);
Result<TimelineCursor> ParseTimelineCursor(std::string_view s);

// The pure merge. `events` (seq descending, unnumbered ones (seq 0) first; no message_queued or
// message_sent, none of from.shown) and `queued` (steps by (time, id, step) descending) each start
// at `from`'s head and hold at most limit + 1 entries; fewer means that stream ends there. Takes up
// to `limit` entries in the order above; `next` is set when either stream has more.
struct TimelineMerge {
  std::vector<events::Event> items;
  std::optional<TimelineCursor> next;
};
TimelineMerge MergeTimeline(Id merchant_id, Id member_id, const TimelineCursor& from,
                            std::vector<events::Event> events,
                            const std::vector<QueuedEntry>& queued, int limit);

// The timeline entry of a row's step (message_queued or message_sent; shape above).
events::Event QueuedTimelineEntry(Id merchant_id, Id member_id, const QueuedEntry& q);

// One page of the timeline: not_found for a member of another merchant or none; the cursor as
// above. limit 1..kMaxPageSize.
Result<Page<events::Event>> MemberTimeline(store::Tx& tx, const accounts::Actor& actor,
                                           Id member_id, const std::optional<std::string>& cursor,
                                           int limit);

}  // namespace regulars::messaging
