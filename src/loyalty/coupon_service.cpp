#include "loyalty/coupon_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "base/crypto.h"
#include "base/text.h"
#include "base/zone.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Row;
using store::Rows;
using store::Value;

// Rows per multi-row INSERT: 12 parameters each stays far below SQLite's 32,766.
constexpr size_t kInsertChunk = 500;
// Ids per `IN (...)` list.
constexpr size_t kInChunk = 1000;

// ---------------------------------------------------------------------------------------------
// Rows

constexpr std::string_view kTemplateCols =
    "merchant_id, id, name, kind, amount_off_minor, percent_off, free_item, item_value_minor, "
    "max_discount_minor, min_spend_minor, valid_from, valid_to, valid_days, issue_on, "
    "birthday_days_before, spend_threshold_minor, active, created_at, updated_at";

std::optional<int> OptInt32(const Row& r, size_t i) {
  auto v = r.OptInt(i);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

CouponTemplate TemplateFromRow(const Row& r) {
  CouponTemplate t;
  t.merchant_id = r.Int(0);
  t.id = r.Int(1);
  t.name = r.Str(2);
  t.kind = ParseCouponKind(r.Str(3)).value_or(CouponKind::kAmountOff);
  t.amount_off_minor = r.OptInt(4);
  t.percent_off = OptInt32(r, 5);
  t.free_item = r.OptStr(6);
  t.item_value_minor = r.OptInt(7);
  t.max_discount_minor = r.OptInt(8);
  t.min_spend_minor = r.Int(9);
  t.valid_from = r.OptInt(10);
  t.valid_to = r.OptInt(11);
  t.valid_days = OptInt32(r, 12);
  t.issue_on = ParseIssueOn(r.Str(13)).value_or(IssueOn::kManual);
  t.birthday_days_before = OptInt32(r, 14);
  t.spend_threshold_minor = r.OptInt(15);
  t.active = r.Bool(16);
  t.created_at = r.Int(17);
  t.updated_at = r.Int(18);
  return t;
}

std::vector<Value> TemplateValues(const CouponTemplate& t) {
  return {t.merchant_id,
          t.id,
          t.name,
          std::string(CouponKindName(t.kind)),
          Opt(t.amount_off_minor),
          Opt(t.percent_off),
          Opt(t.free_item),
          Opt(t.item_value_minor),
          Opt(t.max_discount_minor),
          t.min_spend_minor,
          Opt(t.valid_from),
          Opt(t.valid_to),
          Opt(t.valid_days),
          std::string(IssueOnName(t.issue_on)),
          Opt(t.birthday_days_before),
          Opt(t.spend_threshold_minor),
          int64_t{t.active ? 1 : 0},
          t.created_at,
          t.updated_at};
}

constexpr std::string_view kCouponCols =
    "merchant_id, id, code, template_id, member_id, source, source_key, batch_id, valid_from, "
    "valid_until, issued_at, issued_by, redeemed_at, redeemed_order_ref, redeemed_branch_id, "
    "redeemed_by, discount_minor, order_total_minor, voided_at, void_reason";
// The columns written at issue (the first 12 of kCouponCols).
constexpr std::string_view kIssueCols =
    "merchant_id, id, code, template_id, member_id, source, source_key, batch_id, valid_from, "
    "valid_until, issued_at, issued_by";
constexpr std::string_view kIssuePlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

Coupon CouponFromRow(const Row& r) {
  Coupon c;
  c.merchant_id = r.Int(0);
  c.id = r.Int(1);
  c.code = r.Str(2);
  c.template_id = r.Int(3);
  c.member_id = r.Int(4);
  c.source = r.Str(5);
  c.source_key = r.OptStr(6);
  c.batch_id = r.OptInt(7);
  c.valid_from = r.Int(8);
  c.valid_until = r.OptInt(9);
  c.issued_at = r.Int(10);
  c.issued_by = r.Str(11);
  c.redeemed_at = r.OptInt(12);
  c.redeemed_order_ref = r.OptStr(13);
  c.redeemed_branch_id = r.OptInt(14);
  c.redeemed_by = r.OptStr(15);
  c.discount_minor = r.OptInt(16);
  c.order_total_minor = r.OptInt(17);
  c.voided_at = r.OptInt(18);
  c.void_reason = r.OptStr(19);
  return c;
}

void AppendIssueValues(const Coupon& c, std::vector<Value>& params) {
  params.insert(params.end(), {c.merchant_id, c.id, c.code, c.template_id, c.member_id, c.source,
                               Opt(c.source_key), Opt(c.batch_id), c.valid_from, Opt(c.valid_until),
                               c.issued_at, c.issued_by});
}

Result<std::optional<CouponTemplate>> LoadTemplate(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query(fmt::format("SELECT {} FROM coupon_templates WHERE merchant_id = ? AND "
                                      "id = ?",
                                      kTemplateCols),
                          {merchant_id, id}));
  if (rows.empty()) return std::optional<CouponTemplate>{};
  return std::optional<CouponTemplate>(TemplateFromRow(rows[0]));
}

