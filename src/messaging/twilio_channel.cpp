#include "messaging/twilio_channel.h"

#include <cctype>

#include "messaging/http_client.h"
#include "messaging/provider_settings.h"

namespace regulars::messaging {
namespace {

// Twilio resource ids: a two-letter prefix and 32 hex digits ("AC…", "MG…", "SK…").
bool IsSid(std::string_view s, std::string_view prefix) {
  if (s.size() != 34 || !s.starts_with(prefix)) return false;
  for (char c : s.substr(2))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

struct TwilioSettings {
  std::string account_sid;
  std::string from;
  std::string messaging_service_sid;
  std::string status_callback;
  std::string base_url;
  Micros timeout = 0;
  std::string user;  // Basic credentials
  std::string password;
};

// "21211: The 'To' number 5551234 is not a valid phone number. (https://www.twilio.com/docs/
// errors/21211)" from Twilio's error body; empty if the body is not Twilio's JSON.
std::string TwilioError(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return {};
  std::string out;
  if (auto c = j.find("code"); c != j.end() && c->is_number_integer())
    out = std::to_string(c->get<int64_t>()) + ": ";
  if (auto m = j.find("message"); m != j.end() && m->is_string()) out += m->get<std::string>();
  if (auto i = j.find("more_info"); i != j.end() && i->is_string())
    out += " (" + i->get<std::string>() + ")";
  return out;
}

class TwilioChannel final : public Channel {
 public:
  TwilioChannel(TwilioSettings s, const Clock* clock) : s_(std::move(s)), clock_(clock) {}
  ChannelKind kind() const override { return ChannelKind::kTwilio; }

  SendOutcome Send(const Envelope& e) override {
    return GuardSend("twilio", [&] { return SendOnce(e); });
  }

 private:
  SendOutcome SendOnce(const Envelope& e) {
    if (e.to.empty()) return Permanent("twilio: the message has no recipient phone number");
    if (e.text.empty()) return Permanent("twilio: the message has no text");
    std::vector<std::pair<std::string, std::string>> form = {{"To", e.to}};
    if (!s_.messaging_service_sid.empty())
      form.emplace_back("MessagingServiceSid", s_.messaging_service_sid);
    else
      form.emplace_back("From", s_.from);
    form.emplace_back("Body", e.text);
    if (!s_.status_callback.empty()) form.emplace_back("StatusCallback", s_.status_callback);

    HttpRequest req;
    req.method = "POST";
    req.url = s_.base_url + "/2010-04-01/Accounts/" + s_.account_sid + "/Messages.json";
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Accept", "application/json"}};
    req.body = FormEncode(form);
    req.basic_user = s_.user;
    req.basic_password = s_.password;
    req.timeout = s_.timeout;
    auto answer = http_.Perform(req);
    std::string provider_error = answer ? TwilioError(*answer) : std::string();
    SendOutcome out = ClassifyHttpAnswer("twilio", answer, provider_error, clock_->Now());
    if (out.kind == SendOutcome::Kind::kSent) {
      auto j = nlohmann::json::parse(answer->body, nullptr, false);
      if (j.is_object() && j.contains("sid") && j["sid"].is_string())
        out.provider_id = j["sid"].get<std::string>();
    }
    return out;
  }

  static SendOutcome Permanent(std::string why) {
    SendOutcome out;
    out.kind = SendOutcome::Kind::kPermanent;
    out.error = std::move(why);
    return out;
  }

  TwilioSettings s_;
  const Clock* clock_;
  HttpClient http_;
};

}  // namespace

Result<std::unique_ptr<Channel>> MakeTwilioChannel(const ChannelConfig& c, const Clock* clock) {
  using namespace provider;
  RG_TRY(RejectUnknown(c.settings, "settings",
                       {"account_sid", "from", "messaging_service_sid", "status_callback",
                        "base_url", "timeout_ms"}));
  RG_TRY(RejectUnknown(c.secrets, "secrets", {"auth_token", "api_key_sid", "api_key_secret"}));
  TwilioSettings s;
  RG_ASSIGN_OR_RETURN(s.account_sid, RequiredString(c.settings, "settings", "account_sid"));
  if (!IsSid(s.account_sid, "AC"))
    return InvalidField("settings.account_sid", "must be \"AC\" followed by 32 hex digits");
  RG_ASSIGN_OR_RETURN(auto from, OptionalString(c.settings, "settings", "from"));
  RG_ASSIGN_OR_RETURN(auto service,
                      OptionalString(c.settings, "settings", "messaging_service_sid"));
  if (from && !from->empty() && service && !service->empty())
    return InvalidField("settings.from", "give either from or messaging_service_sid, not both");
  if (service && !service->empty()) {
    if (!IsSid(*service, "MG"))
      return InvalidField("settings.messaging_service_sid",
                          "must be \"MG\" followed by 32 hex digits");
    s.messaging_service_sid = *service;
  } else if (from && !from->empty()) {
    s.from = *from;
  } else {
    return InvalidField("settings.from", "required (or settings.messaging_service_sid)");
  }
  if (c.settings.contains("status_callback")) {
    RG_ASSIGN_OR_RETURN(s.status_callback, UrlSetting(c.settings, "status_callback", "", false));
  }
  RG_ASSIGN_OR_RETURN(s.base_url, UrlSetting(c.settings, "base_url", "https://api.twilio.com"));
  RG_ASSIGN_OR_RETURN(s.timeout, Timeout(c.settings));

  RG_ASSIGN_OR_RETURN(auto key_sid, OptionalString(c.secrets, "secrets", "api_key_sid"));
  if (key_sid && !key_sid->empty()) {
    if (!IsSid(*key_sid, "SK"))
      return InvalidField("secrets.api_key_sid", "must be \"SK\" followed by 32 hex digits");
    s.user = *key_sid;
    RG_ASSIGN_OR_RETURN(s.password, RequiredString(c.secrets, "secrets", "api_key_secret"));
  } else {
    s.user = s.account_sid;
    RG_ASSIGN_OR_RETURN(s.password, RequiredString(c.secrets, "secrets", "auth_token"));
  }
  return std::unique_ptr<Channel>(new TwilioChannel(std::move(s), clock));
}

}  // namespace regulars::messaging
