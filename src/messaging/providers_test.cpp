// Every provider adapter (Twilio, LINE, generic HTTP SMS, signed webhook) against its local fake
// (src/messaging/fakes/), which checks requests and answers the way the real provider does.
// Each adapter is shown: delivering (with the exact request: path, auth header, body), every
// error class of http_client.h (permanent 4xx with the provider's own message, temporary 5xx,
// throttled 429/503 with Retry-After in seconds and as an HTTP-date, no answer at all), its
// provider-visible identity on a retry (LINE's X-Line-Retry-Key, Idempotency-Key) being
// recognised by the fake so a retried message is not delivered twice, and its settings errors
// naming the setting.

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <regex>
#include <set>
#include <thread>

#include "messaging/channel.h"
#include "messaging/fakes/fake_http_sms.h"
#include "messaging/fakes/fake_line.h"
#include "messaging/fakes/fake_twilio.h"
#include "messaging/fakes/fake_webhook_receiver.h"
#include "messaging/http_client.h"
#include "messaging/http_sms_channel.h"
#include "messaging/line_channel.h"
#include "messaging/twilio_channel.h"
#include "messaging/webhook_channel.h"

namespace regulars::messaging {
namespace {

using Kind = SendOutcome::Kind;
using nlohmann::json;

constexpr char kAccount[] = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
constexpr char kToken[] = "twilio-auth-token-1";
constexpr Micros kNow = 1'796'119'200'000'000;  // 2026-12-01T10:00:00Z

Envelope Env(std::string to, std::string text, std::string dedup = "1/order-42") {
  Envelope e;
  e.message_id = 77;
  e.dedup_key = std::move(dedup);
  e.to = std::move(to);
  e.text = std::move(text);
  return e;
}

ChannelConfig Config(ChannelKind kind, json settings, json secrets) {
  ChannelConfig c;
  c.id = 5;
  c.kind = kind;
  c.name = "test";
  c.settings = std::move(settings);
  c.secrets = std::move(secrets);
  return c;
}

std::string Base64(std::string_view s) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()),
                    s.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

// A scripted answer; kAccepted: the provider takes the message but this answer is what we see.
constexpr bool kAccepted = true;
fakes::ScriptedAnswer Scripted(int status, std::string body, bool accept = false,
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  fakes::ScriptedAnswer a;
  a.status = status;
  a.body = std::move(body);
  a.accept = accept;
  a.headers = std::move(headers);
  return a;
}

// A port nothing listens on: a fake's, after it stopped.
int ClosedPort() {
  fakes::FakeHttpSms gone;
  return gone.port();
}

// ---- http_client ------------------------------------------------------------------------------

TEST(HttpClient, RetryAfterSecondsAndHttpDates) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), 120 * kMicrosPerSecond);
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), 0);
  EXPECT_EQ(ParseRetryAfter("Tue, 01 Dec 2026 10:00:30 GMT", kNow), 30 * kMicrosPerSecond);
  EXPECT_EQ(ParseRetryAfter("Tuesday, 01-Dec-26 10:01:00 GMT", kNow), 60 * kMicrosPerSecond);
  EXPECT_EQ(ParseRetryAfter("Tue Dec  1 10:00:05 2026", kNow), 5 * kMicrosPerSecond);
  EXPECT_EQ(ParseRetryAfter("Mon, 30 Nov 2026 10:00:00 GMT", kNow), 0);  // in the past
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
}

TEST(HttpClient, ClassifiesEveryStatusClass) {
  auto with = [](int status, std::string retry_after = "") {
    HttpResponse r;
    r.status = status;
    r.body = "nope";
    if (!retry_after.empty()) r.headers.emplace_back("retry-after", retry_after);
    return ClassifyHttpAnswer("p", Result<HttpResponse>(r), "", kNow);
  };
  EXPECT_EQ(with(200).kind, Kind::kSent);
  EXPECT_EQ(with(204).kind, Kind::kSent);
  EXPECT_EQ(with(429, "3").kind, Kind::kThrottled);
  EXPECT_EQ(with(429, "3").retry_after, 3 * kMicrosPerSecond);
  EXPECT_EQ(with(503).kind, Kind::kThrottled);
  EXPECT_EQ(with(503).retry_after, std::nullopt);
  EXPECT_EQ(with(500).kind, Kind::kTemporary);
  EXPECT_EQ(with(502, "9").retry_after, 9 * kMicrosPerSecond);
  EXPECT_EQ(with(400).kind, Kind::kPermanent);
  EXPECT_EQ(with(400).error, "p: HTTP 400: nope");
  EXPECT_EQ(with(301).kind, Kind::kPermanent);
  SendOutcome none = ClassifyHttpAnswer(
      "p", Result<HttpResponse>(Fail(Code::kUnavailable, "POST x: refused")), "", kNow);
  EXPECT_EQ(none.kind, Kind::kTemporary);
  EXPECT_EQ(none.error, "p: no answer: POST x: refused");
}

