// The HTTP contract of API.md, end to end, on SQLite and PostgreSQL: each bad input answers with
// its precise error and changes nothing; every POST is idempotent; another merchant's ids are
// not_found, never data.

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "http_fixture.h"

using regulars::http::RouteInfo;

namespace regulars::testing {
namespace {

class Api : public HttpTest {
 protected:
  std::string CreateMember(const Tenant& t, const std::string& phone, const std::string& name) {
    auto r = Post("/api/v1/members", t.owner_key, {{"phone", phone}, {"name", name}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    if (!field.empty()) EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
  }
};

TEST_P(Api, BadInputGetsAPreciseErrorAndChangesNothing) {
  std::string id = CreateMember(a_, "0912 345 678", "陳小明");
  int64_t members = Count("members"), events = Count("events");
  struct Case {
    std::string body;
    int status;
    std::string code, message, field;
  } cases[] = {
      {R"({"phone": "0912)", 400, "invalid_argument", "body: malformed JSON at byte 16", "body"},
      {R"({"phone": 912345678})", 400, "invalid_argument", "phone: must be a string", "phone"},
      {R"({"phone": "0912345678", "name": ["x"]})", 400, "invalid_argument",
       "name: must be a string or null", "name"},
      {R"({"phone": "+1 202 555 01"})", 400, "invalid_argument",
       "phone: not a valid number for region US", "phone"},
      {R"({"phone": "12345"})", 400, "invalid_argument", "phone: not a valid number for region TW",
       "phone"},
      {R"({"phone": "0922000111", "consent": {"sms": "yes"}})", 400, "invalid_argument",
       "consent.sms: must be true or false", "consent.sms"},
      {R"({"phone": "0922000111", "nmae": "typo"})", 400, "invalid_argument", "nmae: unknown field",
       "nmae"},
      {R"({"phone": "0912-345678"})", 409, "already_exists",
       "phone: a member with this phone number already exists", "phone"},
  };
  for (const auto& c : cases) {
    auto r = Call("POST", "/api/v1/members", a_.owner_key, c.body);
    ExpectError(r, c.status, c.code, c.message, c.field);
  }
  auto dup = Call("POST", "/api/v1/members", a_.owner_key, R"({"phone": "+886912345678"})");
  EXPECT_EQ(dup.body["error"]["details"]["member_id"], id);
  EXPECT_EQ(Count("members"), members);
  EXPECT_EQ(Count("events"), events);

  // Wrong password, another merchant's id, a wrong role: each precise, nothing written.
  auto login = Call("POST", "/api/v1/auth/login", "",
                    R"({"email": "owner@a.test", "password": "not-the-password"})");
  ExpectError(login, 401, "unauthenticated", "email or password is wrong");
  ExpectError(Patch("/api/v1/members/" + id, b_.owner_key, {{"name", "x"}}), 404, "not_found",
              "member not found");
  ExpectError(Get("/api/v1/staff", a_.cashier_key), 403, "permission_denied",
              "only the owner may manage staff");
  ExpectError(Get("/api/v1/members", ""), 401, "unauthenticated",
              "log in, or send 'Authorization: Bearer <api key>'");
  ExpectError(Get("/api/v1/members", "rk_1_forgedforgedforgedforgedforged"), 401, "unauthenticated",
              "API key is not valid");
  ExpectError(Get("/api/v1/members?limit=0", a_.owner_key), 400, "invalid_argument",
              "limit: must be a whole number from 1 to 500", "limit");
  EXPECT_EQ(Count("members"), members);
  EXPECT_EQ(Count("events"), events);
}

TEST_P(Api, EveryPostIsIdempotent) {
  json body = {{"phone", "0933111222"}, {"name", "Idem"}};
  auto first = Post("/api/v1/members", a_.owner_key, body, "key-1");
  ASSERT_EQ(first.status, 201) << first.raw;
  auto replay = Post("/api/v1/members", a_.owner_key, body, "key-1");
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.headers.find("Idempotent-Replayed")->second, "true");
  EXPECT_EQ(Count("members"), 1);
  auto mismatch = Post("/api/v1/members", a_.owner_key, {{"phone", "0933111333"}}, "key-1");
  ExpectError(mismatch, 422, "idempotency_mismatch",
              "Idempotency-Key was already used with a different request", "Idempotency-Key");
  EXPECT_EQ(Count("members"), 1);
  // Keys are per merchant: B may use the same key for its own request.
  EXPECT_EQ(Post("/api/v1/members", b_.owner_key, body, "key-1").status, 201);
  // Other POSTs: branches, merge, api keys.
  auto b1 = Post("/api/v1/branches", a_.owner_key, {{"name", "East"}}, "br-1");
  auto b2 = Post("/api/v1/branches", a_.owner_key, {{"name", "East"}}, "br-1");
  EXPECT_EQ(b1.body, b2.body);
  EXPECT_EQ(Count("branches"), 3);  // A: Main + East; B: Main
  std::string other = CreateMember(a_, "0933111444", "Other");
  std::string path = "/api/v1/members/" + first.body["id"].get<std::string>() + "/merge";
  auto m1 = Post(path, a_.owner_key, {{"from_member_id", other}}, "merge-1");
  auto m2 = Post(path, a_.owner_key, {{"from_member_id", other}}, "merge-1");
  EXPECT_EQ(m1.status, 200) << m1.raw;
  EXPECT_EQ(m2.body, m1.body);  // not "already merged": the first answer again
}

TEST_P(Api, ConsoleSessionNeedsCsrfAndLogsOut) {
  auto login = Call("POST", "/api/v1/auth/login", "",
                    R"({"email": "Owner@A.test", "password": "owner-password"})");
  ASSERT_EQ(login.status, 200) << login.raw;
  std::string cookie = login.headers.find("Set-Cookie")->second;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  std::string session = cookie.substr(0, cookie.find(';'));
  std::string csrf = login.body["csrf_token"];
  httplib::Headers with_cookie = {{"Cookie", session}};
  auto me = Call("GET", "/api/v1/auth/me", "", "", with_cookie);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.body["staff"]["role"], "owner");
  auto no_csrf = Call("POST", "/api/v1/members", "", R"({"phone": "0911222333"})", with_cookie);
  ExpectError(no_csrf, 403, "permission_denied", "csrf token missing or wrong");
  auto with_csrf = with_cookie;
  with_csrf.emplace("X-CSRF-Token", csrf);
  auto created = Call("POST", "/api/v1/members", "", R"({"phone": "0911222333"})", with_csrf);
  EXPECT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["consent"]["sms"], nullptr);
  EXPECT_EQ(Call("POST", "/api/v1/auth/logout", "", "", with_csrf).status, 204);
  ExpectError(Call("GET", "/api/v1/auth/me", "", "", with_cookie), 401, "unauthenticated",
              "not logged in or the session expired");
}

TEST_P(Api, MemberLifecycle) {
  json body = {{"phone", "0912345678"},
               {"name", "陳小明"},
               {"birthday", "--02-29"},
               {"tags", {"vip"}},
               {"attributes", {{"shoe_size", 42}}},
               {"consent", {{"sms", true}, {"email", false}}},
               {"branch_id", a_.branch_id},
               {"consent_source", "counter"}};
  auto c = Post("/api/v1/members", a_.owner_key, body);
  ASSERT_EQ(c.status, 201) << c.raw;
  std::string id = c.body["id"];
  EXPECT_EQ(c.body["phone"], "+886912345678");
  EXPECT_EQ(c.body["phone_display"], "0912 345 678");
  EXPECT_EQ(c.body["birthday"], "--02-29");
  EXPECT_EQ(c.body["attributes"]["shoe_size"], 42);
  EXPECT_EQ(c.body["consent"]["sms"]["granted"], true);
  EXPECT_EQ(c.body["consent"]["sms"]["source"], "counter");
  EXPECT_EQ(c.body["consent"]["sms"]["branch_id"], a_.branch_id);
  EXPECT_EQ(c.body["consent"]["email"]["granted"], false);

  auto found = Post("/api/v1/members/lookup", a_.cashier_key, {{"phone", "+886 912-345-678"}});
  EXPECT_EQ(found.body["id"], id);
  auto by_code =
      Post("/api/v1/members/lookup", a_.cashier_key, {{"code", c.body["referral_code"]}});
  EXPECT_EQ(by_code.body["id"], id);
  auto search = Get("/api/v1/members?q=%E9%99%88%E5%B0%8F%E6%98%8E", a_.cashier_key);  // 陈小明
  ASSERT_EQ(search.body["data"].size(), 1u) << search.raw;
  EXPECT_EQ(search.body["data"][0]["id"], id);

  auto p = Patch("/api/v1/members/" + id, a_.owner_key,
                 {{"email", "Ming@Example.com"}, {"consent", {{"sms", false}}}});
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["email"], "ming@example.com");
  EXPECT_EQ(p.body["consent"]["sms"]["granted"], false);
  auto t = Get("/api/v1/members/" + id + "/timeline?limit=2", a_.owner_key);
  ASSERT_EQ(t.body["data"].size(), 2u);
  EXPECT_EQ(t.body["data"][0]["type"], "member_updated");
  EXPECT_EQ(t.body["data"][1]["type"], "consent_changed");
  ASSERT_TRUE(t.body["next_cursor"].is_string());
  auto t2 = Get("/api/v1/members/" + id +
                    "/timeline?limit=10&cursor=" + t.body["next_cursor"].get<std::string>(),
                a_.owner_key);
  EXPECT_EQ(t2.body["data"].size(), 3u);  // consent x2 + member_created
  EXPECT_TRUE(t2.body["next_cursor"].is_null());