// Active templates of one trigger.
Result<std::vector<CouponTemplate>> TemplatesIssuedOn(store::Tx& tx, Id merchant_id, IssueOn on) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query(fmt::format("SELECT {} FROM coupon_templates WHERE merchant_id = ? AND "
                                      "issue_on = ? AND active = 1 ORDER BY id",
                                      kTemplateCols),
                          {merchant_id, std::string(IssueOnName(on))}));
  std::vector<CouponTemplate> out;
  for (const auto& r : rows) out.push_back(TemplateFromRow(r));
  return out;
}

Result<std::map<Id, CouponTemplate>> TemplateMap(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM coupon_templates WHERE merchant_id = ?", kTemplateCols),
               {merchant_id}));
  std::map<Id, CouponTemplate> out;
  for (const auto& r : rows) {
    CouponTemplate t = TemplateFromRow(r);
    out.emplace(t.id, std::move(t));
  }
  return out;
}

// Codes people can read out and type: no 0/O/1/I, 10 characters (50 random bits).
std::string NewCouponCode() {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  static constexpr std::string_view kBase64Url =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string raw = RandomToken(16);  // 21+ base64url characters, 6 random bits each
  std::string out;
  for (size_t i = 0; out.size() < 10 && i < raw.size(); ++i) {
    size_t v = kBase64Url.find(raw[i]);
    if (v == std::string_view::npos) continue;
    out.push_back(kAlphabet[v & 31]);
  }
  return out;
}

std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char ch : code) {
    if (ch == ' ' || ch == '\t' || ch == '-') continue;
    out.push_back((ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks

Status RequireManager(const Actor& a, std::string_view what) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, fmt::format("only an owner or manager may {}", what));
  return {};
}

Result<CouponTemplate> RequireTemplateForIssue(store::Tx& tx, const Actor& actor, Id id) {
  RG_ASSIGN_OR_RETURN(auto t, LoadTemplate(tx, actor.merchant_id, id));
  if (!t) return InvalidField("template_id", "coupon template not found");
  if (!t->active)
    return Fail(Code::kFailedPrecondition, "template_id: the template is not active",
                "template_id");
  return std::move(*t);
}

// Why a member cannot be given a coupon, or nothing.
std::optional<std::string> Unissuable(const std::optional<Id>& merged_into,
                                      const std::optional<int64_t>& erased_at) {
  if (merged_into) return "the member was merged into another member";
  if (erased_at) return "the member was erased";
  return std::nullopt;
}

Status CheckBranch(store::Tx& tx, const Actor& actor, std::optional<Id> branch_id) {
  if (!branch_id) return {};
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT 1 FROM branches WHERE merchant_id = ? AND id = ?",
                                          {actor.merchant_id, *branch_id}));
  if (rows.empty()) return InvalidField("branch_id", "branch not found");
  if (!actor.MayUseBranch(*branch_id))
    return Fail(Code::kPermissionDenied, "branch_id: you may not act for this branch", "branch_id");
  return {};
}

json IdOrNull(const std::optional<Id>& id) { return id ? json(IdToString(*id)) : json(nullptr); }

Status EmitIssued(store::Tx& tx, const Actor& actor, const Coupon& c, const CouponTemplate& t) {
  json data = {
      {"coupon_id", IdToString(c.id)},
      {"code", c.code},
      {"template_id", IdToString(t.id)},
      {"template_name", t.name},
      {"kind", CouponKindName(t.kind)},
      {"source", c.source},
      {"valid_from", FormatRfc3339(c.valid_from)},
      {"valid_until", c.valid_until ? json(FormatRfc3339(*c.valid_until)) : json(nullptr)}};
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"coupon_issued", c.member_id, actor.Label(), data.dump()}));
  return {};
}