TEST(HttpClient, FormEncoding) {
  EXPECT_EQ(FormEncode({{"To", "+886 912"}, {"Body", "a&b=c~你"}}),
            "To=%2B886+912&Body=a%26b%3Dc~%E4%BD%A0");
  EXPECT_EQ(UrlEncode("a b/c"), "a%20b%2Fc");
}

// ---- Twilio -----------------------------------------------------------------------------------

json TwilioSettings(const fakes::FakeTwilio& fake) {
  return {{"account_sid", kAccount},
          {"from", "+15005550006"},
          {"status_callback", "https://example.com/inbound/twilio/status?c=1"},
          {"base_url", fake.base_url()}};
}

class TwilioTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(json settings, json secrets = {{"auth_token", kToken}}) {
    auto ch = MakeChannel(Config(ChannelKind::kTwilio, std::move(settings), std::move(secrets)));
    EXPECT_TRUE(ch.has_value()) << (ch ? "" : ch.error().ToString());
    return ch ? std::move(*ch) : nullptr;
  }
  fakes::FakeTwilio fake_{kAccount, kToken};
};

TEST_F(TwilioTest, SendsTheMessagesApiRequestAndKeepsTheSid) {
  auto ch = Make(TwilioSettings(fake_));
  ASSERT_EQ(ch->kind(), ChannelKind::kTwilio);
  SendOutcome out = ch->Send(Env("+886912345678", "Hello 你好"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "SM00000000000000000000000000000001");
  EXPECT_EQ(out.error, "");

  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, std::string("/2010-04-01/Accounts/") + kAccount + "/Messages.json");
  EXPECT_EQ(reqs[0].Header("Authorization"),
            "Basic " + Base64(std::string(kAccount) + ":" + kToken));
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0].body,
            "To=%2B886912345678&From=%2B15005550006&Body=Hello+%E4%BD%A0%E5%A5%BD"
            "&StatusCallback=https%3A%2F%2Fexample.com%2Finbound%2Ftwilio%2Fstatus%3Fc%3D1");
  auto msgs = fake_.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].to, "+886912345678");
  EXPECT_EQ(msgs[0].body, "Hello 你好");
  EXPECT_EQ(msgs[0].status_callback, "https://example.com/inbound/twilio/status?c=1");
}

TEST_F(TwilioTest, MessagingServiceAndApiKeyCredentials) {
  json s = TwilioSettings(fake_);
  s.erase("from");
  s.erase("status_callback");
  s["messaging_service_sid"] = "MG0123456789abcdef0123456789abcdef";
  // The fake knows only the account's own token, so an API key is refused as Twilio would...
  auto ch =
      Make(s, {{"api_key_sid", "SK0123456789abcdef0123456789abcdef"}, {"api_key_secret", "x"}});
  SendOutcome refused = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(refused.kind, Kind::kPermanent);
  EXPECT_EQ(fake_.requests()[0].Header("Authorization"),
            "Basic " + Base64("SK0123456789abcdef0123456789abcdef:x"));
  // ...and the account token goes through the service.
  SendOutcome out = Make(s)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(fake_.requests()[1].body,
            "To=%2B886912345678&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&Body=hi");
}

TEST_F(TwilioTest, ErrorsCarryTwiliosCodeAndMessage) {
  auto bad_token = Make(TwilioSettings(fake_), {{"auth_token", "wrong"}});
  SendOutcome out = bad_token->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error,
            "twilio: HTTP 401: 20003: Authenticate (https://www.twilio.com/docs/errors/20003)");

  auto ch = Make(TwilioSettings(fake_));
  out = ch->Send(Env("+886", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error,
            "twilio: HTTP 400: 21211: Invalid 'To' Phone Number: +886 "
            "(https://www.twilio.com/docs/errors/21211)");

  fake_.FailNext(500, 20500, "Internal Server Error");
  out = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kTemporary);
  EXPECT_EQ(
      out.error,
      "twilio: HTTP 500: 20500: Internal Server Error (https://www.twilio.com/docs/errors/20500)");
  EXPECT_TRUE(fake_.messages().empty());

  // Refused by the adapter before any request.
  out = ch->Send(Env("", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "twilio: the message has no recipient phone number");
  EXPECT_EQ(fake_.request_count(), 3u);
}

