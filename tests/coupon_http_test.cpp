// Coupons and referrals over HTTP on SQLite and PostgreSQL: templates with precise field errors,
// issuing to one member and in bulk, redemption once (a second redemption says when the first
// one happened; a replay of the first with its Idempotency-Key answers the same and changes
// nothing), expiry and minimum spend, the referral program, self-referral refused with its exact
// message, and another merchant's templates and coupons are not_found.

#include <gtest/gtest.h>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

class CouponApi : public HttpTest {
 protected:
  std::string CreateMember(const Tenant& t, const std::string& phone, json extra = json::object()) {
    json body = {{"phone", phone}, {"name", "Coupon Member"}};
    body.update(extra);
    auto r = Post("/api/v1/members", t.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  std::string CreateTemplate(const Tenant& t, json body) {
    auto r = Post("/api/v1/coupon-templates", t.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    if (!field.empty()) {
      EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
    }
  }
};

TEST_P(CouponApi, TemplatesWithPreciseErrors) {
  auto t = Post("/api/v1/coupon-templates", a_.owner_key,
                {{"name", "滿 300 折 50"},
                 {"kind", "amount_off"},
                 {"amount_off_minor", 5000},
                 {"min_spend_minor", 30000},
                 {"valid_days", 30}});
  ASSERT_EQ(t.status, 201) << t.raw;
  EXPECT_EQ(t.body["kind"], "amount_off");
  EXPECT_EQ(t.body["amount_off_minor"], 5000);
  EXPECT_EQ(t.body["percent_off"], nullptr);
  EXPECT_EQ(t.body["issue_on"], "manual");
  EXPECT_EQ(t.body["currency"], "TWD");
  EXPECT_EQ(t.body["active"], true);
  std::string id = t.body["id"];

  int64_t templates = Count("coupon_templates");
  struct Case {
    std::string body;
    int status;
    std::string code, message, field;
  } cases[] = {
      {R"({"name": "x", "kind": "amount_off", "amount_off_minor": 10, "nmae": 1})", 400,
       "invalid_argument", "nmae: unknown field", "nmae"},
      {R"({"name": "x", "kind": "bogo"})", 400, "invalid_argument",
       "kind: must be amount_off, percent_off or free_item", "kind"},
      {R"({"name": "x"})", 400, "invalid_argument",
       "kind: is required: amount_off, percent_off or free_item", "kind"},
      {R"({"name": "x", "kind": "percent_off", "percent_off": 150})", 400, "invalid_argument",
       "percent_off: must be 1 to 100", "percent_off"},
      {R"({"name": "x", "kind": "percent_off", "percent_off": "15"})", 400, "invalid_argument",
       "percent_off: must be an integer", "percent_off"},
      {R"({"name": "x", "kind": "amount_off", "amount_off_minor": 10, "valid_to": "soon"})", 400,
       "invalid_argument", "valid_to: must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z",
       "valid_to"},
      {R"({"name": "x", "kind": "amount_off", "amount_off_minor": 10, "issue_on": "birthday"})",
       400, "invalid_argument", "birthday_days_before: is required when issue_on is birthday",
       "birthday_days_before"},
      {R"({"name": "x", "kind": "free_item"})", 400, "invalid_argument",
       "free_item: is required for free_item", "free_item"},
  };
  for (const auto& c : cases)
    ExpectError(Call("POST", "/api/v1/coupon-templates", a_.owner_key, c.body), c.status, c.code,
                c.message, c.field);
  EXPECT_EQ(Count("coupon_templates"), templates);
  ExpectError(Post("/api/v1/coupon-templates", a_.cashier_key,
                   {{"name", "x"}, {"kind", "amount_off"}, {"amount_off_minor", 10}}),
              403, "permission_denied", "only an owner or manager may configure coupons");

  auto patched =
      Patch("/api/v1/coupon-templates/" + id, a_.owner_key,
            {{"kind", "percent_off"}, {"percent_off", 15}, {"max_discount_minor", 10000}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body["kind"], "percent_off");
  EXPECT_EQ(patched.body["amount_off_minor"], nullptr);
  EXPECT_EQ(patched.body["max_discount_minor"], 10000);
  auto cleared =
      Patch("/api/v1/coupon-templates/" + id, a_.owner_key, {{"max_discount_minor", nullptr}});
  EXPECT_EQ(cleared.body["max_discount_minor"], nullptr) << cleared.raw;
  auto list = Get("/api/v1/coupon-templates", a_.cashier_key);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["data"].size(), 1u);
  EXPECT_EQ(list.body["data"][0]["percent_off"], 15);
  ExpectError(Patch("/api/v1/coupon-templates/" + id, b_.owner_key, {{"name", "stolen"}}), 404,
              "not_found", "coupon template not found");
  EXPECT_EQ(Get("/api/v1/coupon-templates", b_.owner_key).body["data"].size(), 0u);
}

TEST_P(CouponApi, IssueAndRedeemOnce) {
  std::string m = CreateMember(a_, "0912345678");
  std::string t = CreateTemplate(a_, {{"name", "85折"},
                                      {"kind", "percent_off"},
                                      {"percent_off", 15},
                                      {"max_discount_minor", 10000},
                                      {"min_spend_minor", 30000},
                                      {"valid_days", 7}});
  ExpectError(Post("/api/v1/coupons", a_.cashier_key, {{"template_id", t}, {"member_id", m}}), 403,
              "permission_denied", "only an owner or manager may issue coupons");
  auto issued = Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"member_id", m}});
  ASSERT_EQ(issued.status, 201) << issued.raw;
  EXPECT_EQ(issued.body["status"], "available");
  EXPECT_EQ(issued.body["member_id"], m);
  EXPECT_EQ(issued.body["name"], "85折");
  EXPECT_EQ(issued.body["source"], "staff");
  std::string code = issued.body["code"];
  EXPECT_EQ(code.size(), 10u);