Coupon NewCoupon(const Actor& actor, const CouponTemplate& t, Id member_id,
                 const CouponValidityWindow& w, std::string source) {
  Coupon c;
  c.merchant_id = actor.merchant_id;
  c.id = NewId();
  c.code = NewCouponCode();
  c.template_id = t.id;
  c.member_id = member_id;
  c.source = std::move(source);
  c.valid_from = w.valid_from;
  c.valid_until = w.valid_until;
  c.issued_at = actor.now;
  c.issued_by = actor.Label();
  return c;
}

// Inserts one coupon. A taken code (50 random bits: practically never) gets a new one. With a
// source_key, a coupon that already exists for (template, member, source_key) makes this
// return false and write nothing.
Result<bool> InsertCoupon(store::Tx& tx, Coupon& c) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<Value> params;
    AppendIssueValues(c, params);
    RG_ASSIGN_OR_RETURN(int64_t n, tx.Exec(fmt::format("INSERT INTO coupons ({}) VALUES {} ON "
                                                       "CONFLICT DO NOTHING",
                                                       kIssueCols, kIssuePlaceholders),
                                           params));
    if (n == 1) return true;
    if (c.source_key) {
      RG_ASSIGN_OR_RETURN(Rows existing,
                          tx.Query("SELECT 1 FROM coupons WHERE merchant_id = ? AND template_id = "
                                   "? AND member_id = ? AND source_key = ?",
                                   {c.merchant_id, c.template_id, c.member_id, *c.source_key}));
      if (!existing.empty()) return false;
    }
    c.code = NewCouponCode();
  }
  return Fail(Code::kInternal, "could not find a free coupon code");
}

// Inserts many coupons without source keys, in multi-row statements; codes that collide get
// new ones.
Status InsertCoupons(store::Tx& tx, std::vector<Coupon>& coupons) {
  for (size_t start = 0; start < coupons.size(); start += kInsertChunk) {
    size_t end = std::min(coupons.size(), start + kInsertChunk);
    std::vector<Coupon*> pending;
    for (size_t i = start; i < end; ++i) pending.push_back(&coupons[i]);
    for (int attempt = 0; !pending.empty(); ++attempt) {
      if (attempt == 5) return Fail(Code::kInternal, "could not find free coupon codes");
      std::string sql =
          fmt::format("INSERT INTO coupons ({}) VALUES {}", kIssueCols, kIssuePlaceholders);
      std::vector<Value> params;
      params.reserve(pending.size() * 12);
      for (size_t i = 0; i < pending.size(); ++i) {
        if (i) {
          sql += ", ";
          sql += kIssuePlaceholders;
        }
        AppendIssueValues(*pending[i], params);
      }
      sql += " ON CONFLICT DO NOTHING";
      RG_ASSIGN_OR_RETURN(int64_t n, tx.Exec(sql, params));
      if (n == static_cast<int64_t>(pending.size())) break;
      // Which ones are in? The rest collided on their code.
      std::string in;
      std::vector<Value> q = {coupons[start].merchant_id};
      for (size_t i = 0; i < pending.size(); ++i) {
        in += i ? ", ?" : "?";
        q.push_back(pending[i]->id);
      }
      RG_ASSIGN_OR_RETURN(
          Rows rows,
          tx.Query(fmt::format("SELECT id FROM coupons WHERE merchant_id = ? AND id IN ({})", in),
                   q));
      std::set<Id> inserted;
      for (const auto& r : rows) inserted.insert(r.Int(0));
      std::vector<Coupon*> again;
      for (Coupon* c : pending)
        if (!inserted.contains(c->id)) {
          c->code = NewCouponCode();
          again.push_back(c);
        }
      pending = std::move(again);
    }
  }
  return {};
}

Result<std::optional<CouponView>> LoadCouponByCode(store::Tx& tx, Id merchant_id,
                                                   const std::string& code) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query(fmt::format("SELECT {} FROM coupons WHERE merchant_id = ? AND code = ?",
                                      kCouponCols),
                          {merchant_id, code}));
  if (rows.empty()) return std::optional<CouponView>{};
  CouponView v;
  v.coupon = CouponFromRow(rows[0]);
  RG_ASSIGN_OR_RETURN(auto t, LoadTemplate(tx, merchant_id, v.coupon.template_id));
  if (!t) return Fail(Code::kInternal, "a coupon's template vanished");
  v.tmpl = std::move(*t);
  return std::optional<CouponView>(std::move(v));
}

}  // namespace

// Templates -----------------------------------------------------------------------------------

