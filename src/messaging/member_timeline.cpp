#include "messaging/member_timeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "members/member_service.h"

namespace regulars::messaging {
namespace {

std::unexpected<Error> BadCursor() {
  return InvalidField("cursor", "is not a cursor this list gave out");
}

bool ParseInt(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string FormatTimelineCursor(const TimelineCursor& c) {
  std::string events;
  if (c.events_ended) {
    events = "-";
  } else if (c.event_seq) {
    events = std::to_string(*c.event_seq);
  } else {
    events = "*";
    for (Id id : c.shown) events += "~" + std::to_string(id);
  }
  std::string queued =
      c.queued_ended || !c.queued ? "-" : fmt::format("{}:{}", c.queued->created_at, c.queued->id);
  if (c.queued && !c.queued_ended && c.queued->step == MessageStep::kSent) queued += ":1";
  return events + "." + queued;
}

Result<TimelineCursor> ParseTimelineCursor(std::string_view s) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos) return BadCursor();
  std::string_view ev = s.substr(0, dot), q = s.substr(dot + 1);
  TimelineCursor c;
  if (ev == "-") {
    c.events_ended = true;
  } else if (ev.starts_with('*')) {
    ev.remove_prefix(1);
    while (!ev.empty()) {
      if (ev.front() != '~') return BadCursor();
      ev.remove_prefix(1);
      size_t end = std::min(ev.find('~'), ev.size());
      int64_t id = 0;
      if (!ParseInt(ev.substr(0, end), id) || id <= 0) return BadCursor();
      c.shown.push_back(id);
      ev.remove_prefix(end);
    }
  } else {
    int64_t seq = 0;
    if (!ParseInt(ev, seq) || seq <= 0) return BadCursor();
    c.event_seq = seq;
  }
  if (q == "-") {
    c.queued_ended = true;
  } else {
    size_t colon = q.find(':');
    if (colon == std::string_view::npos) return BadCursor();
    QueuedPosition p;
    std::string_view rest = q.substr(colon + 1);
    if (rest.ends_with(":1")) {  // a sent step; a queued step has no suffix
      p.step = MessageStep::kSent;
      rest.remove_suffix(2);
    }
    int64_t id = 0;
    if (!ParseInt(q.substr(0, colon), p.created_at) || !ParseInt(rest, id) || id <= 0)
      return BadCursor();
    p.id = id;
    c.queued = p;
  }
  if (c.events_ended && c.queued_ended) return BadCursor();  // never given out
  return c;
}

events::Event QueuedTimelineEntry(Id merchant_id, Id member_id, const QueuedEntry& q) {
  // Keys as the message_queued / message_sent events' data had them (nlohmann objects dump
  // sorted); a queued step adds the subject.
  nlohmann::json data = {{"message_id", IdToString(q.id)},
                         {"dedup_key", q.dedup_key},
                         {"medium", MediumName(q.medium)},
                         {"purpose", PurposeName(q.purpose)},
                         {"channel_id", IdToString(q.channel_id)}};
  const bool sent = q.step == MessageStep::kSent;
  if (sent) {
    data["provider_id"] = q.provider_id;
    data["attempts"] = q.attempts;
  } else {
    data["subject"] = q.subject;
    if (q.template_id) data["template_id"] = IdToString(*q.template_id);
  }
  events::Event e;
  e.merchant_id = merchant_id;
  e.seq = 0;
  e.id = q.id;
  e.type = sent ? "message_sent" : "message_queued";
  e.member_id = member_id;
  e.occurred_at = q.created_at;
  e.actor = "system";
  e.data = data.dump();
  return e;
}

TimelineMerge MergeTimeline(Id merchant_id, Id member_id, const TimelineCursor& from,
                            std::vector<events::Event> events,
                            const std::vector<QueuedEntry>& queued, int limit) {
  TimelineMerge out;
  std::vector<Id> shown_unnumbered;
  size_t i = 0, j = 0;
  while (static_cast<int>(out.items.size()) < limit && (i < events.size() || j < queued.size())) {
    bool row_next =
        j < queued.size() && (i == events.size() || queued[j].created_at > events[i].occurred_at);
    if (row_next) {
      out.items.push_back(QueuedTimelineEntry(merchant_id, member_id, queued[j++]));
    } else {
      if (events[i].seq == 0) shown_unnumbered.push_back(events[i].id);
      out.items.push_back(std::move(events[i++]));
    }
  }
  if (i < events.size() || j < queued.size()) {
    // A stream whose every fetched entry was taken has ended: at most limit + 1 were fetched
    // and a page takes at most limit.
    TimelineCursor c;
    if (i == events.size()) {
      c.events_ended = true;
    } else if (events[i].seq > 0) {
      c.event_seq = events[i].seq;
    } else {  // not numbered yet: from the newest again, without what was shown
      c.shown = from.event_seq ? std::vector<Id>{} : from.shown;
      c.shown.insert(c.shown.end(), shown_unnumbered.begin(), shown_unnumbered.end());
    }
    if (j < queued.size())
      c.queued = QueuedPosition{queued[j].created_at, queued[j].id, queued[j].step};
    else
      c.queued_ended = true;
    out.next = c;
  }
  return out;
}

Result<Page<events::Event>> MemberTimeline(store::Tx& tx, const accounts::Actor& actor,
                                           Id member_id, const std::optional<std::string>& cursor,
                                           int limit) {
  RG_TRY(members::GetMember(tx, actor, member_id));
  TimelineCursor c;
  if (cursor && !cursor->empty()) {
    RG_ASSIGN_OR_RETURN(c, ParseTimelineCursor(*cursor));
  }
  const size_t want = static_cast<size_t>(limit) + 1;

  // Events from the cursor's head, without the message_queued / message_sent events written
  // before the outbox row took their place and without c.shown; fetched on until limit + 1 remain
  // or the member's events end. Unnumbered events (seq 0) lead a read from the newest.
  std::vector<events::Event> evs;
  if (!c.events_ended) {
    std::unordered_set<Id> shown(c.shown.begin(), c.shown.end());
    size_t ask = want + shown.size();
    int64_t before = c.event_seq ? *c.event_seq + 1 : 0;  // MemberEvents: seq < before
    while (evs.size() < want) {
      RG_ASSIGN_OR_RETURN(auto chunk, events::MemberEvents(tx, actor.merchant_id, member_id, before,
                                                           static_cast<int>(ask)));
      bool numbered = false;
      for (auto& e : chunk) {
        if (e.seq > 0) {
          before = e.seq;
          numbered = true;
        }
        if (e.type != "message_queued" && e.type != "message_sent" && !shown.contains(e.id))
          evs.push_back(std::move(e));
      }
      if (chunk.size() < ask) break;
      if (!numbered && before == 0) {  // a whole chunk not numbered yet: read more of them
        evs.clear();
        ask *= 2;
      }
    }
    if (evs.size() > want) evs.resize(want);
  }
  std::vector<QueuedEntry> queued;
  if (!c.queued_ended) {
    RG_ASSIGN_OR_RETURN(queued, MemberQueuedEntries(tx, actor.merchant_id, member_id, c.queued,
                                                    static_cast<int>(want)));
  }

  TimelineMerge m = MergeTimeline(actor.merchant_id, member_id, c, std::move(evs), queued, limit);
  Page<events::Event> page;
  page.items = std::move(m.items);
  if (m.next) page.next_cursor = FormatTimelineCursor(*m.next);
  return page;
}

}  // namespace regulars::messaging