  auto got = Get("/api/v1/coupons/" + code, a_.cashier_key);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["id"], issued.body["id"]);
  ExpectError(Get("/api/v1/coupons/" + code, b_.owner_key), 404, "not_found", "coupon not found");
  ExpectError(Post("/api/v1/coupons/" + code + "/redeem", b_.owner_key, json::object()), 404,
              "not_found", "coupon not found");

  std::string redeem = "/api/v1/coupons/" + code + "/redeem";
  ExpectError(Post(redeem, a_.cashier_key, {{"order_total_minor", 29999}}), 409,
              "failed_precondition", "order_total_minor: the minimum spend is 30000",
              "order_total_minor");
  ExpectError(Post(redeem, a_.cashier_key, json::object()), 400, "invalid_argument",
              "order_total_minor: is required: the minimum spend is 30000", "order_total_minor");
  ExpectError(Post(redeem, a_.cashier_key, {{"order_total_minor", 30000}, {"coupon", 1}}), 400,
              "invalid_argument", "coupon: unknown field", "coupon");

  clock_.Advance(kMicrosPerSecond);
  std::string when = FormatRfc3339(clock_.Now());
  json body = {{"member_id", m},
               {"order_total_minor", 33333},
               {"order_ref", "POS-0001"},
               {"branch_id", a_.branch_id}};
  auto first = Post(redeem, a_.cashier_key, body, "redeem-1");
  ASSERT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(first.body["discount_minor"], 5000);  // 15% of 33,333 = 4,999.95 -> 5,000
  EXPECT_EQ(first.body["status"], "redeemed");
  EXPECT_EQ(first.body["redemption"]["redeemed_at"], when);
  EXPECT_EQ(first.body["redemption"]["order_ref"], "POS-0001");
  EXPECT_EQ(first.body["redemption"]["branch_id"], a_.branch_id);

  // A replay answers the same and changes nothing; a new request is refused with when.
  int64_t events = Count("events");
  clock_.Advance(kMicrosPerSecond);
  auto replay = Post(redeem, a_.cashier_key, body, "redeem-1");
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(Count("events"), events);
  auto second = Post(redeem, a_.cashier_key, body, "redeem-2");
  ExpectError(second, 409, "failed_precondition", "coupon already redeemed at " + when);

  auto mine = Get("/api/v1/coupons?member_id=" + m + "&status=redeemed", a_.cashier_key);
  ASSERT_EQ(mine.status, 200) << mine.raw;
  ASSERT_EQ(mine.body["data"].size(), 1u);
  EXPECT_EQ(mine.body["data"][0]["code"], code);
  EXPECT_EQ(Get("/api/v1/coupons?member_id=" + m + "&status=available", a_.cashier_key)
                .body["data"]
                .size(),
            0u);
  ExpectError(Get("/api/v1/coupons?status=used", a_.cashier_key), 400, "invalid_argument",
              "status: must be available, redeemed, expired, not_yet_valid or voided", "status");
}

