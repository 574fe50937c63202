// What these tests prove: the member timeline's merge of events and outbox rows' steps (pure, no
// database) takes the newer head each time (a step when its time is later than the event's
// occurred_at, the event on a tie; a sent row's sent step above its queued one), pages of any size
// concatenate to the one merge of the whole streams, the cursor names each stream's head or its end
// and round-trips as text, and a malformed cursor is invalid_argument naming `cursor`. The database
// side runs in tests/timeline_http_test.cpp (both backends).

#include "messaging/member_timeline.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 7;
constexpr Id kMember = 70;

events::Event Ev(int64_t seq, Micros at) {
  events::Event e;
  e.merchant_id = kMerchant;
  e.seq = seq;
  e.id = 1000 + seq;
  e.type = "order_created";
  e.member_id = kMember;
  e.occurred_at = at;
  return e;
}

QueuedEntry Row(Id id, Micros at) {
  QueuedEntry q;
  q.id = id;
  q.dedup_key = "k" + std::to_string(id);
  q.channel_id = 5;
  q.created_at = at;
  return q;
}

QueuedEntry Sent(Id id, Micros at) {
  QueuedEntry q = Row(id, at);
  q.step = MessageStep::kSent;
  q.provider_id = "p" + std::to_string(id);
  q.attempts = 2;
  return q;
}

// "e<seq>" / "m<id>" (queued step) / "s<id>" (sent step) for each item.
std::vector<std::string> Names(const std::vector<events::Event>& items) {
  std::vector<std::string> out;
  for (const auto& e : items)
    out.push_back(e.type == "message_queued" ? "m" + std::to_string(e.id)
                  : e.type == "message_sent" ? "s" + std::to_string(e.id)
                                             : "e" + std::to_string(e.seq ? e.seq : e.id));
  return out;
}

// (time, id, step) of a row's step at or before position p, as MemberQueuedEntries compares.
bool AtOrBefore(const QueuedEntry& x, const QueuedPosition& p) {
  if (x.created_at != p.created_at) return x.created_at < p.created_at;
  if (x.id != p.id) return x.id < p.id;
  return static_cast<int>(x.step) <= static_cast<int>(p.step);
}

// Pages of `limit` over the full streams, as MemberTimeline fetches them from each cursor.
std::vector<std::string> AllPages(const std::vector<events::Event>& evs,
                                  const std::vector<QueuedEntry>& rows, int limit, int* pages) {
  std::vector<std::string> out;
  TimelineCursor c;
  *pages = 0;
  while (true) {
    std::vector<events::Event> e;
    std::vector<QueuedEntry> q;
    const size_t want = static_cast<size_t>(limit) + 1;
    if (!c.events_ended)
      for (const auto& x : evs)
        if ((c.event_seq ? x.seq > 0 && x.seq <= *c.event_seq
                         : std::find(c.shown.begin(), c.shown.end(), x.id) == c.shown.end()) &&
            e.size() < want)
          e.push_back(x);
    if (!c.queued_ended)
      for (const auto& x : rows)
        if ((!c.queued || AtOrBefore(x, *c.queued)) && q.size() < want) q.push_back(x);
    TimelineMerge m = MergeTimeline(kMerchant, kMember, c, e, q, limit);
    ++*pages;
    EXPECT_LE(static_cast<int>(m.items.size()), limit);
    for (auto& n : Names(m.items)) out.push_back(n);
    if (!m.next) break;
    auto text = FormatTimelineCursor(*m.next);
    auto back = ParseTimelineCursor(text);
    EXPECT_TRUE(back.has_value()) << text;
    if (!back) break;
    EXPECT_EQ(FormatTimelineCursor(*back), text);
    c = *back;
  }
  return out;
}

TEST(MemberTimeline, MergesByTimeWithTheEventFirstOnATie) {
  // Events newest first by seq; one event (seq 3) is older than seq 2 (another writer's clock).
  std::vector<events::Event> evs = {Ev(5, 500), Ev(4, 400), Ev(3, 150), Ev(2, 200), Ev(1, 100)};
  std::vector<QueuedEntry> rows = {Row(92, 450), Row(91, 400), Row(90, 120)};
  TimelineMerge m = MergeTimeline(kMerchant, kMember, {}, evs, rows, 100);
  EXPECT_EQ(Names(m.items),
            (std::vector<std::string>{"e5", "m92", "e4", "m91", "e3", "e2", "m90", "e1"}));
  EXPECT_FALSE(m.next.has_value());
}