Result<CouponTemplate> CreateCouponTemplate(store::Tx& tx, const Actor& actor,
                                            const CouponTemplateInput& in) {
  RG_TRY(RequireManager(actor, "configure coupons"));
  if (!in.name) return InvalidField("name", "is required");
  if (!in.kind) return InvalidField("kind", "is required: amount_off, percent_off or free_item");
  CouponTemplate t;
  t.merchant_id = actor.merchant_id;
  t.id = NewId();
  t.created_at = t.updated_at = actor.now;
  RG_TRY(ApplyTemplateInput(t, in));
  RG_TRY(tx.Exec(fmt::format("INSERT INTO coupon_templates ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             kTemplateCols),
                 TemplateValues(t)));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  return t;
}

Result<CouponTemplate> UpdateCouponTemplate(store::Tx& tx, const Actor& actor, Id id,
                                            const CouponTemplateInput& in) {
  RG_ASSIGN_OR_RETURN(auto found, LoadTemplate(tx, actor.merchant_id, id));
  if (!found) return Fail(Code::kNotFound, "coupon template not found");
  RG_TRY(RequireManager(actor, "configure coupons"));
  CouponTemplate t = std::move(*found);
  RG_TRY(ApplyTemplateInput(t, in));
  t.updated_at = actor.now;
  std::vector<Value> v = TemplateValues(t);
  // name .. updated_at, then the key.
  std::vector<Value> params(v.begin() + 2, v.end() - 2);
  params.push_back(t.updated_at);
  params.push_back(t.merchant_id);
  params.push_back(t.id);
  RG_TRY(
      tx.Exec("UPDATE coupon_templates SET name = ?, kind = ?, amount_off_minor = ?, percent_off = "
              "?, free_item = ?, item_value_minor = ?, max_discount_minor = ?, min_spend_minor = "
              "?, valid_from = ?, valid_to = ?, valid_days = ?, issue_on = ?, "
              "birthday_days_before = ?, spend_threshold_minor = ?, active = ?, updated_at = ? "
              "WHERE merchant_id = ? AND id = ?",
              params));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  return t;
}

Result<std::vector<CouponTemplate>> ListCouponTemplates(store::Tx& tx, const Actor& actor) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query(fmt::format("SELECT {} FROM coupon_templates WHERE merchant_id = ? ORDER "
                                      "BY id",
                                      kTemplateCols),
                          {actor.merchant_id}));
  std::vector<CouponTemplate> out;
  for (const auto& r : rows) out.push_back(TemplateFromRow(r));
  return out;
}

Result<CouponTemplate> GetCouponTemplate(store::Tx& tx, const Actor& actor, Id id) {
  RG_ASSIGN_OR_RETURN(auto t, LoadTemplate(tx, actor.merchant_id, id));
  if (!t) return Fail(Code::kNotFound, "coupon template not found");
  return std::move(*t);
}

// Issuing -------------------------------------------------------------------------------------

Result<CouponView> IssueCoupon(store::Tx& tx, const Actor& actor, Id template_id, Id member_id) {
  RG_TRY(RequireManager(actor, "issue coupons"));
  RG_ASSIGN_OR_RETURN(CouponTemplate t, RequireTemplateForIssue(tx, actor, template_id));
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return InvalidField("member_id", "member not found");
  if (auto why = Unissuable(m->merged_into, m->erased_at)) {
    Error e = MakeError(Code::kFailedPrecondition, "member_id: " + *why, "member_id");
    if (m->merged_into) e = std::move(e).WithDetail("member_id", IdToString(*m->merged_into));
    return Fail(std::move(e));
  }
  RG_ASSIGN_OR_RETURN(auto window, CouponValidity(t, actor.now));
  Coupon c = NewCoupon(actor, t, member_id, window, "staff");
  RG_ASSIGN_OR_RETURN(bool inserted, InsertCoupon(tx, c));
  if (!inserted) return Fail(Code::kInternal, "coupon was not inserted");
  RG_TRY(EmitIssued(tx, actor, c, t));
  return CouponView{std::move(c), std::move(t)};
}