  auto x = Get("/api/v1/members/" + id + "/export", a_.owner_key);
  EXPECT_EQ(x.body["member"]["email"], "ming@example.com");
  for (const char* part :
       {"identities", "events", "points", "ledger", "orders", "wallet", "tier", "stamp_rewards"})
    EXPECT_TRUE(x.body.contains(part)) << part;
  EXPECT_EQ(x.body["events"].size(), 5u);

  ExpectError(Call("DELETE", "/api/v1/members/" + id, a_.cashier_key), 403, "permission_denied",
              "only an owner or manager may erase a member");
  auto erased = Call("DELETE", "/api/v1/members/" + id, a_.owner_key);
  EXPECT_EQ(erased.status, 200);
  EXPECT_EQ(erased.body["erased"], true);
  EXPECT_TRUE(erased.body["phone"].is_null());
  EXPECT_TRUE(erased.body["name"].is_null());
  EXPECT_EQ(Post("/api/v1/members/lookup", a_.owner_key, {{"phone", "0912345678"}}).status, 404);
}

// Substitutes merchant A's ids into every registered route and calls it with merchant B's
// owner key: each answer is not_found, and no answer carries A's data.
TEST_P(Api, AnotherMerchantsIdsAreNotFoundOnEveryRoute) {
  std::string member = CreateMember(a_, "0912345678", "Secret Member A");
  std::string other = CreateMember(a_, "0922333444", "Another A");
  auto staff = Get("/api/v1/staff", a_.owner_key);
  std::string staff_id = staff.body["data"][0]["id"];
  auto keys = Get("/api/v1/api-keys", a_.owner_key);
  std::string key_id = keys.body["data"][0]["id"];
  // One of every loyalty resource for A.
  auto id_of = [](const Response& r) {
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.raw;
    return r.body.value("id", std::string());
  };
  std::string point_type =
      id_of(Post("/api/v1/point-types", a_.owner_key, {{"code", "points"}, {"name", "Points"}}));
  std::string rule = id_of(Post("/api/v1/earning-rules", a_.owner_key,
                                {{"point_type", "points"},
                                 {"name", "per visit"},
                                 {"definition", {{"kind", "per_visit"}, {"points", 50}}}}));
  std::string reward = id_of(Post("/api/v1/rewards", a_.owner_key,
                                  {{"name", "Tea"}, {"point_type", "points"}, {"points", 10}}));
  std::string order =
      id_of(Post("/api/v1/orders", a_.owner_key,
                 {{"external_id", "A-1"}, {"member_id", member}, {"total_minor", 1000}}));
  std::string redemption =
      id_of(Post("/api/v1/redemptions", a_.owner_key,
                 {{"member_id", member}, {"point_type", "points"}, {"points", 5}}));
  std::string card = id_of(Post(
      "/api/v1/stamp-cards", a_.owner_key,
      {{"name", "Card"}, {"point_type", "points"}, {"stamps_needed", 1}, {"reward_name", "Tea"}}));
  auto stamped = Post("/api/v1/members/" + member + "/stamps", a_.owner_key, {{"card_id", card}});
  std::string stamp_reward = stamped.body["rewards"][0]["id"];
  std::string tier = id_of(
      Post("/api/v1/tiers", a_.owner_key, {{"level", 1}, {"name", "Silver"}, {"threshold", 100}}));
  std::string scheme =
      id_of(Post("/api/v1/wallet/bonus-schemes", a_.owner_key,
                 {{"name", "1000 get 1100"}, {"pay_minor", 100000}, {"bonus_minor", 10000}}));
  std::string coupon_template =
      id_of(Post("/api/v1/coupon-templates", a_.owner_key,
                 {{"name", "NT$50 off"}, {"kind", "amount_off"}, {"amount_off_minor", 5000}}));
  auto coupon = Post("/api/v1/coupons", a_.owner_key,
                     {{"template_id", coupon_template}, {"member_id", member}});
  ASSERT_EQ(coupon.status, 201) << coupon.raw;
  std::string coupon_code = coupon.body["code"];
  std::string segment =
      id_of(Post("/api/v1/segments", a_.owner_key,
                 {{"name", "A's buyers"},
                  {"definition", {{"feature", "orders"}, {"op", ">="}, {"value", 1}}}}));
  // An import job of A's (it stays queued: no worker runs here).
  auto import_job = Call("POST", "/api/v1/imports?preset=generic", a_.owner_key,
                         "order_id,occurred_at\nA-1,2025-01-01 10:00:00\n");
  EXPECT_EQ(import_job.status, 202) << import_job.raw;
  std::string channel =
      id_of(Post("/api/v1/channels", a_.owner_key, {{"kind", "log"}, {"name", "Log"}}));
  std::string message_template = id_of(Post("/api/v1/templates", a_.owner_key,
                                            {{"name", "Hi"},
                                             {"medium", "sms"},
                                             {"category", "transactional"},
                                             {"variants", {{"en", {{"text", "Hi"}}}}}}));
  const std::vector<std::pair<std::string, std::string>> ids = {
      {"/api/v1/members", member},
      {"/api/v1/channels", channel},
      {"/api/v1/templates", message_template},
      {"/api/v1/segments", segment},
      {"/api/v1/branches", a_.branch_id},
      {"/api/v1/staff", staff_id},
      {"/api/v1/api-keys", key_id},
      {"/api/v1/point-types", point_type},
      {"/api/v1/earning-rules", rule},
      {"/api/v1/rewards", reward},
      {"/api/v1/orders", order},
      {"/api/v1/redemptions", redemption},
      {"/api/v1/wallet/bonus-schemes", scheme},
      {"/api/v1/tiers", tier},
      {"/api/v1/stamp-cards", card},
      {"/api/v1/stamp-rewards", stamp_reward},
      {"/api/v1/coupon-templates", coupon_template},
      {"/api/v1/coupons", coupon_code},
      {"/api/v1/imports", import_job.body.value("id", std::string())}};
  int checked = 0;
  for (const auto& route : server_->Routes()) {
    std::string path = route.pattern;
    if (path.find('{') == std::string::npos) continue;
    if (path == "/api/v1/reports/{name}") continue;  // names, not ids: checked with the lists
    // Provider callbacks and unsubscribe links carry no credential: the provider's signature or
    // the sealed token is checked instead (messaging_http_test).
    if (path.ends_with("/receipts") || path.ends_with("/inbound") || path.starts_with("/u/"))
      continue;
    std::string id;
    for (const auto& [prefix, value] : ids)
      if (path.starts_with(prefix + "/")) id = value;
    ASSERT_FALSE(id.empty()) << "no id to try for " << route.pattern << ": extend this test";
    path = std::regex_replace(path, std::regex("\\{[a-z_]+\\}"), id);
    // A body that passes validation, so only the tenancy check can refuse it.
    json body = json::object();
    if (path.ends_with("/merge")) body = {{"from_member_id", other}};
    if (route.method == "PATCH") body = {{"name", "stolen"}};
    if (path.ends_with("/adjustments"))
      body = path.find("/wallet/") != std::string::npos
                 ? json{{"paid_minor", 1}, {"reason", "x"}}
                 : json{{"point_type", "points"}, {"points", 1}, {"reason", "x"}};
    if (path.ends_with("/top-ups") || path.ends_with("/charges")) body = {{"amount_minor", 100}};
    if (path.ends_with("/wallet/refunds")) body = {{"charge_id", "1"}};
    if (path.ends_with("/tier-override")) body = {{"level", 0}};
    if (route.pattern == "/api/v1/tiers/{id}") body = {{"name", "stolen"}};
    if (path.ends_with("/stamps")) body = {{"card_id", card}};
    if (path.ends_with("/test")) body = {{"to", "x@example.com"}};
    auto r = Call(route.method, path, b_.owner_key, body.dump());
    EXPECT_EQ(r.status, 404) << route.method << " " << route.pattern << ": " << r.raw;
    EXPECT_EQ(r.raw.find("Secret Member A"), std::string::npos) << route.pattern;
    ++checked;
  }
  EXPECT_GE(checked, 25);
  // Lists show only B's own data.
  std::vector<RouteInfo> lists = server_->Routes();
  lists.push_back({"GET", "/api/v1/reports/liability", ""});
  lists.push_back({"GET", "/api/v1/reports/points-activity", ""});
  for (const auto& route : lists) {
    if (route.method != "GET" || route.pattern.find('{') != std::string::npos ||
        !route.pattern.starts_with("/api/v1/") || route.pattern == "/api/v1/openapi.json")
      continue;
    auto r = Get(route.pattern, b_.owner_key);
    EXPECT_TRUE(r.status == 200 || r.status == 409) << route.pattern << ": " << r.raw;
    for (const auto& [prefix, a_id] : ids)
      EXPECT_EQ(r.raw.find(a_id), std::string::npos) << route.pattern << " leaks " << a_id;
    EXPECT_EQ(r.raw.find(a_.merchant_id), std::string::npos) << route.pattern;
  }
  EXPECT_EQ(Post("/api/v1/members/lookup", b_.owner_key, {{"phone", "0912345678"}}).status, 404);
  // Nothing of A's was changed by B.
  auto still = Get("/api/v1/members/" + member, a_.owner_key);
  EXPECT_EQ(still.body["name"], "Secret Member A");
  EXPECT_EQ(still.body["merged_into"], nullptr);
}