TEST_F(TwilioTest, ThrottlingHonoursRetryAfterInSecondsAndAsADate) {
  ManualClock clock(kNow);
  auto ch = MakeTwilioChannel(
      Config(ChannelKind::kTwilio, TwilioSettings(fake_), {{"auth_token", kToken}}), &clock);
  ASSERT_TRUE(ch.has_value());
  fake_.ThrottleNext("7");
  SendOutcome out = (*ch)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, 7 * kMicrosPerSecond);
  EXPECT_EQ(
      out.error,
      "twilio: HTTP 429: 20429: Too Many Requests (https://www.twilio.com/docs/errors/20429)");

  fake_.ThrottleNext("Tue, 01 Dec 2026 10:00:30 GMT");
  out = (*ch)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, 30 * kMicrosPerSecond);

  out = (*ch)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kSent);
  EXPECT_EQ(fake_.messages().size(), 1u);
}

TEST_F(TwilioTest, NoAnswerIsTemporary) {
  json s = TwilioSettings(fake_);
  s["base_url"] = "http://127.0.0.1:" + std::to_string(ClosedPort());
  SendOutcome out = Make(s)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kTemporary);
  EXPECT_TRUE(out.error.starts_with("twilio: no answer: POST " + s["base_url"].get<std::string>() +
                                    "/2010-04-01/Accounts/"))
      << out.error;
}

TEST(TwilioSettingsTest, ErrorsNameTheSetting) {
  struct Case {
    json settings, secrets;
    std::string field, message;
  } cases[] = {
      {{{"from", "+1500"}},
       {{"auth_token", "t"}},
       "settings.account_sid",
       "settings.account_sid: required"},
      {{{"account_sid", "AC12"}, {"from", "+1500"}},
       {{"auth_token", "t"}},
       "settings.account_sid",
       "settings.account_sid: must be \"AC\" followed by 32 hex digits"},
      {{{"account_sid", kAccount}},
       {{"auth_token", "t"}},
       "settings.from",
       "settings.from: required (or settings.messaging_service_sid)"},
      {{{"account_sid", kAccount},
        {"from", "+1"},
        {"messaging_service_sid", "MG0123456789abcdef0123456789abcdef"}},
       {{"auth_token", "t"}},
       "settings.from",
       "settings.from: give either from or messaging_service_sid, not both"},
      {{{"account_sid", kAccount}, {"from", "+1500"}},
       json::object(),
       "secrets.auth_token",
       "secrets.auth_token: required"},
      {{{"account_sid", kAccount}, {"from", "+1500"}, {"sender", "x"}},
       {{"auth_token", "t"}},
       "settings.sender",
       "settings.sender: unknown setting"},
      {{{"account_sid", kAccount}, {"from", "+1500"}, {"base_url", "ftp://x"}},
       {{"auth_token", "t"}},
       "settings.base_url",
       "settings.base_url: must start with http:// or https://"},
      {{{"account_sid", kAccount}, {"from", "+1500"}, {"timeout_ms", 5}},
       {{"auth_token", "t"}},
       "settings.timeout_ms",
       "settings.timeout_ms: must be between 100 and 120000"},
  };
  for (const Case& c : cases) {
    auto ch = MakeChannel(Config(ChannelKind::kTwilio, c.settings, c.secrets));
    ASSERT_FALSE(ch.has_value()) << c.settings.dump();
    EXPECT_EQ(ch.error().code, Code::kInvalidArgument) << c.settings.dump();
    EXPECT_EQ(ch.error().field, c.field) << c.settings.dump();
    EXPECT_EQ(ch.error().message, c.message) << c.settings.dump();
  }
}

// ---- LINE -------------------------------------------------------------------------------------

constexpr char kLineToken[] = "line-channel-access-token";
constexpr char kLineUser[] = "U4af4980629a0b1c2d3e4f5a6b7c8d9e0";

class LineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(std::string token = kLineToken) {
    auto ch = MakeChannel(Config(ChannelKind::kLine, {{"base_url", fake_.base_url()}},
                                 {{"channel_access_token", token}}));
    EXPECT_TRUE(ch.has_value()) << (ch ? "" : ch.error().ToString());
    return ch ? std::move(*ch) : nullptr;
  }
  fakes::FakeLine fake_{kLineToken, "line-channel-secret"};
};

TEST(LineRetryKeyTest, IsAUuidDerivedFromTheDedupKey) {
  // sha256("1/order-42") starts 331383cf0b7bbbb4f1776bdf66c1796d; version nibble 8, variant 10xx.
  EXPECT_EQ(LineRetryKey("1/order-42"), "331383cf-0b7b-8bb4-b177-6bdf66c1796d");
  EXPECT_EQ(LineRetryKey("1/order-42"), LineRetryKey("1/order-42"));
  EXPECT_NE(LineRetryKey("1/order-42"), LineRetryKey("1/order-43"));
  EXPECT_NE(LineRetryKey("1/order-42"), LineRetryKey("2/order-42"));
}

