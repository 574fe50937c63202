// What this test proves, on SQLite and PostgreSQL: GET /api/v1/members/{id}/timeline shows a
// message queued with POST /api/v1/messages as a `message_queued` entry made from its outbox row
// (the enqueue writes no event; messaging/member_timeline.h): the message id, seq null, the
// row's created_at, the old event's data plus the subject; it sits in time order among the
// member's events; pages of one entry walk the merged streams without a gap or a repeat; after
// a member merge the merged member's messages show on the survivor's timeline (and no longer on
// the merged member's); a cursor this list never gave out is invalid_argument naming `cursor`;
// a sent message's `sent` step shows once, from its row (no message_sent event is written, and
// an old one is left out).

#include <gtest/gtest.h>

#include "events/event_repo.h"
#include "http_fixture.h"
#include "messaging/outbox.h"

namespace regulars::testing {
namespace {

class TimelineApi : public HttpTest {
 protected:
  std::string New(const std::string& path, const json& body) {
    auto r = Post(path, a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << path << " " << r.raw;
    return r.body.value("id", "");
  }

  // A log channel and a transactional e-mail template, which Queue uses.
  void NewChannelAndTemplate() {
    channel_ = New("/api/v1/channels", {{"kind", "log"}, {"name", "Log"}});
    template_ =
        New("/api/v1/templates",
            {{"name", "Receipt"},
             {"medium", "email"},
             {"category", "transactional"},
             {"variants", {{"en", {{"subject", "Thanks {{member.name}}"}, {"text", "Hi"}}}}}});
  }

  std::string Queue(const std::string& member, const std::string& key) {
    return New("/api/v1/messages", {{"member_id", member},
                                    {"template_id", template_},
                                    {"channel_id", channel_},
                                    {"dedup_key", key}});
  }

  // Every entry, following next_cursor with pages of `limit`: "type" or "message_queued <id>".
  std::vector<std::string> Walk(const std::string& member, int limit, int* pages = nullptr) {
    std::vector<std::string> out;
    std::string cursor;
    int n = 0;
    while (n < 100) {
      std::string path = "/api/v1/members/" + member + "/timeline?limit=" + std::to_string(limit);
      if (!cursor.empty()) path += "&cursor=" + cursor;
      auto r = Get(path, a_.owner_key);
      EXPECT_EQ(r.status, 200) << r.raw;
      if (r.status != 200) break;
      ++n;
      for (const auto& e : r.body["data"]) {
        std::string t = e["type"];
        out.push_back(t == "message_queued" || t == "message_sent"
                          ? t + " " + e["id"].get<std::string>()
                          : t);
      }
      if (r.body["next_cursor"].is_null()) break;
      cursor = r.body["next_cursor"];
    }
    if (pages) *pages = n;
    return out;
  }

  std::string channel_, template_;
};
RG_INSTANTIATE_BACKENDS(TimelineApi);

TEST_P(TimelineApi, QueuedMessagesShowFromTheOutboxAmongTheEventsAndFollowAMerge) {
  NewChannelAndTemplate();
  std::string amy = New(
      "/api/v1/members",
      {{"phone", "0912000301"}, {"name", "Amy"}, {"email", "amy@example.com"}, {"language", "en"}});
  clock_.Advance(kMicrosPerSecond);
  Micros queued_at = clock_.Now();
  std::string m1 = Queue(amy, "tl:1");
  clock_.Advance(kMicrosPerSecond);
  auto p = Patch("/api/v1/members/" + amy, a_.owner_key, {{"city", "Taipei"}});
  ASSERT_EQ(p.status, 200) << p.raw;
  clock_.Advance(kMicrosPerSecond);
  std::string m2 = Queue(amy, "tl:2");

  // No message_queued event any more; the timeline shows both from the outbox.
  EXPECT_EQ(Count("outbox"), 2);
  auto ev = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(auto rows,
                        tx.Query("SELECT COUNT(*) FROM events WHERE type = 'message_queued'"));
    return rows[0].Int(0);
  });
  ASSERT_TRUE(ev.has_value()) << ev.error().ToString();
  EXPECT_EQ(*ev, 0);

