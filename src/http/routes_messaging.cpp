// Messaging: channels (secrets write-only), templates and their preview, transactional messages
// and the message log, the merchant's sending rules, provider callbacks (delivery receipts and
// inbound replies, signed by the provider, no log-in) and the unsubscribe page /u/{token}.

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "accounts/account_service.h"
#include "events/dispatcher.h"
#include "http/errors.h"
#include "http/router.h"
#include "members/member_service.h"
#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/receipts.h"
#include "messaging/secrets.h"
#include "messaging/transactional.h"

namespace regulars::http {
namespace {

using messaging::ChannelRow;
using messaging::GetSettingsJson;
using messaging::Medium;
using messaging::MessageStatus;
using messaging::PutMessagingSettings;
using messaging::TemplateRow;

// ---------------------------------------------------------------------------------------------
// The unsubscribe page: a small HTML page in the member's language, no log-in, no script.

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct UnsubscribeText {
  const char* title;
  const char* question;  // {medium} {shop}
  const char* button;
  const char* done;  // {medium} {shop}
  const char* already;
  const char* invalid;
};

const UnsubscribeText& UnsubscribeTexts(std::string_view lang) {
  static const UnsubscribeText en{
      "Unsubscribe",
      "You will no longer receive {medium} messages from {shop}.",
      "Unsubscribe",
      "Done. You will no longer receive {medium} messages from {shop}.",
      "You had already unsubscribed from {medium} messages from {shop}.",
      "This unsubscribe link is not valid. It may have been copied incompletely."};
  static const UnsubscribeText tw{"取消訂閱",
                                  "您將不再收到 {shop} 的{medium}行銷訊息。",
                                  "確認取消訂閱",
                                  "已完成。您將不再收到 {shop} 的{medium}行銷訊息。",
                                  "您先前已取消訂閱 {shop} 的{medium}行銷訊息。",
                                  "這個取消訂閱連結無效，可能沒有完整複製。"};
  static const UnsubscribeText cn{"退订",
                                  "您将不再收到 {shop} 的{medium}营销消息。",
                                  "确认退订",
                                  "已完成。您将不再收到 {shop} 的{medium}营销消息。",
                                  "您此前已退订 {shop} 的{medium}营销消息。",
                                  "这个退订链接无效，可能没有完整复制。"};
  if (lang == "zh-TW") return tw;
  if (lang == "zh-CN") return cn;
  return en;
}

std::string_view MediumWord(std::string_view medium, std::string_view lang) {
  bool tw = lang == "zh-TW", cn = lang == "zh-CN";
  if (medium == "sms") return tw ? "簡訊" : cn ? "短信" : "SMS";
  if (medium == "line") return "LINE";
  return tw ? "電子郵件" : cn ? "电子邮件" : "e-mail";
}

std::string Fill(std::string_view pattern, std::string_view medium, std::string_view shop) {
  std::string out(pattern);
  auto put = [&](std::string_view key, std::string_view value) {
    for (size_t i = out.find(key); i != std::string::npos; i = out.find(key, i + value.size()))
      out.replace(i, key.size(), value);
  };
  put("{medium}", Html(medium));
  put("{shop}", "<strong>" + Html(shop) + "</strong>");
  return out;
}

// `body_html` is already escaped.
Reply HtmlPage(int status, std::string_view lang, std::string_view title,
               const std::string& body_html) {
  Reply r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.raw = fmt::format(
      "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"robots\" content=\"noindex\"><title>{}</title><style>"
      "body{{font-family:system-ui,-apple-system,'Noto Sans TC','Noto Sans SC',sans-serif;"
      "background:#f6f7f9;color:#1f2933;margin:0;display:flex;min-height:100vh;"
      "align-items:center;justify-content:center}}"
      "main{{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);"
      "padding:2rem;max-width:28rem;margin:1rem;line-height:1.6}}"
      "h1{{font-size:1.25rem;margin:0 0 1rem}}"
      "button{{font:inherit;background:#0b6e4f;color:#fff;border:0;border-radius:8px;"
      "padding:.7rem 1.4rem;cursor:pointer}}</style></head><body><main>{}</main></body></html>",
      Html(lang), Html(title), body_html);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

std::optional<std::string> TimeOrNull(const std::optional<Micros>& t) {
  return t ? std::optional<std::string>(FormatRfc3339(*t)) : std::nullopt;
}
json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }
json IdOrNull(const std::optional<Id>& v) { return v ? json(IdToString(*v)) : json(nullptr); }

Status RequireManager(const Request& r) {
  if (!r.actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "messaging is set up by an owner or a manager");
  return {};
}

// The server's SecretBox: REGULARS_SECRET_KEY, else <data>/secret.key (messaging/secrets.h).
// Loaded once per folder; the box is immutable and thread-safe.
Result<const messaging::SecretBox*> Box(const AppContext& app) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<messaging::SecretBox>> boxes;
  std::string dir = app.options.data_dir;
  if (dir.empty()) dir = (std::filesystem::temp_directory_path() / "regulars-secrets").string();
  std::lock_guard lock(mu);
  auto it = boxes.find(dir);
  if (it != boxes.end()) return it->second.get();
  RG_ASSIGN_OR_RETURN(auto box, messaging::SecretBox::LoadFromEnvironment(dir));
  auto owned = std::make_unique<messaging::SecretBox>(std::move(box));
  const messaging::SecretBox* out = owned.get();
  boxes.emplace(dir, std::move(owned));
  return out;
}

// The origin links in messages point back to, and providers sign callback URLs with: the
// configured public URL (cli/config.h public_url, REGULARS_PUBLIC_URL) when set, else
// "http://host:port" as the client called us.
std::string BaseUrl(const Request& r, const AppContext& app) {
  if (!app.options.public_url.empty()) return app.options.public_url;
  std::string proto = r.http.get_header_value("X-Forwarded-Proto");
  std::string host = r.http.get_header_value("X-Forwarded-Host");
  if (host.empty()) host = r.http.get_header_value("Host");
  if (host.empty()) host = "127.0.0.1";
  return (proto.empty() ? "http" : proto) + "://" + host;
}

std::string_view OutcomeName(messaging::SendOutcome::Kind k) {
  switch (k) {
    case messaging::SendOutcome::Kind::kSent:
      return "sent";
    case messaging::SendOutcome::Kind::kTemporary:
      return "temporary";
    case messaging::SendOutcome::Kind::kThrottled:
      return "throttled";
    case messaging::SendOutcome::Kind::kPermanent:
      return "permanent";
  }
  return "permanent";
}

// Code points of UTF-8 text (what a person counts as characters).
int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

json SmsJson(const messaging::SmsLength& l, std::string_view text, const std::string& currency) {
  return {{"chars", CodePoints(text)},  {"units", l.units},
          {"parts", l.parts},           {"encoding", l.gsm7 ? "gsm7" : "ucs2"},
          {"cost_minor", l.cost_minor}, {"currency", currency}};
}

json MessageJson(const messaging::Message& m, const std::map<Id, std::string>& member_names,
                 const std::map<Id, std::string>& template_names) {
  json member_name = nullptr, template_name = nullptr;
  if (m.member_id)
    if (auto it = member_names.find(*m.member_id); it != member_names.end())
      member_name = it->second;
  if (m.template_id)
    if (auto it = template_names.find(*m.template_id); it != template_names.end())
      template_name = it->second;
  return {
      {"id", IdToString(m.id)},
      {"member_id", IdOrNull(m.member_id)},
      {"member_name", member_name},
      {"template_id", IdOrNull(m.template_id)},
      {"template_name", template_name},
      {"channel_id", IdToString(m.channel_id)},
      {"medium", messaging::MediumName(m.medium)},
      {"category", messaging::PurposeName(m.purpose)},
      {"status", messaging::MessageStatusName(m.status)},
      {"to", m.recipient},
      {"dedup_key", m.dedup_key},
      {"subject", m.subject},
      {"text", m.text},
      {"attempts", m.attempts},
      {"error", OrNull(m.last_error)},
      {"provider_id", OrNull(m.provider_id)},
      {"cost_minor", m.cost_minor ? json(*m.cost_minor) : json(nullptr)},
      {"created_at", FormatRfc3339(m.created_at)},
      {"updated_at", FormatRfc3339(m.updated_at)},
      {"sent_at", OrNull(TimeOrNull(m.sent_at))},
      {"delivered_at", OrNull(TimeOrNull(m.delivered_at))},
      {"next_attempt_at", m.status == MessageStatus::kQueued || m.status == MessageStatus::kDeferred
                              ? json(FormatRfc3339(m.next_attempt_at))
                              : json(nullptr)}};
}

// ---------------------------------------------------------------------------------------------
// /u/{token}: the unsubscribe page. GET shows what will stop and a button; POST (the button,
// an empty form) records it: consent off with source "unsubscribe_link" (a consent_changed
// event) and an "unsubscribed" suppression of the address, so marketing to it is suppressed.

struct UnsubscribeView {
  std::string lang;
  std::string shop;
  std::string medium;
  bool already = false;
};

Result<UnsubscribeView> LoadUnsubscribe(store::Tx& tx, const messaging::UnsubscribeClaim& c,
                                        Micros now) {
  RG_ASSIGN_OR_RETURN(auto merchant, accounts::GetMerchant(tx, c.merchant_id));
  auto member = members::GetMember(tx, accounts::SystemActor(c.merchant_id, now), c.member_id);
  UnsubscribeView v;
  v.lang = merchant.language;
  if (member && member->language) v.lang = *member->language;
  v.shop = merchant.name;
  v.medium = std::string(messaging::MediumName(c.medium));
  RG_ASSIGN_OR_RETURN(auto sup, messaging::FindSuppression(tx, c.merchant_id, c.medium, c.address));
  v.already = sup.has_value();
  return v;
}

std::optional<members::Channel> ConsentChannel(Medium m) {
  switch (m) {
    case Medium::kEmail:
      return members::Channel::kEmail;
    case Medium::kSms:
      return members::Channel::kSms;
    case Medium::kLine:
      return members::Channel::kLine;
    case Medium::kWebhook:
      return std::nullopt;
  }
  return std::nullopt;
}

// Marketing consent off for one medium, recorded with `source`, and the address suppressed.
Status OptOut(store::Tx& tx, Id merchant_id, Id member_id, Medium medium,
              const std::string& address, const std::string& source, Micros now) {
  accounts::Actor sys = accounts::SystemActor(merchant_id, now);
  if (auto ch = ConsentChannel(medium)) {
    RG_ASSIGN_OR_RETURN(auto merchant, accounts::GetMerchant(tx, merchant_id));
    members::MemberInput in;
    in.consent[*ch] = false;
    in.consent_source = source;
    auto updated = members::UpdateMember(tx, sys, {merchant.region}, member_id, in);
    if (!updated && updated.error().code != Code::kNotFound)
      return std::unexpected(updated.error());
  }
  return messaging::AddSuppression(tx, merchant_id, medium, address,
                                   messaging::SuppressionReason::kUnsubscribed, member_id, now);
}

Reply UnsubscribePage(const UnsubscribeView& v, bool done) {
  const UnsubscribeText& t = UnsubscribeTexts(v.lang);
  std::string_view medium = MediumWord(v.medium, v.lang);
  std::string body = fmt::format("<h1>{}</h1>", Html(t.title));
  if (done)
    body += fmt::format("<p data-state=\"done\">{}</p>", Fill(t.done, medium, v.shop));
  else if (v.already)
    body += fmt::format("<p data-state=\"already\">{}</p>", Fill(t.already, medium, v.shop));
  else
    body += fmt::format(
        "<p data-state=\"ask\">{}</p><form method=\"post\"><button type=\"submit\">{}</button>"
        "</form>",
        Fill(t.question, medium, v.shop), Html(t.button));
  return HtmlPage(200, v.lang, t.title, body);
}

Reply InvalidUnsubscribe(const Request& r) {
  // The language the browser asks for, since the token names no one.
  std::string accept = r.http.get_header_value("Accept-Language");
  std::string lang = accept.starts_with("zh-TW") || accept.starts_with("zh-Hant") ? "zh-TW"
                     : accept.starts_with("zh")                                   ? "zh-CN"
                                                                                  : "en";
  const UnsubscribeText& t = UnsubscribeTexts(lang);
  return HtmlPage(
      404, lang, t.title,
      fmt::format("<h1>{}</h1><p data-state=\"invalid\">{}</p>", Html(t.title), Html(t.invalid)));
}

void RegisterUnsubscribeRoutes(Router& router) {
  router.Raw("GET", "/u/{token}", "The unsubscribe page of a message's link (no log-in)", false,
             [](Request& r, AppContext& app) -> Result<Reply> {
               RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(app));
               auto claim = messaging::ParseUnsubscribeToken(*box, r.PathParam("token"));
               if (!claim) return InvalidUnsubscribe(r);
               Micros now = app.clock.Now();
               RG_ASSIGN_OR_RETURN(auto view, app.db.ReadValue([&](store::Tx& tx) {
                 return LoadUnsubscribe(tx, *claim, now);
               }));
               return UnsubscribePage(view, false);
             });
  router.Raw("POST", "/u/{token}", "Confirms an unsubscribe link: marketing on that medium stops",
             false, [](Request& r, AppContext& app) -> Result<Reply> {
               RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(app));
               auto claim = messaging::ParseUnsubscribeToken(*box, r.PathParam("token"));
               if (!claim) return InvalidUnsubscribe(r);
               Micros now = app.clock.Now();
               RG_ASSIGN_OR_RETURN(
                   auto view, app.db.WriteValue([&](store::Tx& tx) -> Result<UnsubscribeView> {
                     RG_ASSIGN_OR_RETURN(auto v, LoadUnsubscribe(tx, *claim, now));
                     // Twice is once: a second click changes nothing and says it is done.
                     if (!v.already)
                       RG_TRY(OptOut(tx, claim->merchant_id, claim->member_id, claim->medium,
                                     claim->address, "unsubscribe_link", now));
                     return v;
                   }));
               if (app.dispatcher) app.dispatcher->Notify();
               return UnsubscribePage(view, true);
             });
  // The button posts an empty form; nothing in it is read.
  router.FormBody("POST", "/u/{token}");
}