TEST_F(LineTest, PushesWithBearerTokenAndRetryKey) {
  auto ch = Make();
  ASSERT_EQ(ch->kind(), ChannelKind::kLine);
  SendOutcome out = ch->Send(Env(kLineUser, "點數 120 點"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "468789577898262001");
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/v2/bot/message/push");
  EXPECT_EQ(reqs[0].Header("Authorization"), std::string("Bearer ") + kLineToken);
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[0].Header("X-Line-Retry-Key"), "331383cf-0b7b-8bb4-b177-6bdf66c1796d");
  EXPECT_EQ(reqs[0].body,
            std::string(R"({"messages":[{"text":"點數 120 點","type":"text"}],"to":")") +
                kLineUser + "\"}");
  ASSERT_EQ(fake_.pushes().size(), 1u);
  EXPECT_EQ(fake_.pushes()[0].texts, std::vector<std::string>{"點數 120 點"});
}

TEST_F(LineTest, ARetriedPushIsRecognisedAndCountsAsSent) {
  auto ch = Make();
  // LINE accepts the push but the answer is lost (a 500 reaches us, or we crash).
  fake_.Script(Scripted(500, R"({"message":"Internal error"})", kAccepted));
  SendOutcome first = ch->Send(Env(kLineUser, "hi"));
  EXPECT_EQ(first.kind, Kind::kTemporary);
  EXPECT_EQ(first.error, "line: HTTP 500: Internal error");
  // The retry carries the same key: LINE answers 409 and delivers nothing new.
  SendOutcome retry = ch->Send(Env(kLineUser, "hi"));
  EXPECT_EQ(retry.kind, Kind::kSent) << retry.error;
  EXPECT_EQ(retry.provider_id, "468789577898262001");
  EXPECT_EQ(fake_.pushes().size(), 1u);
  EXPECT_EQ(fake_.repeated_retry_keys(), 1u);
  // Another logical message is a new push.
  EXPECT_EQ(ch->Send(Env(kLineUser, "hi", "1/order-43")).kind, Kind::kSent);
  EXPECT_EQ(fake_.pushes().size(), 2u);
}