TEST_P(Api, RevokedKeysStopWorkingAtOnce) {
  auto k = Post("/api/v1/api-keys", a_.owner_key, {{"name", "POS"}, {"role", "cashier"}});
  ASSERT_EQ(k.status, 201) << k.raw;
  std::string secret = k.body["secret"];
  EXPECT_EQ(Get("/api/v1/members", secret).status, 200);  // now cached
  EXPECT_EQ(
      Call("DELETE", "/api/v1/api-keys/" + k.body["id"].get<std::string>(), a_.owner_key).status,
      204);
  ExpectError(Get("/api/v1/members", secret), 401, "unauthenticated", "API key was revoked");
}

TEST_P(Api, StaffAndBranchesForOwners) {
  auto s = Post("/api/v1/staff", a_.owner_key,
                {{"name", "New Cashier"},
                 {"email", "new@a.test"},
                 {"role", "cashier"},
                 {"password", "short"}});
  ExpectError(s, 400, "invalid_argument", "password: must be at least 8 characters", "password");
  s = Post("/api/v1/staff", a_.owner_key,
           {{"name", "New Cashier"},
            {"email", "new@a.test"},
            {"role", "cashier"},
            {"password", "long-enough-pass"},
            {"branch_ids", {a_.branch_id}}});
  ASSERT_EQ(s.status, 201) << s.raw;
  EXPECT_EQ(s.body["branch_ids"][0], a_.branch_id);
  EXPECT_FALSE(s.body.contains("password_hash"));
  auto login = Call("POST", "/api/v1/auth/login", "",
                    R"({"email": "new@a.test", "password": "long-enough-pass"})");
  EXPECT_EQ(login.status, 200) << login.raw;
  auto off =
      Patch("/api/v1/staff/" + s.body["id"].get<std::string>(), a_.owner_key, {{"active", false}});
  EXPECT_EQ(off.body["active"], false);
  auto login2 = Call("POST", "/api/v1/auth/login", "",
                     R"({"email": "new@a.test", "password": "long-enough-pass"})");
  EXPECT_EQ(login2.status, 401);
  auto b = Post("/api/v1/branches", a_.owner_key, {{"name", "Kaohsiung"}, {"code", "KHH"}});
  ASSERT_EQ(b.status, 201);
  ExpectError(Post("/api/v1/branches", a_.owner_key, {{"name", "Again"}, {"code", "KHH"}}), 409,
              "already_exists", "code: another branch already uses this code", "code");
  ExpectError(Post("/api/v1/branches", a_.cashier_key, {{"name", "X"}}), 403, "permission_denied",
              "only the owner may manage branches");
}

