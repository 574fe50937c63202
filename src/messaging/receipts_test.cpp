// Provider callbacks (receipts.h): Twilio status callbacks and inbound SMS, LINE webhooks. The
// signatures are checked against Twilio's documented example and against HMACs computed here
// with a different library (libsodium, where the code under test uses OpenSSL), so an
// implementation that is only consistent with itself cannot pass. A forged or altered callback
// must be refused with permission_denied before any field is read.

#include "messaging/receipts.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "messaging/fakes/fake_line.h"
#include "messaging/fakes/fake_twilio.h"
#include "messaging/http_client.h"
#include "messaging/twilio_channel.h"

namespace regulars::messaging {
namespace {

constexpr char kAccount[] = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
constexpr char kToken[] = "twilio-auth-token-1";
constexpr char kStatusUrl[] = "https://shop.example/inbound/twilio/status?channel=5";

std::string Base64(const unsigned char* data, size_t len) {
  std::string out(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

std::string SodiumHmacSha256Base64(std::string_view key, std::string_view data) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return Base64(mac, sizeof mac);
}

// ---- forms and keywords -----------------------------------------------------------------------

TEST(ParseFormTest, DecodesInOrder) {
  auto f = ParseForm("a=1&b=x+y%21&c&&d=%E9%80%80%E8%A8%82");
  ASSERT_TRUE(f.has_value());
  FormFields want = {{"a", "1"}, {"b", "x y!"}, {"c", ""}, {"d", "退訂"}};
  EXPECT_EQ(*f, want);
  auto bad = ParseForm("a=1&b=%zz");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "body: bad %-escape at byte 6");
  EXPECT_FALSE(ParseForm("a=%4").has_value());
}

TEST(KeywordTest, BareKeywordsOnly) {
  struct Case {
    std::string text;
    InboundKeyword want;
  } cases[] = {
      {"STOP", InboundKeyword::kOptOut},      {"stop", InboundKeyword::kOptOut},
      {"  Stop.\n", InboundKeyword::kOptOut}, {"ＳＴＯＰ", InboundKeyword::kOptOut},
      {"STOPALL", InboundKeyword::kOptOut},   {"Unsubscribe", InboundKeyword::kOptOut},
      {"cancel", InboundKeyword::kOptOut},    {"END", InboundKeyword::kOptOut},
      {"quit!", InboundKeyword::kOptOut},     {"退訂", InboundKeyword::kOptOut},
      {"退订", InboundKeyword::kOptOut},      {"退訂。", InboundKeyword::kOptOut},
      {"START", InboundKeyword::kOptIn},      {"unstop", InboundKeyword::kOptIn},
      {"YES", InboundKeyword::kOptIn},        {"HELP", InboundKeyword::kHelp},
      {"info", InboundKeyword::kHelp},        {"Stop sending me this", InboundKeyword::kNone},
      {"stopp", InboundKeyword::kNone},       {"", InboundKeyword::kNone},
      {"謝謝", InboundKeyword::kNone},
  };
  for (const Case& c : cases)
    EXPECT_EQ(ClassifyInboundKeyword(c.text), c.want) << "text: \"" << c.text << "\"";
}

// ---- Twilio signatures ------------------------------------------------------------------------

TEST(TwilioSignatureTest, TwiliosDocumentedExamples) {
  // From Twilio's webhook-security documentation (Caller/From +14158675310) and the example the
  // Twilio helper libraries test against (+14158675309): auth token 12345.
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  auto params = [](std::string caller) {
    return FormFields{{"CallSid", "CA1234567890ABCDE"},
                      {"Caller", caller},
                      {"Digits", "1234"},
                      {"From", caller},
                      {"To", "+18005551212"}};
  };
  EXPECT_EQ(TwilioSignature("12345", url, params("+14158675310")), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
  EXPECT_EQ(TwilioSignature("12345", url, params("+14158675309")), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  // The order the parameters arrive in does not matter; Twilio sorts them.
  FormFields shuffled = {{"To", "+18005551212"},
                         {"Digits", "1234"},
                         {"From", "+14158675309"},
                         {"CallSid", "CA1234567890ABCDE"},
                         {"Caller", "+14158675309"}};
  EXPECT_TRUE(
      VerifyTwilioSignature("12345", url, shuffled, "RSOYDt4T1cUTdK1PDd93/VVr8B8=").has_value());
  auto wrong = VerifyTwilioSignature("12346", url, shuffled, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Code::kPermissionDenied);
  EXPECT_EQ(wrong.error().field, "X-Twilio-Signature");
  EXPECT_EQ(wrong.error().message,
            "X-Twilio-Signature: does not match HMAC-SHA1 of "
            "https://mycompany.com/myapp.php?foo=1&bar=2 and the 5 parameters under the "
            "channel's auth token");
}

// ---- Twilio status callbacks ------------------------------------------------------------------

TEST(TwilioStatusCallbackTest, DeliveredFailedAndInProgress) {
  fakes::FakeTwilio twilio(kAccount, kToken);
  auto cb = twilio.StatusCallback(kStatusUrl, "SM00000000000000000000000000000001", "delivered");
  auto r = ParseTwilioStatusCallback(kToken, kStatusUrl, cb.body, cb.signature);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->kind, DeliveryReceipt::Kind::kDelivered);
  EXPECT_EQ(r->provider_id, "SM00000000000000000000000000000001");
  EXPECT_EQ(r->provider_status, "delivered");
  EXPECT_EQ(r->error_code, "");
  EXPECT_FALSE(r->hard_bounce);

  cb = twilio.StatusCallback(kStatusUrl, "SM2", "undelivered", "30005");
  r = ParseTwilioStatusCallback(kToken, kStatusUrl, cb.body, cb.signature);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, DeliveryReceipt::Kind::kFailed);
  EXPECT_EQ(r->error_code, "30005");
  EXPECT_EQ(r->error, "30005: Unknown destination handset");
  EXPECT_TRUE(r->hard_bounce);

  cb = twilio.StatusCallback(kStatusUrl, "SM3", "failed", "30003");
  r = ParseTwilioStatusCallback(kToken, kStatusUrl, cb.body, cb.signature);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, DeliveryReceipt::Kind::kFailed);
  EXPECT_EQ(r->error, "30003: Unreachable destination handset");
  EXPECT_FALSE(r->hard_bounce);  // a phone that is off may come back