TEST_F(LineTest, InvalidUtf8IsReplacedNotThrown) {
  SendOutcome out = Make()->Send(Env(kLineUser, "bad \xff byte"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  ASSERT_EQ(fake_.pushes().size(), 1u);
  EXPECT_EQ(fake_.pushes()[0].texts, std::vector<std::string>{"bad \xef\xbf\xbd byte"});
}

TEST_F(LineTest, ErrorsAndThrottling) {
  SendOutcome out = Make("stale-token")->Send(Env(kLineUser, "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error,
            "line: HTTP 401: Authentication failed. Confirm that the access token in the "
            "authorization header is valid.");

  auto ch = Make();
  fake_.Script(Scripted(400, R"J({"message":"The request body has 2 error(s)","details":[)J"
                             R"J({"message":"May not be empty","property":"messages[0].text"},)J"
                             R"J({"message":"Invalid user","property":"to"}]})J"));
  out = ch->Send(Env(kLineUser, "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error,
            "line: HTTP 400: The request body has 2 error(s) (messages[0].text: May not be empty; "
            "to: Invalid user)");

  fake_.ThrottleNext();
  out = ch->Send(Env(kLineUser, "hi"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, std::nullopt);
  EXPECT_EQ(out.error, "line: HTTP 429: The API rate limit has been exceeded. Try again later.");
  fake_.ThrottleNext("15");
  EXPECT_EQ(ch->Send(Env(kLineUser, "hi")).retry_after, 15 * kMicrosPerSecond);
  EXPECT_TRUE(fake_.pushes().empty());

  out = ch->Send(Env(kLineUser, ""));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "line: the message has no text");
}

TEST(LineSettingsTest, ErrorsNameTheSetting) {
  auto ch = MakeChannel(Config(ChannelKind::kLine, json::object(), json::object()));
  ASSERT_FALSE(ch.has_value());
  EXPECT_EQ(ch.error().message, "secrets.channel_access_token: required");
  ch =
      MakeChannel(Config(ChannelKind::kLine, {{"endpoint", "x"}}, {{"channel_access_token", "t"}}));
  ASSERT_FALSE(ch.has_value());
  EXPECT_EQ(ch.error().field, "settings.endpoint");
  ch = MakeChannel(
      Config(ChannelKind::kLine, json::object(), {{"channel_access_token", "t\r\nX: y"}}));
  ASSERT_FALSE(ch.has_value());
  EXPECT_EQ(ch.error().message, "secrets.channel_access_token: must not contain line breaks");
}

// ---- generic HTTP SMS -------------------------------------------------------------------------

json JsonGateway(const fakes::FakeHttpSms& fake) {
  return {{"url", fake.base_url() + "/api/sms"},
          {"headers", {{"Content-Type", "application/json"}, {"X-Api-Key", "{{secrets.api_key}}"}}},
          {"body", R"({"to":"{{to}}","text":"{{text}}"})"},
          {"success", {{"json_pointer", "/status"}, {"equals", "ok"}}},
          {"provider_id", {{"json_pointer", "/id"}}},
          {"error", {{"json_pointer", "/error"}}}};
}

class HttpSmsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(json settings, json secrets = {{"api_key", "k-1"}},
                                const Clock* clock = SystemClock::Default()) {
    auto ch = MakeHttpSmsChannel(
        Config(ChannelKind::kHttpSms, std::move(settings), std::move(secrets)), clock);
    EXPECT_TRUE(ch.has_value()) << (ch ? "" : ch.error().ToString());
    return ch ? std::move(*ch) : nullptr;
  }
  fakes::FakeHttpSms fake_{"k-1"};
};

TEST_F(HttpSmsTest, JsonBodyWithSecretsAndIdempotencyKey) {
  auto ch = Make(JsonGateway(fake_));
  SendOutcome out = ch->Send(Env("+886912345678", "Say \"hi\"\n你好"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "gw-1");
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/sms");
  EXPECT_EQ(reqs[0].Header("X-Api-Key"), "k-1");
  EXPECT_EQ(reqs[0].Header("Idempotency-Key"), DeliveryIdentity("1/order-42"));
  EXPECT_EQ(reqs[0].body, R"({"to":"+886912345678","text":"Say \"hi\"\n你好"})");
  ASSERT_EQ(fake_.messages().size(), 1u);
  EXPECT_EQ(fake_.messages()[0].text, "Say \"hi\"\n你好");
}

TEST_F(HttpSmsTest, ARetryWithTheSameKeyIsNotSentAgain) {
  auto ch = Make(JsonGateway(fake_));
  fake_.Script(Scripted(502, "bad gateway", kAccepted));
  SendOutcome first = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(first.kind, Kind::kTemporary);
  EXPECT_EQ(first.error, "http_sms: HTTP 502: bad gateway");
  SendOutcome retry = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(retry.kind, Kind::kSent);
  EXPECT_EQ(retry.provider_id, "gw-1");
  EXPECT_EQ(fake_.messages().size(), 1u);
  EXPECT_EQ(fake_.replays(), 1u);
  EXPECT_EQ(fake_.attempts_by_key().at(DeliveryIdentity("1/order-42")), 2);
}

TEST_F(HttpSmsTest, SuccessRuleStatusesAndThrottling) {
  ManualClock clock(kNow);
  auto ch = Make(JsonGateway(fake_), {{"api_key", "k-1"}}, &clock);
  // 200 with an error verdict in the body.
  SendOutcome out = ch->Send(Env("+886", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(
      out.error,
      "http_sms: success rule: /status is \"error\", expected \"ok\": to: not an E.164 number");

  out = Make(JsonGateway(fake_), {{"api_key", "wrong"}})->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "http_sms: HTTP 401: invalid api key");

  fake_.ThrottleNext("Tue, 01 Dec 2026 10:02:00 GMT");
  out = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, 120 * kMicrosPerSecond);
  EXPECT_EQ(out.error, "http_sms: HTTP 429: rate limited");

  fake_.Script(Scripted(503, "{}", false, {{"Retry-After", "4"}}));
  out = ch->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, 4 * kMicrosPerSecond);

  // A narrowed success range: 202 is what this gateway must say.
  json narrow = JsonGateway(fake_);
  narrow["success"]["status"] = {202, 202};
  out = Make(narrow)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "http_sms: HTTP 200 is outside the success range 202..202");
  EXPECT_TRUE(fake_.messages().size() == 1u);  // the gateway did take that one
}

TEST_F(HttpSmsTest, APointerIntoTheWrongShapeIsAbsent) {
  json s = JsonGateway(fake_);
  s["provider_id"] = {{"json_pointer", "/id/0/x"}};  // "id" is a string, not an array
  SendOutcome out = Make(s)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "");
}