TEST_P(CouponApi, ExpiredCouponIsRefusedWithItsEnd) {
  std::string m = CreateMember(a_, "0912345678");
  std::string t = CreateTemplate(
      a_,
      {{"name", "Week"}, {"kind", "amount_off"}, {"amount_off_minor", 1000}, {"valid_days", 7}});
  auto issued = Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"member_id", m}});
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string until = issued.body["valid_until"];
  clock_.Advance(7 * kMicrosPerDay);
  ExpectError(Post("/api/v1/coupons/" + issued.body["code"].get<std::string>() + "/redeem",
                   a_.cashier_key, json::object()),
              409, "failed_precondition", "coupon expired at " + until);
  auto expired = Get("/api/v1/coupons?status=expired", a_.owner_key);
  EXPECT_EQ(expired.body["data"].size(), 1u) << expired.raw;
  EXPECT_EQ(expired.body["data"][0]["status"], "expired");
}

TEST_P(CouponApi, BulkIssue) {
  std::string m1 = CreateMember(a_, "0912345678", {{"consent", {{"sms", true}}}});
  std::string m2 = CreateMember(a_, "0922333444", {{"consent", {{"email", true}}}});
  std::string m3 = CreateMember(a_, "0933444555");
  std::string foreign = CreateMember(b_, "0944555666");
  std::string t = CreateTemplate(a_, {{"name", "Free tea"},
                                      {"kind", "free_item"},
                                      {"free_item", "Black tea"},
                                      {"item_value_minor", 4500}});
  ExpectError(
      Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"member_ids", {m1, foreign}}}),
      400, "invalid_argument", "member_ids[1]: member not found", "member_ids[1]");
  ExpectError(Post("/api/v1/coupons", a_.owner_key,
                   {{"template_id", t}, {"member_ids", {m1}}, {"member_id", m1}}),
              400, "invalid_argument", "member_id: give one of member_id, member_ids or audience",
              "member_id");
  ExpectError(Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"audience", "all"}}), 400,
              "invalid_argument", "audience: must be consented (members with marketing consent)",
              "audience");
  EXPECT_EQ(Count("coupons"), 0);
  auto listed =
      Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"member_ids", {m1, m2, m3, m1}}});
  ASSERT_EQ(listed.status, 201) << listed.raw;
  EXPECT_EQ(listed.body["issued"], 3);
  auto sms = Post("/api/v1/coupons", a_.owner_key,
                  {{"template_id", t}, {"audience", "consented"}, {"channel", "sms"}});
  ASSERT_EQ(sms.status, 201) << sms.raw;
  EXPECT_EQ(sms.body["issued"], 1);
  auto any = Post("/api/v1/coupons", a_.owner_key, {{"template_id", t}, {"audience", "consented"}});
  EXPECT_EQ(any.body["issued"], 2) << any.raw;
  auto batch =
      Get("/api/v1/coupons?batch_id=" + sms.body["batch_id"].get<std::string>(), a_.owner_key);
  ASSERT_EQ(batch.body["data"].size(), 1u) << batch.raw;
  EXPECT_EQ(batch.body["data"][0]["member_id"], m1);
  EXPECT_EQ(batch.body["data"][0]["kind"], "free_item");
  EXPECT_EQ(batch.body["data"][0]["free_item"], "Black tea");
  EXPECT_EQ(Count("coupons"), 6);
  auto page = Get("/api/v1/coupons?limit=4", a_.owner_key);
  ASSERT_EQ(page.body["data"].size(), 4u);
  auto rest = Get("/api/v1/coupons?limit=4&cursor=" + page.body["next_cursor"].get<std::string>(),
                  a_.owner_key);
  EXPECT_EQ(rest.body["data"].size(), 2u);
  EXPECT_EQ(rest.body["next_cursor"], nullptr);
  EXPECT_EQ(Get("/api/v1/coupons", b_.owner_key).body["data"].size(), 0u);
}

