#include "messaging/line_channel.h"

#include "messaging/http_client.h"
#include "messaging/provider_settings.h"

namespace regulars::messaging {
namespace {

// "The request body has 1 error(s) (messages[0].text: May not be empty)".
std::string LineError(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string()) return {};
  std::string out = j["message"].get<std::string>();
  if (auto d = j.find("details"); d != j.end() && d->is_array() && !d->empty()) {
    out += " (";
    bool first = true;
    for (const auto& detail : *d) {
      if (!detail.is_object()) continue;
      if (!first) out += "; ";
      first = false;
      if (detail.contains("property") && detail["property"].is_string())
        out += detail["property"].get<std::string>() + ": ";
      if (detail.contains("message") && detail["message"].is_string())
        out += detail["message"].get<std::string>();
    }
    out += ")";
  }
  return out;
}

std::string FirstSentMessageId(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  auto s = j.find("sentMessages");
  if (s == j.end() || !s->is_array() || s->empty() || !(*s)[0].is_object()) return {};
  const auto& first = (*s)[0];
  if (first.contains("id") && first["id"].is_string()) return first["id"].get<std::string>();
  return {};
}

class LineChannel final : public Channel {
 public:
  LineChannel(std::string base_url, std::string token, Micros timeout, const Clock* clock)
      : base_url_(std::move(base_url)),
        token_(std::move(token)),
        timeout_(timeout),
        clock_(clock) {}
  ChannelKind kind() const override { return ChannelKind::kLine; }

  SendOutcome Send(const Envelope& e) override {
    return GuardSend("line", [&] { return SendOnce(e); });
  }

 private:
  SendOutcome SendOnce(const Envelope& e) {
    SendOutcome out;
    if (e.to.empty() || e.text.empty()) {
      out.kind = SendOutcome::Kind::kPermanent;
      out.error =
          e.to.empty() ? "line: the message has no LINE user id" : "line: the message has no text";
      return out;
    }
    nlohmann::json body = {
        {"to", e.to}, {"messages", nlohmann::json::array({{{"type", "text"}, {"text", e.text}}})}};
    HttpRequest req;
    req.method = "POST";
    req.url = base_url_ + "/v2/bot/message/push";
    req.headers = {{"Content-Type", "application/json"},
                   {"Authorization", "Bearer " + token_},
                   {"X-Line-Retry-Key", LineRetryKey(e.dedup_key)}};
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeout = timeout_;
    auto answer = http_.Perform(req);
    if (answer && answer->status == 409) {
      // Accepted earlier under this retry key: sent. LINE names the accepted request.
      out.provider_id = FirstSentMessageId(answer->body);
      if (out.provider_id.empty()) out.provider_id = answer->Header("x-line-accepted-request-id");
      return out;
    }
    out = ClassifyHttpAnswer("line", answer, answer ? LineError(*answer) : std::string(),
                             clock_->Now());
    if (out.kind == SendOutcome::Kind::kSent) {
      out.provider_id = FirstSentMessageId(answer->body);
      if (out.provider_id.empty()) out.provider_id = answer->Header("x-line-request-id");
    }
    return out;
  }

  std::string base_url_;
  std::string token_;
  Micros timeout_;
  const Clock* clock_;
  HttpClient http_;
};

}  // namespace

std::string LineRetryKey(std::string_view dedup_key) {
  std::string hex = DeliveryIdentity(dedup_key);  // 32 lower-case hex digits
  static constexpr char kHex[] = "0123456789abcdef";
  auto nibble = [&](size_t i) { return hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10; };
  hex[12] = '8';                             // version 8
  hex[16] = kHex[(nibble(16) & 0x3) | 0x8];  // variant 10xx
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

Result<std::unique_ptr<Channel>> MakeLineChannel(const ChannelConfig& c, const Clock* clock) {
  using namespace provider;
  RG_TRY(RejectUnknown(c.settings, "settings", {"base_url", "timeout_ms"}));
  RG_TRY(RejectUnknown(c.secrets, "secrets", {"channel_access_token", "channel_secret"}));
  RG_ASSIGN_OR_RETURN(auto base_url, UrlSetting(c.settings, "base_url", "https://api.line.me"));
  RG_ASSIGN_OR_RETURN(auto timeout, Timeout(c.settings));
  RG_ASSIGN_OR_RETURN(auto token, RequiredString(c.secrets, "secrets", "channel_access_token"));
  if (token.find_first_of("\r\n") != std::string::npos)
    return InvalidField("secrets.channel_access_token", "must not contain line breaks");
  RG_TRY(OptionalString(c.secrets, "secrets", "channel_secret"));
  return std::unique_ptr<Channel>(
      new LineChannel(std::move(base_url), std::move(token), timeout, clock));
}

}  // namespace regulars::messaging
