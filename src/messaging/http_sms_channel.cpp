#include "messaging/http_sms_channel.h"

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <cctype>
#include <regex>

#include "messaging/http_client.h"
#include "messaging/provider_settings.h"

namespace regulars::messaging {
namespace {

namespace mustache = kainjow::mustache;

enum class Escape { kJson, kForm, kUrl, kNone };

// The regex rules look at most this much of an answer (std::regex recurses per character).
constexpr size_t kRegexWindow = 64 * 1024;

std::string EscapeValue(Escape how, const std::string& s) {
  switch (how) {
    case Escape::kJson: {
      std::string quoted =
          nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return quoted.substr(1, quoted.size() - 2);
    }
    case Escape::kForm: {
      std::string f = FormEncode({{s, ""}});  // "value=" -> "value"
      f.pop_back();
      return f;
    }
    case Escape::kUrl:
      return UrlEncode(s);
    case Escape::kNone:
      return s;
  }
  return s;
}

// The variable names a template uses ({{x}}, {{{x}}}, {{&x}}, and section names), so a typo is
// an error at set-up instead of an empty value at send time.
Status CheckVariables(const std::string& tmpl, const std::string& field,
                      const nlohmann::json& secrets) {
  size_t pos = 0;
  while ((pos = tmpl.find("{{", pos)) != std::string::npos) {
    size_t start = pos + 2;
    if (start < tmpl.size() && tmpl[start] == '{') ++start;
    size_t end = tmpl.find("}}", start);
    if (end == std::string::npos) break;  // the parser reports it
    std::string tag = tmpl.substr(start, end - start);
    pos = end + 2;
    if (tag.empty() || tag[0] == '!' || tag[0] == '>' || tag[0] == '=') continue;
    if (tag[0] == '#' || tag[0] == '^' || tag[0] == '/' || tag[0] == '&') tag.erase(0, 1);
    tag.erase(0, tag.find_first_not_of(' '));
    tag.erase(tag.find_last_not_of(' ') + 1);
    if (tag == "to" || tag == "text" || tag == "dedup_key" || tag == "message_id") continue;
    if (tag.starts_with("secrets.")) {
      std::string name = tag.substr(8);
      if (secrets.contains(name) && secrets[name].is_string()) continue;
      return InvalidField(field, "{{" + tag + "}} names no string in the channel's secrets");
    }
    return InvalidField(field, "unknown variable {{" + tag +
                                   "}} (known: to, text, dedup_key, message_id, secrets.<name>)");
  }
  return {};
}

Status CheckTemplate(const std::string& tmpl, const std::string& field,
                     const nlohmann::json& secrets) {
  mustache::mustache m{tmpl};
  if (!m.is_valid()) return InvalidField(field, m.error_message());
  return CheckVariables(tmpl, field, secrets);
}

Result<std::optional<std::regex>> RegexSetting(const nlohmann::json& obj,
                                               const std::string& field) {
  if (!obj.contains("regex")) return std::optional<std::regex>();
  if (!obj["regex"].is_string()) return InvalidField(field, "must be a string");
  try {
    return std::optional<std::regex>(std::regex(obj["regex"].get<std::string>()));
  } catch (const std::regex_error& e) {
    return InvalidField(field, std::string("not a valid regular expression: ") + e.what());
  }
}

Result<std::optional<nlohmann::json::json_pointer>> PointerSetting(const nlohmann::json& obj,
                                                                   const std::string& field) {
  if (!obj.contains("json_pointer")) return std::optional<nlohmann::json::json_pointer>();
  if (!obj["json_pointer"].is_string()) return InvalidField(field, "must be a string");
  try {
    return std::optional(nlohmann::json::json_pointer(obj["json_pointer"].get<std::string>()));
  } catch (const nlohmann::json::exception& e) {
    return InvalidField(field, "not a JSON pointer (RFC 6901), e.g. \"/data/id\"");
  }
}

// A JSON value as text: strings as they are, other scalars as JSON ("true", "42").
std::optional<std::string> PointerText(const std::string& body,
                                       const nlohmann::json::json_pointer& p) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  const nlohmann::json* found = nullptr;
  try {
    found = &j.at(p);
  } catch (const nlohmann::json::exception&) {  // absent, or an array index that is not one
    return std::nullopt;
  }
  const auto& v = *found;
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

struct Extract {  // where a value is in the answer
  std::optional<nlohmann::json::json_pointer> pointer;
  std::optional<std::regex> regex;
  std::string header;