TEST_F(HttpSmsTest, ASlowGatewayIsATemporaryTimeout) {
  json s = JsonGateway(fake_);
  s["timeout_ms"] = 200;
  fakes::ScriptedAnswer slow = Scripted(200, R"({"status":"ok","id":"late"})");
  slow.delay = std::chrono::milliseconds(2000);
  fake_.Script(slow);
  SendOutcome out = Make(s)->Send(Env("+886912345678", "hi"));
  EXPECT_EQ(out.kind, Kind::kTemporary);
  EXPECT_TRUE(out.error.starts_with("http_sms: no answer: POST " + fake_.base_url() +
                                    "/api/sms: Operation timed out"))
      << out.error;
}

TEST_F(HttpSmsTest, OneChannelSendsFromManyThreads) {
  // The sender's workers share one Channel: each Send is independent and thread-safe.
  auto ch = Make(JsonGateway(fake_));
  constexpr int kThreads = 6, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> sent{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto out = ch->Send(Env("+886912345678", "n" + std::to_string(t * kEach + i),
                                "1/m-" + std::to_string(t * kEach + i)));
        if (out.kind == Kind::kSent) ++sent;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(sent.load(), kThreads * kEach);
  auto msgs = fake_.messages();
  EXPECT_EQ(msgs.size(), static_cast<size_t>(kThreads * kEach));
  std::set<std::string> keys;
  for (const auto& m : msgs) keys.insert(m.idempotency_key);
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(fake_.replays(), 0u);
}

TEST_F(HttpSmsTest, SequentialSendsReuseOneConnection) {
  auto ch = Make(JsonGateway(fake_));
  constexpr int kSends = 500;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSends; ++i)
    ASSERT_EQ(ch->Send(Env("+886912345678", "hi", "1/seq-" + std::to_string(i))).kind, Kind::kSent);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::set<int> ports;
  for (const auto& r : fake_.requests()) ports.insert(r.remote_port);
  EXPECT_EQ(ports.size(), 1u);
  EXPECT_EQ(fake_.messages().size(), static_cast<size_t>(kSends));
  std::printf("[ figure   ] %d sequential sends over one connection: %.0f messages/s\n", kSends,
              kSends / seconds);
}