Result<BulkIssueResult> IssueCouponsBulk(store::Tx& tx, const Actor& actor,
                                         const BulkIssueInput& in) {
  RG_TRY(RequireManager(actor, "issue coupons"));
  if (in.member_ids.has_value() == in.consented)
    return InvalidField("member_ids", "give member_ids or audience, not both or neither");
  RG_ASSIGN_OR_RETURN(CouponTemplate t, RequireTemplateForIssue(tx, actor, in.template_id));
  RG_ASSIGN_OR_RETURN(auto window, CouponValidity(t, actor.now));

  std::vector<Id> ids;
  if (in.member_ids) {
    if (in.member_ids->empty()) return InvalidField("member_ids", "must not be empty");
    if (in.member_ids->size() > static_cast<size_t>(kMaxBulkCoupons))
      return InvalidField("member_ids",
                          fmt::format("at most {} members per call", kMaxBulkCoupons));
    // Check every member, in chunks, reporting the first bad one by its position.
    std::map<Id, size_t> position;
    for (size_t i = 0; i < in.member_ids->size(); ++i)
      if (position.emplace((*in.member_ids)[i], i).second) ids.push_back((*in.member_ids)[i]);
    std::map<Id, std::optional<std::string>> status;
    for (size_t start = 0; start < ids.size(); start += kInChunk) {
      size_t end = std::min(ids.size(), start + kInChunk);
      std::string list;
      std::vector<Value> params = {actor.merchant_id};
      for (size_t i = start; i < end; ++i) {
        list += i > start ? ", ?" : "?";
        params.push_back(ids[i]);
      }
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT id, merged_into, erased_at FROM "
                                                          "members WHERE merchant_id = ? AND id "
                                                          "IN ({})",
                                                          list),
                                              params));
      for (const auto& r : rows) status[r.Int(0)] = Unissuable(r.OptInt(1), r.OptInt(2));
    }
    for (Id id : ids) {
      auto it = status.find(id);
      std::string field = fmt::format("member_ids[{}]", position[id]);
      if (it == status.end()) return InvalidField(field, "member not found");
      if (it->second) return InvalidField(field, *it->second);
    }
  } else {
    std::string sql =
        "SELECT m.id FROM members m WHERE m.merchant_id = ? AND m.merged_into IS NULL AND "
        "m.erased_at IS NULL AND EXISTS (SELECT 1 FROM member_consents c WHERE c.merchant_id = "
        "m.merchant_id AND c.member_id = m.id AND c.granted = 1";
    std::vector<Value> params = {actor.merchant_id};
    if (in.channel) {
      sql += " AND c.channel = ?";
      params.push_back(std::string(members::ChannelName(*in.channel)));
    }
    sql += ") ORDER BY m.id LIMIT ?";
    params.push_back(int64_t{kMaxBulkCoupons + 1});
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
    if (rows.size() > static_cast<size_t>(kMaxBulkCoupons))
      return Fail(Code::kFailedPrecondition,
                  fmt::format("audience: more than {} members match; issue to member_ids in parts",
                              kMaxBulkCoupons),
                  "audience");
    for (const auto& r : rows) ids.push_back(r.Int(0));
  }

  BulkIssueResult out;
  out.batch_id = NewId();
  std::vector<Coupon> coupons;
  coupons.reserve(ids.size());
  for (Id id : ids) {
    coupons.push_back(NewCoupon(actor, t, id, window, "bulk"));
    coupons.back().batch_id = out.batch_id;
  }
  RG_TRY(InsertCoupons(tx, coupons));
  out.issued = static_cast<int64_t>(coupons.size());
  json data = {{"batch_id", IdToString(out.batch_id)},
               {"template_id", IdToString(t.id)},
               {"template_name", t.name},
               {"count", out.issued},
               {"audience", in.consented ? "consented" : "member_ids"}};
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"coupons_issued", std::nullopt, actor.Label(), data.dump()}));
  return out;
}

Result<std::optional<Coupon>> IssueAutomaticCoupon(store::Tx& tx, const Actor& actor,
                                                   const CouponTemplate& t, Id member_id,
                                                   const std::string& source,
                                                   const std::string& source_key) {
  if (t.merchant_id != actor.merchant_id)
    return Fail(Code::kInternal, "a template of another merchant");
  auto window = CouponValidity(t, actor.now);
  if (!window) return std::optional<Coupon>{};  // the template's window is over: nothing to give
  Coupon c = NewCoupon(actor, t, member_id, *window, source);
  c.source_key = source_key;
  RG_ASSIGN_OR_RETURN(bool inserted, InsertCoupon(tx, c));
  if (!inserted) return std::optional<Coupon>{};
  RG_TRY(EmitIssued(tx, actor, c, t));
  return std::optional<Coupon>(std::move(c));
}

// Reading -------------------------------------------------------------------------------------

