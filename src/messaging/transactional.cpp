#include "messaging/transactional.h"

#include <fmt/format.h>

#include <algorithm>

#include "accounts/account_service.h"
#include "base/money.h"
#include "base/zone.h"
#include "members/member_service.h"
#include "messaging/messaging_repo.h"

namespace regulars::messaging {

using nlohmann::json;

std::string_view TransactionalKindName(TransactionalKind k) {
  switch (k) {
    case TransactionalKind::kReceipt:
      return "receipt";
    case TransactionalKind::kTopUp:
      return "top_up";
    case TransactionalKind::kPointsExpiring:
      return "points_expiring";
    case TransactionalKind::kTierChanged:
      return "tier_changed";
    case TransactionalKind::kCouponIssued:
      return "coupon_issued";
  }
  return "receipt";
}

std::optional<TransactionalKind> ParseTransactionalKind(std::string_view s) {
  for (TransactionalKind k : kTransactionalKinds)
    if (TransactionalKindName(k) == s) return k;
  return std::nullopt;
}

std::string FormatAmount(int64_t minor, std::string_view currency) {
  int exp = CurrencyExponent(currency);
  int64_t scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  bool negative = minor < 0;
  uint64_t abs = negative ? uint64_t(-(minor + 1)) + 1 : uint64_t(minor);
  std::string whole = std::to_string(abs / uint64_t(scale));
  std::string grouped;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  std::string out = negative ? "-" + grouped : grouped;
  if (exp > 0) out += fmt::format(".{:0{}}", abs % uint64_t(scale), exp);
  return out + " " + std::string(currency);
}

namespace {

std::string Str(const json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t Int(const json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

std::optional<TransactionalRequest> TransactionalFor(const events::Event& e) {
  if (!e.member_id) return std::nullopt;
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object()) return std::nullopt;
  TransactionalRequest r;
  r.member_id = *e.member_id;
  if (e.type == "order_created") {
    std::string order_id = Str(d, "order_id");
    int64_t total = Int(d, "total_minor");
    if (order_id.empty() || total <= 0) return std::nullopt;
    std::string currency = Str(d, "currency");
    int64_t earned = 0, balance = 0;
    if (auto it = d.find("points"); it != d.end() && it->is_array())
      for (const auto& p : *it) {
        earned += Int(p, "points");
        balance = std::max(balance, Int(p, "balance_after"));
      }
    r.kind = TransactionalKind::kReceipt;
    r.dedup_key = "receipt:" + order_id;
    r.variables = {{"order",
                    {{"id", order_id},
                     {"external_id", Str(d, "external_id")},
                     {"total_minor", total},
                     {"total", FormatAmount(total, currency)},
                     {"currency", currency}}},
                   {"points", {{"earned", earned}, {"balance", balance}}}};
    return r;
  }
  if (e.type == "wallet_topped_up") {
    std::string entry = Str(d, "entry_id");
    if (entry.empty()) return std::nullopt;
    std::string currency = Str(d, "currency");
    int64_t total_after = 0;
    if (auto it = d.find("balance"); it != d.end() && it->is_object())
      total_after = Int(*it, "total_minor");
    r.kind = TransactionalKind::kTopUp;
    r.dedup_key = "top_up:" + entry;
    r.variables = {{"top_up",
                    {{"amount_minor", Int(d, "amount_minor")},
                     {"amount", FormatAmount(Int(d, "paid_minor"), currency)},
                     {"bonus", FormatAmount(Int(d, "bonus_minor"), currency)},
                     {"balance", FormatAmount(total_after, currency)},
                     {"currency", currency}}}};
    return r;
  }
  if (e.type == "tier_changed") {
    int64_t from = Int(d, "from_level"), to = Int(d, "to_level");
    if (from == to) return std::nullopt;
    r.kind = TransactionalKind::kTierChanged;
    r.dedup_key = "tier:" + IdToString(e.id);
    r.variables = {{"tier",
                    {{"from_level", from},
                     {"to_level", to},
                     {"upgraded", to > from},
                     {"name", Str(d, "to_name")}}}};
    return r;
  }
  if (e.type == "coupon_issued") {
    std::string coupon = Str(d, "coupon_id");
    if (coupon.empty()) return std::nullopt;
    std::string until = Str(d, "valid_until");
    r.kind = TransactionalKind::kCouponIssued;
    r.dedup_key = "coupon:" + coupon;
    r.variables = {{"coupon",
                    {{"code", Str(d, "code")},
                     {"name", Str(d, "template_name")},
                     {"valid_until", until.size() >= 10 ? until.substr(0, 10) : until}}}};
    return r;
  }
  return std::nullopt;
}

// ---- Unsubscribe links ----------------------------------------------------------------------

std::string UnsubscribeToken(const SecretBox& box, const UnsubscribeClaim& c) {
  json claim = {{"v", 1},
                {"merchant", c.merchant_id},
                {"member", c.member_id},
                {"medium", MediumName(c.medium)},
                {"to", c.address}};
  // "rgs1:<key id>:<base64>" -> "rgs1.<key id>.<base64url>": every character is safe in a path.
  std::string t = box.Seal(claim.dump());
  std::string out;
  out.reserve(t.size());
  for (char ch : t) {
    if (ch == ':')
      out += '.';
    else if (ch == '+')
      out += '-';
    else if (ch == '/')
      out += '_';
    else if (ch != '=')
      out += ch;
  }
  return out;
}

Result<UnsubscribeClaim> ParseUnsubscribeToken(const SecretBox& box, std::string_view token) {
  auto bad = [] { return InvalidField("token", "not a valid unsubscribe link"); };
  if (token.empty() || token.size() > 1024) return bad();
  std::string t;
  for (char ch : token) {
    if (ch == '.')
      t += ':';
    else if (ch == '-')
      t += '+';
    else if (ch == '_')
      t += '/';
    else
      t += ch;
  }
  size_t last = t.rfind(':');
  if (last == std::string::npos) return bad();
  while ((t.size() - last - 1) % 4 != 0) t += '=';
  auto opened = box.Open(t);
  if (!opened) return bad();
  json j = json::parse(*opened, nullptr, false);
  if (!j.is_object() || j.value("v", 0) != 1) return bad();
  UnsubscribeClaim c;
  c.merchant_id = j.value("merchant", Id{0});
  c.member_id = j.value("member", Id{0});
  auto medium = ParseMedium(j.value("medium", ""));
  c.address = j.value("to", "");
  if (!c.merchant_id || !c.member_id || !medium) return bad();
  c.medium = *medium;
  return c;
}

// ---- Composing one message -------------------------------------------------------------------

Result<NewMessage> Compose(store::Tx& tx, const accounts::Merchant& merchant, Micros now,
                           const ComposeRequest& req) {
  if (!req.tmpl) return Fail(Code::kInternal, "Compose without a template");
  const Template& t = *req.tmpl;
  accounts::Actor sys = accounts::SystemActor(merchant.id, now);
  RG_ASSIGN_OR_RETURN(members::Member m, members::GetMember(tx, sys, req.member_id));
  if (m.erased_at)
    return Fail(Code::kFailedPrecondition, "member_id: the member's personal data was erased",
                "member_id");
  std::string to;
  switch (t.medium) {
    case Medium::kEmail:
      if (!m.email)
        return Fail(Code::kFailedPrecondition, "member_id: the member has no e-mail address",
                    "member_id");
      to = *m.email;
      break;
    case Medium::kSms:
      if (!m.phone)
        return Fail(Code::kFailedPrecondition, "member_id: the member has no phone number",
                    "member_id");
      to = *m.phone;
      break;
    case Medium::kLine: {
      RG_ASSIGN_OR_RETURN(auto ids, members::ListIdentities(tx, merchant.id, m.id));
      for (const auto& i : ids)
        if (i.kind == "line") to = i.value;
      if (to.empty())
        return Fail(Code::kFailedPrecondition, "member_id: the member has no LINE user id",
                    "member_id");
      break;
    }
    case Medium::kWebhook:
      to = IdToString(m.id);
      break;
  }
  ContextRequest cr;
  cr.merchant_id = merchant.id;
  cr.member_id = m.id;
  cr.order_id = req.order_id;
  cr.coupon_id = req.coupon_id;
  if (req.box && (t.medium == Medium::kEmail || t.medium == Medium::kSms))
    cr.unsubscribe_url =
        req.base_url + "/u/" + UnsubscribeToken(*req.box, {merchant.id, m.id, t.medium, to});
  RG_ASSIGN_OR_RETURN(json ctx, BuildContext(tx, cr));
  if (req.variables.is_object()) ctx.merge_patch(req.variables);
  RG_ASSIGN_OR_RETURN(Rendered r, RenderTemplate(t, ctx, m.language.value_or(""), merchant.language,
                                                 req.sms_price_minor));
  NewMessage n;
  n.dedup_key = req.dedup_key;
  n.member_id = m.id;
  n.channel_id = req.channel_id;
  n.medium = t.medium;
  n.purpose = t.purpose;
  n.template_id = t.id;
  n.recipient = to;
  n.subject = r.subject;
  n.text = r.text;
  n.html = r.html;
  n.headers = r.headers;
  if (r.sms) n.cost_minor = r.sms->cost_minor;
  return n;
}

DefaultVariant DefaultTemplate(TransactionalKind k, std::string_view lang) {
  const bool tw = lang == "zh-TW", cn = lang == "zh-CN";
  auto pick = [&](const char* en, const char* zh_tw, const char* zh_cn) {
    return std::string(tw ? zh_tw : cn ? zh_cn : en);
  };
  DefaultVariant v;
  switch (k) {
    case TransactionalKind::kReceipt:
      v.subject = pick("Your receipt from {{merchant.name}}", "{{merchant.name}} 電子收據",
                       "{{merchant.name}} 电子收据");
      v.text = pick(
          "Thank you, {{member.name}}! Order {{order.external_id}}: {{order.total}}. "
          "Points earned: {{points.earned}}.",
          "{{member.name}} 您好，感謝您的光臨！訂單 {{order.external_id}}：{{order.total}}，"
          "獲得 {{points.earned}} 點。",
          "{{member.name}} 您好，感谢您的光临！订单 {{order.external_id}}：{{order.total}}，"
          "获得 {{points.earned}} 积分。");
      break;
    case TransactionalKind::kTopUp:
      v.subject = pick("Wallet top-up at {{merchant.name}}", "{{merchant.name}} 儲值收據",
                       "{{merchant.name}} 储值收据");
      v.text = pick(
          "{{member.name}}, you topped up {{top_up.amount}} (bonus {{top_up.bonus}}). "
          "Balance: {{top_up.balance}}.",
          "{{member.name}} 您好，您已儲值 {{top_up.amount}}（贈送 {{top_up.bonus}}），"
          "目前餘額 {{top_up.balance}}。",
          "{{member.name}} 您好，您已储值 {{top_up.amount}}（赠送 {{top_up.bonus}}），"
          "当前余额 {{top_up.balance}}。");
      break;
    case TransactionalKind::kPointsExpiring:
      v.subject = pick("Your points at {{merchant.name}} expire soon",
                       "{{merchant.name}} 點數即將到期", "{{merchant.name}} 积分即将到期");
      v.text = pick("{{member.name}}, {{points.expiring}} points expire on {{points.expires_on}}.",
                    "{{member.name}} 您好，您有 {{points.expiring}} 點將於 {{points.expires_on}} "
                    "到期。",
                    "{{member.name}} 您好，您有 {{points.expiring}} 积分将于 "
                    "{{points.expires_on}} 到期。");
      break;
    case TransactionalKind::kTierChanged:
      v.subject = pick("Your level at {{merchant.name}} changed", "{{merchant.name}} 會員等級變更",
                       "{{merchant.name}} 会员等级变更");
      v.text = pick("{{member.name}}, your level is now {{tier.to_level}}.",
                    "{{member.name}} 您好，您的會員等級已變更為第 {{tier.to_level}} 級。",
                    "{{member.name}} 您好，您的会员等级已变更为第 {{tier.to_level}} 级。");
      break;
    case TransactionalKind::kCouponIssued:
      v.subject = pick("A coupon from {{merchant.name}}", "{{merchant.name}} 送您一張優惠券",
                       "{{merchant.name}} 送您一张优惠券");
      v.text = pick("{{member.name}}, here is your coupon {{coupon.name}}: {{coupon.code}}.",
                    "{{member.name}} 您好，您獲得優惠券「{{coupon.name}}」，代碼 {{coupon.code}}。",
                    "{{member.name}} 您好，您获得优惠券“{{coupon.name}}”，代码 {{coupon.code}}。");
      break;
  }
  return v;
}

// ---- The consumer ----------------------------------------------------------------------------

std::string DefaultTemplateName(TransactionalKind k) {
  switch (k) {
    case TransactionalKind::kReceipt:
      return "Default: e-receipt";
    case TransactionalKind::kTopUp:
      return "Default: top-up receipt";
    case TransactionalKind::kPointsExpiring:
      return "Default: points expiring";
    case TransactionalKind::kTierChanged:
      return "Default: tier changed";
    case TransactionalKind::kCouponIssued:
      return "Default: coupon received";
  }
  return "Default";
}

namespace {

// The kind's default template, created (e-mail, three languages) the first time it is needed.
Result<Template> DefaultTemplateRow(store::Tx& tx, Id merchant_id, Micros now,
                                    TransactionalKind kind) {
  std::string name = DefaultTemplateName(kind);
  RG_ASSIGN_OR_RETURN(auto existing, GetTemplateByName(tx, merchant_id, name));
  if (existing) return existing->t;
  Template t;
  t.name = name;
  t.medium = Medium::kEmail;
  t.purpose = Purpose::kTransactional;
  for (const char* lang : {"zh-TW", "zh-CN", "en"}) {
    DefaultVariant d = DefaultTemplate(kind, lang);
    t.variants[lang] = Variant{d.subject, d.text, d.html};
  }
  RG_ASSIGN_OR_RETURN(auto saved, CreateTemplate(tx, merchant_id, t, now));
  return saved.t;
}

std::optional<Id> VariableId(const json& v, const char* object) {
  auto it = v.find(object);
  if (it == v.end() || !it->is_object()) return std::nullopt;
  auto id = it->find("id");
  if (id == it->end() || !id->is_string()) return std::nullopt;
  return ParseId(id->get<std::string>());
}

}  // namespace

Result<bool> EnqueueTransactional(store::Tx& tx, Id merchant_id, Micros now,
                                  const TransactionalRequest& req, const SecretBox* box,
                                  const std::string& base_url) {
  RG_ASSIGN_OR_RETURN(json settings, GetSettingsJson(tx, merchant_id));
  std::string kind(TransactionalKindName(req.kind));
  const json* on = nullptr;
  if (auto t = settings.find("transactional"); t != settings.end() && t->is_object())
    if (auto k = t->find(kind); k != t->end() && k->is_object()) on = &*k;
  if (!on || !on->value("enabled", false)) return false;

  Template tmpl;
  std::optional<Id> chosen;
  if (auto id = on->find("template_id"); id != on->end() && id->is_string())
    chosen = ParseId(id->get<std::string>());
  std::optional<TemplateRow> picked;
  if (chosen) {
    RG_ASSIGN_OR_RETURN(picked, GetTemplate(tx, merchant_id, *chosen));
  }
  if (picked) {
    tmpl = picked->t;
  } else {  // none chosen, or the chosen one was deleted
    RG_ASSIGN_OR_RETURN(tmpl, DefaultTemplateRow(tx, merchant_id, now, req.kind));
  }
  RG_ASSIGN_OR_RETURN(auto channel, FirstChannel(tx, merchant_id, tmpl.medium));
  if (!channel) return false;
  RG_ASSIGN_OR_RETURN(auto merchant, accounts::GetMerchant(tx, merchant_id));

  ComposeRequest cr;
  cr.member_id = req.member_id;
  cr.tmpl = &tmpl;
  cr.channel_id = *channel;
  cr.dedup_key = req.dedup_key;
  cr.variables = req.variables;
  if (req.kind == TransactionalKind::kReceipt) cr.order_id = VariableId(req.variables, "order");
  cr.base_url = base_url;
  cr.box = box;
  auto price = settings.find("sms_price_minor");
  cr.sms_price_minor =
      price != settings.end() && price->is_number_integer() ? price->get<int64_t>() : 0;
  auto n = Compose(tx, merchant, now, cr);
  // A member without an address for the medium, erased or gone gets nothing; the event is
  // handled (an error here would hold every later event of the merchant back).
  if (!n && (n.error().code == Code::kFailedPrecondition || n.error().code == Code::kNotFound))
    return false;
  if (!n) return std::unexpected(n.error());
  RG_ASSIGN_OR_RETURN(auto q, Enqueue(tx, merchant_id, now, *n));
  return q.created;
}

// ---- Points about to expire ------------------------------------------------------------------

std::string PointsExpiringDedupKey(Id member_id, Id point_type_id, const Date& last_day) {
  return fmt::format("points_expiring:{}:{}:{}", IdToString(member_id), IdToString(point_type_id),
                     FormatDate(last_day));
}

namespace {

// settings.transactional.points_expiring, when switched on: its days_before (default 7).
std::optional<int> PointsExpiringDaysBefore(const json& settings) {
  auto t = settings.find("transactional");
  if (t == settings.end() || !t->is_object()) return std::nullopt;
  auto k = t->find(TransactionalKindName(TransactionalKind::kPointsExpiring));
  if (k == t->end() || !k->is_object() || !k->value("enabled", false)) return std::nullopt;
  auto d = k->find("days_before");
  if (d == k->end() || !d->is_number_integer()) return kDefaultPointsExpiringDaysBefore;
  return std::clamp(d->get<int>(), 1, kMaxPointsExpiringDaysBefore);
}

Result<Date> LocalDate(Micros t, const std::string& tz) {
  RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(t, tz));
  return Date{lt.year, lt.month, lt.day};
}

}  // namespace

Result<int64_t> EnqueuePointsExpiring(store::Tx& tx, Micros now, const SecretBox* box,
                                      const std::string& base_url, int max_per_merchant) {
  RG_ASSIGN_OR_RETURN(store::Rows merchants,
                      tx.Query("SELECT m.merchant_id, m.timezone FROM merchants m JOIN "
                               "messaging_settings s ON s.merchant_id = m.merchant_id ORDER BY "
                               "m.merchant_id"));
  int64_t enqueued = 0;
  for (const auto& mr : merchants) {
    const Id merchant_id = mr.Int(0);
    const std::string tz = mr.Str(1);
    RG_ASSIGN_OR_RETURN(json settings, GetSettingsJson(tx, merchant_id));
    std::optional<int> days_before = PointsExpiringDaysBefore(settings);
    if (!days_before) continue;
    RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(now, tz));
    if (lt.hour < kPointsExpiringEarliestHour) continue;
    // Lots whose last local day is at most today + days_before expire by the local midnight
    // after it.
    Date last = CivilFromDays(DaysFromCivil(lt.year, lt.month, lt.day) + *days_before + 1);
    RG_ASSIGN_OR_RETURN(Micros until, FromLocal(last.year, last.month, last.day, 0, 0, 0, tz));
    RG_ASSIGN_OR_RETURN(
        store::Rows lots,
        tx.Query("SELECT l.member_id, l.point_type_id, l.expires_at, l.remaining, t.code, t.name, "
                 "COALESCE(b.balance, 0) FROM point_lots l "
                 "JOIN members m ON m.merchant_id = l.merchant_id AND m.id = l.member_id "
                 "JOIN point_types t ON t.merchant_id = l.merchant_id AND t.id = l.point_type_id "
                 "LEFT JOIN point_balances b ON b.merchant_id = l.merchant_id AND "
                 "b.member_id = l.member_id AND b.point_type_id = l.point_type_id "
                 "WHERE l.merchant_id = ? AND l.remaining > 0 AND l.expires_at > ? AND "
                 "l.expires_at <= ? AND m.erased_at IS NULL AND m.merged_into IS NULL "
                 "ORDER BY l.member_id, l.point_type_id, l.expires_at",
                 {merchant_id, now, until}));
    // One message per (member, point type, last local day): lots come sorted that way.
    struct Due {
      Id member_id = 0, point_type_id = 0;
      Date last_day;
      int64_t points = 0, balance = 0;
      std::string code, name;
    };
    std::vector<Due> due;
    for (const auto& l : lots) {
      RG_ASSIGN_OR_RETURN(Date day, LocalDate(l.Int(2) - 1, tz));  // expires_at is exclusive
      if (due.empty() || due.back().member_id != l.Int(0) || due.back().point_type_id != l.Int(1) ||
          !(due.back().last_day == day))
        due.push_back({l.Int(0), l.Int(1), day, 0, l.Int(6), l.Str(4), l.Str(5)});
      due.back().points += l.Int(3);
    }
    int64_t here = 0;
    for (const Due& d : due) {
      if (here >= max_per_merchant) break;
      TransactionalRequest req;
      req.kind = TransactionalKind::kPointsExpiring;
      req.member_id = d.member_id;
      req.dedup_key = PointsExpiringDedupKey(d.member_id, d.point_type_id, d.last_day);
      RG_ASSIGN_OR_RETURN(auto existing, GetMessageByDedupKey(tx, merchant_id, req.dedup_key));
      if (existing) continue;  // told already (a rerun, or an earlier day's run)
      req.variables = {{"points",
                        {{"expiring", d.points},
                         {"expires_on", FormatDate(d.last_day)},
                         {"type", d.code},
                         {"type_name", d.name},
                         {"balance", d.balance}}}};
      RG_ASSIGN_OR_RETURN(bool created,
                          EnqueueTransactional(tx, merchant_id, now, req, box, base_url));
      if (created) ++here;
    }
    enqueued += here;
  }
  return enqueued;
}

Status TransactionalConsumer::Handle(store::Tx& tx, const events::Event& event) {
  auto req = TransactionalFor(event);
  if (!req) return {};
  RG_TRY(EnqueueTransactional(tx, event.merchant_id, event.occurred_at, *req, box_, base_url_));
  return {};
}

}  // namespace regulars::messaging