  auto t = Get("/api/v1/members/" + amy + "/timeline", a_.owner_key);
  ASSERT_EQ(t.status, 200) << t.raw;
  ASSERT_EQ(t.body["data"].size(), 4u) << t.raw;
  EXPECT_TRUE(t.body["next_cursor"].is_null());
  const json& q1 = t.body["data"][2];
  EXPECT_EQ(q1["id"], m1);
  EXPECT_TRUE(q1["seq"].is_null());
  EXPECT_EQ(q1["type"], "message_queued");
  EXPECT_EQ(q1["occurred_at"], FormatRfc3339(queued_at));
  EXPECT_EQ(q1["actor"], "system");
  EXPECT_EQ(q1["data"], (json{{"channel_id", channel_},
                              {"dedup_key", "tl:1"},
                              {"medium", "email"},
                              {"message_id", m1},
                              {"purpose", "transactional"},
                              {"subject", "Thanks Amy"},
                              {"template_id", template_}}))
      << q1.dump();
  EXPECT_TRUE(t.body["data"][1]["seq"].is_number());  // member_updated: an event

  const std::vector<std::string> all = {"message_queued " + m2, "member_updated",
                                        "message_queued " + m1, "member_created"};
  EXPECT_EQ(Walk(amy, 100), all);
  int pages = 0;
  EXPECT_EQ(Walk(amy, 1, &pages), all);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(Walk(amy, 3, &pages), all);
  EXPECT_EQ(pages, 2);

  // Bo's message moves to Amy with the merge, in its place by time.
  clock_.Advance(kMicrosPerSecond);
  std::string bo = New(
      "/api/v1/members",
      {{"phone", "0912000302"}, {"name", "Bo"}, {"email", "bo@example.com"}, {"language", "en"}});
  clock_.Advance(kMicrosPerSecond);
  std::string m3 = Queue(bo, "tl:3");
  EXPECT_EQ(Walk(bo, 10), (std::vector<std::string>{"message_queued " + m3, "member_created"}));
  clock_.Advance(kMicrosPerSecond);
  auto merge = Post("/api/v1/members/" + amy + "/merge", a_.owner_key, {{"from_member_id", bo}});
  ASSERT_EQ(merge.status, 200) << merge.raw;
  std::vector<std::string> merged = Walk(amy, 2, &pages);
  EXPECT_EQ(merged,
            (std::vector<std::string>{"member_merged", "message_queued " + m3, "member_created",
                                      "message_queued " + m2, "member_updated",
                                      "message_queued " + m1, "member_created"}))
      << ::testing::PrintToString(merged);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(Walk(bo, 10), (std::vector<std::string>{}));
  auto msg = Get("/api/v1/messages?member_id=" + amy, a_.owner_key);
  ASSERT_EQ(msg.status, 200) << msg.raw;
  EXPECT_EQ(msg.body["data"].size(), 3u) << msg.raw;
  // The export carries the survivor's three messages, newest first, in the timeline's shape.
  auto x = Get("/api/v1/members/" + amy + "/export", a_.owner_key);
  ASSERT_EQ(x.status, 200) << x.raw;
  ASSERT_EQ(x.body["messages"].size(), 3u) << x.raw;
  EXPECT_EQ(x.body["messages"][0]["id"], m3);
  EXPECT_EQ(x.body["messages"][2]["id"], m1);
  EXPECT_EQ(x.body["messages"][2]["data"], q1["data"]);
  EXPECT_TRUE(x.body["messages"][2]["seq"].is_null());

