#include "messaging/receipts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

#include "base/crypto.h"
#include "base/text.h"

namespace regulars::messaging {
namespace {

std::string Base64(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string HmacBase64(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return Base64(mac, len);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> FormDecode(std::string_view s, size_t offset) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return Fail(Code::kInvalidArgument,
                    "body: bad %-escape at byte " + std::to_string(offset + i), "body");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const std::string* Find(const FormFields& f, std::string_view name) {
  for (const auto& [k, v] : f)
    if (k == name) return &v;
  return nullptr;
}

Result<std::string> Required(const FormFields& f, std::string_view name) {
  const std::string* v = Find(f, name);
  if (v == nullptr || v->empty())
    return InvalidField(std::string(name), "required in the callback");
  return *v;
}

Status Denied(std::string_view header, std::string why) {
  return Fail(Code::kPermissionDenied, std::string(header) + ": " + why, std::string(header));
}

// Twilio's delivery error codes that mean the number can never receive.
bool IsHardBounce(std::string_view code) {
  return code == "30005" || code == "30006" || code == "21610" || code == "21614";
}

std::string_view TwilioErrorText(std::string_view code) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kTexts = {{
      {"30001", "Queue overflow"},
      {"30002", "Account suspended"},
      {"30003", "Unreachable destination handset"},
      {"30004", "Message blocked"},
      {"30005", "Unknown destination handset"},
      {"30006", "Landline or unreachable carrier"},
      {"30007", "Message filtered by the carrier"},
      {"30008", "Unknown error"},
      {"21610", "Recipient has opted out (replied STOP)"},
      {"21614", "Not a mobile number"},
  }};
  for (const auto& [c, text] : kTexts)
    if (c == code) return text;
  return "see https://www.twilio.com/docs/api/errors";
}

}  // namespace

Result<FormFields> ParseForm(std::string_view body) {
  FormFields out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      RG_ASSIGN_OR_RETURN(auto k, FormDecode(name, pos));
      RG_ASSIGN_OR_RETURN(auto v,
                          FormDecode(value, pos + (eq == std::string_view::npos ? 0 : eq + 1)));
      out.emplace_back(std::move(k), std::move(v));
    }
    pos = amp + 1;
  }
  return out;
}

InboundKeyword ClassifyInboundKeyword(std::string_view text) {
  std::string t(text);
  auto strip_suffix = [&t](std::string_view s) {
    if (t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0) {
      t.resize(t.size() - s.size());
      return true;
    }
    return false;
  };
  bool changed = true;
  while (changed) {
    changed = false;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' ||
                          t.back() == '\t' || t.back() == '.' || t.back() == '!')) {
      t.pop_back();
      changed = true;
    }
    changed = strip_suffix("\u3002") || strip_suffix("\uFF01") || strip_suffix("\u3000") || changed;
  }
  std::string key = FoldForSearch(t);
  key.erase(0, key.find_first_not_of(' '));
  static constexpr std::array<std::string_view, 7> kOptOut = {
      "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订"};
  static constexpr std::array<std::string_view, 3> kOptIn = {"start", "yes", "unstop"};
  static constexpr std::array<std::string_view, 2> kHelp = {"help", "info"};
  auto in = [&key](const auto& list) {
    return std::find(list.begin(), list.end(), key) != list.end();
  };
  if (in(kOptOut)) return InboundKeyword::kOptOut;
  if (in(kOptIn)) return InboundKeyword::kOptIn;
  if (in(kHelp)) return InboundKeyword::kHelp;
  return InboundKeyword::kNone;
}

std::string TwilioSignature(std::string_view auth_token, std::string_view url,
                            const FormFields& params) {
  FormFields sorted = params;
  std::sort(sorted.begin(), sorted.end());
  std::string data(url);
  for (const auto& [k, v] : sorted) {
    data += k;
    data += v;
  }
  return HmacBase64(EVP_sha1(), auth_token, data);
}

Status VerifyTwilioSignature(std::string_view auth_token, std::string_view url,
                             const FormFields& params, std::string_view signature_header) {
  constexpr std::string_view kHeader = "X-Twilio-Signature";
  if (signature_header.empty()) return Denied(kHeader, "missing");
  if (auth_token.empty()) return Denied(kHeader, "the channel has no auth_token to check it with");
  if (!ConstantTimeEquals(signature_header, TwilioSignature(auth_token, url, params)))
    return Denied(kHeader, "does not match HMAC-SHA1 of " + std::string(url) + " and the " +
                               std::to_string(params.size()) +
                               " parameters under the channel's auth token");
  return {};
}