// ---------------------------------------------------------------------------------------------
// Templates and settings as JSON

json TemplateJson(const TemplateRow& r) {
  return {{"id", IdToString(r.t.id)},
          {"name", r.t.name},
          {"medium", messaging::MediumName(r.t.medium)},
          {"category", messaging::PurposeName(r.t.purpose)},
          {"variants", messaging::VariantsToJson(r.t.variants)},
          {"created_at", FormatRfc3339(r.created_at)},
          {"updated_at", FormatRfc3339(r.updated_at)}};
}

// The stored settings object (messaging_settings.settings, messaging_repo.h): "policy"
// (policy.h: quiet_hours, caps), "sms_price_minor" and, for transactional.h,
// "transactional": {<kind>: {enabled, template_id}} (points_expiring also days_before).
int64_t SmsPrice(const json& s) {
  auto it = s.find("sms_price_minor");
  return it != s.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

json TransactionalJson(const json& s) {
  json out = json::object();
  const json* stored = nullptr;
  if (auto it = s.find("transactional"); it != s.end() && it->is_object()) stored = &*it;
  for (messaging::TransactionalKind k : messaging::kTransactionalKinds) {
    std::string name(messaging::TransactionalKindName(k));
    json v = {{"enabled", false}, {"template_id", nullptr}};
    if (stored)
      if (auto it = stored->find(name); it != stored->end() && it->is_object()) {
        v["enabled"] = it->value("enabled", false);
        if (auto t = it->find("template_id"); t != it->end() && t->is_string())
          v["template_id"] = *t;
      }
    if (k == messaging::TransactionalKind::kPointsExpiring) {
      v["days_before"] = messaging::kDefaultPointsExpiringDaysBefore;
      if (stored)
        if (auto it = stored->find(name); it != stored->end() && it->is_object())
          if (auto d = it->find("days_before"); d != it->end() && d->is_number_integer())
            v["days_before"] = *d;
    }
    out[name] = v;
  }
  return out;
}

json SettingsJson(const json& s, const accounts::Merchant& m) {
  json policy = json::object();
  auto parsed = messaging::ParsePolicySettings(s.value("policy", json::object()), m.timezone);
  if (parsed) policy = messaging::PolicySettingsToJson(*parsed);
  return {{"quiet_hours", policy.value("quiet_hours", json(nullptr))},
          {"caps", policy.value("caps", json::array())},
          {"sms_price_minor", SmsPrice(s)},
          {"transactional", TransactionalJson(s)},
          {"timezone", m.timezone},
          {"currency", m.currency}};
}

// Applies a PATCH body to the stored settings; every part is checked before anything is kept.
Result<json> PatchSettings(store::Tx& tx, const Request& r, json s, const json& body) {
  RG_ASSIGN_OR_RETURN(
      Fields f, Fields::Of(body, {"quiet_hours", "caps", "sms_price_minor", "transactional"}));
  if (!s.is_object()) s = json::object();
  json policy = s.value("policy", json::object());
  if (!policy.is_object()) policy = json::object();
  if (f.Has("quiet_hours")) policy["quiet_hours"] = body["quiet_hours"];
  if (f.Has("caps")) policy["caps"] = body["caps"];
  RG_TRY(messaging::ParsePolicySettings(policy, r.merchant.timezone));
  s["policy"] = policy;
  RG_ASSIGN_OR_RETURN(auto price, f.Int("sms_price_minor"));
  if (price) {
    if (*price < 0 || *price > 1'000'000)
      return InvalidField("sms_price_minor", "must be 0 to 1000000");
    s["sms_price_minor"] = *price;
  }
  RG_ASSIGN_OR_RETURN(auto tr, f.Object("transactional"));
  if (tr) {
    json cur = TransactionalJson(s);
    for (const auto& [k, v] : tr->items()) {
      if (!messaging::ParseTransactionalKind(k))
        return InvalidField("transactional." + k,
                            "unknown message; one of receipt, top_up, points_expiring, "
                            "tier_changed, coupon_issued");
      const bool expiring =
          k == messaging::TransactionalKindName(messaging::TransactionalKind::kPointsExpiring);
      RG_ASSIGN_OR_RETURN(
          Fields kf,
          expiring
              ? Fields::Of(v, {"enabled", "template_id", "days_before"}, "transactional." + k + ".")
              : Fields::Of(v, {"enabled", "template_id"}, "transactional." + k + "."));
      RG_ASSIGN_OR_RETURN(auto enabled, kf.Bool("enabled"));
      if (enabled) cur[k]["enabled"] = *enabled;
      if (expiring) {
        RG_ASSIGN_OR_RETURN(auto days, kf.Int("days_before"));
        if (days) {
          if (*days < 1 || *days > messaging::kMaxPointsExpiringDaysBefore)
            return InvalidField(
                kf.Name("days_before"),
                fmt::format("must be 1 to {}", messaging::kMaxPointsExpiringDaysBefore));
          cur[k]["days_before"] = *days;
        }
      }
      if (kf.Has("template_id")) {
        if (v["template_id"].is_null()) {
          cur[k]["template_id"] = nullptr;
        } else {
          RG_ASSIGN_OR_RETURN(auto tid, kf.IdValue("template_id"));
          auto t = messaging::RequireTemplate(tx, r.actor.merchant_id, *tid);
          if (!t) return Fail(t.error().code, t.error().message, kf.Name("template_id"));
          if (t->t.purpose != messaging::Purpose::kTransactional)
            return InvalidField(kf.Name("template_id"), "must be a transactional template");
          cur[k]["template_id"] = IdToString(*tid);
        }
      }
    }
    s["transactional"] = cur;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Templates: preview

// Values a preview uses when no member is chosen, so every common variable shows something.
json SampleContext(const accounts::Merchant& m, std::string_view lang) {
  bool zh = lang.starts_with("zh");
  return {{"merchant", {{"name", m.name}, {"currency", m.currency}, {"language", m.language}}},
          {"member",
           {{"id", "0"},
            {"name", zh ? "王小明" : "Alex Chen"},
            {"phone", "+886912345678"},
            {"email", "member@example.com"},
            {"language", std::string(lang)},
            {"referral_code", "AB12CD34"}}},
          {"balances",
           {{"points", {{"points", 1280}}},
            {"wallet", {{"paid_minor", 50000}, {"bonus_minor", 5000}, {"total_minor", 55000}}}}},
          {"order",
           {{"id", "0"},
            {"external_id", "POS-0001"},
            {"total_minor", 15000},
            {"total", messaging::FormatAmount(15000, m.currency)},
            {"currency", m.currency}}},
          {"points", {{"earned", 150}, {"balance", 1280}, {"expiring", 200}}},
          {"coupon", {{"code", "WELCOME50"}, {"name", "NT$50 off"}, {"valid_until", "2026-12-31"}}},
          {"unsubscribe_url", "https://example.com/u/preview"}};
}

// {name?, medium, category, variants} as a Template (id 0); errors name the field under
// `prefix` ("template.variants.en.text").
Result<messaging::Template> TemplateFromBody(const json& body, const std::string& prefix,
                                             bool partial, bool require_name = true) {
  RG_ASSIGN_OR_RETURN(Fields f,
                      Fields::Of(body, {"name", "medium", "category", "variants"}, prefix));
  messaging::Template t;
  RG_ASSIGN_OR_RETURN(auto name, f.String("name"));
  if (name) t.name = *name;
  if (!partial && require_name && t.name.empty()) return InvalidField(f.Name("name"), "required");
  RG_ASSIGN_OR_RETURN(auto medium, f.String("medium"));
  if (medium) {
    auto m = messaging::ParseMedium(*medium);
    if (!m) return InvalidField(f.Name("medium"), "must be email, sms, line or webhook");
    t.medium = *m;
  } else if (!partial) {
    return InvalidField(f.Name("medium"), "required");
  }
  RG_ASSIGN_OR_RETURN(auto category, f.String("category"));
  if (category) {
    auto p = messaging::ParsePurpose(*category);
    if (!p) return InvalidField(f.Name("category"), "must be marketing or transactional");
    t.purpose = *p;
  } else if (!partial) {
    return InvalidField(f.Name("category"), "required");
  }
  RG_ASSIGN_OR_RETURN(auto variants, f.Object("variants"));
  if (variants) {
    auto v = messaging::ParseVariants(*variants);
    if (!v) {
      Error e = v.error();
      if (!e.field.empty()) e.field = prefix + e.field;
      if (!prefix.empty()) e.message = prefix + e.message;
      return std::unexpected(e);
    }
    t.variants = std::move(*v);
  } else if (!partial) {
    return InvalidField(f.Name("variants"), "required");
  }
  return t;
}

json PreviewJson(store::Tx& tx, const Request& r, const messaging::Template& t,
                 const std::optional<json>& member_ctx,
                 const std::optional<std::string>& member_lang, int64_t sms_price) {
  json languages = json::object();
  for (const auto& [lang, variant] : t.variants) {
    json ctx = member_ctx ? *member_ctx : SampleContext(r.merchant, lang);
    auto rendered = messaging::RenderTemplate(t, ctx, lang, lang, sms_price);
    if (!rendered) {
      languages[lang] = {{"error", ErrorBody(rendered.error())["error"]}};
      continue;
    }
    json sms = nullptr;
    if (rendered->sms) sms = SmsJson(*rendered->sms, rendered->text, r.merchant.currency);
    languages[lang] = {{"subject", rendered->subject},
                       {"text", rendered->text},
                       {"html", rendered->html},
                       {"sms", sms},
                       {"missing", rendered->missing}};
  }
  json chosen = nullptr;
  if (member_lang)
    for (const std::string& l : messaging::LanguageChain(*member_lang, r.merchant.language))
      if (t.variants.count(l)) {
        chosen = l;
        break;
      }
  auto valid = messaging::ValidateTemplate(t);
  return {{"languages", languages},
          {"member_language", chosen},
          {"problem", valid ? json(nullptr) : ErrorBody(valid.error())["error"]}};
}

// ---------------------------------------------------------------------------------------------
// Channels

// Secrets are write-only: the names that hold a value, each "set".
json SecretNames(const json& secrets) {
  json out = json::object();
  if (secrets.is_object())
    for (const auto& [k, v] : secrets.items())
      if (!v.is_null()) out[k] = "set";
  return out;
}

json ChannelJson(const ChannelRow& c, const json& secrets) {
  return {{"id", IdToString(c.id)},
          {"kind", messaging::ChannelKindName(c.kind)},
          {"name", c.name},
          {"medium", messaging::MediumName(messaging::MediumOf(c.kind))},
          {"settings", c.settings},
          {"secrets", SecretNames(secrets)},
          {"active", c.active},
          {"receipts_path", fmt::format("/api/v1/channels/{}/receipts", IdToString(c.id))},
          {"inbound_path", fmt::format("/api/v1/channels/{}/inbound", IdToString(c.id))},
          {"created_at", FormatRfc3339(c.created_at)},
          {"updated_at", FormatRfc3339(c.updated_at)}};
}

// The secrets of a row, opened; a row sealed under another key answers failed_precondition
// naming "secrets" (enter them again).
Result<json> OpenSecrets(const messaging::SecretBox& box, const ChannelRow& c) {
  if (!c.sealed_secrets || c.sealed_secrets->empty()) return json::object();
  auto j = box.OpenJson(*c.sealed_secrets);
  if (!j)
    return Fail(Code::kFailedPrecondition,
                "secrets: cannot be opened with this server's key (" + j.error().message +
                    "); enter them again",
                "secrets");
  return *j;
}

messaging::ChannelConfig ConfigOf(const ChannelRow& c, json secrets) {
  messaging::ChannelConfig cfg;
  cfg.id = c.id;
  cfg.kind = c.kind;
  cfg.name = c.name;
  cfg.settings = c.settings;
  cfg.secrets = std::move(secrets);
  return cfg;
}

// {kind, name, settings, secrets, active} into `c` (kind only when creating). A null secret
// removes it; absent secrets are kept. The result must make a channel (MakeChannel names a
// missing or wrong setting).
Status ApplyChannelBody(const json& body, bool creating, ChannelRow& c, json& secrets) {
  RG_ASSIGN_OR_RETURN(Fields f,
                      Fields::Of(body, {"kind", "name", "settings", "secrets", "active"}));
  RG_ASSIGN_OR_RETURN(auto kind, f.String("kind"));
  if (creating) {
    if (!kind) return InvalidField("kind", "required");
    auto k = messaging::ParseChannelKind(*kind);
    if (!k) return InvalidField("kind", "must be smtp, twilio, http_sms, line, webhook or log");
    c.kind = *k;
  } else if (kind && *kind != messaging::ChannelKindName(c.kind)) {
    return InvalidField("kind", "cannot be changed; create another channel");
  }
  RG_ASSIGN_OR_RETURN(auto name, f.String("name"));
  if (name) {
    if (name->empty() || name->size() > 100) return InvalidField("name", "must be 1 to 100 bytes");
    c.name = *name;
  } else if (creating) {
    return InvalidField("name", "required");
  }
  RG_ASSIGN_OR_RETURN(auto settings, f.Object("settings"));
  if (settings) c.settings = *settings;
  RG_ASSIGN_OR_RETURN(auto s, f.Object("secrets"));
  if (s) {
    for (const auto& [k, v] : s->items()) {
      if (v.is_null())
        secrets.erase(k);
      else if (!v.is_string())
        return InvalidField("secrets." + k, "must be a string or null");
      else
        secrets[k] = v;
    }
  }
  RG_ASSIGN_OR_RETURN(auto active, f.Bool("active"));
  if (active) c.active = *active;
  RG_ASSIGN_OR_RETURN(auto made, messaging::MakeChannel(ConfigOf(c, secrets)));
  (void)made;
  return {};
}

// ---------------------------------------------------------------------------------------------
// Receipts and inbound replies: no log-in; the provider's signature under the channel's secret
// is the credential (messaging/receipts.h checks it before reading any field).

// The URL the provider called, as it signs it: the channel's configured callback URL when set
// (what was given to the provider), else this request's own.
std::string CalledUrl(const Request& r, const AppContext& app, const json& settings,
                      const char* key) {
  if (settings.is_object())
    if (auto it = settings.find(key); it != settings.end() && it->is_string() && !it->empty())
      return it->get<std::string>();
  std::string url = BaseUrl(r, app) + r.http.path;
  if (auto q = r.http.target.find('?'); q != std::string::npos) url += r.http.target.substr(q);
  return url;
}

std::string SecretString(const json& secrets, const char* key) {
  if (secrets.is_object())
    if (auto it = secrets.find(key); it != secrets.end() && it->is_string())
      return it->get<std::string>();
  return {};
}

Reply Twiml() {
  Reply r;
  r.raw = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";
  r.content_type = "text/xml";
  return r;
}

// A reply to a change of what the sender caches (settings, channel rows): once it commits, the
// running sender re-reads them at its next round instead of after its cache TTLs.
Reply MessagingChanged(const AppContext& app, Reply reply) {
  reply.after_commit = app.options.on_messaging_changed;
  return reply;
}

}  // namespace

void RegisterMessagingRoutes(Router& router) {
  // Transaction handlers that need the server's SecretBox reach it through the context, which
  // outlives the routes.
  AppContext* app = &router.app();
  // ---- channels ----
  router.Read("GET", "/api/v1/channels", "Message channels; secrets only as \"set\"",
              [app](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto rows, messaging::ListChannels(tx, r.actor.merchant_id));
                RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(*app));
                json data = json::array();
                for (const auto& c : rows)
                  data.push_back(ChannelJson(c, OpenSecrets(*box, c).value_or(json::object())));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/channels", "Create a message channel (secrets are write-only)",
               [app](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_TRY(RequireManager(r));
                 ChannelRow c;
                 c.merchant_id = r.actor.merchant_id;
                 json secrets = json::object();
                 RG_TRY(ApplyChannelBody(r.body, true, c, secrets));
                 RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(*app));
                 RG_ASSIGN_OR_RETURN(auto saved,
                                     messaging::CreateChannel(tx, box, c, secrets, r.actor.now));
                 return MessagingChanged(*app, Reply{201, ChannelJson(saved, secrets)});
               });
  router.Write(
      "PATCH", "/api/v1/channels/{id}",
      "Change a channel; a secret given replaces the stored one, null removes it",
      [app](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_TRY(RequireManager(r));
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "channel"));
        RG_ASSIGN_OR_RETURN(ChannelRow c, messaging::RequireChannel(tx, r.actor.merchant_id, id));
        RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(*app));
        RG_ASSIGN_OR_RETURN(json secrets, OpenSecrets(*box, c));
        RG_TRY(ApplyChannelBody(r.body, false, c, secrets));
        RG_ASSIGN_OR_RETURN(auto saved, messaging::UpdateChannel(tx, box, c, secrets, r.actor.now));
        return MessagingChanged(*app, Reply{200, ChannelJson(saved, secrets)});
      });
  router.Raw("POST", "/api/v1/channels/{id}/test",
             "Send a test message through a channel now; answers with the provider's outcome", true,
             [](Request& r, AppContext& app) -> Result<Reply> {
               RG_TRY(RequireManager(r));
               RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "channel"));
               RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"to"}));
               RG_ASSIGN_OR_RETURN(auto to, f.String("to"));
               if (!to || to->empty()) return InvalidField("to", "required");
               RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(app));
               RG_ASSIGN_OR_RETURN(ChannelRow c, app.db.ReadValue([&](store::Tx& tx) {
                 return messaging::RequireChannel(tx, r.actor.merchant_id, id);
               }));
               RG_ASSIGN_OR_RETURN(json secrets, OpenSecrets(*box, c));
               RG_ASSIGN_OR_RETURN(auto channel, messaging::MakeChannel(ConfigOf(c, secrets)));
               // No transaction is open while the provider is called.
               messaging::Envelope e;
               e.dedup_key = fmt::format("{}/test/{}", r.actor.merchant_id, NewId());
               e.to = *to;
               bool zh = r.merchant.language.starts_with("zh");
               e.subject =
                   zh ? r.merchant.name + " 測試訊息" : "Test message from " + r.merchant.name;
               e.text = zh ? "這是來自 " + r.merchant.name + " 的測試訊息。"
                           : "This is a test message from " + r.merchant.name + ".";
               messaging::SendOutcome out = channel->Send(e);
               return Reply{
                   200,
                   {{"outcome", OutcomeName(out.kind)},
                    {"provider_id", out.provider_id},
                    {"error", out.error},
                    {"retry_after_seconds",
                     out.retry_after ? json(*out.retry_after / kMicrosPerSecond) : json(nullptr)}}};
             });

  // ---- templates ----
  router.Read("GET", "/api/v1/templates", "Message templates with their language variants",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto rows, messaging::ListTemplates(tx, r.actor.merchant_id));
                json data = json::array();
                for (const auto& t : rows) data.push_back(TemplateJson(t));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/templates",
               "Create a template: medium, category marketing|transactional, variants per language",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_TRY(RequireManager(r));
                 RG_ASSIGN_OR_RETURN(auto t, TemplateFromBody(r.body, "", false));
                 RG_TRY(messaging::ValidateTemplate(t));
                 RG_ASSIGN_OR_RETURN(auto saved, messaging::CreateTemplate(tx, r.actor.merchant_id,
                                                                           t, r.actor.now));
                 return Reply{201, TemplateJson(saved)};
               });
  router.Write("PATCH", "/api/v1/templates/{id}", "Change a template's name, category or variants",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_TRY(RequireManager(r));
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "template"));
                 RG_ASSIGN_OR_RETURN(TemplateRow cur,
                                     messaging::RequireTemplate(tx, r.actor.merchant_id, id));
                 RG_ASSIGN_OR_RETURN(auto patch, TemplateFromBody(r.body, "", true));
                 if (r.body.contains("medium") && patch.medium != cur.t.medium)
                   return InvalidField("medium", "cannot be changed; create another template");
                 if (r.body.contains("name")) cur.t.name = patch.name;
                 if (r.body.contains("category")) cur.t.purpose = patch.purpose;
                 if (r.body.contains("variants")) cur.t.variants = patch.variants;
                 RG_TRY(messaging::ValidateTemplate(cur.t));
                 RG_ASSIGN_OR_RETURN(auto saved, messaging::UpdateTemplate(tx, r.actor.merchant_id,
                                                                           cur.t, r.actor.now));
                 return Reply{200, TemplateJson(saved)};
               });
  router.Read(
      "POST", "/api/v1/templates/preview",
      "Render a template (saved or not) per language, for a member or with sample values",
      [app](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(
            Fields f, Fields::Of(r.body, {"template", "template_id", "member_id", "variables"}));
        RG_ASSIGN_OR_RETURN(auto body_t, f.Object("template"));
        RG_ASSIGN_OR_RETURN(auto tid, f.IdValue("template_id"));
        messaging::Template t;
        if (body_t && tid)
          return InvalidField("template_id", "give template or template_id, not both");
        if (body_t) {
          // A template being written may have no name yet.
          RG_ASSIGN_OR_RETURN(t, TemplateFromBody(*body_t, "template.", false, false));
        } else if (tid) {
          RG_ASSIGN_OR_RETURN(auto rec, messaging::RequireTemplate(tx, r.actor.merchant_id, *tid));
          t = rec.t;
        } else {
          return InvalidField("template", "required (or template_id)");
        }
        RG_ASSIGN_OR_RETURN(auto member_id, f.IdValue("member_id"));
        RG_ASSIGN_OR_RETURN(auto vars, f.Object("variables"));
        std::optional<json> ctx;
        std::optional<std::string> member_lang;
        if (member_id) {
          RG_ASSIGN_OR_RETURN(auto m, members::GetMember(tx, r.actor, *member_id));
          messaging::ContextRequest cr;
          cr.merchant_id = r.actor.merchant_id;
          cr.member_id = m.id;
          cr.unsubscribe_url = BaseUrl(r, *app) + "/u/preview";
          RG_ASSIGN_OR_RETURN(json c, messaging::BuildContext(tx, cr));
          ctx = std::move(c);
          member_lang = m.language.value_or("");
        }
        if (vars) {
          if (!ctx) ctx = SampleContext(r.merchant, r.merchant.language);
          ctx->merge_patch(*vars);
        }
        RG_ASSIGN_OR_RETURN(json settings, GetSettingsJson(tx, r.actor.merchant_id));
        return Reply{200, PreviewJson(tx, r, t, ctx, member_lang, SmsPrice(settings))};
      });

  // ---- messages ----
  router.Write(
      "POST", "/api/v1/messages",
      "Send a message to a member now (rendered in their language, queued in the outbox)",
      [app](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"member_id", "template_id", "channel_id",
                                                          "dedup_key", "variables"}));
        RG_ASSIGN_OR_RETURN(auto member_id, f.IdValue("member_id"));
        if (!member_id) return InvalidField("member_id", "required");
        RG_ASSIGN_OR_RETURN(auto template_id, f.IdValue("template_id"));
        if (!template_id) return InvalidField("template_id", "required");
        RG_ASSIGN_OR_RETURN(auto channel_id, f.IdValue("channel_id"));
        RG_ASSIGN_OR_RETURN(auto dedup, f.String("dedup_key"));
        RG_ASSIGN_OR_RETURN(auto vars, f.Object("variables"));
        RG_ASSIGN_OR_RETURN(TemplateRow t,
                            messaging::RequireTemplate(tx, r.actor.merchant_id, *template_id));
        Id channel = 0;
        if (channel_id) {
          RG_ASSIGN_OR_RETURN(ChannelRow c,
                              messaging::RequireChannel(tx, r.actor.merchant_id, *channel_id));
          if (!c.active)
            return Fail(Code::kFailedPrecondition, "channel_id: the channel is switched off",
                        "channel_id");
          if (c.kind != messaging::ChannelKind::kLog && messaging::MediumOf(c.kind) != t.t.medium)
            return InvalidField("channel_id",
                                fmt::format("the channel sends {}, the template is for {}",
                                            messaging::MediumName(messaging::MediumOf(c.kind)),
                                            messaging::MediumName(t.t.medium)));
          channel = c.id;
        } else {
          RG_ASSIGN_OR_RETURN(auto c, messaging::FirstChannel(tx, r.actor.merchant_id, t.t.medium));
          if (!c)
            return Fail(Code::kFailedPrecondition,
                        fmt::format("channel_id: no active channel sends {}",
                                    messaging::MediumName(t.t.medium)),
                        "channel_id");
          channel = *c;
        }
        RG_ASSIGN_OR_RETURN(json settings, GetSettingsJson(tx, r.actor.merchant_id));
        RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(*app));
        messaging::ComposeRequest cr;
        cr.member_id = *member_id;
        cr.tmpl = &t.t;
        cr.channel_id = channel;
        cr.dedup_key = dedup ? *dedup : "api:" + IdToString(NewId());
        if (vars) cr.variables = *vars;
        cr.base_url = BaseUrl(r, *app);
        cr.box = box;
        cr.sms_price_minor = SmsPrice(settings);
        // Another merchant's member is not_found, as everywhere.
        RG_TRY(members::GetMember(tx, r.actor, *member_id));
        RG_ASSIGN_OR_RETURN(auto n, messaging::Compose(tx, r.merchant, r.actor.now, cr));
        RG_ASSIGN_OR_RETURN(
            auto q, messaging::Enqueue(tx, r.actor.merchant_id, r.actor.now, n, r.actor.Label()));
        std::map<Id, std::string> names, tnames{{t.t.id, t.t.name}};
        return Reply{q.created ? 201 : 200, MessageJson(q.message, names, tnames)};
      });
  router.Read(
      "GET", "/api/v1/messages", "Messages, newest first, with their status (?member_id=&status=)",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(int limit, r.Limit());
        std::optional<Id> member;
        if (auto v = r.Query("member_id"); v && !v->empty()) {
          auto id = ParseId(*v);
          if (!id) return InvalidField("member_id", "not a member id");
          member = *id;
        }
        std::optional<MessageStatus> status;
        if (auto v = r.Query("status"); v && !v->empty()) {
          status = messaging::ParseMessageStatus(*v);
          if (!status)
            return InvalidField("status",
                                "must be queued, sending, sent, delivered, failed, "
                                "deferred, skipped or suppressed");
        }
        Id before = 0;
        if (auto c = r.Cursor(); c && !c->empty()) {
          auto id = ParseId(*c);
          if (!id) return InvalidField("cursor", "not a cursor from this list");
          before = *id;
        }
        RG_ASSIGN_OR_RETURN(auto rows, messaging::ListMessages(tx, r.actor.merchant_id, member,
                                                               status, before, limit + 1));
        std::optional<std::string> next;
        if (static_cast<int>(rows.size()) > limit) {
          rows.resize(limit);
          next = IdToString(rows.back().id);
        }
        std::map<Id, std::string> names, tnames;
        for (const auto& m : rows) {
          if (m.member_id && !names.count(*m.member_id)) {
            auto mem = members::GetMember(tx, r.actor, *m.member_id);
            names[*m.member_id] = mem && mem->name ? *mem->name : "";
          }
          if (m.template_id && !tnames.count(*m.template_id)) {
            auto t = messaging::GetTemplate(tx, r.actor.merchant_id, *m.template_id);
            tnames[*m.template_id] = t && *t ? (*t)->t.name : "";
          }
        }
        json data = json::array();
        for (const auto& m : rows) data.push_back(MessageJson(m, names, tnames));
        return Reply{200, PageJson(data, next)};
      });

  // ---- settings ----
  router.Read("GET", "/api/v1/messaging/settings",
              "Quiet hours, frequency caps, the SMS price and automatic transactional messages",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(json s, GetSettingsJson(tx, r.actor.merchant_id));
                return Reply{200, SettingsJson(s, r.merchant)};
              });
  router.Write("PATCH", "/api/v1/messaging/settings",
               "Change quiet hours, caps, the SMS price or automatic transactional messages",
               [app](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_TRY(RequireManager(r));
                 RG_ASSIGN_OR_RETURN(json s, GetSettingsJson(tx, r.actor.merchant_id));
                 RG_ASSIGN_OR_RETURN(json next, PatchSettings(tx, r, s, r.body));
                 RG_TRY(PutMessagingSettings(tx, r.actor.merchant_id, next, r.actor.now));
                 return MessagingChanged(*app, Reply{200, SettingsJson(next, r.merchant)});
               });

  // ---- provider callbacks ----
  router.FormBody("POST", "/api/v1/channels/{id}/receipts");
  router.FormBody("POST", "/api/v1/channels/{id}/inbound");
  router.Raw(
      "POST", "/api/v1/channels/{id}/receipts",
      "Delivery receipts from the channel's provider (signed by the provider; no log-in)", false,
      [](Request& r, AppContext& app) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "channel"));
        RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(app));
        Micros now = app.clock.Now();
        RG_ASSIGN_OR_RETURN(json applied, app.db.WriteValue([&](store::Tx& tx) -> Result<json> {
          RG_ASSIGN_OR_RETURN(ChannelRow c, messaging::RequireChannelById(tx, id));
          RG_ASSIGN_OR_RETURN(json secrets, OpenSecrets(*box, c));
          if (c.kind != messaging::ChannelKind::kTwilio)
            return Fail(Code::kFailedPrecondition,
                        fmt::format("a {} channel sends no delivery receipts",
                                    messaging::ChannelKindName(c.kind)));
          RG_ASSIGN_OR_RETURN(auto rc,
                              messaging::ParseTwilioStatusCallback(
                                  SecretString(secrets, "auth_token"),
                                  CalledUrl(r, app, c.settings, "status_callback"), r.http.body,
                                  r.http.get_header_value("X-Twilio-Signature")));
          if (rc.kind == messaging::DeliveryReceipt::Kind::kProgress)
            return json{{"status", nullptr}, {"provider_status", rc.provider_status}};
          messaging::ReceiptKind kind = rc.kind == messaging::DeliveryReceipt::Kind::kDelivered
                                            ? messaging::ReceiptKind::kDelivered
                                        : rc.hard_bounce ? messaging::ReceiptKind::kBounced
                                                         : messaging::ReceiptKind::kFailed;
          auto st = messaging::ApplyReceipt(tx, c.id, rc.provider_id, kind, rc.error, now);
          // A receipt for a message we do not know is answered 200 (the provider would only
          // retry it), saying so.
          if (!st && st.error().code == Code::kNotFound)
            return json{{"status", nullptr}, {"provider_status", rc.provider_status}};
          if (!st) return std::unexpected(st.error());
          return json{{"status", messaging::MessageStatusName(*st)},
                      {"provider_status", rc.provider_status}};
        }));
        if (app.dispatcher) app.dispatcher->Notify();
        return Reply{200, applied};
      });
  router.Raw(
      "POST", "/api/v1/channels/{id}/inbound",
      "Inbound replies from the channel's provider: STOP opts out (signed; no log-in)", false,
      [](Request& r, AppContext& app) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "channel"));
        RG_ASSIGN_OR_RETURN(const messaging::SecretBox* box, Box(app));
        Micros now = app.clock.Now();
        bool twilio = false;
        RG_ASSIGN_OR_RETURN(json out, app.db.WriteValue([&](store::Tx& tx) -> Result<json> {
          RG_ASSIGN_OR_RETURN(ChannelRow c, messaging::RequireChannelById(tx, id));
          RG_ASSIGN_OR_RETURN(json secrets, OpenSecrets(*box, c));
          if (c.kind == messaging::ChannelKind::kTwilio) {
            twilio = true;
            RG_ASSIGN_OR_RETURN(auto in, messaging::ParseTwilioInbound(
                                             SecretString(secrets, "auth_token"),
                                             CalledUrl(r, app, json::object(), ""), r.http.body,
                                             r.http.get_header_value("X-Twilio-Signature")));
            if (in.keyword != messaging::InboundKeyword::kOptOut) return json{{"opted_out", 0}};
            RG_ASSIGN_OR_RETURN(auto merchant, accounts::GetMerchant(tx, c.merchant_id));
            auto m = members::LookupByPhone(tx, accounts::SystemActor(c.merchant_id, now),
                                            {merchant.region}, in.from);
            std::optional<Id> member;
            if (m)
              member = m->id;
            else if (m.error().code != Code::kNotFound)
              return std::unexpected(m.error());
            if (member) {
              RG_TRY(OptOut(tx, c.merchant_id, *member, Medium::kSms, in.from, "sms_stop", now));
            } else {
              RG_TRY(messaging::AddSuppression(tx, c.merchant_id, Medium::kSms, in.from,
                                               messaging::SuppressionReason::kUnsubscribed,
                                               std::nullopt, now));
            }
            return json{{"opted_out", 1}, {"member_id", IdOrNull(member)}};
          }
          if (c.kind == messaging::ChannelKind::kLine) {
            RG_ASSIGN_OR_RETURN(auto hook, messaging::ParseLineWebhook(
                                               SecretString(secrets, "channel_secret"), r.http.body,
                                               r.http.get_header_value("X-Line-Signature")));
            // Unfollow (the user blocked the account) or a STOP text withdraws the member's
            // LINE consent (source line_unfollow / line_stop) and suppresses the user id; a user
            // id no member has is only suppressed. A follow (added or unblocked) grants nothing:
            // consent stays as recorded until the member opts in explicitly.
            int n = 0;
            json members = json::array();
            for (const auto& e : hook.events) {
              if (!e.opt_out() || e.user_id.empty()) continue;
              RG_ASSIGN_OR_RETURN(auto member,
                                  messaging::FindMemberByLineUserId(tx, c.merchant_id, e.user_id));
              if (member) {
                RG_TRY(OptOut(
                    tx, c.merchant_id, *member, Medium::kLine, e.user_id,
                    e.kind == messaging::LineEvent::Kind::kUnfollow ? "line_unfollow" : "line_stop",
                    now));
                members.push_back(IdToString(*member));
              } else {
                RG_TRY(messaging::AddSuppression(tx, c.merchant_id, Medium::kLine, e.user_id,
                                                 messaging::SuppressionReason::kUnsubscribed,
                                                 std::nullopt, now));
              }
              ++n;
            }
            return json{{"opted_out", n}, {"member_ids", members}};
          }
          return Fail(Code::kFailedPrecondition,
                      fmt::format("a {} channel takes no inbound messages",
                                  messaging::ChannelKindName(c.kind)));
        }));
        if (app.dispatcher) app.dispatcher->Notify();
        if (twilio) return Twiml();
        return Reply{200, out};
      });

  RegisterUnsubscribeRoutes(router);
}

}  // namespace regulars::http
