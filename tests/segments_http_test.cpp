// Segments over HTTP on SQLite and PostgreSQL: create with a live count, list, get, change,
// delete; preview without saving; members paged; invalid definitions refused with the exact
// field path; a new order moves a member into a segment within a second (the feature store's
// tailer and the membership refresher), with segment_entered / segment_exited on the member's
// timeline exactly once; another merchant's segments are not_found; the catalogue.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

class SegmentApi : public HttpTest {
 protected:
  std::string CreateMember(const Tenant& t, const std::string& phone, json extra = json::object()) {
    json body = {{"phone", phone}, {"name", "Member " + phone}};
    body.update(extra);
    auto r = Post("/api/v1/members", t.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  std::string Order(const Tenant& t, const std::string& member, const std::string& external,
                    int64_t total, const std::string& category = "tea") {
    auto r = Post("/api/v1/orders", t.owner_key,
                  {{"external_id", external},
                   {"member_id", member},
                   {"branch_id", t.branch_id},
                   {"total_minor", total},
                   {"items",
                    {{{"sku", "T-1"},
                      {"name", "Tea"},
                      {"category", category},
                      {"quantity", 1},
                      {"unit_price_minor", total}}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  // Polls until `done` holds (the store and the refresher run in the background), at most ~5 s.
  template <class Done>
  bool Eventually(Done done) {
    for (int i = 0; i < 100; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }
  int64_t SegmentCount(const Tenant& t, const std::string& segment) {
    auto r = Get("/api/v1/segments/" + segment, t.owner_key);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body.value("count", int64_t{-1});
  }
  std::vector<std::string> Timeline(const Tenant& t, const std::string& member,
                                    const std::string& type) {
    auto r = Get("/api/v1/members/" + member + "/timeline?limit=500", t.owner_key);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::vector<std::string> out;
    for (const auto& e : r.body["data"])
      if (e.value("type", "") == type) out.push_back(e["data"].value("segment_id", ""));
    return out;
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

TEST_P(SegmentApi, CreateCountPreviewMembersChangeDelete) {
  std::string m1 = CreateMember(a_, "0912000001", {{"tags", {"vip"}}});
  std::string m2 = CreateMember(a_, "0912000002", {{"tags", {"vip"}}});
  std::string m3 = CreateMember(a_, "0912000003");
  Order(a_, m1, "S-1", 5000);
  Order(a_, m2, "S-2", 800);
  json big = {{"and",
               {{{"feature", "tag"}, {"op", "in"}, {"values", {"vip"}}},
                {{"feature", "spend_minor"}, {"op", ">="}, {"value", 1000}}}}};
  // The orders reach the feature store within a second: poll the preview.
  ASSERT_TRUE(Eventually([&] {
    auto p = Post("/api/v1/segments/preview", a_.owner_key, {{"definition", big}});
    return p.status == 200 && p.body["count"] == 1;
  }));
  auto preview = Post("/api/v1/segments/preview", a_.owner_key, {{"definition", big}});
  ASSERT_EQ(preview.status, 200) << preview.raw;
  EXPECT_EQ(preview.body["count"], 1);
  ASSERT_EQ(preview.body["sample"].size(), 1u);
  EXPECT_EQ(preview.body["sample"][0]["id"], m1);
  EXPECT_EQ(preview.body["sample"][0]["spend_minor"], 5000);
  EXPECT_EQ(preview.body["sample"][0]["orders"], 1);
  EXPECT_EQ(preview.body["sample"][0]["name"], "Member 0912000001");
  EXPECT_EQ(preview.body["sample"][0]["phone"], "+886912000001");
  EXPECT_EQ(preview.body["sample"][0]["tier"], nullptr);
  EXPECT_TRUE(preview.body["sample"][0]["last_order_at"].is_string());
  EXPECT_EQ(Count("segments"), 0);  // nothing saved

  auto created =
      Post("/api/v1/segments", a_.owner_key, {{"name", "Big VIPs"}, {"definition", big}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["name"], "Big VIPs");
  EXPECT_EQ(created.body["count"], 1);
  EXPECT_EQ(created.body["definition"], big);
  EXPECT_TRUE(created.body["created_at"].is_string());
  std::string big_id = created.body["id"];

  auto vip = Post(
      "/api/v1/segments", a_.owner_key,
      {{"name", "VIPs"}, {"definition", {{"feature", "tag"}, {"op", "in"}, {"values", {"vip"}}}}});
  ASSERT_EQ(vip.status, 201) << vip.raw;
  EXPECT_EQ(vip.body["count"], 2);
  std::string vip_id = vip.body["id"];
  auto others = Post("/api/v1/segments", a_.owner_key,
                     {{"name", "Not VIP"}, {"definition", {{"not", {{"segment", vip_id}}}}}});
  ASSERT_EQ(others.status, 201) << others.raw;
  EXPECT_EQ(others.body["count"], 1);
  std::string others_id = others.body["id"];

  auto list = Get("/api/v1/segments?limit=2", a_.owner_key);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["data"].size(), 2u);
  EXPECT_EQ(list.body["data"][0]["id"], big_id);
  EXPECT_EQ(list.body["data"][1]["count"], 2);
  ASSERT_TRUE(list.body["next_cursor"].is_string());
  auto rest = Get("/api/v1/segments?limit=2&cursor=" + list.body["next_cursor"].get<std::string>(),
                  a_.owner_key);
  ASSERT_EQ(rest.body["data"].size(), 1u);
  EXPECT_EQ(rest.body["data"][0]["id"], others_id);
  EXPECT_EQ(rest.body["next_cursor"], nullptr);

  auto page1 = Get("/api/v1/segments/" + vip_id + "/members?limit=1", a_.owner_key);
  ASSERT_EQ(page1.status, 200) << page1.raw;
  ASSERT_EQ(page1.body["data"].size(), 1u);
  auto page2 = Get("/api/v1/segments/" + vip_id +
                       "/members?limit=1&cursor=" + page1.body["next_cursor"].get<std::string>(),
                   a_.owner_key);
  ASSERT_EQ(page2.body["data"].size(), 1u);
  EXPECT_EQ(page2.body["next_cursor"], nullptr);
  std::set<std::string> got = {page1.body["data"][0]["id"], page2.body["data"][0]["id"]};
  EXPECT_EQ(got, (std::set<std::string>{m1, m2}));

  // A cycle through a change is refused naming the reference.
  auto cycle = Patch("/api/v1/segments/" + vip_id, a_.owner_key,
                     {{"definition", {{"or", {{{"segment", others_id}}}}}}});
  ExpectError(cycle, 400, "invalid_argument",
              "definition.or[0].segment: segment " + others_id + " refers to itself (" + others_id +
                  " -> " + vip_id + " -> " + others_id + ")",
              "definition.or[0].segment");
  // The referenced segment cannot go while it is referenced.
  auto in_use = Call("DELETE", "/api/v1/segments/" + vip_id, a_.owner_key);
  ExpectError(in_use, 409, "failed_precondition",
              "segment is used by segment \"Not VIP\" (" + others_id + "); change that one first",
              "");

  auto renamed = Patch(
      "/api/v1/segments/" + big_id, a_.owner_key,
      {{"name", "Spenders"}, {"definition", {{"feature", "orders"}, {"op", ">="}, {"value", 1}}}});
  ASSERT_EQ(renamed.status, 200) << renamed.raw;
  EXPECT_EQ(renamed.body["name"], "Spenders");
  EXPECT_EQ(renamed.body["count"], 2);

  auto cashier =
      Post("/api/v1/segments", a_.cashier_key,
           {{"name", "x"}, {"definition", {{"feature", "orders"}, {"op", ">"}, {"value", 0}}}});
  ExpectError(cashier, 403, "permission_denied", "only an owner or manager may change segments",
              "");

  auto del = Call("DELETE", "/api/v1/segments/" + others_id, a_.owner_key);
  EXPECT_EQ(del.status, 204) << del.raw;
  EXPECT_EQ(Get("/api/v1/segments/" + others_id, a_.owner_key).status, 404);
  (void)m3;
}

TEST_P(SegmentApi, InvalidDefinitionsNameTheField) {
  struct Case {
    json body;
    std::string message, field;
  } cases[] = {
      {{{"name", "x"},
        {"definition",
         {{"and",
           {{{"feature", "orders"}, {"op", ">"}, {"value", 1}},
            {{"feature", "spend_minor"}, {"op", "~"}, {"value", 1}}}}}}},
       R"(definition.and[1].op: "~" is not an operator of feature "spend_minor" (use =, !=, >, >=, <, <=, between))",
       "definition.and[1].op"},
      {{{"name", "x"}, {"definition", {{"segment", "123"}}}},
       "definition.segment: no segment 123",
       "definition.segment"},
      {{{"name", "x"}}, "definition: is required", "definition"},
      {{{"definition", {{"feature", "orders"}, {"op", ">"}, {"value", 1}}}},
       "name: is required",
       "name"},
      {{{"name", "  "}, {"definition", {{"feature", "orders"}, {"op", ">"}, {"value", 1}}}},
       "name: must not be empty",
       "name"},
      {{{"name", "x"},
        {"definition", {{"feature", "orders"}, {"op", ">"}, {"value", 1}}},
        {"nmae", 1}},
       "nmae: unknown field",
       "nmae"},
  };
  for (const auto& c : cases) {
    auto r = Post("/api/v1/segments", a_.owner_key, c.body);
    ExpectError(r, 400, "invalid_argument", c.message, c.field);
  }
  auto preview =
      Post("/api/v1/segments/preview", a_.owner_key,
           {{"definition",
             {{"not", {{"feature", "birthday"}, {"op", "in_next_days"}, {"value", 400}}}}}});
  ExpectError(preview, 400, "invalid_argument",
              "definition.not.value: must be an integer from 0 to 366", "definition.not.value");
  EXPECT_EQ(Count("segments"), 0);
}

TEST_P(SegmentApi, NewOrderMovesMemberInWithTimelineEvents) {
  std::string m1 = CreateMember(a_, "0912000011");
  std::string m2 = CreateMember(a_, "0912000012");
  auto created = Post("/api/v1/segments", a_.owner_key,
                      {{"name", "Tea lovers"},
                       {"definition",
                        {{"and",
                          {{{"feature", "category"}, {"op", "in"}, {"values", {"tea"}}},
                           {{"feature", "orders"}, {"op", ">="}, {"value", 1}}}}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["count"], 0);
  std::string seg = created.body["id"];

  std::string order_id = Order(a_, m1, "T-1", 300);
  // Within a second the store has the order and the refresher has written the membership.
  ASSERT_TRUE(Eventually([&] { return Timeline(a_, m1, "segment_entered").size() == 1; }));
  EXPECT_EQ(Timeline(a_, m1, "segment_entered"), std::vector<std::string>{seg});
  EXPECT_EQ(SegmentCount(a_, seg), 1);
  EXPECT_TRUE(Timeline(a_, m2, "segment_entered").empty());

  // A refund of the whole order takes the member out again (no order left): one exit event.
  auto refund =
      Post("/api/v1/orders/" + order_id + "/refunds", a_.owner_key, {{"amount_minor", 300}});
  ASSERT_EQ(refund.status, 201) << refund.raw;
  ASSERT_TRUE(Eventually([&] { return Timeline(a_, m1, "segment_exited").size() == 1; }));
  EXPECT_EQ(SegmentCount(a_, seg), 0);
  // Nothing changes afterwards: no repeated events.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(Timeline(a_, m1, "segment_entered").size(), 1u);
  EXPECT_EQ(Timeline(a_, m1, "segment_exited").size(), 1u);
  EXPECT_EQ(Count("segment_members"), 0);
}

TEST_P(SegmentApi, OtherMerchantsSegmentsAreNotFound) {
  auto created = Post(
      "/api/v1/segments", a_.owner_key,
      {{"name", "A only"}, {"definition", {{"feature", "orders"}, {"op", ">="}, {"value", 0}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  auto not_found = [&](const Response& r) {
    ExpectError(r, 404, "not_found", "no such segment", "");
  };
  not_found(Get("/api/v1/segments/" + id, b_.owner_key));
  not_found(Get("/api/v1/segments/" + id + "/members", b_.owner_key));
  not_found(Patch("/api/v1/segments/" + id, b_.owner_key, {{"name", "mine"}}));
  not_found(Call("DELETE", "/api/v1/segments/" + id, b_.owner_key));
  // B cannot refer to A's segment either.
  auto ref = Post("/api/v1/segments", b_.owner_key,
                  {{"name", "sneaky"}, {"definition", {{"segment", id}}}});
  ExpectError(ref, 400, "invalid_argument", "definition.segment: no segment " + id,
              "definition.segment");
  auto list = Get("/api/v1/segments", b_.owner_key);
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_TRUE(list.body["data"].empty());
  EXPECT_EQ(Get("/api/v1/segments/" + id, a_.owner_key).status, 200);
}

TEST_P(SegmentApi, Catalogue) {
  std::string m = CreateMember(a_, "0912000021", {{"tags", {"vip"}}});
  Order(a_, m, "C-1", 100, "cake");
  ASSERT_TRUE(Eventually([&] {
    auto c = Get("/api/v1/insight/catalogue", a_.owner_key);
    for (const auto& f : c.body["features"])
      if (f["name"] == "category") return f["values"].size() == 1;
    return false;
  }));
  auto c = Get("/api/v1/insight/catalogue", a_.owner_key);
  ASSERT_EQ(c.status, 200) << c.raw;
  std::map<std::string, json> by_name;
  for (const auto& f : c.body["features"]) by_name[f["name"]] = f;
  EXPECT_EQ(by_name.size(), 28u);
  EXPECT_EQ(by_name["spend_minor"]["type"], "number");
  EXPECT_EQ(by_name["spend_minor"]["window"], true);
  EXPECT_EQ(by_name["spend_minor"]["ops"], json({"=", "!=", ">", ">=", "<", "<=", "between"}));
  EXPECT_EQ(by_name["category"]["values"], json::parse(R"([{"value": "cake", "label": "cake"}])"));
  EXPECT_EQ(by_name["sku"]["values"], json::parse(R"([{"value": "T-1", "label": "T-1"}])"));
  EXPECT_EQ(by_name["tag"]["values"], json::parse(R"([{"value": "vip", "label": "vip"}])"));
  ASSERT_FALSE(by_name["branch"]["values"].empty());
  EXPECT_EQ(by_name["branch"]["values"][0]["value"], a_.branch_id);
  EXPECT_EQ(by_name["rfm_group"]["values"].size(), 11u);
  EXPECT_EQ(by_name["points"].contains("values"), false);
}

RG_INSTANTIATE_BACKENDS(SegmentApi);

}  // namespace
}  // namespace regulars::testing