  for (const char* s : {"queued", "sending", "sent", "accepted"}) {
    cb = twilio.StatusCallback(kStatusUrl, "SM4", s);
    r = ParseTwilioStatusCallback(kToken, kStatusUrl, cb.body, cb.signature);
    ASSERT_TRUE(r.has_value()) << s;
    EXPECT_EQ(r->kind, DeliveryReceipt::Kind::kProgress) << s;
  }
}

TEST(TwilioStatusCallbackTest, AHandWrittenCallbackSignedIndependently) {
  // The form body as Twilio writes it, and its signature computed here from the signed string
  // spelled out by hand (URL, then name+value pairs sorted by name, decoded values), so the
  // sorting and decoding of the code under test are checked too.
  std::string body =
      "SmsSid=SMabc&SmsStatus=delivered&MessageStatus=delivered&To=%2B886912345678"
      "&MessageSid=SMabc&AccountSid=" +
      std::string(kAccount) + "&From=%2B15005550006&ApiVersion=2010-04-01";
  std::string data = std::string(kStatusUrl) + "AccountSid" + kAccount +
                     "ApiVersion2010-04-01From+15005550006MessageSidSMabcMessageStatusdelivered"
                     "SmsSidSMabcSmsStatusdeliveredTo+886912345678";
  unsigned char mac[20];
  unsigned int len = 0;
  HMAC(EVP_sha1(), kToken, static_cast<int>(strlen(kToken)),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string signature = Base64(mac, len);
  auto r = ParseTwilioStatusCallback(kToken, kStatusUrl, body, signature);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->provider_id, "SMabc");
  EXPECT_EQ(r->to, "+886912345678");
}

TEST(TwilioStatusCallbackTest, ForgedOrBrokenCallbacksAreRefused) {
  fakes::FakeTwilio twilio(kAccount, kToken);
  auto cb = twilio.StatusCallback(kStatusUrl, "SM1", "delivered");
  std::string tampered = cb.body;
  tampered.replace(tampered.find("MessageStatus=delivered"), 23, "MessageStatus=failed");
  struct Case {
    std::string token, url, body, signature;
    Code code;
    std::string message;
  } cases[] = {
      {kToken, kStatusUrl, cb.body, "", Code::kPermissionDenied, "X-Twilio-Signature: missing"},
      {"other-token", kStatusUrl, cb.body, cb.signature, Code::kPermissionDenied,
       std::string("X-Twilio-Signature: does not match HMAC-SHA1 of ") + kStatusUrl +
           " and the 8 parameters under the channel's auth token"},
      // Another URL (e.g. another channel's), same body.
      {kToken, "https://shop.example/inbound/twilio/status?channel=6", cb.body, cb.signature,
       Code::kPermissionDenied,
       "X-Twilio-Signature: does not match HMAC-SHA1 of "
       "https://shop.example/inbound/twilio/status?channel=6 and the 8 parameters under the "
       "channel's auth token"},
      // delivered -> failed after signing.
      {kToken, kStatusUrl, tampered, cb.signature, Code::kPermissionDenied,
       std::string("X-Twilio-Signature: does not match HMAC-SHA1 of ") + kStatusUrl +
           " and the 8 parameters under the channel's auth token"},
      {"", kStatusUrl, cb.body, cb.signature, Code::kPermissionDenied,
       "X-Twilio-Signature: the channel has no auth_token to check it with"},
  };
  for (const Case& c : cases) {
    auto r = ParseTwilioStatusCallback(c.token, c.url, c.body, c.signature);
    ASSERT_FALSE(r.has_value()) << c.message;
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_EQ(r.error().message, c.message);
  }
  // Signed but missing a field, or with a status Twilio does not have.
  FormFields no_status = {{"MessageSid", "SM1"}};
  auto r = ParseTwilioStatusCallback(kToken, kStatusUrl, FormEncode(no_status),
                                     TwilioSignature(kToken, kStatusUrl, no_status));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "MessageStatus: required in the callback");
  FormFields odd = {{"MessageSid", "SM1"}, {"MessageStatus", "teleported"}};
  r = ParseTwilioStatusCallback(kToken, kStatusUrl, FormEncode(odd),
                                TwilioSignature(kToken, kStatusUrl, odd));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "MessageStatus");
  EXPECT_EQ(r.error().message, "MessageStatus: unknown status \"teleported\"");
}