  for (const char* bad : {"12", "x.-", "-.-", "1.2:0"}) {
    auto r = Get("/api/v1/members/" + amy + "/timeline?cursor=" + bad, a_.owner_key);
    EXPECT_EQ(r.status, 400) << bad << " " << r.raw;
    EXPECT_EQ(r.body["error"]["message"], "cursor: is not a cursor this list gave out") << bad;
  }
  // Another merchant's member is not found.
  auto other = Get("/api/v1/members/" + amy + "/timeline", b_.owner_key);
  EXPECT_EQ(other.status, 404) << other.raw;
}

// `sent` appends no event: the row's sent_at is the timeline's message_sent entry (seq null, the
// old event's data), above the queued one; a message_sent event written before the change is
// left out (the row stands for it), so the message shows once per step; the export's messages
// carry both steps.
TEST_P(TimelineApi, ASentMessageShowsItsSentStepFromTheOutboxOnce) {
  NewChannelAndTemplate();
  std::string amy = New(
      "/api/v1/members",
      {{"phone", "0912000311"}, {"name", "Amy"}, {"email", "amy@example.com"}, {"language", "en"}});
  clock_.Advance(kMicrosPerSecond);
  std::string m1 = Queue(amy, "ts:1");
  std::string m2 = Queue(amy, "ts:2");
  clock_.Advance(kMicrosPerSecond);
  auto claimed = messaging::Claim(db(), 10, "w1", 60 * kMicrosPerSecond, clock_.Now());
  ASSERT_TRUE(claimed.has_value()) << claimed.error().ToString();
  ASSERT_EQ(claimed->size(), 2u);
  clock_.Advance(kMicrosPerSecond);
  Micros sent_at = clock_.Now();
  const messaging::Message& sent = (*claimed)[0].id == *ParseId(m1) ? (*claimed)[0] : (*claimed)[1];
  ASSERT_TRUE(messaging::Complete(db(), sent, "w1", "prov-1", sent_at));
  // An old-style message_sent event for the same message (as written before the change).
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(events::AppendEvent(
        tx, sent.merchant_id, sent_at,
        events::NewEvent{"message_sent", sent.member_id, "system",
                         json{{"message_id", m1}, {"provider_id", "prov-1"}}.dump()}));
    return {};
  }));
  auto ev = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(auto rows,
                        tx.Query("SELECT COUNT(*) FROM events WHERE type = 'message_sent'"));
    return rows[0].Int(0);
  });
  EXPECT_EQ(ev.value_or(-1), 1);  // the old-style one only: Complete wrote none

  const std::vector<std::string> all = {"message_sent " + m1, "message_queued " + m2,
                                        "message_queued " + m1, "member_created"};
  EXPECT_EQ(Walk(amy, 100), all);
  int pages = 0;
  EXPECT_EQ(Walk(amy, 1, &pages), all);
  EXPECT_EQ(pages, 4);
  auto t = Get("/api/v1/members/" + amy + "/timeline?limit=1", a_.owner_key);
  ASSERT_EQ(t.status, 200) << t.raw;
  const json& s = t.body["data"][0];
  EXPECT_EQ(s["id"], m1);
  EXPECT_TRUE(s["seq"].is_null());
  EXPECT_EQ(s["type"], "message_sent");
  EXPECT_EQ(s["occurred_at"], FormatRfc3339(sent_at));
  EXPECT_EQ(s["actor"], "system");
  EXPECT_EQ(s["data"], (json{{"attempts", 1},
                             {"channel_id", channel_},
                             {"dedup_key", "ts:1"},
                             {"medium", "email"},
                             {"message_id", m1},
                             {"provider_id", "prov-1"},
                             {"purpose", "transactional"}}))
      << s.dump();

  auto x = Get("/api/v1/members/" + amy + "/export", a_.owner_key);
  ASSERT_EQ(x.status, 200) << x.raw;
  ASSERT_EQ(x.body["messages"].size(), 3u) << x.raw;
  EXPECT_EQ(x.body["messages"][0]["type"], "message_sent");
  EXPECT_EQ(x.body["messages"][0]["data"], s["data"]);
}

}  // namespace
}  // namespace regulars::testing