TEST_P(Api, HealthMetricsAndConsole) {
  EXPECT_EQ(Get("/healthz", "").body["status"], "ok");
  Get("/api/v1/members", a_.owner_key);
  auto m = Get("/metrics", "");
  EXPECT_NE(m.raw.find("regulars_http_requests_total{method=\"GET\",route=\"/api/v1/"
                       "members\",status=\"200\"} 1"),
            std::string::npos)
      << m.raw;
  EXPECT_NE(m.raw.find("regulars_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/"
                       "v1/members\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(m.raw.find("regulars_db_seconds_total"), std::string::npos);
  EXPECT_EQ(Get("/api/v1/no-such-thing", a_.owner_key).body["error"]["code"], "not_found");
  auto page = Get("/members/123", "");  // a console route: served by the single-page app
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.raw.find("<html"), std::string::npos);
}

// Every POST route, sent twice with one Idempotency-Key: the second answer is the first one
// (marked Idempotent-Replayed) and changes nothing — no row in any table moves. A POST route
// this test does not know fails it, so new routes must be added here.
TEST_P(Api, EveryPostReplaysWithoutDoubleEffect) {
  auto id_of = [](const Response& r) {
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.raw;
    return r.body.value("id", std::string());
  };
  std::string m1 = CreateMember(a_, "0912345678", "One");
  std::string m2 = CreateMember(a_, "0922333444", "Two");
  id_of(Post("/api/v1/point-types", a_.owner_key, {{"code", "points"}, {"name", "Points"}}));
  id_of(Post("/api/v1/earning-rules", a_.owner_key,
             {{"point_type", "points"},
              {"name", "visit"},
              {"definition", {{"kind", "per_visit"}, {"points", 100}}}}));
  // An earlier visit makes m1 a repeat buyer, so the models can be fitted.
  ASSERT_EQ(Post("/api/v1/orders", a_.owner_key,
                 {{"external_id", "O-0"},
                  {"member_id", m1},
                  {"total_minor", 5000},
                  {"occurred_at", "2020-01-01T10:00:00Z"}})
                .status,
            201);
  std::string order =
      id_of(Post("/api/v1/orders", a_.owner_key,
                 {{"external_id", "O-1"}, {"member_id", m1}, {"total_minor", 10000}}));
  std::string hold1 = id_of(Post("/api/v1/redemptions", a_.owner_key,
                                 {{"member_id", m1}, {"point_type", "points"}, {"points", 5}}));
  std::string hold2 = id_of(Post("/api/v1/redemptions", a_.owner_key,
                                 {{"member_id", m1}, {"point_type", "points"}, {"points", 5}}));
  auto topup =
      Post("/api/v1/members/" + m1 + "/wallet/top-ups", a_.owner_key, {{"amount_minor", 50000}});
  ASSERT_EQ(topup.status, 201) << topup.raw;
  auto charge =
      Post("/api/v1/members/" + m1 + "/wallet/charges", a_.owner_key, {{"amount_minor", 1000}});
  ASSERT_EQ(charge.status, 201) << charge.raw;
  std::string charge_id = charge.body["entry"]["id"];
  id_of(Post("/api/v1/point-types", a_.owner_key, {{"code", "cups"}, {"name", "Cup stamps"}}));
  std::string card = id_of(Post(
      "/api/v1/stamp-cards", a_.owner_key,
      {{"name", "Card"}, {"point_type", "cups"}, {"stamps_needed", 5}, {"reward_name", "Tea"}}));
  auto stamped =
      Post("/api/v1/members/" + m1 + "/stamps", a_.owner_key, {{"card_id", card}, {"stamps", 5}});
  ASSERT_EQ(stamped.status, 201) << stamped.raw;
  std::string stamp_reward = stamped.body["rewards"][0]["id"];
  std::string coupon_template =
      id_of(Post("/api/v1/coupon-templates", a_.owner_key,
                 {{"name", "NT$50 off"}, {"kind", "amount_off"}, {"amount_off_minor", 5000}}));
  auto coupon =
      Post("/api/v1/coupons", a_.owner_key, {{"template_id", coupon_template}, {"member_id", m1}});
  ASSERT_EQ(coupon.status, 201) << coupon.raw;
  std::string coupon_code = coupon.body["code"];
  ASSERT_EQ(Post("/api/v1/referral-program", a_.owner_key,
                 {{"referrer_reward", {{"point_type", "points"}, {"points", 100}}}})
                .status,
            200);
  std::string newcomer = CreateMember(a_, "0944555666", "Newcomer");
  std::string m1_code = Get("/api/v1/members/" + m1, a_.owner_key).body["referral_code"];
  // Imports take the file as a raw body (a JSON string below is sent as is) and options in the
  // query; the cancel walk cancels a queued job of its own.
  std::string sms_template = id_of(Post("/api/v1/templates", a_.owner_key,
                                        {{"name", "Hello"},
                                         {"medium", "sms"},
                                         {"category", "transactional"},
                                         {"variants", {{"en", {{"text", "Hello"}}}}}}));
  const std::string import_csv = "order_id,occurred_at\nI-1,2025-01-01 10:00:00\n";
  auto queued_import = Call("POST", "/api/v1/imports?preset=generic", a_.owner_key, import_csv);
  ASSERT_EQ(queued_import.status, 202) << queued_import.raw;
  std::string import_job = queued_import.body["id"];

  std::map<std::string, json> bodies = {
      {"/api/v1/branches", {{"name", "East"}}},
      {"/api/v1/staff",
       {{"name", "S"},
        {"email", "s@a.test"},
        {"role", "cashier"},
        {"password", "long-enough-pass"}}},
      {"/api/v1/api-keys", {{"name", "POS"}}},
      {"/api/v1/members", {{"phone", "0933000111"}}},
      {"/api/v1/members/{id}/merge", {{"from_member_id", m2}}},
      {"/api/v1/point-types", {{"code", "stamps"}, {"name", "Stamps"}}},
      {"/api/v1/earning-rules",
       {{"point_type", "points"},
        {"name", "x"},
        {"definition", {{"kind", "per_visit"}, {"points", 1}}}}},
      {"/api/v1/rewards", {{"name", "Tea"}, {"point_type", "points"}, {"points", 10}}},
      {"/api/v1/orders", {{"external_id", "O-2"}, {"member_id", m1}, {"total_minor", 5000}}},
      {"/api/v1/orders/{id}/refunds", {{"amount_minor", 1000}}},
      {"/api/v1/members/{id}/adjustments",
       {{"point_type", "points"}, {"points", 7}, {"reason", "gift"}}},
      {"/api/v1/redemptions",
       {{"member_id", m1}, {"point_type", "points"}, {"points", 3}, {"commit", true}}},
      {"/api/v1/redemptions/{id}/commit", json::object()},
      {"/api/v1/redemptions/{id}/cancel", json::object()},
      {"/api/v1/members/{id}/wallet/top-ups", {{"amount_minor", 10000}}},
      {"/api/v1/members/{id}/wallet/charges", {{"amount_minor", 500}}},
      {"/api/v1/members/{id}/wallet/refunds", {{"charge_id", charge_id}, {"amount_minor", 100}}},
      {"/api/v1/members/{id}/wallet/adjustments", {{"paid_minor", 100}, {"reason", "fix"}}},
      {"/api/v1/wallet/bonus-schemes",
       {{"name", "1000 get 1100"}, {"pay_minor", 100000}, {"bonus_minor", 10000}}},
      {"/api/v1/tiers",
       {{"level", 1}, {"name", "Silver"}, {"threshold", 100000}, {"earn_multiplier", 1.5}}},
      {"/api/v1/tier-program",
       {{"metric", "spend"}, {"window", {{"kind", "rolling_days"}, {"days", 180}}}}},
      {"/api/v1/members/{id}/tier-override", {{"level", 0}}},
      {"/api/v1/stamp-cards",
       {{"name", "Card 2"}, {"point_type", "cups"}, {"stamps_needed", 5}, {"reward_name", "Tea"}}},
      {"/api/v1/members/{id}/stamps", {{"card_id", card}, {"stamps", 7}}},
      {"/api/v1/stamp-rewards/{id}/use", json::object()},
      {"/api/v1/coupon-templates",
       {{"name", "10% off"}, {"kind", "percent_off"}, {"percent_off", 10}}},
      {"/api/v1/coupons", {{"template_id", coupon_template}, {"member_id", m1}}},
      {"/api/v1/coupons/{code}/redeem", {{"order_total_minor", 10000}}},
      {"/api/v1/referral-program",
       {{"referrer_reward", {{"point_type", "points"}, {"points", 200}}},
        {"newcomer_reward", {{"coupon_template_id", coupon_template}}},
        {"min_spend_minor", 1000}}},
      {"/api/v1/referrals", {{"member_id", newcomer}, {"referral_code", m1_code}}},
      {"/api/v1/imports", import_csv},
      {"/api/v1/imports/{id}/cancel", json::object()},
      {"/api/v1/segments",
       {{"name", "Buyers"}, {"definition", {{"feature", "orders"}, {"op", ">="}, {"value", 1}}}}},
      {"/api/v1/channels", {{"kind", "log"}, {"name", "Log"}}},
      {"/api/v1/templates",
       {{"name", "Receipt"},
        {"medium", "sms"},
        {"category", "transactional"},
        {"variants", {{"en", {{"text", "Thanks"}}}}}}},
      {"/api/v1/messages", {{"member_id", m1}, {"template_id", sms_template}}},
      {"/api/v1/insight/fit", json::object()},
  };
  // Routes that change nothing, or that must not replay (log-in hands out a new session).
  const std::set<std::string> exempt = {
      "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/members/lookup",
      "/api/v1/loyalty/calculate", "/api/v1/imports/preview", "/api/v1/segments/preview",
      // Messaging: a provider call, previews, provider
      // callbacks and unsubscribe links (no credential).
      "/api/v1/channels/{id}/test", "/api/v1/templates/preview", "/api/v1/channels/{id}/receipts",
      "/api/v1/channels/{id}/inbound", "/u/{token}"};
  auto path_for = [&](const std::string& pattern) {
    if (pattern == "/api/v1/imports") return pattern + "?preset=generic&file_name=replay.csv";
    if (pattern.starts_with("/api/v1/imports/"))
      return std::regex_replace(pattern, std::regex("\\{[a-z_]+\\}"), import_job);
    std::string id = pattern.starts_with("/api/v1/orders")          ? order
                     : pattern.starts_with("/api/v1/stamp-rewards") ? stamp_reward
                     : pattern.starts_with("/api/v1/coupons/")      ? coupon_code
                     : pattern.ends_with("/commit")                 ? hold1
                     : pattern.ends_with("/cancel")                 ? hold2
                                                                    : m1;
    return std::regex_replace(pattern, std::regex("\\{[a-z_]+\\}"), id);
  };
  const char* tables[] = {"members",
                          "branches",
                          "staff",
                          "api_keys",
                          "events",
                          "orders",
                          "refunds",
                          "ledger_entries",
                          "point_lots",
                          "redemptions",
                          "rewards",
                          "point_types",
                          "earning_rules",
                          "wallet_entries",
                          "wallet_bonus_schemes",
                          "tiers",
                          "tier_programs",
                          "member_tiers",
                          "tier_history",
                          "stamp_cards",
                          "stamp_rewards",
                          "coupon_templates",
                          "coupons",
                          "referral_programs",
                          "referrals",
                          "referral_counts",
                          "member_devices",
                          "import_jobs",
                          "message_channels",
                          "message_templates",
                          "outbox",
                          "insight_models",
                          "member_scores"};
  auto snapshot = [&] {
    std::map<std::string, int64_t> counts;
    for (const char* t : tables) counts[t] = Count(t);
    return counts;
  };
  int covered = 0;
  for (const auto& route : server_->Routes()) {
    if (route.method != "POST" || exempt.contains(route.pattern)) continue;
    auto body = bodies.find(route.pattern);
    ASSERT_NE(body, bodies.end()) << "POST " << route.pattern << " is not covered: add a body";
    std::string key = "replay-" + route.pattern;
    auto send = [&] {
      if (body->second.is_string())  // a raw body (an upload)
        return Call("POST", path_for(route.pattern), a_.owner_key, body->second.get<std::string>(),
                    {{"Idempotency-Key", key}});
      return Post(path_for(route.pattern), a_.owner_key, body->second, key);
    };
    auto first = send();
    ASSERT_TRUE(first.status == 200 || first.status == 201 || first.status == 202)
        << route.pattern << ": " << first.raw;
    auto before = snapshot();
    auto second = send();
    EXPECT_EQ(second.status, first.status) << route.pattern;
    if (route.pattern != "/api/v1/api-keys") EXPECT_EQ(second.body, first.body) << route.pattern;
    auto replayed = second.headers.find("Idempotent-Replayed");
    EXPECT_TRUE(replayed != second.headers.end() && replayed->second == "true") << route.pattern;
    EXPECT_EQ(snapshot(), before) << route.pattern << " changed something on replay";
    ++covered;
  }
  EXPECT_GE(covered, 19);
}

RG_INSTANTIATE_BACKENDS(Api);

}  // namespace
}  // namespace regulars::testing