TEST(TwilioInboundTest, StopKeywordsFromInboundSms) {
  fakes::FakeTwilio twilio(kAccount, kToken);
  const std::string url = "https://shop.example/inbound/twilio/sms";
  auto sms = twilio.InboundSms(url, "+886912345678", "+15005550006", "退訂");
  auto in = ParseTwilioInbound(kToken, url, sms.body, sms.signature);
  ASSERT_TRUE(in.has_value()) << in.error().ToString();
  EXPECT_EQ(in->from, "+886912345678");
  EXPECT_EQ(in->to, "+15005550006");
  EXPECT_EQ(in->body, "退訂");
  EXPECT_EQ(in->keyword, InboundKeyword::kOptOut);

  sms = twilio.InboundSms(url, "+886912345678", "+15005550006", "What time do you open?");
  in = ParseTwilioInbound(kToken, url, sms.body, sms.signature);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->keyword, InboundKeyword::kNone);

  // Advanced Opt-Out: Twilio's verdict on the merchant's own keyword ("ARRÊT") wins.
  FormFields advanced = {
      {"MessageSid", "SM9"}, {"From", "+886912345678"}, {"Body", "ARRÊT"}, {"OptOutType", "STOP"}};
  in =
      ParseTwilioInbound(kToken, url, FormEncode(advanced), TwilioSignature(kToken, url, advanced));
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->keyword, InboundKeyword::kOptOut);

  auto forged = ParseTwilioInbound(kToken, url, sms.body, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_FALSE(forged.has_value());
  EXPECT_EQ(forged.error().code, Code::kPermissionDenied);
}

