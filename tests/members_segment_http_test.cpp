// GET /api/v1/members?segment_id= on SQLite and PostgreSQL: a saved segment's current members
// (from the live feature store), newest first, with exactly the fields and the paging of the
// members list; a profile change moves a member out within a second; a malformed id is 400 and
// an unknown, deleted or another merchant's segment is 404, each naming `segment_id`.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

class MembersBySegmentApi : public HttpTest {
 protected:
  std::string CreateMember(const Tenant& t, const std::string& phone, json tags) {
    auto r = Post("/api/v1/members", t.owner_key,
                  {{"phone", phone}, {"name", "Member " + phone}, {"tags", tags}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  std::string CreateSegment(const Tenant& t, const std::string& name, const std::string& tag) {
    auto r = Post(
        "/api/v1/segments", t.owner_key,
        {{"name", name}, {"definition", {{"feature", "tag"}, {"op", "in"}, {"values", {tag}}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  std::vector<std::string> Ids(const Response& r) {
    std::vector<std::string> out;
    if (r.body.contains("data"))
      for (const auto& m : r.body["data"]) out.push_back(m.value("id", ""));
    return out;
  }
  // Polls until `done` holds (the feature store tails the event log), at most ~5 s.
  template <class Done>
  bool Eventually(Done done) {
    for (int i = 0; i < 100; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }
  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field) {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
  }
};

TEST_P(MembersBySegmentApi, PagesTheSegmentsMembersNewestFirst) {
  std::string m1 = CreateMember(a_, "0912000001", {"vip"});
  std::string m2 = CreateMember(a_, "0912000002", {"vip", "tea"});
  std::string m3 = CreateMember(a_, "0912000003", json::array());
  std::string m4 = CreateMember(a_, "0912000004", {"vip"});
  std::string vip = CreateSegment(a_, "VIPs", "vip");
  const std::string path = "/api/v1/members?segment_id=" + vip;
  ASSERT_TRUE(Eventually([&] { return Ids(Get(path, a_.owner_key)).size() == 3; }));

  auto page1 = Get(path + "&limit=2", a_.owner_key);
  ASSERT_EQ(page1.status, 200) << page1.raw;
  EXPECT_EQ(Ids(page1), (std::vector<std::string>{m4, m2}));
  // The same fields as the members list and GET /members/{id}.
  auto one = Get("/api/v1/members/" + m4, a_.owner_key);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(page1.body["data"][0], one.body);
  auto listed = Get("/api/v1/members?q=0912000002", a_.owner_key);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  ASSERT_EQ(listed.body["data"].size(), 1u);
  EXPECT_EQ(page1.body["data"][1], listed.body["data"][0]);
  ASSERT_TRUE(page1.body["next_cursor"].is_string()) << page1.raw;

  auto page2 =
      Get(path + "&limit=2&cursor=" + page1.body["next_cursor"].get<std::string>(), a_.owner_key);
  ASSERT_EQ(page2.status, 200) << page2.raw;
  EXPECT_EQ(Ids(page2), (std::vector<std::string>{m1}));
  EXPECT_EQ(page2.body["next_cursor"], nullptr);
  // A cashier may list too (a read).
  EXPECT_EQ(Ids(Get(path, a_.cashier_key)), (std::vector<std::string>{m4, m2, m1}));

  // Membership is live: a member whose tag goes leaves the list within a second.
  auto changed = Patch("/api/v1/members/" + m2, a_.owner_key, {{"tags", {"tea"}}});
  ASSERT_EQ(changed.status, 200) << changed.raw;
  ASSERT_TRUE(Eventually([&] { return Ids(Get(path, a_.owner_key)).size() == 2; }));
  EXPECT_EQ(Ids(Get(path, a_.owner_key)), (std::vector<std::string>{m4, m1}));
  (void)m3;

  // An empty segment is an empty page.
  std::string none = CreateSegment(a_, "Nobody", "nobody");
  auto empty = Get("/api/v1/members?segment_id=" + none, a_.owner_key);
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(empty.body, json::parse(R"({"data": [], "next_cursor": null})"));
}

TEST_P(MembersBySegmentApi, BadAndUnknownSegmentsNameTheField) {
  std::string vip = CreateSegment(a_, "VIPs", "vip");
  ExpectError(Get("/api/v1/members?segment_id=abc", a_.owner_key), 400, "invalid_argument",
              "segment_id: is not a segment id", "segment_id");
  ExpectError(Get("/api/v1/members?segment_id=", a_.owner_key), 400, "invalid_argument",
              "segment_id: is not a segment id", "segment_id");
  ExpectError(Get("/api/v1/members?segment_id=" + vip + "&q=0912", a_.owner_key), 400,
              "invalid_argument", "segment_id: cannot be combined with q or phone", "segment_id");
  ExpectError(Get("/api/v1/members?segment_id=" + vip + "&cursor=x", a_.owner_key), 400,
              "invalid_argument", "cursor: is not a cursor this list gave out", "cursor");
  ExpectError(Get("/api/v1/members?segment_id=" + vip + "&limit=0", a_.owner_key), 400,
              "invalid_argument", "limit: must be a whole number from 1 to 500", "limit");
  ExpectError(Get("/api/v1/members?segment_id=123", a_.owner_key), 404, "not_found",
              "segment_id: no such segment", "segment_id");
  // Another merchant's segment is not found either.
  ExpectError(Get("/api/v1/members?segment_id=" + vip, b_.owner_key), 404, "not_found",
              "segment_id: no such segment", "segment_id");
  // Nor is a deleted one.
  EXPECT_EQ(Get("/api/v1/members?segment_id=" + vip, a_.owner_key).status, 200);
  ASSERT_EQ(Call("DELETE", "/api/v1/segments/" + vip, a_.owner_key).status, 204);
  ExpectError(Get("/api/v1/members?segment_id=" + vip, a_.owner_key), 404, "not_found",
              "segment_id: no such segment", "segment_id");
}

RG_INSTANTIATE_BACKENDS(MembersBySegmentApi);

}  // namespace
}  // namespace regulars::testing
