// Messaging over HTTP on SQLite and PostgreSQL, end to end through the real server:
// - a channel's secrets are write-only: accepted, stored sealed, answered as "set", never echoed;
// - the template preview counts SMS exactly (71 Chinese characters are 2 UCS-2 parts) and
//   prices them, and names the variables a template uses that nothing supplies;
// - a transactional e-mail reaches a real SMTP receiver (aiosmtpd, tests/smtp_receiver.py)
//   carrying an unsubscribe link; following the link parsed out of the received MIME message
//   unsubscribes the member (consent_changed, source unsubscribe_link), and a later marketing
//   message to them is suppressed and never reaches the receiver;
// - a member without consent receives no marketing message at all;
// - quiet hours defer a marketing message to their end in the merchant's zone, and a daily cap
//   holds across the merchant's midnight (a ManualClock moves time; nothing sleeps);
// - a signed inbound STOP from Twilio opts the member out of SMS; a forged one changes nothing;
// - a signed LINE unfollow (LINE's webhook body, X-Line-Signature) withdraws the member's LINE
//   consent and suppresses their user id; a later follow grants nothing back;
// - the daily "points about to expire" job enqueues one message per member, point type and last
//   local day, from 09:00 in the merchant's zone, N days ahead, and a rerun enqueues nothing;
// - with a public URL configured, unsubscribe links use it instead of the Host called.
// Delivery runs through the real sender, one round at a time on the test's thread, so every
// outcome is asserted exactly.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "accounts/account_service.h"
#include "http_fixture.h"
#include "members/member_repo.h"
#include "members/member_service.h"
#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/policy.h"
#include "messaging/receipts.h"
#include "messaging/secrets.h"
#include "messaging/sender.h"
#include "messaging/smtp_test_server.h"
#include "messaging/transactional.h"

namespace regulars::testing {
namespace {

constexpr const char* kKeyHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// `n` Chinese characters (each 3 bytes in UTF-8, one UCS-2 unit), from a 72-character text.
std::string Chinese(int n) {
  static const char* kText =
      "感謝您光臨示範茶飲本週會員日全品項第二杯半價歡迎帶朋友一起來喝茶並出示會員卡即可累積點數兌換"
      "好禮期待再次見到您祝您有美好的一天謝謝您的支持與愛護";
  std::string s = kText;
  std::string out;
  for (int i = 0; i < n; ++i) out += s.substr(static_cast<size_t>(i % 72) * 3, 3);
  return out;
}

class MessagingApi : public HttpTest {
 protected:
  void SetUp() override {
    setenv("REGULARS_SECRET_KEY", kKeyHex, 1);
    HttpTest::SetUp();
  }

  std::string Url() const { return fmt::format("http://127.0.0.1:{}", port_); }

