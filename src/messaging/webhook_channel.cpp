#include "messaging/webhook_channel.h"

#include <sodium.h>

#include <charconv>
#include <vector>

#include "base/crypto.h"
#include "messaging/http_client.h"
#include "messaging/provider_settings.h"

namespace regulars::messaging {
namespace {

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  if (sodium_init() < 0) return {};
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string(hex);
}

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(std::string url, std::string secret, Micros timeout, const Clock* clock)
      : url_(std::move(url)), secret_(std::move(secret)), timeout_(timeout), clock_(clock) {}
  ChannelKind kind() const override { return ChannelKind::kWebhook; }

  SendOutcome Send(const Envelope& e) override {
    return GuardSend("webhook", [&] { return SendOnce(e); });
  }

 private:
  SendOutcome SendOnce(const Envelope& e) {
    nlohmann::json message = {{"message_id", std::to_string(e.message_id)},
                              {"dedup_key", DeliveryIdentity(e.dedup_key)},
                              {"to", e.to},
                              {"subject", e.subject},
                              {"text", e.text},
                              {"html", e.html}};
    // Invalid UTF-8 in a rendered message is replaced rather than failing the whole send.
    std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    Micros now = clock_->Now();
    HttpRequest req;
    req.method = "POST";
    req.url = url_;
    req.headers = {{"Content-Type", "application/json"},
                   {"Idempotency-Key", DeliveryIdentity(e.dedup_key)},
                   {"X-Regulars-Signature", SignWebhook(secret_, now / kMicrosPerSecond, body)}};
    req.body = std::move(body);
    req.timeout = timeout_;
    auto answer = http_.Perform(req);
    SendOutcome out = ClassifyHttpAnswer("webhook", answer, {}, now);
    if (out.kind == SendOutcome::Kind::kSent) out.provider_id = answer->Header("x-request-id");
    return out;
  }

  std::string url_;
  std::string secret_;
  Micros timeout_;
  const Clock* clock_;
  HttpClient http_;
};

Status Denied(std::string why) {
  return Fail(Code::kPermissionDenied, "X-Regulars-Signature: " + why, "X-Regulars-Signature");
}

}  // namespace

std::string SignWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string t = std::to_string(unix_seconds);
  std::string payload = t + "." + std::string(body);
  return "t=" + t + ",v1=" + HmacSha256Hex(secret, payload);
}

Status VerifyWebhookSignature(std::string_view secret, std::string_view header,
                              std::string_view body, Micros now, Micros tolerance) {
  if (header.empty()) return Denied("missing");
  std::optional<int64_t> t;
  std::vector<std::string_view> v1;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view part =
        header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return Denied("\"" + std::string(part) + "\" is not key=value");
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "t") {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || p != value.data() + value.size())
        return Denied("t=\"" + std::string(value) + "\" is not a Unix time in seconds");
      t = v;
    } else if (key == "v1") {
      v1.push_back(value);
    }  // other schemes are ignored, so a receiver survives a future v2 being added
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (!t) return Denied("no t= timestamp");
  if (v1.empty()) return Denied("no v1= signature");
  int64_t skew = now / kMicrosPerSecond - *t;
  if (skew < 0) skew = -skew;
  if (skew * kMicrosPerSecond > tolerance)
    return Denied("timestamp is " + std::to_string(skew) + " s away from now (tolerance " +
                  std::to_string(tolerance / kMicrosPerSecond) + " s)");
  std::string expected = HmacSha256Hex(secret, std::to_string(*t) + "." + std::string(body));
  for (std::string_view candidate : v1)
    if (ConstantTimeEquals(candidate, expected)) return {};
  return Denied("no v1 signature matches HMAC-SHA256 of \"t.body\" under the signing secret");
}

Result<std::unique_ptr<Channel>> MakeWebhookChannel(const ChannelConfig& c, const Clock* clock) {
  using namespace provider;
  RG_TRY(RejectUnknown(c.settings, "settings", {"url", "timeout_ms"}));
  RG_TRY(RejectUnknown(c.secrets, "secrets", {"signing_secret"}));
  RG_ASSIGN_OR_RETURN(auto url, UrlSetting(c.settings, "url", "", false));
  RG_ASSIGN_OR_RETURN(auto timeout, Timeout(c.settings));
  RG_ASSIGN_OR_RETURN(auto secret, RequiredString(c.secrets, "secrets", "signing_secret"));
  if (secret.size() < 16)
    return InvalidField("secrets.signing_secret", "must be at least 16 characters");
  return std::unique_ptr<Channel>(
      new WebhookChannel(std::move(url), std::move(secret), timeout, clock));
}

}  // namespace regulars::messaging