TEST_P(CouponApi, ReferralProgramAndSelfReferral) {
  ASSERT_EQ(
      Post("/api/v1/point-types", a_.owner_key, {{"code", "points"}, {"name", "Points"}}).status,
      201);
  auto none = Get("/api/v1/referral-program", a_.cashier_key);
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_EQ(none.body["configured"], false);
  std::string t =
      CreateTemplate(a_, {{"name", "Friend"}, {"kind", "amount_off"}, {"amount_off_minor", 5000}});
  ExpectError(Post("/api/v1/referral-program", a_.owner_key,
                   {{"referrer_reward", {{"point_type", "points"}, {"points", 0}}}}),
              400, "invalid_argument", "referrer_reward.points: must be 1 to 1000000000",
              "referrer_reward.points");
  ExpectError(Post("/api/v1/referral-program", a_.owner_key,
                   {{"referrer_reward", {{"points", 10}, {"pts", 1}}}}),
              400, "invalid_argument", "referrer_reward.pts: unknown field", "referrer_reward.pts");
  auto program = Post("/api/v1/referral-program", a_.owner_key,
                      {{"referrer_reward", {{"point_type", "points"}, {"points", 200}}},
                       {"newcomer_reward", {{"coupon_template_id", t}}},
                       {"min_spend_minor", 30000},
                       {"limit_per_referrer", 10}});
  ASSERT_EQ(program.status, 200) << program.raw;
  EXPECT_EQ(program.body["referrer_reward"], (json{{"point_type", "points"}, {"points", 200}}));
  EXPECT_EQ(program.body["newcomer_reward"], (json{{"coupon_template_id", t}}));
  EXPECT_EQ(program.body["limit_per_referrer"], 10);
  EXPECT_EQ(Get("/api/v1/referral-program", a_.owner_key).body, program.body);

  std::string amy = CreateMember(a_, "0912345678", {{"email", "amy@example.com"}});
  std::string code = Get("/api/v1/members/" + amy, a_.owner_key).body["referral_code"];
  std::string twin = CreateMember(a_, "0922333444", {{"email", "AMY@example.com"}});
  ExpectError(
      Post("/api/v1/referrals", a_.cashier_key, {{"member_id", twin}, {"referral_code", code}}),
      409, "failed_precondition",
      "referral_code: self-referral is not allowed (same e-mail address as the referrer)",
      "referral_code");
  ExpectError(
      Post("/api/v1/referrals", a_.cashier_key, {{"member_id", amy}, {"referral_code", code}}), 409,
      "failed_precondition", "referral_code: self-referral is not allowed (the member's own code)",
      "referral_code");
  ExpectError(Post("/api/v1/referrals", a_.cashier_key, {{"member_id", twin}}), 400,
              "invalid_argument", "referral_code: is required", "referral_code");
  std::string bob = CreateMember(a_, "0933444555");
  auto ref = Post("/api/v1/referrals", a_.cashier_key,
                  {{"member_id", bob}, {"referral_code", code}, {"device_id", "phone-of-bob"}});
  ASSERT_EQ(ref.status, 201) << ref.raw;
  EXPECT_EQ(ref.body["referrer_id"], amy);
  EXPECT_EQ(ref.body["member_id"], bob);
  EXPECT_EQ(ref.body["status"], "pending");
  std::string carol = CreateMember(a_, "0944555666");
  ExpectError(Post("/api/v1/referrals", a_.cashier_key,
                   {{"member_id", carol}, {"referral_code", code}, {"device_id", "phone-of-bob"}}),
              409, "failed_precondition", "device_id: this device was already used for a referral",
              "device_id");
  ExpectError(
      Post("/api/v1/referrals", a_.cashier_key, {{"member_id", bob}, {"referral_code", code}}), 409,
      "already_exists", "member_id: the member was already referred", "member_id");
  auto list = Get("/api/v1/referrals?member_id=" + amy, a_.owner_key);
  ASSERT_EQ(list.body["data"].size(), 1u) << list.raw;
  EXPECT_EQ(list.body["data"][0]["id"], ref.body["id"]);
  // Merchant B knows neither the member nor the code.
  EXPECT_EQ(Get("/api/v1/referrals", b_.owner_key).body["data"].size(), 0u);
  ExpectError(
      Post("/api/v1/referrals", b_.owner_key, {{"member_id", bob}, {"referral_code", code}}), 404,
      "not_found", "member not found");
}