  std::string NewMember(const json& body) {
    auto r = Post("/api/v1/members", a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  std::string NewChannel(const json& body) {
    auto r = Post("/api/v1/channels", a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  std::string NewTemplate(const json& body) {
    auto r = Post("/api/v1/templates", a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  json Send(const std::string& member, const std::string& tmpl, const std::string& key,
            const std::string& channel = "") {
    json body = {{"member_id", member}, {"template_id", tmpl}, {"dedup_key", key}};
    if (!channel.empty()) body["channel_id"] = channel;
    auto r = Post("/api/v1/messages", a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }

  json Message(const std::string& id) {
    auto r = Get("/api/v1/messages?limit=500", a_.owner_key);
    for (const auto& m : r.body["data"])
      if (m["id"] == id) return m;
    ADD_FAILURE() << "message " << id << " not listed: " << r.raw;
    return json::object();
  }

  // One round of the sender (messaging/sender.h) on this thread: claim what is due, decide with
  // the merchant's policy, call the provider, record the outcome. Returns how many it handled.
  int Deliver() {
    auto box = messaging::SecretBox::FromHex(kKeyHex, "test");
    EXPECT_TRUE(box.has_value());
    messaging::SenderOptions o;
    o.workers = 1;
    o.secrets = &*box;
    o.name = "test";
    messaging::Sender sender(db(), clock_, o);
    auto n = sender.RunOnce(0);
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  }
};

TEST_P(MessagingApi, ChannelSecretsAreWriteOnly) {
  json body = {{"kind", "smtp"},
               {"name", "Mail"},
               {"settings",
                {{"host", "127.0.0.1"},
                 {"port", 2525},
                 {"security", "none"},
                 {"from", "shop@a.test"},
                 {"username", "shop"}}},
               {"secrets", {{"password", "hunter2-secret"}}}};
  auto created = Post("/api/v1/channels", a_.owner_key, body);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["secrets"], (json{{"password", "set"}}));
  EXPECT_EQ(created.body["medium"], "email");
  EXPECT_EQ(created.body["settings"]["host"], "127.0.0.1");
  EXPECT_EQ(created.raw.find("hunter2"), std::string::npos) << created.raw;
  std::string id = created.body["id"];

  // Stored sealed: the row holds no plaintext.
  auto stored = db().ReadValue([&](store::Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT secrets FROM message_channels"));
    return rows[0].Str(0);
  });
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  EXPECT_TRUE(stored->starts_with("rgs1:")) << *stored;
  EXPECT_EQ(stored->find("hunter2"), std::string::npos);

  auto list = Get("/api/v1/channels", a_.owner_key);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["data"].size(), 1u);
  EXPECT_EQ(list.body["data"][0]["secrets"], (json{{"password", "set"}}));
  EXPECT_EQ(list.raw.find("hunter2"), std::string::npos);

  // A change without secrets keeps them; a null removes one (and then the username needs it).
  auto renamed = Patch("/api/v1/channels/" + id, a_.owner_key, {{"name", "Mail 2"}});
  ASSERT_EQ(renamed.status, 200) << renamed.raw;
  EXPECT_EQ(renamed.body["name"], "Mail 2");
  EXPECT_EQ(renamed.body["secrets"], (json{{"password", "set"}}));
  auto cleared =
      Patch("/api/v1/channels/" + id, a_.owner_key, {{"secrets", {{"password", nullptr}}}});
  EXPECT_EQ(cleared.status, 400) << cleared.raw;
  EXPECT_EQ(cleared.body["error"]["message"], "secrets.password: required with settings.username");
  auto cleared2 =
      Patch("/api/v1/channels/" + id, a_.owner_key,
            {{"settings", {{"host", "127.0.0.1"}, {"security", "none"}, {"from", "shop@a.test"}}},
             {"secrets", {{"password", nullptr}}}});
  ASSERT_EQ(cleared2.status, 200) << cleared2.raw;
  EXPECT_EQ(cleared2.body["secrets"], json::object());

  // Bad set-ups name the setting; kinds are checked; cashiers and other merchants are refused.
  auto no_host = Post("/api/v1/channels", a_.owner_key,
                      {{"kind", "smtp"}, {"name", "X"}, {"settings", {{"from", "a@b.test"}}}});
  EXPECT_EQ(no_host.status, 400) << no_host.raw;
  EXPECT_EQ(no_host.body["error"]["message"], "settings.host: required");
  EXPECT_EQ(no_host.body["error"]["field"], "settings.host");
  auto bad_kind = Post("/api/v1/channels", a_.owner_key, {{"kind", "fax"}, {"name", "X"}});
  EXPECT_EQ(bad_kind.body["error"]["message"],
            "kind: must be smtp, twilio, http_sms, line, webhook or log");
  auto dup = Post("/api/v1/channels", a_.owner_key, {{"kind", "log"}, {"name", "Mail 2"}});
  EXPECT_EQ(dup.status, 409) << dup.raw;
  EXPECT_EQ(dup.body["error"]["message"], "name: another channel has this name");
  auto cashier = Post("/api/v1/channels", a_.cashier_key, {{"kind", "log"}, {"name", "C"}});
  EXPECT_EQ(cashier.status, 403) << cashier.raw;
  EXPECT_EQ(Get("/api/v1/channels", b_.owner_key).body["data"], json::array());
  EXPECT_EQ(Patch("/api/v1/channels/" + id, b_.owner_key, {{"name", "Theirs"}}).status, 404);

  // "Send a test" answers with the provider's outcome: a log channel made to fail permanently.
  std::string log = NewChannel({{"kind", "log"}, {"name", "Log"}});
  auto ok = Post("/api/v1/channels/" + log + "/test", a_.owner_key, {{"to", "x@example.com"}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["outcome"], "sent");
  std::string failing =
      NewChannel({{"kind", "log"}, {"name", "Failing"}, {"settings", {{"fail", "permanent"}}}});
  auto bad = Post("/api/v1/channels/" + failing + "/test", a_.owner_key, {{"to", "x@e.com"}});
  ASSERT_EQ(bad.status, 200) << bad.raw;
  EXPECT_EQ(bad.body["outcome"], "permanent");
  auto no_to = Post("/api/v1/channels/" + log + "/test", a_.owner_key, json::object());
  EXPECT_EQ(no_to.body["error"]["message"], "to: required");
}

TEST_P(MessagingApi, PreviewCountsSmsPartsAndNamesMissingVariables) {
  ASSERT_EQ(Patch("/api/v1/messaging/settings", a_.owner_key, {{"sms_price_minor", 150}}).status,
            200);
  auto preview = [&](const std::string& text, const std::string& member = "") {
    json body = {{"template",
                  {{"medium", "sms"},
                   {"category", "transactional"},
                   {"variants", {{"zh-TW", {{"text", text}}}}}}}};
    if (!member.empty()) body["member_id"] = member;
    auto r = Post("/api/v1/templates/preview", a_.owner_key, body);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["languages"]["zh-TW"];
  };
  EXPECT_EQ(preview(Chinese(71))["sms"], (json{{"chars", 71},
                                               {"units", 71},
                                               {"parts", 2},
                                               {"encoding", "ucs2"},
                                               {"cost_minor", 300},
                                               {"currency", "TWD"}}));
  EXPECT_EQ(preview(Chinese(70))["sms"]["parts"], 1);
  EXPECT_EQ(preview(Chinese(70))["sms"]["cost_minor"], 150);
  EXPECT_EQ(preview(Chinese(135))["sms"]["parts"], 3);  // 67 per part once split
  json gsm = preview(std::string(161, 'a'))["sms"];
  EXPECT_EQ(gsm["encoding"], "gsm7");
  EXPECT_EQ(gsm["units"], 161);
  EXPECT_EQ(gsm["parts"], 2);
  EXPECT_EQ(preview("Hi {{member.nickname}} from {{merchant.name}}")["missing"],
            (json{"member.nickname"}));
  EXPECT_EQ(preview("Hi {{member.nickname}} from {{merchant.name}}")["text"],
            "Hi  from Merchant A");

  std::string m = NewMember({{"phone", "0912000001"}, {"name", "王小明"}, {"language", "zh-TW"}});
  EXPECT_EQ(preview("{{member.name}} 您好", m)["text"], "王小明 您好");
  // A saved template previews by id.
  std::string t = NewTemplate({{"name", "Hello"},
                               {"medium", "sms"},
                               {"category", "transactional"},
                               {"variants", {{"en", {{"text", "Hello {{member.name}}"}}}}}});
  auto by_id =
      Post("/api/v1/templates/preview", a_.owner_key, {{"template_id", t}, {"member_id", m}});
  ASSERT_EQ(by_id.status, 200) << by_id.raw;
  EXPECT_EQ(by_id.body["languages"]["en"]["text"], "Hello 王小明");
  EXPECT_EQ(by_id.body["member_language"], "en");  // zh-TW has no variant: en is the fallback
  auto bad = Post("/api/v1/templates/preview", a_.owner_key,
                  {{"template",
                    {{"name", "p"},
                     {"medium", "fax"},
                     {"category", "marketing"},
                     {"variants", json::object()}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"], "template.medium: must be email, sms, line or webhook");
}

TEST_P(MessagingApi, EmailUnsubscribeLinkStopsLaterMarketing) {
  std::string folder =
      (std::filesystem::temp_directory_path() / fmt::format("rg-mail-{}", NewId())).string();
  messaging::testing::SmtpTestServer smtp(folder);
  ASSERT_TRUE(smtp.running());
  std::string channel = NewChannel({{"kind", "smtp"},
                                    {"name", "Mail"},
                                    {"settings",
                                     {{"host", "127.0.0.1"},
                                      {"port", smtp.port()},
                                      {"security", "none"},
                                      {"from", "shop@a.test"}}}});
  std::string member = NewMember({{"phone", "0912000002"},
                                  {"name", "王小明"},
                                  {"email", "ming@example.com"},
                                  {"language", "zh-TW"},
                                  {"consent", {{"email", true}}}});
  std::string receipt = NewTemplate(
      {{"name", "Receipt"},
       {"medium", "email"},
       {"category", "transactional"},
       {"variants",
        {{"zh-TW",
          {{"subject", "{{merchant.name}} 收據"},
           {"text",
            "{{member.name}} 您好，感謝光臨。\n不想再收到行銷訊息：{{unsubscribe_url}}"}}}}}});
  json sent = Send(member, receipt, "receipt:1");
  EXPECT_EQ(sent["status"], "queued");
  EXPECT_EQ(sent["to"], "ming@example.com");
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(sent["id"])["status"], "sent");

  auto mails = smtp.WaitFor(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].envelope_to, "ming@example.com");
  EXPECT_NE(mails[0].text.find("王小明 您好，感謝光臨。"), std::string::npos) << mails[0].text;
  std::smatch link;
  ASSERT_TRUE(
      std::regex_search(mails[0].text, link, std::regex("http://[^/\\s]+(/u/[A-Za-z0-9._-]+)")))
      << mails[0].text;
  std::string path = link[1];

  auto page = Call("GET", path, "");
  ASSERT_EQ(page.status, 200) << page.raw;
  EXPECT_NE(page.raw.find("data-state=\"ask\""), std::string::npos) << page.raw;
  EXPECT_NE(page.raw.find("您將不再收到 <strong>Merchant A</strong> 的電子郵件行銷訊息。"),
            std::string::npos)
      << page.raw;
  auto confirm =
      Call("POST", path, "", "", {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(confirm.status, 200) << confirm.raw;
  EXPECT_NE(confirm.raw.find("data-state=\"done\""), std::string::npos) << confirm.raw;

  auto m = Get("/api/v1/members/" + member, a_.owner_key);
  EXPECT_EQ(m.body["consent"]["email"]["granted"], false) << m.raw;
  EXPECT_EQ(m.body["consent"]["email"]["source"], "unsubscribe_link") << m.raw;
  auto again = Call("GET", path, "");
  EXPECT_NE(again.raw.find("data-state=\"already\""), std::string::npos) << again.raw;
  auto forged = Call("GET", "/u/rgs1.00000000.AAAA", "");
  EXPECT_EQ(forged.status, 404);
  EXPECT_NE(forged.raw.find("data-state=\"invalid\""), std::string::npos);

  // A later marketing message is suppressed and never reaches the receiver.
  std::string promo = NewTemplate(
      {{"name", "Promo"},
       {"medium", "email"},
       {"category", "marketing"},
       {"variants",
        {{"zh-TW",
          {{"subject", "第二杯半價"}, {"text", "本週第二杯半價。退訂：{{unsubscribe_url}}"}}}}}});
  json later = Send(member, promo, "promo:1");
  EXPECT_EQ(Deliver(), 1);
  json after = Message(later["id"]);
  EXPECT_EQ(after["status"], "suppressed") << after;
  EXPECT_EQ(after["error"], "unsubscribed") << after;
  auto suppressed = Get("/api/v1/messages?status=suppressed&member_id=" + member, a_.owner_key);
  ASSERT_EQ(suppressed.body["data"].size(), 1u) << suppressed.raw;
  EXPECT_EQ(suppressed.body["data"][0]["id"], later["id"]);
  EXPECT_EQ(smtp.Received().size(), 1u);

  // Opting in again at the counter, after the unsubscribe, lifts it: the next promotion arrives.
  clock_.Advance(60 * kMicrosPerSecond);
  auto opt_in = Patch("/api/v1/members/" + member, a_.owner_key,
                      {{"consent", {{"email", true}}}, {"consent_source", "counter"}});
  ASSERT_EQ(opt_in.status, 200) << opt_in.raw;
  json promo2 = Send(member, promo, "promo:2");
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(promo2["id"])["status"], "sent") << Message(promo2["id"]);
  auto mails2 = smtp.WaitFor(2);
  ASSERT_EQ(mails2.size(), 2u);
  EXPECT_NE(mails2[1].text.find("本週第二杯半價。"), std::string::npos) << mails2[1].text;
}

TEST_P(MessagingApi, MemberWithoutConsentReceivesNoMarketing) {
  std::string folder =
      (std::filesystem::temp_directory_path() / fmt::format("rg-mail-{}", NewId())).string();
  messaging::testing::SmtpTestServer smtp(folder);
  NewChannel({{"kind", "smtp"},
              {"name", "Mail"},
              {"settings",
               {{"host", "127.0.0.1"},
                {"port", smtp.port()},
                {"security", "none"},
                {"from", "shop@a.test"}}}});
  std::string member = NewMember({{"phone", "0912000003"}, {"email", "no@example.com"}});
  std::string promo =
      NewTemplate({{"name", "Promo"},
                   {"medium", "email"},
                   {"category", "marketing"},
                   {"variants",
                    {{"en",
                      {{"subject", "Half price"},
                       {"text", "Half price. Unsubscribe: {{unsubscribe_url}}"}}}}}});
  json msg = Send(member, promo, "promo:2");
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(msg["id"])["status"], "suppressed");
  EXPECT_EQ(Message(msg["id"])["error"], "no_consent");
  EXPECT_EQ(smtp.Received().size(), 0u);
  // The member's timeline says so.
  auto tl = Get("/api/v1/members/" + member + "/timeline", a_.owner_key);
  EXPECT_EQ(tl.body["data"][0]["type"], "message_suppressed") << tl.raw;
}

TEST_P(MessagingApi, QuietHoursDeferAndDailyCapHoldsAcrossMerchantMidnight) {
  std::string log = NewChannel({{"kind", "log"}, {"name", "Log"}});
  std::string member = NewMember(
      {{"phone", "0912000004"}, {"email", "q@example.com"}, {"consent", {{"email", true}}}});
  std::string promo = NewTemplate(
      {{"name", "Promo"},
       {"medium", "email"},
       {"category", "marketing"},
       {"variants",
        {{"en", {{"subject", "Hi"}, {"text", "Hi. Unsubscribe: {{unsubscribe_url}}"}}}}}});
  // Asia/Taipei is UTC+8: 21:30 there is 13:30Z.
  auto settings = Patch("/api/v1/messaging/settings", a_.owner_key,
                        {{"quiet_hours", {{"start", "21:00"}, {"end", "09:00"}}}});
  ASSERT_EQ(settings.status, 200) << settings.raw;
  EXPECT_EQ(settings.body["quiet_hours"], (json{{"start", "21:00"}, {"end", "09:00"}}));
  clock_.Set(*ParseRfc3339("2026-09-21T13:30:00Z"));
  json night = Send(member, promo, "night", log);
  EXPECT_EQ(Deliver(), 1);
  json deferred = Message(night["id"]);
  EXPECT_EQ(deferred["status"], "deferred");
  EXPECT_EQ(deferred["next_attempt_at"], "2026-09-22T01:00:00.000Z");  // 09:00 in Taipei
  clock_.Set(*ParseRfc3339("2026-09-22T00:59:59Z"));
  EXPECT_EQ(Deliver(), 0);
  clock_.Set(*ParseRfc3339("2026-09-22T01:00:00Z"));
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(night["id"])["status"], "sent");

  // One marketing e-mail a day: a second one just after the merchant's midnight still waits
  // for a full day since the first (the cap is not reset by a new local date).
  ASSERT_EQ(
      Patch("/api/v1/messaging/settings", a_.owner_key,
            {{"quiet_hours", nullptr},
             {"caps", {{{"medium", "email"}, {"period", "day"}, {"max", 1}, {"action", "defer"}}}}})
          .status,
      200);
  clock_.Set(*ParseRfc3339("2026-09-23T15:30:00Z"));  // 23:30 in Taipei, a day after
  json first = Send(member, promo, "cap-1", log);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(first["id"])["status"], "sent");
  clock_.Set(*ParseRfc3339("2026-09-23T16:30:00Z"));  // 00:30 the next day in Taipei
  json second = Send(member, promo, "cap-2", log);
  EXPECT_EQ(Deliver(), 1);
  json held = Message(second["id"]);
  EXPECT_EQ(held["status"], "deferred");
  EXPECT_EQ(held["next_attempt_at"], "2026-09-24T15:30:00.000Z");
  // Transactional messages are not capped.
  std::string receipt =
      NewTemplate({{"name", "Receipt"},
                   {"medium", "email"},
                   {"category", "transactional"},
                   {"variants", {{"en", {{"subject", "R"}, {"text", "Thanks"}}}}}});
  json tx = Send(member, receipt, "receipt:cap", log);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(tx["id"])["status"], "sent");
}

TEST_P(MessagingApi, SignedInboundStopOptsOutOfSms) {
  std::string channel = NewChannel(
      {{"kind", "twilio"},
       {"name", "SMS"},
       {"settings",
        {{"account_sid", "AC0123456789abcdef0123456789abcdef"}, {"from", "+15005550006"}}},
       {"secrets", {{"auth_token", "twilio-token"}}}});
  std::string member = NewMember({{"phone", "0912345678"}, {"consent", {{"sms", true}}}});
  std::string path = "/api/v1/channels/" + channel + "/inbound";
  messaging::FormFields params = {{"MessageSid", "SM0001"},
                                  {"From", "+886912345678"},
                                  {"To", "+15005550006"},
                                  {"Body", "STOP"}};
  std::string form = "MessageSid=SM0001&From=%2B886912345678&To=%2B15005550006&Body=STOP";
  httplib::Headers forged = {{"Content-Type", "application/x-www-form-urlencoded"},
                             {"X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl"}};
  auto refused = Call("POST", path, "", form, forged);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_EQ(refused.body["error"]["code"], "permission_denied");
  EXPECT_EQ(Get("/api/v1/members/" + member, a_.owner_key).body["consent"]["sms"]["granted"], true);

  std::string sig = messaging::TwilioSignature("twilio-token", Url() + path, params);
  auto ok =
      Call("POST", path, "", form,
           {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Twilio-Signature", sig}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.raw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");
  auto m = Get("/api/v1/members/" + member, a_.owner_key);
  EXPECT_EQ(m.body["consent"]["sms"]["granted"], false) << m.raw;
  EXPECT_EQ(m.body["consent"]["sms"]["source"], "sms_stop") << m.raw;
}

// LINE's webhook bodies as LINE sends them (Messaging API reference: unfollow and follow
// events, webhookEventId and deliveryContext), for one user.
constexpr char kLineUser[] = "U4af4980629a1b2c3d4e5f60718293a4b";
std::string LineUnfollowBody() {
  return fmt::format(
      R"({{"destination":"U0123456789abcdef0123456789abcdef","events":[{{"type":"unfollow",)"
      R"("mode":"active","timestamp":1462629479859,"source":{{"type":"user","userId":"{}"}},)"
      R"("webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR","deliveryContext":{{"isRedelivery":false}}}}]}})",
      kLineUser);
}
std::string LineFollowBody() {
  return fmt::format(
      R"({{"destination":"U0123456789abcdef0123456789abcdef","events":[{{"replyToken":)"
      R"("85cbe770fa8b4f45bbe077b1d4be4a36","type":"follow","mode":"active","timestamp":)"
      R"(1705891467176,"source":{{"type":"user","userId":"{}"}},"webhookEventId":)"
      R"("01HMQGW40RZJPJM3RAJP7BHC2Q","deliveryContext":{{"isRedelivery":false}},)"
      R"("follow":{{"isUnblocked":true}}}}]}})",
      kLineUser);
}

TEST_P(MessagingApi, LineUnfollowWithdrawsConsentAndFollowGrantsNothing) {
  std::string channel = NewChannel(
      {{"kind", "line"},
       {"name", "LINE"},
       {"settings", {{"base_url", "http://127.0.0.1:9"}}},
       {"secrets", {{"channel_access_token", "tok"}, {"channel_secret", "line-secret"}}}});
  std::string member = NewMember({{"phone", "0912000005"}, {"consent", {{"line", true}}}});
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    return members::AddIdentity(tx, *ParseId(a_.merchant_id), *ParseId(member),
                                {"line", kLineUser, clock_.Now()});
  }));
  std::string path = "/api/v1/channels/" + channel + "/inbound";
  auto post = [&](const std::string& body, const std::string& signature) {
    return Call("POST", path, "", body,
                {{"Content-Type", "application/json"}, {"X-Line-Signature", signature}});
  };
  auto consent = [&] { return Get("/api/v1/members/" + member, a_.owner_key).body["consent"]; };

  // Signed with another channel's secret: refused, nothing changes.
  auto forged = post(LineUnfollowBody(), messaging::LineSignature("other", LineUnfollowBody()));
  EXPECT_EQ(forged.status, 403) << forged.raw;
  EXPECT_EQ(forged.body["error"]["code"], "permission_denied");
  EXPECT_EQ(consent()["line"]["granted"], true);

  auto unfollow =
      post(LineUnfollowBody(), messaging::LineSignature("line-secret", LineUnfollowBody()));
  ASSERT_EQ(unfollow.status, 200) << unfollow.raw;
  EXPECT_EQ(unfollow.body, (json{{"opted_out", 1}, {"member_ids", json::array({member})}}));
  json c = consent();
  EXPECT_EQ(c["line"]["granted"], false) << c;
  EXPECT_EQ(c["line"]["source"], "line_unfollow") << c;
  // LINE redelivers a webhook it got no 200 for: the same event again records nothing new.
  auto consent_events = [&] {
    int n = 0;
    auto tl = Get("/api/v1/members/" + member + "/timeline?limit=100", a_.owner_key);
    for (const auto& e : tl.body["data"]) n += e["type"] == "consent_changed";
    return n;
  };
  int events = consent_events();
  EXPECT_GE(events, 1);
  auto again =
      post(LineUnfollowBody(), messaging::LineSignature("line-secret", LineUnfollowBody()));
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(consent_events(), events);

  // Re-adding (unblocking) the account is no opt-in.
  auto follow = post(LineFollowBody(), messaging::LineSignature("line-secret", LineFollowBody()));
  ASSERT_EQ(follow.status, 200) << follow.raw;
  EXPECT_EQ(follow.body, (json{{"opted_out", 0}, {"member_ids", json::array()}}));
  c = consent();
  EXPECT_EQ(c["line"]["granted"], false) << c;
  EXPECT_EQ(c["line"]["source"], "line_unfollow") << c;

  // Marketing on LINE to them is suppressed before any provider call.
  std::string promo = NewTemplate({{"name", "Promo"},
                                   {"medium", "line"},
                                   {"category", "marketing"},
                                   {"variants", {{"en", {{"text", "Half price this week"}}}}}});
  json msg = Send(member, promo, "promo:line", channel);
  EXPECT_EQ(msg["to"], kLineUser);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(msg["id"])["status"], "suppressed");
  EXPECT_EQ(Message(msg["id"])["error"], "unsubscribed");
}

TEST_P(MessagingApi, PointsExpiringJobEnqueuesOncePerMemberTypeAndDay) {
  NewChannel({{"kind", "log"}, {"name", "Log"}});
  auto bad = Patch("/api/v1/messaging/settings", a_.owner_key,
                   {{"transactional", {{"points_expiring", {{"days_before", 0}}}}}});
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(bad.body["error"]["message"],
            "transactional.points_expiring.days_before: must be 1 to 60");
  auto on =
      Patch("/api/v1/messaging/settings", a_.owner_key,
            {{"transactional", {{"points_expiring", {{"enabled", true}, {"days_before", 3}}}}}});
  ASSERT_EQ(on.status, 200) << on.raw;
  EXPECT_EQ(on.body["transactional"]["points_expiring"],
            (json{{"enabled", true}, {"template_id", nullptr}, {"days_before", 3}}));

  // Asia/Taipei (UTC+8). Points earned on 28 September expire at the end of the month (the lot
  // expires at 1 October 00:00 local, so its last day is 30 September); stars after 30 days.
  clock_.Set(*ParseRfc3339("2026-09-28T02:00:00Z"));
  auto pts =
      Post("/api/v1/point-types", a_.owner_key,
           {{"code", "pts"}, {"name", "Points"}, {"expiry", {{"kind", "end_of_month"}, {"n", 0}}}});
  ASSERT_EQ(pts.status, 201) << pts.raw;
  auto stars =
      Post("/api/v1/point-types", a_.owner_key,
           {{"code", "stars"}, {"name", "Stars"}, {"expiry", {{"kind", "days"}, {"n", 30}}}});
  ASSERT_EQ(stars.status, 201) << stars.raw;
  std::string ann = NewMember(
      {{"phone", "0912000006"}, {"name", "Ann"}, {"email", "ann@example.com"}, {"language", "en"}});
  std::string bob = NewMember({{"phone", "0912000007"}, {"name", "Bob"}});  // no e-mail
  auto adjust = [&](const std::string& m, const char* type, int points) {
    auto r = Post("/api/v1/members/" + m + "/adjustments", a_.owner_key,
                  {{"point_type", type}, {"points", points}, {"reason", "gift"}});
    EXPECT_EQ(r.status, 201) << r.raw;
  };
  adjust(ann, "pts", 120);
  adjust(ann, "pts", 30);
  adjust(ann, "stars", 5);
  adjust(bob, "pts", 40);

  auto run = [&](const char* at) {
    auto n = db().WriteValue([&](store::Tx& tx) {
      return messaging::EnqueuePointsExpiring(tx, *ParseRfc3339(at), nullptr, Url());
    });
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  };
  auto messages = [&] {
    return Get("/api/v1/messages?member_id=" + ann, a_.owner_key).body["data"];
  };
  EXPECT_EQ(run("2026-09-28T16:30:00Z"), 0);  // 00:30 on 29 September in Taipei: too early
  EXPECT_EQ(messages().size(), 0u);
  EXPECT_EQ(run("2026-09-29T01:00:00Z"), 1);  // 09:00: 30 September is within 3 days
  json m = messages();
  ASSERT_EQ(m.size(), 1u) << m;
  Id pts_id = *ParseId(pts.body["id"].get<std::string>());
  EXPECT_EQ(m[0]["dedup_key"],
            messaging::PointsExpiringDedupKey(*ParseId(ann), pts_id, Date{2026, 9, 30}));
  EXPECT_EQ(m[0]["dedup_key"], fmt::format("points_expiring:{}:{}:2026-09-30", ann,
                                           pts.body["id"].get<std::string>()));
  EXPECT_EQ(m[0]["to"], "ann@example.com");
  EXPECT_EQ(m[0]["subject"], "Your points at Merchant A expire soon");
  EXPECT_EQ(m[0]["text"], "Ann, 150 points expire on 2026-09-30.");
  EXPECT_EQ(run("2026-09-29T05:00:00Z"), 0);  // a rerun the same day
  EXPECT_EQ(run("2026-09-30T03:00:00Z"), 0);  // and the next day: the same lots
  EXPECT_EQ(messages().size(), 1u);

  // The stars (earned 28 September 02:00Z + 30 days: last day 28 October) come due on
  // 25 October; the points lots have expired by then and are not told again.
  EXPECT_EQ(run("2026-10-24T02:00:00Z"), 0);
  EXPECT_EQ(run("2026-10-25T02:00:00Z"), 1);
  m = messages();
  ASSERT_EQ(m.size(), 2u) << m;
  EXPECT_EQ(m[0]["text"], "Ann, 5 points expire on 2026-10-28.");
  EXPECT_EQ(m[0]["dedup_key"], fmt::format("points_expiring:{}:{}:2026-10-28", ann,
                                           stars.body["id"].get<std::string>()));
  EXPECT_EQ(Get("/api/v1/messages?member_id=" + bob, a_.owner_key).body["data"].size(), 0u);

  // Switched off: nothing more.
  ASSERT_EQ(Patch("/api/v1/messaging/settings", a_.owner_key,
                  {{"transactional", {{"points_expiring", {{"enabled", false}}}}}})
                .status,
            200);
  adjust(ann, "stars", 7);
  EXPECT_EQ(run("2026-10-27T02:00:00Z"), 0);
}

TEST_P(MessagingApi, UnsubscribeLinksUseThePublicUrl) {
  NewChannel({{"kind", "log"}, {"name", "Log"}});
  std::string member = NewMember({{"phone", "0912000008"},
                                  {"email", "pub@example.com"},
                                  {"language", "en"},
                                  {"consent", {{"email", true}}}});
  std::string promo = NewTemplate(
      {{"name", "Promo"},
       {"medium", "email"},
       {"category", "marketing"},
       {"variants", {{"en", {{"subject", "Hi"}, {"text", "Bye: {{unsubscribe_url}}"}}}}}});
  std::smatch link;
  // Without a public URL: the Host this request came to.
  std::string text = Send(member, promo, "pub:1")["text"].get<std::string>();
  ASSERT_TRUE(std::regex_match(text, link, std::regex("Bye: (http://[^/]+)(/u/[A-Za-z0-9._-]+)")))
      << text;
  EXPECT_EQ(link[1].str(), Url());

  // The same server with public_url set (cli/config.h: [server] public_url).
  server_->Stop();
  serve_thread_.join();
  http::ServerOptions options;
  options.port = 0;
  options.threads = 8;
  options.public_url = "https://shop.example.com";
  server_ = std::make_unique<http::Server>(db(), clock_, nullptr, options);
  auto port = server_->Bind();
  ASSERT_TRUE(port.has_value()) << port.error().ToString();
  port_ = *port;
  serve_thread_ = std::thread([this] { server_->Serve(); });
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);

  text = Send(member, promo, "pub:2")["text"].get<std::string>();
  ASSERT_TRUE(std::regex_match(text, link,
                               std::regex("Bye: https://shop\\.example\\.com(/u/[A-Za-z0-9._-]+)")))
      << text;
  // The link's path opens the unsubscribe page here.
  auto page = Call("GET", link[1].str(), "");
  EXPECT_EQ(page.status, 200) << page.raw;
  EXPECT_NE(page.raw.find("data-state=\"ask\""), std::string::npos) << page.raw;
}

RG_INSTANTIATE_BACKENDS(MessagingApi);

}  // namespace
}  // namespace regulars::testing