TEST(MemberTimeline, PagesOfAnySizeConcatenateToTheWholeMerge) {
  std::vector<events::Event> evs;
  std::vector<QueuedEntry> rows;
  for (int i = 30; i >= 1; --i) evs.push_back(Ev(i, i * 10));
  for (int i = 20; i >= 1; --i) rows.push_back(Row(200 + i, i * 15));  // ties at 30, 60, ...
  rows.insert(rows.begin() + 6, Row(199, 15 * 15));  // after 215: two rows at one time, by id
  int pages = 0;
  std::vector<std::string> whole = AllPages(evs, rows, 1000, &pages);
  EXPECT_EQ(pages, 1);
  ASSERT_EQ(whole.size(), 51u);
  EXPECT_EQ(whole[0], "e30");   // 300
  EXPECT_EQ(whole[1], "m220");  // 300: the event first on the tie
  for (int limit : {1, 2, 3, 7, 25, 50, 51}) {
    std::vector<std::string> paged = AllPages(evs, rows, limit, &pages);
    EXPECT_EQ(paged, whole) << "limit " << limit;
    EXPECT_EQ(pages, (51 + limit - 1) / limit) << "limit " << limit;
  }
  // Only one stream.
  EXPECT_EQ(AllPages(evs, {}, 4, &pages).size(), 30u);
  EXPECT_EQ(pages, 8);
  EXPECT_EQ(AllPages({}, rows, 4, &pages).size(), 21u);
  EXPECT_EQ(pages, 6);
}

// A sent row has two steps: sent at its sent_at (above its queued step on a tie), queued at its
// created_at; pages of any size concatenate to the one merge, the cursor naming a sent step.
TEST(MemberTimeline, ASentRowShowsItsSentAndQueuedSteps) {
  std::vector<events::Event> evs = {Ev(4, 700), Ev(3, 500), Ev(2, 300), Ev(1, 100)};
  // Steps newest first by (time, id, step): 91 sent at 600, 92 queued and sent at 550, 91
  // queued at 200.
  std::vector<QueuedEntry> steps = {Sent(91, 600), Sent(92, 550), Row(92, 550), Row(91, 200)};
  int pages = 0;
  const std::vector<std::string> whole = {"e4", "s91", "s92", "m92", "e3", "e2", "m91", "e1"};
  EXPECT_EQ(AllPages(evs, steps, 100, &pages), whole);
  for (int limit : {1, 2, 3, 5})
    EXPECT_EQ(AllPages(evs, steps, limit, &pages), whole) << "limit " << limit;
  TimelineMerge m = MergeTimeline(kMerchant, kMember, {}, evs, steps, 2);
  ASSERT_TRUE(m.next.has_value());
  EXPECT_EQ(FormatTimelineCursor(*m.next), "3.550:92:1");
  auto back = ParseTimelineCursor("3.550:92:1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->queued->created_at, 550);
  EXPECT_EQ(back->queued->id, 92);
  EXPECT_EQ(back->queued->step, MessageStep::kSent);
  m = MergeTimeline(kMerchant, kMember, {}, evs, steps, 3);
  EXPECT_EQ(FormatTimelineCursor(*m.next), "3.550:92");  // a queued step: no suffix
}

TEST(MemberTimeline, TheCursorNamesEachHeadOrItsEnd) {
  std::vector<events::Event> evs = {Ev(9, 900), Ev(8, 800)};
  std::vector<QueuedEntry> rows = {Row(77, 850)};
  TimelineMerge m = MergeTimeline(kMerchant, kMember, {}, evs, rows, 1);
  ASSERT_TRUE(m.next.has_value());
  EXPECT_EQ(FormatTimelineCursor(*m.next), "8.850:77");
  m = MergeTimeline(kMerchant, kMember, {}, evs, rows, 2);
  EXPECT_EQ(FormatTimelineCursor(*m.next), "8.-");
  m = MergeTimeline(kMerchant, kMember, {}, {Ev(1, 5)}, rows, 1);
  EXPECT_EQ(FormatTimelineCursor(*m.next), "1.-");
  m = MergeTimeline(kMerchant, kMember, {}, {Ev(1, 900)}, rows, 1);
  EXPECT_EQ(FormatTimelineCursor(*m.next), "-.850:77");
}

// Events not numbered yet (seq 0, PostgreSQL) lead the events; a cursor stopping at one reads
// from the newest again without the ones shown, so nothing repeats or goes missing.
TEST(MemberTimeline, UnnumberedEventsArePagedByTheIdsShown) {
  std::vector<events::Event> evs = {Ev(0, 990), Ev(0, 980), Ev(0, 970), Ev(2, 200), Ev(1, 100)};
  evs[0].id = 501;
  evs[1].id = 502;
  evs[2].id = 503;
  std::vector<QueuedEntry> rows = {Row(90, 975), Row(91, 150)};
  int pages = 0;
  const std::vector<std::string> whole = {"e501", "e502", "m90", "e503", "e2", "m91", "e1"};
  EXPECT_EQ(AllPages(evs, rows, 100, &pages), whole);
  for (int limit : {1, 2, 3, 4})
    EXPECT_EQ(AllPages(evs, rows, limit, &pages), whole) << "limit " << limit;
  TimelineMerge m = MergeTimeline(kMerchant, kMember, {}, evs, rows, 2);
  EXPECT_EQ(FormatTimelineCursor(*m.next), "*~501~502.975:90");
  auto back = ParseTimelineCursor("*~501~502.975:90");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->event_seq, std::nullopt);
  EXPECT_FALSE(back->events_ended);
  EXPECT_EQ(back->shown, (std::vector<Id>{501, 502}));
}