  std::string From(const HttpResponse& r) const {
    if (pointer) return PointerText(r.body, *pointer).value_or("");
    if (regex) {
      std::smatch m;
      std::string window = r.body.substr(0, kRegexWindow);
      if (!std::regex_search(window, m, *regex)) return {};
      return m.size() > 1 ? m[1].str() : m[0].str();
    }
    if (!header.empty()) return r.Header(header);
    return {};
  }
};

struct HttpSmsSettings {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Escape body_escape = Escape::kNone;
  int status_min = 200, status_max = 299;
  std::optional<nlohmann::json::json_pointer> success_pointer;
  std::string success_equals;
  std::optional<std::regex> success_regex;
  Extract provider_id;
  Extract error;
  std::string idempotency_header = "Idempotency-Key";
  Micros timeout = 0;
  nlohmann::json secrets;
};

std::string Render(const std::string& tmpl, const mustache::data& d, Escape how) {
  mustache::mustache m{tmpl};
  m.set_custom_escape([how](const std::string& s) { return EscapeValue(how, s); });
  return m.render(d);
}

class HttpSmsChannel final : public Channel {
 public:
  HttpSmsChannel(HttpSmsSettings s, const Clock* clock) : s_(std::move(s)), clock_(clock) {}
  ChannelKind kind() const override { return ChannelKind::kHttpSms; }

  SendOutcome Send(const Envelope& e) override {
    return GuardSend("http_sms", [&] { return SendOnce(e); });
  }

 private:
  SendOutcome SendOnce(const Envelope& e) {
    SendOutcome out;
    std::string identity = DeliveryIdentity(e.dedup_key);
    mustache::data d;
    d.set("to", e.to);
    d.set("text", e.text);
    d.set("dedup_key", identity);
    d.set("message_id", std::to_string(e.message_id));
    mustache::data secrets;
    for (const auto& [k, v] : s_.secrets.items())
      if (v.is_string()) secrets.set(k, v.get<std::string>());
    d.set("secrets", secrets);

    HttpRequest req;
    req.method = s_.method;
    req.url = Render(s_.url, d, Escape::kUrl);
    for (const auto& [name, value] : s_.headers) {
      std::string v = Render(value, d, Escape::kNone);
      if (v.find_first_of("\r\n") != std::string::npos) {
        out.kind = SendOutcome::Kind::kPermanent;
        out.error = "http_sms: header " + name + " would contain a line break";
        return out;
      }
      req.headers.emplace_back(name, std::move(v));
    }
    if (!s_.idempotency_header.empty()) req.headers.emplace_back(s_.idempotency_header, identity);
    if (s_.method != "GET") req.body = Render(s_.body, d, s_.body_escape);
    req.timeout = s_.timeout;

    auto answer = http_.Perform(req);
    Micros now = clock_->Now();
    if (!answer) return ClassifyHttpAnswer("http_sms", answer, {}, now);
    const HttpResponse& r = *answer;
    std::string provider_error = s_.error.From(r);
    if (r.status < s_.status_min || r.status > s_.status_max) {
      out = ClassifyHttpAnswer("http_sms", answer, provider_error, now);
      if (out.kind == SendOutcome::Kind::kSent) {  // a 2xx outside a narrowed success range
        out.kind = SendOutcome::Kind::kPermanent;
        out.error = "http_sms: HTTP " + std::to_string(r.status) +
                    " is outside the success range " + std::to_string(s_.status_min) + ".." +
                    std::to_string(s_.status_max);
      }
      return out;
    }
    if (std::string why = BodyRuleFailure(r); !why.empty()) {
      out.kind = SendOutcome::Kind::kPermanent;
      out.error = "http_sms: success rule: " + why;
      if (!provider_error.empty()) out.error += ": " + provider_error;
      return out;
    }
    out.provider_id = s_.provider_id.From(r);
    return out;
  }

  // Empty when the body satisfies the success rule, else why not.
  std::string BodyRuleFailure(const HttpResponse& r) const {
    if (s_.success_pointer) {
      auto v = PointerText(r.body, *s_.success_pointer);
      std::string where = s_.success_pointer->to_string();
      if (!v) return where + " is absent (or the body is not JSON)";
      if (*v != s_.success_equals)
        return where + " is \"" + *v + "\", expected \"" + s_.success_equals + "\"";
    }
    if (s_.success_regex) {
      std::string window = r.body.substr(0, kRegexWindow);
      if (!std::regex_search(window, *s_.success_regex))
        return "the body does not match the success regex";
    }
    return {};
  }