// Our side of the callbacks: an HTTP endpoint that parses what arrives, as the /inbound routes
// do, and keeps the outcome.
class CallbackEndpoint {
 public:
  using Handler = std::function<std::string(const httplib::Request&, const std::string& url)>;
  explicit CallbackEndpoint(Handler h) : handler_(std::move(h)) {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::string outcome = handler_(req, url(req.path));
      std::lock_guard lock(mu_);
      outcomes_.push_back(outcome);
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~CallbackEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }

 private:
  Handler handler_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> outcomes_;
};

TEST(TwilioStatusCallbackTest, RoundTripFromSendToDeliveryReceipt) {
  // Send through the adapter with a StatusCallback, let the fake Twilio POST the callback to it,
  // and find the adapter's provider_id in the verified receipt.
  CallbackEndpoint endpoint([](const httplib::Request& req, const std::string& url) {
    auto r = ParseTwilioStatusCallback(kToken, url, req.body,
                                       req.get_header_value("X-Twilio-Signature"));
    return r ? r->provider_id + " " + r->provider_status : r.error().message;
  });
  fakes::FakeTwilio twilio(kAccount, kToken);
  ChannelConfig c;
  c.kind = ChannelKind::kTwilio;
  c.settings = {{"account_sid", kAccount},
                {"from", "+15005550006"},
                {"status_callback", endpoint.url("/inbound/twilio/status")},
                {"base_url", twilio.base_url()}};
  c.secrets = {{"auth_token", kToken}};
  auto ch = MakeTwilioChannel(c);
  ASSERT_TRUE(ch.has_value()) << ch.error().ToString();
  Envelope e;
  e.dedup_key = "1/r";
  e.to = "+886912345678";
  e.text = "hi";
  SendOutcome out = (*ch)->Send(e);
  ASSERT_EQ(out.kind, SendOutcome::Kind::kSent) << out.error;
  EXPECT_EQ(twilio.PostStatusCallback(out.provider_id, "sent"), 204);
  EXPECT_EQ(twilio.PostStatusCallback(out.provider_id, "delivered"), 204);
  EXPECT_EQ(endpoint.outcomes(),
            (std::vector<std::string>{out.provider_id + " sent", out.provider_id + " delivered"}));
}

// ---- LINE webhooks ----------------------------------------------------------------------------

constexpr char kLineSecret[] = "line-channel-secret";
constexpr char kUser[] = "U4af4980629a0b1c2d3e4f5a6b7c8d9e0";

TEST(LineWebhookTest, SignatureIsBase64HmacSha256OfTheBody) {
  std::string body = R"({"destination":"U0","events":[]})";
  EXPECT_EQ(LineSignature(kLineSecret, body), SodiumHmacSha256Base64(kLineSecret, body));
  auto w = ParseLineWebhook(kLineSecret, body, SodiumHmacSha256Base64(kLineSecret, body));
  ASSERT_TRUE(w.has_value());  // LINE's "verify" request carries no events
  EXPECT_EQ(w->destination, "U0");
  EXPECT_TRUE(w->events.empty());
}

// LINE's unfollow event exactly as the Messaging API reference shows it (a redelivery), signed
// with a signature computed outside this code base (Python hmac/hashlib/base64).
TEST(LineWebhookTest, RealUnfollowBodyWithAnIndependentSignature) {
  const std::string body =
      R"({"destination":"U0123456789abcdef0123456789abcdef","events":[{"type":"unfollow",)"
      R"("mode":"active","timestamp":1462629479859,"source":{"type":"user","userId":)"
      R"("U4af4980629a0b1c2d3e4f5a6b7c8d9e0"},"webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR",)"
      R"("deliveryContext":{"isRedelivery":true}}]})";
  const std::string signature = "xu7On8ym+ch22afOQfipGfWeGCyUOYDcEFdwMXcLSJ8=";
  EXPECT_EQ(LineSignature(kLineSecret, body), signature);
  auto w = ParseLineWebhook(kLineSecret, body, signature);
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  EXPECT_EQ(w->destination, "U0123456789abcdef0123456789abcdef");
  ASSERT_EQ(w->events.size(), 1u);
  const LineEvent& e = w->events[0];
  EXPECT_EQ(e.kind, LineEvent::Kind::kUnfollow);
  EXPECT_EQ(e.user_id, kUser);
  EXPECT_EQ(e.timestamp, 1462629479859000);
  EXPECT_EQ(e.webhook_event_id, "01FZ74A0TDDPYRVKNK77XKC3ZR");
  EXPECT_TRUE(e.redelivery);
  EXPECT_TRUE(e.opt_out());
  // One byte changed in the body: the signature no longer matches.
  std::string tampered = body;
  tampered[tampered.find("unfollow")] = 'U';
  auto refused = ParseLineWebhook(kLineSecret, tampered, signature);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kPermissionDenied);
}