// Needs the hooks wired into AfterOrderCreated (OnOrderForCoupons, OnOrderForReferrals) and
// member creation (OnMemberJoined): an order through the API rewards both sides of a referral
// once, gives the spend gift, and a new member gets the welcome offer.
TEST_P(CouponApi, HooksThroughTheApi) {
  ASSERT_EQ(
      Post("/api/v1/point-types", a_.owner_key, {{"code", "points"}, {"name", "Points"}}).status,
      201);
  CreateTemplate(a_, {{"name", "Welcome"},
                      {"kind", "amount_off"},
                      {"amount_off_minor", 3000},
                      {"issue_on", "welcome"}});
  CreateTemplate(a_, {{"name", "滿千送百"},
                      {"kind", "amount_off"},
                      {"amount_off_minor", 10000},
                      {"issue_on", "spend"},
                      {"spend_threshold_minor", 100000}});
  ASSERT_EQ(Post("/api/v1/referral-program", a_.owner_key,
                 {{"referrer_reward", {{"point_type", "points"}, {"points", 200}}},
                  {"newcomer_reward", {{"point_type", "points"}, {"points", 50}}}})
                .status,
            200);
  std::string amy = CreateMember(a_, "0912345678");
  std::string code = Get("/api/v1/members/" + amy, a_.owner_key).body["referral_code"];
  std::string bob = CreateMember(a_, "0922333444");
  auto welcome = Get("/api/v1/coupons?member_id=" + bob, a_.owner_key);
  ASSERT_EQ(welcome.body["data"].size(), 1u) << welcome.raw;
  EXPECT_EQ(welcome.body["data"][0]["source"], "welcome");
  ASSERT_EQ(Post("/api/v1/referrals", a_.cashier_key, {{"member_id", bob}, {"referral_code", code}})
                .status,
            201);
  for (int i = 0; i < 2; ++i) {
    auto order = Post(
        "/api/v1/orders", a_.cashier_key,
        {{"external_id", "O-" + std::to_string(i)}, {"member_id", bob}, {"total_minor", 120000}});
    ASSERT_EQ(order.status, 201) << order.raw;
  }
  auto balances = [&](const std::string& m) {
    auto r = Get("/api/v1/members/" + m + "/balances", a_.owner_key);
    for (const auto& p : r.body["points"])
      if (p["point_type"] == "points") return p["balance"].get<int64_t>();
    return int64_t{0};
  };
  EXPECT_EQ(balances(amy), 200);
  EXPECT_EQ(balances(bob), 50);
  auto bobs = Get("/api/v1/coupons?member_id=" + bob, a_.owner_key);
  EXPECT_EQ(bobs.body["data"].size(), 3u) << bobs.raw;  // welcome + one gift per order
  auto refs = Get("/api/v1/referrals?member_id=" + bob, a_.owner_key);
  EXPECT_EQ(refs.body["data"][0]["status"], "rewarded");
}

RG_INSTANTIATE_BACKENDS(CouponApi);

}  // namespace
}  // namespace regulars::testing