Result<Page<CouponView>> ListCoupons(store::Tx& tx, const Actor& actor, const CouponFilter& filter,
                                     std::optional<std::string> cursor, int limit) {
  Id before = INT64_MAX;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    before = *id;
  }
  std::string sql =
      fmt::format("SELECT {} FROM coupons WHERE merchant_id = ? AND id < ?", kCouponCols);
  std::vector<Value> params = {actor.merchant_id, before};
  if (filter.member_id) {
    sql += " AND member_id = ?";
    params.push_back(*filter.member_id);
  }
  if (filter.template_id) {
    sql += " AND template_id = ?";
    params.push_back(*filter.template_id);
  }
  if (filter.batch_id) {
    sql += " AND batch_id = ?";
    params.push_back(*filter.batch_id);
  }
  if (filter.state) {
    switch (*filter.state) {
      case CouponState::kRedeemed:
        sql += " AND redeemed_at IS NOT NULL";
        break;
      case CouponState::kVoided:
        sql += " AND redeemed_at IS NULL AND voided_at IS NOT NULL";
        break;
      case CouponState::kExpired:
        sql += " AND redeemed_at IS NULL AND voided_at IS NULL AND valid_until <= ?";
        params.push_back(actor.now);
        break;
      case CouponState::kNotYetValid:
        sql +=
            " AND redeemed_at IS NULL AND voided_at IS NULL AND valid_from > ? AND (valid_until IS "
            "NULL OR "
            "valid_until > ?)";
        params.push_back(actor.now);
        params.push_back(actor.now);
        break;
      case CouponState::kAvailable:
        sql +=
            " AND redeemed_at IS NULL AND voided_at IS NULL AND valid_from <= ? AND (valid_until "
            "IS NULL OR "
            "valid_until > ?)";
        params.push_back(actor.now);
        params.push_back(actor.now);
        break;
    }
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.push_back(int64_t{limit + 1});
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  RG_ASSIGN_OR_RETURN(auto templates, TemplateMap(tx, actor.merchant_id));
  Page<CouponView> page;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i) {
    Coupon c = CouponFromRow(rows[i]);
    auto t = templates.find(c.template_id);
    if (t == templates.end()) return Fail(Code::kInternal, "a coupon's template vanished");
    page.items.push_back({std::move(c), t->second});
  }
  if (static_cast<int>(rows.size()) > limit)
    page.next_cursor = IdToString(page.items.back().coupon.id);
  return page;
}

Result<CouponView> GetCoupon(store::Tx& tx, const Actor& actor, std::string_view code) {
  RG_ASSIGN_OR_RETURN(auto v, LoadCouponByCode(tx, actor.merchant_id, NormalizeCode(code)));
  if (!v) return Fail(Code::kNotFound, "coupon not found");
  return std::move(*v);
}

// Redemption ----------------------------------------------------------------------------------