TEST_F(HttpSmsTest, GetWithUrlTemplateAndTextAnswers) {
  fake_.set_text_mode(true);
  json s = {{"url", fake_.base_url() + "/api/sms?to={{to}}&text={{text}}"},
            {"method", "GET"},
            {"headers", {{"X-Api-Key", "{{secrets.api_key}}"}}},
            {"success", {{"regex", "^OK"}}},
            {"provider_id", {{"regex", "id=(\\S+)"}}},
            {"idempotency_header", ""}};
  auto ch = Make(s);
  SendOutcome out = ch->Send(Env("+886912345678", "Hello world&more"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "gw-1");
  auto reqs = fake_.requests();
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/api/sms?to=%2B886912345678&text=Hello%20world%26more");
  EXPECT_EQ(reqs[0].Header("Idempotency-Key"), "");
  EXPECT_EQ(fake_.messages()[0].text, "Hello world&more");

  out = ch->Send(Env("12345", "x"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "http_sms: success rule: the body does not match the success regex");
}

TEST_F(HttpSmsTest, FormBodyIsFormEscaped) {
  json s = {
      {"url", fake_.base_url() + "/api/sms"},
      {"headers", {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Api-Key", "k-1"}}},
      {"body", "to={{to}}&text={{text}}"},
      {"provider_id", {{"header", "Content-Type"}}}};
  SendOutcome out = Make(s, json::object())->Send(Env("+886912345678", "a b&c=d"));
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  EXPECT_EQ(out.provider_id, "application/json");
  EXPECT_EQ(fake_.requests()[0].body, "to=%2B886912345678&text=a+b%26c%3Dd");
  EXPECT_EQ(fake_.messages()[0].text, "a b&c=d");
}

TEST(HttpSmsSettingsTest, ErrorsNameTheSetting) {
  json base = {{"url", "http://127.0.0.1:1/x"}};
  auto with = [&](json patch) {
    json s = base;
    s.merge_patch(patch);
    return s;
  };
  struct Case {
    json settings;
    std::string field, message;
  } cases[] = {
      {json::object(), "settings.url", "settings.url: required"},
      {{{"url", "gw.example/send"}},
       "settings.url",
       "settings.url: must start with http:// or https://"},
      {with({{"body", "{\"to\":\"{{phone}}\"}"}}), "settings.body",
       "settings.body: unknown variable {{phone}} (known: to, text, dedup_key, message_id, "
       "secrets.<name>)"},
      {with({{"body", "{{secrets.token}}"}}), "settings.body",
       "settings.body: {{secrets.token}} names no string in the channel's secrets"},
      {with({{"body", "{{#to}}"}}), "settings.body", "settings.body: Unclosed section \"to\" at 0"},
      {with({{"method", "DELETE"}}), "settings.method",
       "settings.method: must be GET, POST or PUT"},
      {with({{"method", "GET"}, {"body", "x"}}), "settings.body",
       "settings.body: a GET request has no body; put the values in the url"},
      {with({{"headers", {{"X-Key", 5}}}}), "settings.headers.X-Key",
       "settings.headers.X-Key: must be a string"},
      {with({{"success", {{"regex", "(["}}}}), "settings.success.regex", ""},
      {with({{"success", {{"json_pointer", "status"}, {"equals", "ok"}}}}),
       "settings.success.json_pointer",
       "settings.success.json_pointer: not a JSON pointer (RFC 6901), e.g. \"/data/id\""},
      {with({{"success", {{"json_pointer", "/status"}}}}), "settings.success.equals",
       "settings.success.equals: required"},
      {with({{"success", {{"status", {300, 200}}}}}), "settings.success.status",
       "settings.success.status: must be a range within 100..599"},
      {with({{"provider_id", {{"json_pointer", "/id"}, {"header", "X"}}}}), "settings.provider_id",
       "settings.provider_id: give exactly one of json_pointer, regex, header"},
      {with({{"body_escape", "xml"}}), "settings.body_escape",
       "settings.body_escape: must be json, form or none"},
      {with({{"retries", 3}}), "settings.retries", "settings.retries: unknown setting"},
  };
  for (const Case& c : cases) {
    auto ch = MakeChannel(Config(ChannelKind::kHttpSms, c.settings, json::object()));
    ASSERT_FALSE(ch.has_value()) << c.settings.dump();
    EXPECT_EQ(ch.error().code, Code::kInvalidArgument) << c.settings.dump();
    EXPECT_EQ(ch.error().field, c.field) << c.settings.dump();
    if (!c.message.empty()) {
      EXPECT_EQ(ch.error().message, c.message) << c.settings.dump();
    }
  }
  auto bad_secret = MakeChannel(Config(ChannelKind::kHttpSms, base, {{"api_key", 12}}));
  ASSERT_FALSE(bad_secret.has_value());
  EXPECT_EQ(bad_secret.error().message, "secrets.api_key: must be a string");
}

// ---- webhook ----------------------------------------------------------------------------------

constexpr char kSigningSecret[] = "whsec-0123456789abcdef";

std::string HexHmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

class WebhookTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(std::string path = "/hooks/regulars") {
    auto ch = MakeWebhookChannel(Config(ChannelKind::kWebhook, {{"url", fake_.base_url() + path}},
                                        {{"signing_secret", kSigningSecret}}),
                                 &clock_);
    EXPECT_TRUE(ch.has_value()) << (ch ? "" : ch.error().ToString());
    return ch ? std::move(*ch) : nullptr;
  }
  ManualClock clock_{kNow};
  fakes::FakeWebhookReceiver fake_{kSigningSecret, &clock_};
};

TEST_F(WebhookTest, PostsSignedJson) {
  Envelope e = Env("1234567", "Your balance is 120 points");
  e.subject = "Balance";
  SendOutcome out = Make()->Send(e);
  EXPECT_EQ(out.kind, Kind::kSent) << out.error;
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/hooks/regulars");
  std::string identity = DeliveryIdentity("1/order-42");
  std::string body =
      R"({"dedup_key":")" + identity +
      R"(","html":"","message_id":"77","subject":"Balance","text":"Your balance is 120 points","to":"1234567"})";
  EXPECT_EQ(reqs[0].body, body);
  EXPECT_EQ(reqs[0].Header("Idempotency-Key"), identity);
  EXPECT_EQ(reqs[0].Header("X-Regulars-Signature"),
            "t=1796119200,v1=" + HexHmacSha256(kSigningSecret, "1796119200." + body));
  EXPECT_EQ(fake_.deliveries().size(), 1u);
  EXPECT_EQ(fake_.last_refusal(), "");
}