  HttpSmsSettings s_;
  const Clock* clock_;
  HttpClient http_;
};

Result<Extract> ExtractSetting(const nlohmann::json& settings, const std::string& key) {
  Extract x;
  auto it = settings.find(key);
  if (it == settings.end() || it->is_null()) return x;
  std::string field = "settings." + key;
  if (!it->is_object()) return InvalidField(field, "must be an object");
  RG_TRY(provider::RejectUnknown(*it, field, {"json_pointer", "regex", "header"}));
  if (it->size() != 1)
    return InvalidField(field, "give exactly one of json_pointer, regex, header");
  RG_ASSIGN_OR_RETURN(x.pointer, PointerSetting(*it, field + ".json_pointer"));
  RG_ASSIGN_OR_RETURN(x.regex, RegexSetting(*it, field + ".regex"));
  if (it->contains("header")) {
    if (!(*it)["header"].is_string() || (*it)["header"].get<std::string>().empty())
      return InvalidField(field + ".header", "must be a header name");
    x.header = (*it)["header"].get<std::string>();
  }
  return x;
}

}  // namespace

Result<std::unique_ptr<Channel>> MakeHttpSmsChannel(const ChannelConfig& c, const Clock* clock) {
  using namespace provider;
  const nlohmann::json& st = c.settings;
  RG_TRY(RejectUnknown(st, "settings",
                       {"url", "method", "headers", "body", "body_escape", "success", "provider_id",
                        "error", "idempotency_header", "timeout_ms"}));
  for (const auto& [k, v] : c.secrets.items())
    if (!v.is_string()) return InvalidField("secrets." + k, "must be a string");
  HttpSmsSettings s;
  s.secrets = c.secrets;
  RG_ASSIGN_OR_RETURN(s.url, RequiredString(st, "settings", "url"));
  if (!s.url.starts_with("http://") && !s.url.starts_with("https://"))
    return InvalidField("settings.url", "must start with http:// or https://");
  RG_TRY(CheckTemplate(s.url, "settings.url", c.secrets));

  RG_ASSIGN_OR_RETURN(auto method, OptionalString(st, "settings", "method"));
  if (method) {
    s.method = *method;
    std::transform(s.method.begin(), s.method.end(), s.method.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    if (s.method != "GET" && s.method != "POST" && s.method != "PUT")
      return InvalidField("settings.method", "must be GET, POST or PUT");
  }

  std::string content_type;
  if (auto h = st.find("headers"); h != st.end() && !h->is_null()) {
    if (!h->is_object()) return InvalidField("settings.headers", "must be an object of strings");
    for (const auto& [name, value] : h->items()) {
      std::string field = "settings.headers." + name;
      if (!value.is_string()) return InvalidField(field, "must be a string");
      if (name.empty() || name.find_first_of(": \r\n") != std::string::npos)
        return InvalidField(field, "not a valid header name");
      std::string v = value.get<std::string>();
      if (v.find_first_of("\r\n") != std::string::npos)
        return InvalidField(field, "must not contain line breaks");
      RG_TRY(CheckTemplate(v, field, c.secrets));
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (lower == "content-type") content_type = v;
      s.headers.emplace_back(name, std::move(v));
    }
  }

  RG_ASSIGN_OR_RETURN(auto body, OptionalString(st, "settings", "body"));
  if (body) {
    if (s.method == "GET" && !body->empty())
      return InvalidField("settings.body", "a GET request has no body; put the values in the url");
    s.body = *body;
    RG_TRY(CheckTemplate(s.body, "settings.body", c.secrets));
  }
  RG_ASSIGN_OR_RETURN(auto escape, OptionalString(st, "settings", "body_escape"));
  if (escape) {
    if (*escape == "json")
      s.body_escape = Escape::kJson;
    else if (*escape == "form")
      s.body_escape = Escape::kForm;
    else if (*escape == "none")
      s.body_escape = Escape::kNone;
    else
      return InvalidField("settings.body_escape", "must be json, form or none");
  } else if (content_type.find("json") != std::string::npos) {
    s.body_escape = Escape::kJson;
  } else if (content_type.find("x-www-form-urlencoded") != std::string::npos) {
    s.body_escape = Escape::kForm;
  }

  if (auto sr = st.find("success"); sr != st.end() && !sr->is_null()) {
    if (!sr->is_object()) return InvalidField("settings.success", "must be an object");
    RG_TRY(RejectUnknown(*sr, "settings.success", {"status", "json_pointer", "equals", "regex"}));
    if (auto range = sr->find("status"); range != sr->end()) {
      if (!range->is_array() || range->size() != 2 || !(*range)[0].is_number_integer() ||
          !(*range)[1].is_number_integer())
        return InvalidField("settings.success.status",
                            "must be [lowest, highest], e.g. [200, 299]");
      s.status_min = (*range)[0].get<int>();
      s.status_max = (*range)[1].get<int>();
      if (s.status_min < 100 || s.status_max > 599 || s.status_min > s.status_max)
        return InvalidField("settings.success.status", "must be a range within 100..599");
    }
    RG_ASSIGN_OR_RETURN(s.success_pointer, PointerSetting(*sr, "settings.success.json_pointer"));
    if (s.success_pointer) {
      RG_ASSIGN_OR_RETURN(auto eq, RequiredString(*sr, "settings.success", "equals"));
      s.success_equals = eq;
    } else if (sr->contains("equals")) {
      return InvalidField("settings.success.equals", "needs settings.success.json_pointer");
    }
    RG_ASSIGN_OR_RETURN(s.success_regex, RegexSetting(*sr, "settings.success.regex"));
  }
  RG_ASSIGN_OR_RETURN(s.provider_id, ExtractSetting(st, "provider_id"));
  RG_ASSIGN_OR_RETURN(s.error, ExtractSetting(st, "error"));
  RG_ASSIGN_OR_RETURN(auto idem, OptionalString(st, "settings", "idempotency_header"));
  if (idem) {
    if (idem->find_first_of(": \r\n") != std::string::npos)
      return InvalidField("settings.idempotency_header", "not a valid header name");
    s.idempotency_header = *idem;
  }
  RG_ASSIGN_OR_RETURN(s.timeout, Timeout(st));
  return std::unique_ptr<Channel>(new HttpSmsChannel(std::move(s), clock));
}

}  // namespace regulars::messaging