// What every entry made from an outbox row has: no seq, the message id, the member, actor system.
void ExpectRowEntry(const events::Event& e, Id id, const std::string& type, Micros at) {
  EXPECT_EQ(e.seq, 0);
  EXPECT_EQ(e.id, id);
  EXPECT_EQ(e.type, type);
  EXPECT_EQ(e.member_id, std::optional<Id>{kMember});
  EXPECT_EQ(e.occurred_at, at);
  EXPECT_EQ(e.actor, "system");
}

TEST(MemberTimeline, AQueuedEntryHasTheShapeOfTheOldEvent) {
  QueuedEntry q = Row(123, 456);
  q.medium = Medium::kSms;
  q.purpose = Purpose::kMarketing;
  q.template_id = 88;
  q.subject = "Hi";
  events::Event e = QueuedTimelineEntry(kMerchant, kMember, q);
  ExpectRowEntry(e, 123, "message_queued", 456);
  EXPECT_EQ(e.data, R"({"channel_id":"5","dedup_key":"k123","medium":"sms","message_id":"123",)"
                    R"("purpose":"marketing","subject":"Hi","template_id":"88"})");
}

// A sent step's entry carries what the message_sent event held.
TEST(MemberTimeline, ASentEntryHasTheShapeOfTheOldEvent) {
  QueuedEntry q = Sent(123, 789);
  q.template_id = 88;
  q.subject = "Hi";
  events::Event e = QueuedTimelineEntry(kMerchant, kMember, q);
  ExpectRowEntry(e, 123, "message_sent", 789);
  EXPECT_EQ(e.data, R"({"attempts":2,"channel_id":"5","dedup_key":"k123","medium":"email",)"
                    R"("message_id":"123","provider_id":"p123","purpose":"transactional"})");
}

TEST(MemberTimeline, AMalformedCursorNamesTheField) {
  for (const char* bad : {"", "12", "-.-", "x.-", "0.-", "-.5", "-.5:", "-.:5", "-.5:0", "1.2:3x",
                          "12.5:6.7", "12.5:6:0", "12.5:6:2", "12.5::1", "12.5:6:1:1"}) {
    auto c = ParseTimelineCursor(bad);
    ASSERT_FALSE(c.has_value()) << bad;
    EXPECT_EQ(c.error().code, Code::kInvalidArgument) << bad;
    EXPECT_EQ(c.error().field, "cursor") << bad;
    EXPECT_EQ(c.error().message, "cursor: is not a cursor this list gave out") << bad;
  }
  auto ok = ParseTimelineCursor("12.-5:6");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->event_seq, std::optional<int64_t>{12});
  EXPECT_EQ(ok->queued->created_at, -5);
  EXPECT_EQ(ok->queued->id, 6);
}

}  // namespace
}  // namespace regulars::messaging