TEST_F(WebhookTest, RetriesAreRecognisedAndErrorsClassified) {
  auto ch = Make();
  fake_.Script(Scripted(504, "gateway timeout", kAccepted));
  EXPECT_EQ(ch->Send(Env("1", "x")).kind, Kind::kTemporary);
  EXPECT_EQ(ch->Send(Env("1", "x")).kind, Kind::kSent);
  EXPECT_EQ(fake_.deliveries().size(), 1u);
  EXPECT_EQ(fake_.duplicates(), 1u);

  fake_.Script(Scripted(503, "", false, {{"Retry-After", "60"}}));
  SendOutcome out = ch->Send(Env("1", "x"));
  EXPECT_EQ(out.kind, Kind::kThrottled);
  EXPECT_EQ(out.retry_after, 60 * kMicrosPerSecond);
  EXPECT_EQ(out.error, "webhook: HTTP 503: (empty body)");

  fake_.Script(Scripted(410, "gone"));
  out = ch->Send(Env("1", "x"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(out.error, "webhook: HTTP 410: gone");
}

TEST_F(WebhookTest, AReceiverWithAnotherSecretRefuses) {
  fakes::FakeWebhookReceiver other("another-secret-0123", &clock_);
  auto ch = MakeWebhookChannel(Config(ChannelKind::kWebhook, {{"url", other.base_url() + "/h"}},
                                      {{"signing_secret", kSigningSecret}}),
                               &clock_);
  ASSERT_TRUE(ch.has_value());
  SendOutcome out = (*ch)->Send(Env("1", "x"));
  EXPECT_EQ(out.kind, Kind::kPermanent);
  EXPECT_EQ(other.last_refusal(),
            "X-Regulars-Signature: no v1 signature matches HMAC-SHA256 of \"t.body\" under the "
            "signing secret");
  EXPECT_TRUE(other.deliveries().empty());
}

TEST(WebhookSignature, TheDocumentedExample) {
  // docs/messaging-channels.md, "Verifying a webhook"; the hex was computed with
  // `openssl dgst -sha256 -hmac` and Python's hmac module.
  std::string body =
      R"({"dedup_key":"9f86d081884c7d659a2feaa0c55ad015","html":"","message_id":"77",)"
      R"("subject":"","text":"Your balance is 120 points","to":"1234567"})";
  const std::string header =
      "t=1796119200,v1=0f90c2eb531d02974afc48703d10c4413adef6dfe92af844542e7c2d3c2018d9";
  EXPECT_EQ(SignWebhook(kSigningSecret, 1796119200, body), header);
  EXPECT_TRUE(VerifyWebhookSignature(kSigningSecret, header, body, kNow).has_value());
}

TEST(WebhookSignature, VerificationRecipe) {
  std::string body = R"({"a":1})";
  std::string sig = SignWebhook(kSigningSecret, 1796119200, body);
  EXPECT_EQ(sig, "t=1796119200,v1=" + HexHmacSha256(kSigningSecret, "1796119200." + body));
  EXPECT_TRUE(VerifyWebhookSignature(kSigningSecret, sig, body, kNow).has_value());
  // A rotated secret: any v1 may match.
  EXPECT_TRUE(
      VerifyWebhookSignature(kSigningSecret, "t=1796119200,v1=00,v1=" + sig.substr(16), body, kNow)
          .has_value());
  struct Case {
    std::string header, body;
    Micros now;
    std::string message;
  } cases[] = {
      {"", body, kNow, "X-Regulars-Signature: missing"},
      {sig, R"({"a":2})", kNow,
       "X-Regulars-Signature: no v1 signature matches HMAC-SHA256 of \"t.body\" under the signing "
       "secret"},
      {sig, body, kNow + 301 * kMicrosPerSecond,
       "X-Regulars-Signature: timestamp is 301 s away from now (tolerance 300 s)"},
      {"t=abc,v1=00", body, kNow, "X-Regulars-Signature: t=\"abc\" is not a Unix time in seconds"},
      {"v1=00", body, kNow, "X-Regulars-Signature: no t= timestamp"},
      {"t=1796119200", body, kNow, "X-Regulars-Signature: no v1= signature"},
      {"t=1796119200;v1=00", body, kNow,
       "X-Regulars-Signature: t=\"1796119200;v1=00\" is not a Unix time in seconds"},
  };
  for (const Case& c : cases) {
    auto v = VerifyWebhookSignature(kSigningSecret, c.header, c.body, c.now);
    ASSERT_FALSE(v.has_value()) << c.header;
    EXPECT_EQ(v.error().code, Code::kPermissionDenied) << c.header;
    EXPECT_EQ(v.error().message, c.message) << c.header;
  }
}

TEST(WebhookSettingsTest, ErrorsNameTheSetting) {
  auto ch = MakeChannel(Config(ChannelKind::kWebhook, {{"url", "https://x.example/h"}},
                               {{"signing_secret", "short"}}));
  ASSERT_FALSE(ch.has_value());
  EXPECT_EQ(ch.error().message, "secrets.signing_secret: must be at least 16 characters");
  ch = MakeChannel(
      Config(ChannelKind::kWebhook, json::object(), {{"signing_secret", kSigningSecret}}));
  ASSERT_FALSE(ch.has_value());
  EXPECT_EQ(ch.error().message, "settings.url: required");
}

}  // namespace
}  // namespace regulars::messaging