Result<CouponView> RedeemCoupon(store::Tx& tx, const Actor& actor, std::string_view code,
                                const RedeemCouponInput& in) {
  std::string normalized = NormalizeCode(code);
  RG_ASSIGN_OR_RETURN(auto found, LoadCouponByCode(tx, actor.merchant_id, normalized));
  if (!found) return Fail(Code::kNotFound, "coupon not found");
  CouponView v = std::move(*found);
  if (in.order_total_minor &&
      (*in.order_total_minor < 0 || *in.order_total_minor > kMaxCouponAmountMinor))
    return InvalidField("order_total_minor", fmt::format("must be 0 to {}", kMaxCouponAmountMinor));
  if (in.order_ref) {
    if (in.order_ref->empty() || in.order_ref->size() > 100)
      return InvalidField("order_ref", "must be 1 to 100 bytes");
    if (!IsValidUtf8(*in.order_ref)) return InvalidField("order_ref", "is not valid UTF-8");
  }
  RG_TRY(CheckBranch(tx, actor, in.branch_id));
  if (in.member_id && *in.member_id != v.coupon.member_id) {
    RG_ASSIGN_OR_RETURN(auto owner, members::LoadMember(tx, actor.merchant_id, v.coupon.member_id));
    if (!owner || owner->merged_into != in.member_id)
      return Fail(Code::kFailedPrecondition, "member_id: the coupon belongs to another member",
                  "member_id");
  }
  RG_TRY(CheckRedeemable(v.coupon, v.tmpl, actor.now, in.order_total_minor));
  int64_t discount = CouponDiscount(v.tmpl, in.order_total_minor);
  RG_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE coupons SET redeemed_at = ?, redeemed_order_ref = ?, redeemed_branch_id = ?, "
              "redeemed_by = ?, discount_minor = ?, order_total_minor = ? WHERE merchant_id = ? "
              "AND id = ? AND redeemed_at IS NULL AND voided_at IS NULL",
              {actor.now, Opt(in.order_ref), Opt(in.branch_id), actor.Label(), discount,
               Opt(in.order_total_minor), actor.merchant_id, v.coupon.id}));
  if (changed != 1) {
    // Someone redeemed it between our read and our update: say when.
    RG_ASSIGN_OR_RETURN(auto now_row, LoadCouponByCode(tx, actor.merchant_id, normalized));
    if (now_row && (now_row->coupon.redeemed_at || now_row->coupon.voided_at)) {
      RG_TRY(CheckRedeemable(now_row->coupon, now_row->tmpl, actor.now, in.order_total_minor));
    }
    return Fail(Code::kAborted, "the coupon changed under us; retrying");
  }
  v.coupon.redeemed_at = actor.now;
  v.coupon.redeemed_order_ref = in.order_ref;
  v.coupon.redeemed_branch_id = in.branch_id;
  v.coupon.redeemed_by = actor.Label();
  v.coupon.discount_minor = discount;
  v.coupon.order_total_minor = in.order_total_minor;
  json data = {
      {"coupon_id", IdToString(v.coupon.id)},
      {"code", v.coupon.code},
      {"template_id", IdToString(v.tmpl.id)},
      {"template_name", v.tmpl.name},
      {"kind", CouponKindName(v.tmpl.kind)},
      {"discount_minor", discount},
      {"order_total_minor", in.order_total_minor ? json(*in.order_total_minor) : json(nullptr)},
      {"order_ref", in.order_ref ? json(*in.order_ref) : json(nullptr)},
      {"branch_id", IdOrNull(in.branch_id)},
      {"staff_id", IdOrNull(actor.staff_id)}};
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"coupon_redeemed", v.coupon.member_id, actor.Label(), data.dump()}));
  return v;
}

// Hooks and jobs ------------------------------------------------------------------------------

Status OnMemberJoined(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto templates, TemplatesIssuedOn(tx, actor.merchant_id, IssueOn::kWelcome));
  return OnMemberJoined(tx, actor, member_id, templates);
}

Status OnMemberJoined(store::Tx& tx, const Actor& actor, Id member_id,
                      const std::vector<CouponTemplate>& templates) {
  for (const auto& t : templates) {
    RG_TRY(IssueAutomaticCoupon(tx, actor, t, member_id, "welcome", "welcome"));
  }
  return {};
}

Status OnOrderForCoupons(store::Tx& tx, const Actor& actor, const OrderResult& result) {
  if (!result.order.member_id) return {};
  std::vector<CouponTemplate> read;
  if (!result.config) {
    RG_ASSIGN_OR_RETURN(read, TemplatesIssuedOn(tx, actor.merchant_id, IssueOn::kSpend));
  }
  const auto& templates = result.config ? result.config->spend_templates : read;
  for (const auto& t : templates) {
    if (!t.spend_threshold_minor || result.order.total_minor < *t.spend_threshold_minor) continue;
    RG_TRY(IssueAutomaticCoupon(tx, actor, t, *result.order.member_id, "spend",
                                "order:" + IdToString(result.order.id)));
  }
  return {};
}

Result<VoidedCoupons> VoidCouponsBySource(store::Tx& tx, const Actor& actor,
                                          const std::string& source_key,
                                          const std::string& reason) {
  VoidedCoupons out;
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query(fmt::format("SELECT {} FROM coupons WHERE merchant_id = ? AND source_key "
                                      "= ? AND voided_at IS NULL ORDER BY id",
                                      kCouponCols),
                          {actor.merchant_id, source_key}));
  for (const auto& r : rows) {
    Coupon c = CouponFromRow(r);
    if (c.redeemed_at) {
      out.kept_redeemed.push_back(std::move(c));
      continue;
    }
    // Conditional, so a redemption racing this refund either wins or is refused.
    RG_ASSIGN_OR_RETURN(int64_t changed,
                        tx.Exec("UPDATE coupons SET voided_at = ?, void_reason = ? WHERE "
                                "merchant_id = ? AND id = ? AND redeemed_at IS NULL AND voided_at "
                                "IS NULL",
                                {actor.now, reason, actor.merchant_id, c.id}));
    if (changed != 1) return Fail(Code::kAborted, "the coupon changed under us; retrying");
    c.voided_at = actor.now;
    c.void_reason = reason;
    json data = {{"coupon_id", IdToString(c.id)},
                 {"code", c.code},
                 {"template_id", IdToString(c.template_id)},
                 {"source", c.source},
                 {"reason", reason}};
    RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                               {"coupon_voided", c.member_id, actor.Label(), data.dump()}));
    out.voided.push_back(std::move(c));
  }
  return out;
}

