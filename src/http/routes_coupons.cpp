// Coupons and referrals: coupon templates, issuing (to a member or in bulk), listing and
// redeeming coupons by code; the referral program and referrals.

#include <fmt/format.h>

#include "http/router.h"
#include "loyalty/coupon_service.h"
#include "loyalty/referral_service.h"

namespace regulars::http {
namespace {

using loyalty::Coupon;
using loyalty::CouponTemplate;
using loyalty::CouponView;

json IdOrNull(const std::optional<Id>& v) { return v ? json(IdToString(*v)) : json(nullptr); }
template <class T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
json TimeOrNull(const std::optional<Micros>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

json TemplateJson(const CouponTemplate& t, const std::string& currency) {
  return {{"id", IdToString(t.id)},
          {"name", t.name},
          {"kind", loyalty::CouponKindName(t.kind)},
          {"amount_off_minor", OrNull(t.amount_off_minor)},
          {"percent_off", OrNull(t.percent_off)},
          {"free_item", OrNull(t.free_item)},
          {"item_value_minor", OrNull(t.item_value_minor)},
          {"max_discount_minor", OrNull(t.max_discount_minor)},
          {"min_spend_minor", t.min_spend_minor},
          {"currency", currency},
          {"valid_from", TimeOrNull(t.valid_from)},
          {"valid_to", TimeOrNull(t.valid_to)},
          {"valid_days", OrNull(t.valid_days)},
          {"issue_on", loyalty::IssueOnName(t.issue_on)},
          {"birthday_days_before", OrNull(t.birthday_days_before)},
          {"spend_threshold_minor", OrNull(t.spend_threshold_minor)},
          {"active", t.active},
          {"created_at", FormatRfc3339(t.created_at)},
          {"updated_at", FormatRfc3339(t.updated_at)}};
}

json CouponJson(const CouponView& v, Micros now, const std::string& currency) {
  const Coupon& c = v.coupon;
  json redemption = nullptr;
  if (c.redeemed_at)
    redemption = {{"redeemed_at", FormatRfc3339(*c.redeemed_at)},
                  {"discount_minor", OrNull(c.discount_minor)},
                  {"order_total_minor", OrNull(c.order_total_minor)},
                  {"order_ref", OrNull(c.redeemed_order_ref)},
                  {"branch_id", IdOrNull(c.redeemed_branch_id)},
                  {"by", OrNull(c.redeemed_by)}};
  return {{"id", IdToString(c.id)},
          {"code", c.code},
          {"member_id", IdToString(c.member_id)},
          {"template_id", IdToString(v.tmpl.id)},
          {"name", v.tmpl.name},
          {"kind", loyalty::CouponKindName(v.tmpl.kind)},
          {"amount_off_minor", OrNull(v.tmpl.amount_off_minor)},
          {"percent_off", OrNull(v.tmpl.percent_off)},
          {"free_item", OrNull(v.tmpl.free_item)},
          {"max_discount_minor", OrNull(v.tmpl.max_discount_minor)},
          {"min_spend_minor", v.tmpl.min_spend_minor},
          {"currency", currency},
          {"status", loyalty::CouponStateName(c.StateAt(now))},
          {"voided_at", c.voided_at ? json(FormatRfc3339(*c.voided_at)) : json(nullptr)},
          {"void_reason", OrNull(c.void_reason)},
          {"valid_from", FormatRfc3339(c.valid_from)},
          {"valid_until", TimeOrNull(c.valid_until)},
          {"source", c.source},
          {"batch_id", IdOrNull(c.batch_id)},
          {"issued_at", FormatRfc3339(c.issued_at)},
          {"redemption", redemption}};
}

// An optional field that may also be null ("clear it").
template <class T, class Read>
Result<std::optional<std::optional<T>>> Nullable(const Fields& f, const json& body,
                                                 std::string_view key, Read read) {
  if (!f.Has(key)) return std::optional<std::optional<T>>{};
  if (body.at(std::string(key)).is_null())
    return std::optional<std::optional<T>>(std::optional<T>{});
  RG_ASSIGN_OR_RETURN(auto v, read(key));
  return std::optional<std::optional<T>>(std::optional<T>(static_cast<T>(*v)));
}

Result<std::optional<std::optional<Micros>>> NullableTime(const Fields& f, const json& body,
                                                          std::string_view key) {
  RG_ASSIGN_OR_RETURN(auto s, f.NullableString(key));
  if (!s) return std::optional<std::optional<Micros>>{};
  if (!*s) return std::optional<std::optional<Micros>>(std::optional<Micros>{});
  auto t = ParseRfc3339(**s);
  if (!t)
    return InvalidField(std::string(key), "must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z");
  return std::optional<std::optional<Micros>>(std::optional<Micros>(*t));
}

Result<loyalty::CouponTemplateInput> TemplateFields(const json& body) {
  RG_ASSIGN_OR_RETURN(
      Fields f, Fields::Of(body, {"name", "kind", "amount_off_minor", "percent_off", "free_item",
                                  "item_value_minor", "max_discount_minor", "min_spend_minor",
                                  "valid_from", "valid_to", "valid_days", "issue_on",
                                  "birthday_days_before", "spend_threshold_minor", "active"}));
  loyalty::CouponTemplateInput in;
  auto ints = [&](std::string_view k) { return f.Int(k); };
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(auto kind, f.String("kind"));
  if (kind) {
    in.kind = loyalty::ParseCouponKind(*kind);
    if (!in.kind) return InvalidField("kind", "must be amount_off, percent_off or free_item");
  }
  RG_ASSIGN_OR_RETURN(in.amount_off_minor, Nullable<int64_t>(f, body, "amount_off_minor", ints));
  RG_ASSIGN_OR_RETURN(in.item_value_minor, Nullable<int64_t>(f, body, "item_value_minor", ints));
  RG_ASSIGN_OR_RETURN(in.max_discount_minor,
                      Nullable<int64_t>(f, body, "max_discount_minor", ints));
  RG_ASSIGN_OR_RETURN(in.spend_threshold_minor,
                      Nullable<int64_t>(f, body, "spend_threshold_minor", ints));
  for (const char* key : {"percent_off", "valid_days", "birthday_days_before"}) {
    RG_ASSIGN_OR_RETURN(auto v, Nullable<int64_t>(f, body, key, ints));
    if (v && *v && (**v < -1'000'000 || **v > 1'000'000))
      return InvalidField(key, "is out of range");
    std::optional<std::optional<int>> narrowed;
    if (v) narrowed = *v ? std::optional<int>(static_cast<int>(**v)) : std::optional<int>{};
    std::string_view k = key;
    (k == "percent_off"  ? in.percent_off
     : k == "valid_days" ? in.valid_days
                         : in.birthday_days_before) = narrowed;
  }
  RG_ASSIGN_OR_RETURN(in.free_item, f.NullableString("free_item"));
  RG_ASSIGN_OR_RETURN(in.min_spend_minor, f.Int("min_spend_minor"));
  RG_ASSIGN_OR_RETURN(in.valid_from, NullableTime(f, body, "valid_from"));
  RG_ASSIGN_OR_RETURN(in.valid_to, NullableTime(f, body, "valid_to"));
  RG_ASSIGN_OR_RETURN(auto issue_on, f.String("issue_on"));
  if (issue_on) {
    in.issue_on = loyalty::ParseIssueOn(*issue_on);
    if (!in.issue_on) return InvalidField("issue_on", "must be manual, welcome, birthday or spend");
  }
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  return in;
}

Result<std::optional<Id>> QueryId(const Request& r, std::string_view name) {
  auto v = r.Query(name);
  if (!v) return std::optional<Id>{};
  auto id = ParseId(*v);
  if (!id) return InvalidField(std::string(name), "is not a valid id");
  return std::optional<Id>(*id);
}

json RewardJson(const loyalty::ReferralReward& w) {
  if (w.coupon_template_id) return {{"coupon_template_id", IdToString(*w.coupon_template_id)}};
  if (w.point_type_id) return {{"point_type", w.point_type}, {"points", w.points}};
  return nullptr;
}

json ProgramJson(const loyalty::ReferralProgram& p, const std::string& currency) {
  return {{"configured", p.configured},
          {"active", p.active},
          {"referrer_reward", RewardJson(p.referrer)},
          {"newcomer_reward", RewardJson(p.newcomer)},
          {"min_spend_minor", p.min_spend_minor},
          {"currency", currency},
          {"limit_per_referrer", OrNull(p.limit_per_referrer)},
          {"updated_at", p.configured ? json(FormatRfc3339(p.updated_at)) : json(nullptr)}};
}

json ReferralJson(const loyalty::Referral& r) {
  return {{"id", IdToString(r.id)},
          {"referrer_id", IdToString(r.referrer_id)},
          {"member_id", IdToString(r.newcomer_id)},
          {"referral_code", r.code},
          {"device_id", OrNull(r.device_id)},
          {"status", r.status},
          {"order_id", IdOrNull(r.order_id)},
          {"created_at", FormatRfc3339(r.created_at)},
          {"rewarded_at", TimeOrNull(r.rewarded_at)}};
}

Result<std::optional<loyalty::ReferralRewardInput>> RewardFields(const json& body,
                                                                 const std::string& key) {
  if (!body.contains(key) || body.at(key).is_null())
    return std::optional<loyalty::ReferralRewardInput>{};
  if (!body.at(key).is_object()) return InvalidField(key, "must be an object or null");
  RG_ASSIGN_OR_RETURN(
      Fields f,
      Fields::Of(body.at(key), {"point_type", "points", "coupon_template_id"}, key + "."));
  loyalty::ReferralRewardInput in;
  RG_ASSIGN_OR_RETURN(in.point_type, f.String("point_type"));
  RG_ASSIGN_OR_RETURN(in.points, f.Int("points"));
  RG_ASSIGN_OR_RETURN(in.coupon_template_id, f.IdValue("coupon_template_id"));
  if (!in.point_type && !in.points && !in.coupon_template_id)
    return InvalidField(key, "give point_type and points, or coupon_template_id");
  return std::optional<loyalty::ReferralRewardInput>(std::move(in));
}

}  // namespace

void RegisterCouponRoutes(Router& router) {
  // Templates.
  router.Read("GET", "/api/v1/coupon-templates", "Coupon templates",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto list, loyalty::ListCouponTemplates(tx, r.actor));
                json data = json::array();
                for (const auto& t : list) data.push_back(TemplateJson(t, r.merchant.currency));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/coupon-templates",
               "Create a coupon template (amount off, percent off or free item)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, TemplateFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto t, loyalty::CreateCouponTemplate(tx, r.actor, in));
                 return Reply{201, TemplateJson(t, r.merchant.currency)};
               });
  router.Write("PATCH", "/api/v1/coupon-templates/{id}", "Change or retire a coupon template",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "coupon template"));
                 RG_ASSIGN_OR_RETURN(auto in, TemplateFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto t, loyalty::UpdateCouponTemplate(tx, r.actor, id, in));
                 return Reply{200, TemplateJson(t, r.merchant.currency)};
               });

  // Coupons.
  router.Read("GET", "/api/v1/coupons",
              "Coupons, newest first (?member_id=&template_id=&batch_id=&status=available|redeemed|"
              "expired|not_yet_valid|voided)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                loyalty::CouponFilter filter;
                RG_ASSIGN_OR_RETURN(filter.member_id, QueryId(r, "member_id"));
                RG_ASSIGN_OR_RETURN(filter.template_id, QueryId(r, "template_id"));
                RG_ASSIGN_OR_RETURN(filter.batch_id, QueryId(r, "batch_id"));
                if (auto s = r.Query("status")) {
                  filter.state = loyalty::ParseCouponState(*s);
                  if (!filter.state)
                    return InvalidField(
                        "status", "must be available, redeemed, expired, not_yet_valid or voided");
                }
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto page,
                                    loyalty::ListCoupons(tx, r.actor, filter, r.Cursor(), limit));
                json data = json::array();
                for (const auto& v : page.items)
                  data.push_back(CouponJson(v, r.actor.now, r.merchant.currency));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write(
      "POST", "/api/v1/coupons",
      "Issue coupons: {template_id, member_id}, {template_id, member_ids} or {template_id, "
      "audience: consented, channel?}",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"template_id", "member_id", "member_ids",
                                                          "audience", "channel"}));
        RG_ASSIGN_OR_RETURN(auto template_id, f.IdValue("template_id"));
        if (!template_id) return InvalidField("template_id", "is required");
        RG_ASSIGN_OR_RETURN(auto member_id, f.IdValue("member_id"));
        RG_ASSIGN_OR_RETURN(auto member_ids, f.IdList("member_ids"));
        RG_ASSIGN_OR_RETURN(auto audience, f.String("audience"));
        RG_ASSIGN_OR_RETURN(auto channel, f.String("channel"));
        int given = (member_id ? 1 : 0) + (member_ids ? 1 : 0) + (audience ? 1 : 0);
        if (given != 1)
          return InvalidField("member_id", "give one of member_id, member_ids or audience");
        if (channel && !audience) return InvalidField("channel", "goes with audience");
        if (member_id) {
          RG_ASSIGN_OR_RETURN(auto v, loyalty::IssueCoupon(tx, r.actor, *template_id, *member_id));
          return Reply{201, CouponJson(v, r.actor.now, r.merchant.currency)};
        }
        loyalty::BulkIssueInput in;
        in.template_id = *template_id;
        in.member_ids = std::move(member_ids);
        if (audience) {
          if (*audience != "consented")
            return InvalidField("audience", "must be consented (members with marketing consent)");
          in.consented = true;
          if (channel) {
            in.channel = members::ParseChannel(*channel);
            if (!in.channel) return InvalidField("channel", "must be sms, email or line");
          }
        }
        RG_ASSIGN_OR_RETURN(auto res, loyalty::IssueCouponsBulk(tx, r.actor, in));
        return Reply{201,
                     {{"batch_id", IdToString(res.batch_id)},
                      {"template_id", IdToString(in.template_id)},
                      {"issued", res.issued}}};
      });
  router.Read("GET", "/api/v1/coupons/{code}", "One coupon by its code",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto v, loyalty::GetCoupon(tx, r.actor, r.PathParam("code")));
                return Reply{200, CouponJson(v, r.actor.now, r.merchant.currency)};
              });
  router.Write(
      "POST", "/api/v1/coupons/{code}/redeem",
      "Redeem a coupon once, within its validity: {member_id?, order_total_minor?, order_ref?, "
      "branch_id?}",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"member_id", "order_total_minor",
                                                          "order_ref", "branch_id"}));
        loyalty::RedeemCouponInput in;
        RG_ASSIGN_OR_RETURN(in.member_id, f.IdValue("member_id"));
        RG_ASSIGN_OR_RETURN(in.order_total_minor, f.Int("order_total_minor"));
        RG_ASSIGN_OR_RETURN(in.order_ref, f.String("order_ref"));
        RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
        RG_ASSIGN_OR_RETURN(auto v, loyalty::RedeemCoupon(tx, r.actor, r.PathParam("code"), in));
        json body = CouponJson(v, r.actor.now, r.merchant.currency);
        body["discount_minor"] = v.coupon.discount_minor.value_or(0);
        return Reply{200, body};
      });

  // Referrals.
  router.Read("GET", "/api/v1/referral-program", "The referral program",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto p, loyalty::GetReferralProgram(tx, r.actor));
                return Reply{200, ProgramJson(p, r.merchant.currency)};
              });
  router.Write("POST", "/api/v1/referral-program",
               "Set the referral program (replaces it): rewards per side, min_spend_minor, "
               "limit_per_referrer",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(
                     Fields f, Fields::Of(r.body, {"active", "referrer_reward", "newcomer_reward",
                                                   "min_spend_minor", "limit_per_referrer"}));
                 loyalty::ReferralProgramInput in;
                 RG_ASSIGN_OR_RETURN(auto active, f.Bool("active"));
                 in.active = active.value_or(true);
                 RG_ASSIGN_OR_RETURN(in.referrer_reward, RewardFields(r.body, "referrer_reward"));
                 RG_ASSIGN_OR_RETURN(in.newcomer_reward, RewardFields(r.body, "newcomer_reward"));
                 RG_ASSIGN_OR_RETURN(auto min_spend, f.Int("min_spend_minor"));
                 in.min_spend_minor = min_spend.value_or(0);
                 if (f.Has("limit_per_referrer") && !r.body.at("limit_per_referrer").is_null()) {
                   RG_ASSIGN_OR_RETURN(auto limit, f.Int("limit_per_referrer"));
                   if (*limit < 1 || *limit > 1'000'000)
                     return InvalidField("limit_per_referrer",
                                         "must be 1 to 1000000, or null for no limit");
                   in.limit_per_referrer = static_cast<int>(*limit);
                 }
                 RG_ASSIGN_OR_RETURN(auto p, loyalty::SetReferralProgram(tx, r.actor, in));
                 return Reply{200, ProgramJson(p, r.merchant.currency)};
               });
  router.Read("GET", "/api/v1/referrals",
              "Referrals, newest first (?member_id= as referrer or newcomer)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto member_id, QueryId(r, "member_id"));
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(
                    auto page, loyalty::ListReferrals(tx, r.actor, member_id, r.Cursor(), limit));
                json data = json::array();
                for (const auto& x : page.items) data.push_back(ReferralJson(x));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write("POST", "/api/v1/referrals",
               "Record that a new member joined with a referral code: {member_id, referral_code, "
               "device_id?}",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(
                     Fields f, Fields::Of(r.body, {"member_id", "referral_code", "device_id"}));
                 loyalty::ReferralInput in;
                 RG_ASSIGN_OR_RETURN(auto member_id, f.IdValue("member_id"));
                 if (!member_id) return InvalidField("member_id", "is required");
                 in.newcomer_id = *member_id;
                 RG_ASSIGN_OR_RETURN(auto code, f.String("referral_code"));
                 if (!code) return InvalidField("referral_code", "is required");
                 in.referral_code = *code;
                 RG_ASSIGN_OR_RETURN(in.device_id, f.String("device_id"));
                 RG_ASSIGN_OR_RETURN(auto ref, loyalty::RecordReferral(tx, r.actor, in));
                 return Reply{201, ReferralJson(ref)};
               });
}

}  // namespace regulars::http