Result<DeliveryReceipt> ParseTwilioStatusCallback(std::string_view auth_token, std::string_view url,
                                                  std::string_view body,
                                                  std::string_view signature_header) {
  RG_ASSIGN_OR_RETURN(auto form, ParseForm(body));
  RG_TRY(VerifyTwilioSignature(auth_token, url, form, signature_header));
  DeliveryReceipt r;
  RG_ASSIGN_OR_RETURN(r.provider_id, Required(form, "MessageSid"));
  RG_ASSIGN_OR_RETURN(r.provider_status, Required(form, "MessageStatus"));
  if (const std::string* to = Find(form, "To")) r.to = *to;
  if (const std::string* code = Find(form, "ErrorCode"); code && !code->empty() && *code != "0")
    r.error_code = *code;
  const std::string& s = r.provider_status;
  if (s == "delivered" || s == "read") {
    r.kind = DeliveryReceipt::Kind::kDelivered;
  } else if (s == "undelivered" || s == "failed" || s == "canceled") {
    r.kind = DeliveryReceipt::Kind::kFailed;
    r.error = r.error_code.empty()
                  ? "Twilio reports " + s
                  : r.error_code + ": " + std::string(TwilioErrorText(r.error_code));
    r.hard_bounce = IsHardBounce(r.error_code);
  } else if (s == "queued" || s == "accepted" || s == "sending" || s == "sent" ||
             s == "scheduled" || s == "partially_delivered") {
    r.kind = DeliveryReceipt::Kind::kProgress;
  } else {
    return InvalidField("MessageStatus", "unknown status \"" + s + "\"");
  }
  return r;
}

Result<InboundSms> ParseTwilioInbound(std::string_view auth_token, std::string_view url,
                                      std::string_view body, std::string_view signature_header) {
  RG_ASSIGN_OR_RETURN(auto form, ParseForm(body));
  RG_TRY(VerifyTwilioSignature(auth_token, url, form, signature_header));
  InboundSms in;
  RG_ASSIGN_OR_RETURN(in.provider_id, Required(form, "MessageSid"));
  RG_ASSIGN_OR_RETURN(in.from, Required(form, "From"));
  if (const std::string* to = Find(form, "To")) in.to = *to;
  if (const std::string* text = Find(form, "Body")) in.body = *text;
  in.keyword = ClassifyInboundKeyword(in.body);
  // With Advanced Opt-Out, Twilio matches the merchant's own keyword lists and says the verdict.
  if (const std::string* type = Find(form, "OptOutType")) {
    if (*type == "STOP") in.keyword = InboundKeyword::kOptOut;
    if (*type == "START") in.keyword = InboundKeyword::kOptIn;
    if (*type == "HELP") in.keyword = InboundKeyword::kHelp;
  }
  return in;
}

std::string LineSignature(std::string_view channel_secret, std::string_view body) {
  return HmacBase64(EVP_sha256(), channel_secret, body);
}

Status VerifyLineSignature(std::string_view channel_secret, std::string_view body,
                           std::string_view signature_header) {
  constexpr std::string_view kHeader = "X-Line-Signature";
  if (signature_header.empty()) return Denied(kHeader, "missing");
  if (channel_secret.empty())
    return Denied(kHeader, "the channel has no channel_secret to check it with");
  if (!ConstantTimeEquals(signature_header, LineSignature(channel_secret, body)))
    return Denied(kHeader, "does not match HMAC-SHA256 of the " + std::to_string(body.size()) +
                               "-byte body under the channel secret");
  return {};
}

Result<LineWebhook> ParseLineWebhook(std::string_view channel_secret, std::string_view body,
                                     std::string_view signature_header) {
  RG_TRY(VerifyLineSignature(channel_secret, body, signature_header));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return InvalidField("body", "not a JSON object");
  LineWebhook w;
  if (auto d = j.find("destination"); d != j.end() && d->is_string()) w.destination = *d;
  auto events = j.find("events");
  if (events == j.end() || !events->is_array()) return InvalidField("events", "must be an array");
  for (size_t i = 0; i < events->size(); ++i) {
    const auto& e = (*events)[i];
    std::string at = "events[" + std::to_string(i) + "]";
    if (!e.is_object()) return InvalidField(at, "must be an object");
    LineEvent ev;
    auto type = e.find("type");
    if (type == e.end() || !type->is_string()) return InvalidField(at + ".type", "required");
    ev.type = *type;
    if (ev.type == "follow")
      ev.kind = LineEvent::Kind::kFollow;
    else if (ev.type == "unfollow")
      ev.kind = LineEvent::Kind::kUnfollow;
    else if (ev.type == "message")
      ev.kind = LineEvent::Kind::kMessage;
    if (auto ts = e.find("timestamp"); ts != e.end()) {
      if (!ts->is_number_integer()) return InvalidField(at + ".timestamp", "must be an integer");
      ev.timestamp = ts->get<int64_t>() * 1000;  // LINE sends milliseconds
    }
    if (auto id = e.find("webhookEventId"); id != e.end() && id->is_string())
      ev.webhook_event_id = *id;
    if (auto dc = e.find("deliveryContext"); dc != e.end() && dc->is_object())
      ev.redelivery = dc->value("isRedelivery", false);
    if (auto src = e.find("source"); src != e.end() && src->is_object()) {
      if (auto uid = src->find("userId"); uid != src->end() && uid->is_string()) ev.user_id = *uid;
    }
    if ((ev.kind == LineEvent::Kind::kFollow || ev.kind == LineEvent::Kind::kUnfollow) &&
        ev.user_id.empty())
      return InvalidField(at + ".source.userId", "required for a " + ev.type + " event");
    if (ev.kind == LineEvent::Kind::kMessage) {
      if (auto m = e.find("message");
          m != e.end() && m->is_object() && m->value("type", "") == "text") {
        ev.text = m->value("text", "");
        ev.keyword = ClassifyInboundKeyword(ev.text);
      }
    }
    w.events.push_back(std::move(ev));
  }
  return w;
}

}  // namespace regulars::messaging