Result<VoidedCoupons> OnOrderRefundedForCoupons(store::Tx& tx, const Actor& actor,
                                                const Order& order) {
  VoidedCoupons out;
  if (!order.member_id) return out;
  const int64_t net = order.total_minor - order.refunded_minor;
  // The spend gifts this order earned, with the threshold each template has now.
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT DISTINCT t.spend_threshold_minor FROM coupons c JOIN "
                               "coupon_templates t ON t.merchant_id = c.merchant_id AND t.id = "
                               "c.template_id WHERE c.merchant_id = ? AND c.source = 'spend' AND "
                               "c.source_key = ? AND c.voided_at IS NULL",
                               {actor.merchant_id, "order:" + IdToString(order.id)}));
  bool below = false;
  for (const auto& r : rows)
    if (!r.IsNull(0) && net < r.Int(0)) below = true;
  if (!below) return out;
  return VoidCouponsBySource(
      tx, actor, "order:" + IdToString(order.id),
      fmt::format("order {} was refunded below the gift's minimum spend", order.external_id));
}

Result<int64_t> IssueBirthdayCoupons(store::Tx& tx, Micros now, int max_per_merchant) {
  RG_ASSIGN_OR_RETURN(Rows merchants,
                      tx.Query("SELECT DISTINCT t.merchant_id, m.timezone FROM coupon_templates t "
                               "JOIN merchants m ON m.merchant_id = t.merchant_id WHERE "
                               "t.issue_on = 'birthday' AND t.active = 1 ORDER BY t.merchant_id"));
  int64_t issued = 0;
  for (const auto& mr : merchants) {
    Id merchant_id = mr.Int(0);
    Actor actor = accounts::SystemActor(merchant_id, now);
    RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(now, mr.Str(1)));
    const Date today{lt.year, lt.month, lt.day};
    RG_ASSIGN_OR_RETURN(auto templates, TemplatesIssuedOn(tx, merchant_id, IssueOn::kBirthday));
    int left = max_per_merchant;
    for (const auto& t : templates) {
      const int days_before = t.birthday_days_before.value_or(0);
      // Birthdays on each local day from today to today + days_before are due now.
      for (int d = 0; d <= days_before && left > 0; ++d) {
        const Date date = AddDays(today, d);
        const std::string key = fmt::format("birthday:{}", date.year);
        std::string sql =
            "SELECT id FROM members WHERE merchant_id = ? AND merged_into IS NULL AND erased_at "
            "IS NULL AND ((birth_month = ? AND birth_day = ?)";
        std::vector<Value> params = {merchant_id, int64_t{date.month}, int64_t{date.day}};
        if (date.month == 2 && date.day == 28 && !IsLeapYear(date.year))
          sql += " OR (birth_month = 2 AND birth_day = 29)";
        sql +=
            ") AND NOT EXISTS (SELECT 1 FROM coupons c WHERE c.merchant_id = members.merchant_id "
            "AND c.template_id = ? AND c.member_id = members.id AND c.source_key = ?) ORDER BY id "
            "LIMIT ?";
        params.insert(params.end(), {t.id, key, int64_t{left}});
        RG_ASSIGN_OR_RETURN(Rows due, tx.Query(sql, params));
        for (const auto& r : due) {
          RG_ASSIGN_OR_RETURN(auto c,
                              IssueAutomaticCoupon(tx, actor, t, r.Int(0), "birthday", key));
          if (c) {
            ++issued;
            --left;
          }
        }
      }
    }
  }
  return issued;
}

Status MergeCoupons(store::Tx& tx, const Actor& actor, Id into, Id from) {
  RG_TRY(
      tx.Exec("UPDATE coupons SET member_id = ? WHERE merchant_id = ? AND member_id = ? AND "
              "(source_key IS NULL OR NOT EXISTS (SELECT 1 FROM coupons c2 WHERE c2.merchant_id = "
              "coupons.merchant_id AND c2.template_id = coupons.template_id AND c2.member_id = ? "
              "AND c2.source_key = coupons.source_key))",
              {into, actor.merchant_id, from, into}));
  return {};
}

}  // namespace regulars::loyalty