TEST(LineWebhookTest, UnfollowAndStopTextsAreOptOuts) {
  fakes::FakeLine line("token", kLineSecret);
  auto hook = line.UnfollowWebhook(kUser);
  auto w = ParseLineWebhook(kLineSecret, hook.body, hook.signature);
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  ASSERT_EQ(w->events.size(), 1u);
  EXPECT_EQ(w->events[0].kind, LineEvent::Kind::kUnfollow);
  EXPECT_EQ(w->events[0].user_id, kUser);
  EXPECT_EQ(w->events[0].webhook_event_id, "01FAKELINEEVENT00000000001");
  EXPECT_TRUE(w->events[0].opt_out());

  hook = line.TextWebhook(kUser, "退訂");
  w = ParseLineWebhook(kLineSecret, hook.body, hook.signature);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->events[0].kind, LineEvent::Kind::kMessage);
  EXPECT_EQ(w->events[0].text, "退訂");
  EXPECT_TRUE(w->events[0].opt_out());

  hook = line.FollowWebhook(kUser);
  w = ParseLineWebhook(kLineSecret, hook.body, hook.signature);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->events[0].kind, LineEvent::Kind::kFollow);
  EXPECT_FALSE(w->events[0].opt_out());
}

TEST(LineWebhookTest, PostedWebhooksVerifyAtTheEndpoint) {
  CallbackEndpoint endpoint([](const httplib::Request& req, const std::string&) {
    auto w = ParseLineWebhook(kLineSecret, req.body, req.get_header_value("X-Line-Signature"));
    if (!w) return w.error().message;
    return w->events[0].type + " " + w->events[0].user_id;
  });
  fakes::FakeLine line("token", kLineSecret);
  std::string url = endpoint.url("/inbound/line");
  EXPECT_EQ(fakes::FakeLine::PostWebhook(url, line.UnfollowWebhook(kUser)), 204);
  fakes::FakeLine other("token", "another-secret");
  EXPECT_EQ(fakes::FakeLine::PostWebhook(url, other.FollowWebhook(kUser)), 204);
  auto outcomes = endpoint.outcomes();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0], std::string("unfollow ") + kUser);
  EXPECT_TRUE(outcomes[1].starts_with("X-Line-Signature: does not match")) << outcomes[1];
}

TEST(LineWebhookTest, ForgedOrMalformedWebhooksAreRefused) {
  fakes::FakeLine line("token", kLineSecret);
  auto hook = line.UnfollowWebhook(kUser);
  auto r = ParseLineWebhook(kLineSecret, hook.body, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kPermissionDenied);
  EXPECT_EQ(r.error().message, "X-Line-Signature: missing");

  std::string altered = hook.body;
  altered.replace(altered.find(kUser), 33, "U00000000000000000000000000000000");
  r = ParseLineWebhook(kLineSecret, altered, hook.signature);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kPermissionDenied);
  EXPECT_EQ(r.error().field, "X-Line-Signature");
  EXPECT_EQ(r.error().message, "X-Line-Signature: does not match HMAC-SHA256 of the " +
                                   std::to_string(altered.size()) +
                                   "-byte body under the channel secret");

  std::string no_user =
      R"({"events":[{"type":"unfollow","timestamp":1,"source":{"type":"group"}}]})";
  r = ParseLineWebhook(kLineSecret, no_user, SodiumHmacSha256Base64(kLineSecret, no_user));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message, "events[0].source.userId: required for a unfollow event");

  std::string not_json = "events";
  r = ParseLineWebhook(kLineSecret, not_json, SodiumHmacSha256Base64(kLineSecret, not_json));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "body: not a JSON object");
}

}  // namespace
}  // namespace regulars::messaging
