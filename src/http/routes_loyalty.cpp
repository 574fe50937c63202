// Loyalty: program configuration, orders and refunds, balances and ledger, adjustments,
// redemptions.

#include <fmt/format.h>

#include <cmath>

#include "http/order_json.h"
#include "http/render.h"
#include "http/router.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/report_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier_service.h"

namespace regulars::http {
namespace {

using namespace regulars::loyalty;

json IdOrNull(const std::optional<Id>& id) { return id ? json(IdToString(*id)) : json(nullptr); }
json TimeOrNull(const std::optional<Micros>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

json ToJson(const PointType& p) {
  return {{"id", IdToString(p.id)},
          {"code", p.code},
          {"name", p.name},
          {"expiry", {{"kind", ExpiryKindName(p.expiry.kind)}, {"n", p.expiry.n}}},
          {"value_minor_per_1000", p.value_minor_per_1000},
          {"refund_shortfall", p.shortfall == Shortfall::kDebt ? "debt" : "negative"},
          {"active", p.active},
          {"created_at", FormatRfc3339(p.created_at)},
          {"updated_at", FormatRfc3339(p.updated_at)}};
}

json ToJson(const StoredRule& s) {
  return {{"id", IdToString(s.rule.id)},
          {"version", s.rule.version},
          {"name", s.rule.name},
          {"point_type", s.point_type_code},
          {"definition", json::parse(RuleDefinitionJson(s.rule))},
          {"active", s.active},
          {"valid_from", FormatRfc3339(s.valid_from)}};
}

json ToJson(const Reward& w) {
  return {{"id", IdToString(w.id)},
          {"name", w.name},
          {"point_type_id", IdToString(w.point_type_id)},
          {"points", w.points},
          {"stock", w.stock ? json(*w.stock) : json(nullptr)},
          {"per_member_limit", w.per_member_limit ? json(*w.per_member_limit) : json(nullptr)},
          {"active", w.active},
          {"created_at", FormatRfc3339(w.created_at)}};
}

json ToJson(const Entry& e) {
  return {{"id", IdToString(e.id)},
          {"kind", e.kind},
          {"point_type_id", IdToString(e.point_type_id)},
          {"amount", e.amount},
          {"balance_after", e.balance_after},
          {"reason", e.reason},
          {"source", {{"type", e.source_type}, {"id", IdOrNull(e.source_id)}}},
          {"branch_id", IdOrNull(e.branch_id)},
          {"staff_id", IdOrNull(e.staff_id)},
          {"created_at", FormatRfc3339(e.created_at)}};
}

json ToJson(const Lot& l) {
  return {{"id", IdToString(l.id)},
          {"earned_at", FormatRfc3339(l.earned_at)},
          {"expires_at", TimeOrNull(l.expires_at)},
          {"original", l.original},
          {"remaining", l.remaining}};
}

json ToJson(const Redemption& r) {
  return {{"id", IdToString(r.id)},
          {"member_id", IdToString(r.member_id)},
          {"point_type_id", IdToString(r.point_type_id)},
          {"points", r.points},
          {"reward_id", IdOrNull(r.reward_id)},
          {"order_id", IdOrNull(r.order_id)},
          {"status", r.status},
          {"expires_at", FormatRfc3339(r.expires_at)},
          {"balance_after", r.balance_after},
          {"created_at", FormatRfc3339(r.created_at)}};
}

json ToJson(const EarnResult& e, const std::map<Id, std::string>& codes) {
  return EarnJson(e, codes);
}

json ToJson(const loyalty::Order& o, const std::string& currency) { return OrderJson(o, currency); }

Result<std::map<Id, std::string>> Codes(store::Tx& tx, const accounts::Actor& actor) {
  RG_ASSIGN_OR_RETURN(auto types, ListPointTypes(tx, actor));
  std::map<Id, std::string> out;
  for (const auto& t : types) out[t.id] = t.code;
  return out;
}

Result<PointTypeInput> PointTypeFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"code", "name", "expiry", "value_minor_per_1000",
                                                  "refund_shortfall", "active"}));
  PointTypeInput in;
  RG_ASSIGN_OR_RETURN(in.code, f.String("code"));
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.value_minor_per_1000, f.Int("value_minor_per_1000"));
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  RG_ASSIGN_OR_RETURN(auto shortfall, f.String("refund_shortfall"));
  if (shortfall) {
    if (*shortfall == "negative")
      in.shortfall = Shortfall::kNegative;
    else if (*shortfall == "debt")
      in.shortfall = Shortfall::kDebt;
    else
      return InvalidField("refund_shortfall", "must be negative or debt");
  }
  RG_ASSIGN_OR_RETURN(auto expiry, f.Object("expiry"));
  if (expiry) {
    RG_ASSIGN_OR_RETURN(Fields e, Fields::Of(*expiry, {"kind", "n"}, "expiry."));
    RG_ASSIGN_OR_RETURN(auto kind, e.String("kind"));
    RG_ASSIGN_OR_RETURN(auto n, e.Int("n"));
    auto k = kind ? ParseExpiryKind(*kind) : std::nullopt;
    if (!k) return InvalidField("expiry.kind", "must be never, days, end_of_month or end_of_year");
    in.expiry = ExpiryPolicy{*k, static_cast<int>(n.value_or(0))};
  }
  return in;
}

Result<RuleInput> RuleFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"point_type", "name", "definition", "active"}));
  RuleInput in;
  RG_ASSIGN_OR_RETURN(in.point_type, f.String("point_type"));
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  RG_ASSIGN_OR_RETURN(auto def, f.Object("definition"));
  if (def) in.definition_json = def->dump();
  return in;
}

Result<RewardInput> RewardFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"name", "point_type", "points", "stock",
                                                  "per_member_limit", "active"}));
  RewardInput in;
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.point_type, f.String("point_type"));
  RG_ASSIGN_OR_RETURN(in.points, f.Int("points"));
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  for (const char* key : {"stock", "per_member_limit"}) {
    if (!f.Has(key)) continue;
    std::optional<int64_t> v;
    if (!body.at(key).is_null()) {
      RG_ASSIGN_OR_RETURN(v, f.Int(key));
    }
    (std::string_view(key) == "stock" ? in.stock : in.per_member_limit) = v;
  }
  return in;
}

Result<OrderInput> OrderFields(const json& body) {
  RG_ASSIGN_OR_RETURN(
      Fields f, Fields::Of(body, {"external_id", "member_id", "phone", "branch_id", "occurred_at",
                                  "currency", "total_minor", "items"}));
  OrderInput in;
  RG_ASSIGN_OR_RETURN(auto ext, f.String("external_id"));
  in.external_id = ext.value_or("");
  RG_ASSIGN_OR_RETURN(in.member_id, f.IdValue("member_id"));
  RG_ASSIGN_OR_RETURN(in.phone, f.String("phone"));
  RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
  RG_ASSIGN_OR_RETURN(in.currency, f.String("currency"));
  RG_ASSIGN_OR_RETURN(auto total, f.Int("total_minor"));
  if (!total) return InvalidField("total_minor", "is required");
  in.total_minor = *total;
  RG_ASSIGN_OR_RETURN(auto at, f.String("occurred_at"));
  if (at) {
    auto t = ParseRfc3339(*at);
    if (!t)
      return InvalidField("occurred_at", "must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z");
    in.occurred_at = *t;
  }
  if (f.Has("items")) {
    const json& items = body.at("items");
    if (!items.is_array()) return InvalidField("items", "must be an array");
    for (size_t i = 0; i < items.size(); ++i) {
      RG_ASSIGN_OR_RETURN(
          Fields it,
          Fields::Of(items[i], {"sku", "name", "category", "quantity", "unit_price_minor"},
                     fmt::format("items[{}].", i)));
      OrderItemInput item;
      RG_ASSIGN_OR_RETURN(auto sku, it.String("sku"));
      RG_ASSIGN_OR_RETURN(auto name, it.String("name"));
      RG_ASSIGN_OR_RETURN(item.category, it.String("category"));
      RG_ASSIGN_OR_RETURN(auto qty, it.Int("quantity"));
      RG_ASSIGN_OR_RETURN(auto price, it.Int("unit_price_minor"));
      item.sku = sku.value_or("");
      item.name = name.value_or(item.sku);
      item.quantity = qty.value_or(0);
      if (!price) return InvalidField(fmt::format("items[{}].unit_price_minor", i), "is required");
      item.unit_price_minor = *price;
      in.items.push_back(std::move(item));
    }
  }
  return in;
}

Result<Reply> OrderReply(store::Tx& tx, Request& r, const OrderResult& res, int status) {
  std::map<Id, std::string> codes;
  if (res.point_type_codes) {
    codes = *res.point_type_codes;
  } else {
    RG_ASSIGN_OR_RETURN(codes, Codes(tx, r.actor));
  }
  // Serialised by hand here, on the writer, once: the idempotency record and the answer take
  // the same bytes (order_json.h).
  Reply reply{status, json()};
  reply.body_text = OrderReplyText(res, codes, r.merchant.currency);
  return reply;
}

json ToJson(const Tier& t) {
  json benefits = json::parse(t.benefits_json, nullptr, false);
  if (!benefits.is_object()) benefits = json::object();
  return {{"id", IdToString(t.id)},
          {"level", t.level},
          {"name", t.name},
          {"threshold", t.threshold},
          {"earn_multiplier", static_cast<double>(t.earn_multiplier_milli) / 1000.0},
          {"benefits", benefits}};
}

json ToJson(const TierProgram& p) {
  return {{"metric", p.metric == TierMetric::kPoints ? "points" : "spend"},
          {"point_type_id", IdOrNull(p.point_type_id)},
          {"window",
           {{"kind", p.window == TierWindow::kCalendarYear ? "calendar_year" : "rolling_days"},
            {"days", p.window_days}}},
          {"grace_days", p.grace_days}};
}

json ToJson(const MemberTierView& v) {
  return {{"tier", v.tier ? ToJson(*v.tier) : json(nullptr)},
          {"qualified_level", v.qualified_level},
          {"value", v.value},
          {"window_start", FormatRfc3339(v.window_start)},
          {"next_tier", v.next ? ToJson(*v.next) : json(nullptr)},
          {"to_next", v.to_next},
          {"grace_until", TimeOrNull(v.state.grace_until)},
          {"override", v.state.override_level ? json{{"level", *v.state.override_level},
                                                     {"until", TimeOrNull(v.state.override_until)}}
                                              : json(nullptr)}};
}

json ToJson(const StampCard& c) {
  return {{"id", IdToString(c.id)},
          {"name", c.name},
          {"point_type", c.point_type},
          {"stamps_needed", c.stamps_needed},
          {"per", c.per == StampPer::kItem ? "item" : "visit"},
          {"skus", c.skus},
          {"categories", c.categories},
          {"reward_name", c.reward_name},
          {"restart", c.restart},
          {"active", c.active}};
}

json ToJson(const StampReward& w) {
  return {{"id", IdToString(w.id)},
          {"member_id", IdToString(w.member_id)},
          {"card_id", IdToString(w.card_id)},
          {"card_name", w.card_name},
          {"reward_name", w.reward_name},
          {"order_id", IdOrNull(w.order_id)},
          {"status", w.status},
          {"created_at", FormatRfc3339(w.created_at)},
          {"used_at", TimeOrNull(w.used_at)}};
}

Result<StampCardInput> StampCardFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f,
                      Fields::Of(body, {"name", "point_type", "stamps_needed", "per", "skus",
                                        "categories", "reward_name", "restart", "active"}));
  StampCardInput in;
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.point_type, f.String("point_type"));
  RG_ASSIGN_OR_RETURN(in.reward_name, f.String("reward_name"));
  RG_ASSIGN_OR_RETURN(auto needed, f.Int("stamps_needed"));
  if (needed) in.stamps_needed = static_cast<int>(*needed);
  RG_ASSIGN_OR_RETURN(auto per, f.String("per"));
  if (per) {
    if (*per == "item")
      in.per = StampPer::kItem;
    else if (*per == "visit")
      in.per = StampPer::kVisit;
    else
      return InvalidField("per", "must be visit or item");
  }
  RG_ASSIGN_OR_RETURN(in.skus, f.StringList("skus"));
  RG_ASSIGN_OR_RETURN(in.categories, f.StringList("categories"));
  RG_ASSIGN_OR_RETURN(in.restart, f.Bool("restart"));
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  return in;
}

Result<TierInput> TierFields(const json& body) {
  RG_ASSIGN_OR_RETURN(
      Fields f, Fields::Of(body, {"level", "name", "threshold", "earn_multiplier", "benefits"}));
  TierInput in;
  RG_ASSIGN_OR_RETURN(auto level, f.Int("level"));
  if (level) in.level = static_cast<int>(*level);
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.threshold, f.Int("threshold"));
  if (f.Has("earn_multiplier")) {
    const json& m = body.at("earn_multiplier");
    if (!m.is_number()) return InvalidField("earn_multiplier", "must be a number from 1 to 100");
    in.earn_multiplier_milli = static_cast<int64_t>(std::llround(m.get<double>() * 1000));
  }
  RG_ASSIGN_OR_RETURN(auto benefits, f.Object("benefits"));
  if (benefits) in.benefits_json = benefits->dump();
  return in;
}

}  // namespace

void RegisterLoyaltyRoutes(Router& router) {
  // Reports.
  router.Read(
      "GET", "/api/v1/reports/{name}",
      "A report: liability or points-activity (?from=&to=&branch_id=); Accept: text/csv "
      "for CSV",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        std::string name = r.PathParam("name");
        bool csv = r.http.get_header_value("Accept").find("text/csv") != std::string::npos ||
                   r.Query("format").value_or("") == "csv";
        Reply reply;
        if (name == "liability") {
          RG_ASSIGN_OR_RETURN(auto rows, LiabilityReport(tx, r.actor));
          if (csv) {
            reply.raw = LiabilityCsv(rows);
          } else {
            json data = json::array();
            for (const auto& x : rows)
              data.push_back({{"kind", x.kind},
                              {"point_type", x.point_type},
                              {"branch_id", IdOrNull(x.branch_id)},
                              {"members", x.members},
                              {"outstanding", x.outstanding},
                              {"value_minor", x.value_minor},
                              {"currency", r.merchant.currency}});
            reply.body = {{"report", name}, {"data", data}};
          }
        } else if (name == "points-activity") {
          Micros to = r.actor.now, from = r.actor.now - 30 * kMicrosPerDay;
          if (auto f = r.Query("from")) {
            auto t = ParseRfc3339(*f);
            if (!t) return InvalidField("from", "must be an RFC 3339 time");
            from = *t;
          }
          if (auto f = r.Query("to")) {
            auto t = ParseRfc3339(*f);
            if (!t) return InvalidField("to", "must be an RFC 3339 time");
            to = *t;
          }
          std::optional<Id> branch;
          if (auto b = r.Query("branch_id")) {
            branch = ParseId(*b);
            if (!branch) return InvalidField("branch_id", "is not a valid id");
          }
          RG_ASSIGN_OR_RETURN(auto rows, PointsActivityReport(tx, r.actor, from, to, branch));
          if (csv) {
            reply.raw = ActivityCsv(rows);
          } else {
            json data = json::array();
            for (const auto& x : rows)
              data.push_back({{"day", x.day},
                              {"branch_id", IdOrNull(x.branch_id)},
                              {"point_type", x.point_type},
                              {"earned", x.earned},
                              {"redeemed", x.redeemed},
                              {"expired", x.expired},
                              {"reversed", x.reversed}});
            reply.body = {{"report", name},
                          {"from", FormatRfc3339(from)},
                          {"to", FormatRfc3339(to)},
                          {"data", data}};
          }
        } else {
          return InsightReportReply(r, tx, name);  // overview, cohorts, rfm, ...
        }
        if (csv) {
          reply.content_type = "text/csv; charset=utf-8";
          reply.headers.emplace_back("Content-Disposition",
                                     "attachment; filename=\"" + name + ".csv\"");
        }
        return reply;
      });

  // Stamp cards.
  router.Read("GET", "/api/v1/stamp-cards", "Stamp cards",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto cards, ListStampCards(tx, r.actor.merchant_id));
                json data = json::array();
                for (const auto& c : cards) data.push_back(ToJson(c));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/stamp-cards", "Create a stamp card (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, StampCardFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto c, CreateStampCard(tx, r.actor, in));
                 return Reply{201, ToJson(c)};
               });
  router.Write("PATCH", "/api/v1/stamp-cards/{id}", "Change a stamp card (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "stamp card"));
                 RG_ASSIGN_OR_RETURN(auto in, StampCardFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto c, UpdateStampCard(tx, r.actor, id, in));
                 return Reply{200, ToJson(c)};
               });
  router.Write("POST", "/api/v1/members/{id}/stamps",
               "Add stamps at the counter; full cards turn into rewards",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"card_id", "stamps"}));
                 RG_ASSIGN_OR_RETURN(auto card, f.IdValue("card_id"));
                 RG_ASSIGN_OR_RETURN(auto stamps, f.Int("stamps"));
                 if (!card) return InvalidField("card_id", "is required");
                 RG_ASSIGN_OR_RETURN(auto res,
                                     AddStamps(tx, r.actor, id, *card, stamps.value_or(1)));
                 json rewards = json::array();
                 for (const auto& w : res.rewards) rewards.push_back(ToJson(w));
                 return Reply{201,
                              {{"stamps_added", res.stamps_added},
                               {"stamps_after", res.stamps_after},
                               {"rewards", rewards}}};
               });
  router.Read("GET", "/api/v1/members/{id}/stamp-rewards", "A member's stamp-card rewards",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(auto list, MemberStampRewards(tx, r.actor, id));
                json data = json::array();
                for (const auto& w : list) data.push_back(ToJson(w));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/stamp-rewards/{id}/use", "Use a stamp-card reward (once)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "stamp reward"));
                 RG_ASSIGN_OR_RETURN(auto w, UseStampReward(tx, r.actor, id));
                 return Reply{200, ToJson(w)};
               });

  // Tiers.
  router.Read("GET", "/api/v1/tiers", "The tiers and how members qualify",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, r.actor.merchant_id));
                RG_ASSIGN_OR_RETURN(auto program, GetTierProgram(tx, r.actor.merchant_id));
                json data = json::array();
                for (const auto& t : tiers) data.push_back(ToJson(t));
                json body = PageJson(data, std::nullopt);
                body["program"] = ToJson(program);
                return Reply{200, body};
              });
  router.Write("POST", "/api/v1/tiers", "Add a tier (owner or manager; up to 10 levels)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, TierFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto t, CreateTier(tx, r.actor, in));
                 return Reply{201, ToJson(t)};
               });
  router.Write("PATCH", "/api/v1/tiers/{id}", "Change a tier (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "tier"));
                 RG_ASSIGN_OR_RETURN(auto in, TierFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto t, UpdateTier(tx, r.actor, id, in));
                 return Reply{200, ToJson(t)};
               });
  router.Read("GET", "/api/v1/tier-program", "How members qualify for tiers",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto p, GetTierProgram(tx, r.actor.merchant_id));
                return Reply{200, ToJson(p)};
              });
  router.Write("POST", "/api/v1/tier-program",
               "Set how members qualify: spend or points, in a rolling window or a calendar year",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"metric", "point_type", "window",
                                                                   "grace_days"}));
                 TierProgram p;
                 RG_ASSIGN_OR_RETURN(auto metric, f.String("metric"));
                 if (metric && *metric == "points")
                   p.metric = TierMetric::kPoints;
                 else if (metric && *metric != "spend")
                   return InvalidField("metric", "must be spend or points");
                 RG_ASSIGN_OR_RETURN(auto pt, f.String("point_type"));
                 if (pt) {
                   RG_ASSIGN_OR_RETURN(auto t, FindPointType(tx, r.actor, *pt, "point_type"));
                   p.point_type_id = t.id;
                 }
                 RG_ASSIGN_OR_RETURN(auto window, f.Object("window"));
                 if (window) {
                   RG_ASSIGN_OR_RETURN(Fields w, Fields::Of(*window, {"kind", "days"}, "window."));
                   RG_ASSIGN_OR_RETURN(auto kind, w.String("kind"));
                   if (kind && *kind == "calendar_year")
                     p.window = TierWindow::kCalendarYear;
                   else if (kind && *kind != "rolling_days")
                     return InvalidField("window.kind", "must be rolling_days or calendar_year");
                   RG_ASSIGN_OR_RETURN(auto days, w.Int("days"));
                   if (days) p.window_days = static_cast<int>(*days);
                 }
                 RG_ASSIGN_OR_RETURN(auto grace, f.Int("grace_days"));
                 if (grace) p.grace_days = static_cast<int>(*grace);
                 RG_ASSIGN_OR_RETURN(auto saved, SetTierProgram(tx, r.actor, p));
                 return Reply{200, ToJson(saved)};
               });
  router.Read("GET", "/api/v1/members/{id}/tier",
              "A member's tier, progress to the next one, and history",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(auto v, MemberTier(tx, r.actor, id));
                RG_ASSIGN_OR_RETURN(auto history, TierHistory(tx, r.actor, id));
                json body = ToJson(v);
                json h = json::array();
                for (const auto& c : history)
                  h.push_back({{"from_level", c.from_level},
                               {"to_level", c.to_level},
                               {"reason", c.reason},
                               {"at", FormatRfc3339(c.at)}});
                body["history"] = h;
                return Reply{200, body};
              });
  router.Write("POST", "/api/v1/members/{id}/tier-override",
               "Put a member in a tier by hand until a date (level 0 without until clears it)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"level", "until"}));
                 RG_ASSIGN_OR_RETURN(auto level, f.Int("level"));
                 if (!level) return InvalidField("level", "is required");
                 RG_ASSIGN_OR_RETURN(auto until_s, f.String("until"));
                 std::optional<Micros> until;
                 if (until_s) {
                   until = ParseRfc3339(*until_s);
                   if (!until) return InvalidField("until", "must be an RFC 3339 time");
                 }
                 RG_ASSIGN_OR_RETURN(
                     auto v, OverrideTier(tx, r.actor, id, static_cast<int>(*level), until));
                 return Reply{200, ToJson(v)};
               });

  // Point types.
  router.Read("GET", "/api/v1/point-types", "List point types",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto list, ListPointTypes(tx, r.actor));
                json data = json::array();
                for (const auto& p : list) data.push_back(ToJson(p));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/point-types", "Create a point type (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, PointTypeFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto p, CreatePointType(tx, r.actor, in));
                 return Reply{201, ToJson(p)};
               });
  router.Write("PATCH", "/api/v1/point-types/{id}", "Change a point type (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "point type"));
                 RG_ASSIGN_OR_RETURN(auto in, PointTypeFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto p, UpdatePointType(tx, r.actor, id, in));
                 return Reply{200, ToJson(p)};
               });

  // Earning rules.
  router.Read("GET", "/api/v1/earning-rules", "List earning rules (current versions)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto list, ListRules(tx, r.actor));
                json data = json::array();
                for (const auto& s : list) data.push_back(ToJson(s));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/earning-rules", "Create an earning rule (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, RuleFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto s, CreateRule(tx, r.actor, in));
                 return Reply{201, ToJson(s)};
               });
  router.Write("PATCH", "/api/v1/earning-rules/{id}",
               "Change an earning rule: a new version from now; past orders keep theirs",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "earning rule"));
                 RG_ASSIGN_OR_RETURN(auto in, RuleFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto s, UpdateRule(tx, r.actor, id, in));
                 return Reply{200, ToJson(s)};
               });

  // Rewards.
  router.Read("GET", "/api/v1/rewards", "The rewards catalogue",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto list, ListRewards(tx, r.actor));
                json data = json::array();
                for (const auto& w : list) data.push_back(ToJson(w));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/rewards", "Add a reward (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, RewardFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto w, CreateReward(tx, r.actor, in));
                 return Reply{201, ToJson(w)};
               });
  router.Write("PATCH", "/api/v1/rewards/{id}", "Change a reward (owner or manager)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "reward"));
                 RG_ASSIGN_OR_RETURN(auto in, RewardFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto w, UpdateReward(tx, r.actor, id, in));
                 return Reply{200, ToJson(w)};
               });

  // Orders.
  router.Read("POST", "/api/v1/loyalty/calculate",
              "What an order would earn and which rule gave each part; nothing is written",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto in, OrderFields(r.body));
                RG_ASSIGN_OR_RETURN(auto res, CalculateOrder(tx, r.actor, in));
                RG_ASSIGN_OR_RETURN(auto codes, Codes(tx, r.actor));
                return Reply{200, ToJson(res, codes)};
              });
  // The body is read into an order and its phone with libphonenumber before the transaction
  // (prepare), so that work does not run on the SQLite writer; a body that does not parse is
  // left for the transaction to report.
  router.Write(
      "POST", "/api/v1/orders", "Record an order and earn its points",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        // The order as prepare parsed it; a body that did not parse is reported from here.
        const OrderInput* in = std::any_cast<OrderInput>(&r.prepared_value);
        OrderInput parsed;
        if (!in) {
          RG_ASSIGN_OR_RETURN(parsed, OrderFields(r.body));
          in = &parsed;
        }
        RG_ASSIGN_OR_RETURN(auto res, CreateOrder(tx, r.actor, *in));
        return OrderReply(tx, r, res, 201);
      },
      [](Request& r) -> Status {
        auto in = OrderFields(r.body);
        if (!in) return {};
        PrenormalizeOrderPhone(*in, r.merchant.region);
        r.prepared_value = std::move(*in);
        return {};
      });
  router.Read("GET", "/api/v1/orders", "List orders, newest first (?member_id=)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                std::optional<Id> member;
                if (auto m = r.Query("member_id")) {
                  member = ParseId(*m);
                  if (!member) return InvalidField("member_id", "is not a valid id");
                }
                RG_ASSIGN_OR_RETURN(auto page, ListOrders(tx, r.actor, member, r.Cursor(), limit));
                json data = json::array();
                for (const auto& o : page.items) data.push_back(ToJson(o, r.merchant.currency));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Read("GET", "/api/v1/orders/{id}", "One order",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "order"));
                RG_ASSIGN_OR_RETURN(auto o, GetOrder(tx, r.actor, id));
                return Reply{200, ToJson(o, r.merchant.currency)};
              });
  router.Write(
      "POST", "/api/v1/orders/{id}/refunds",
      "Refund the whole order, some items, or an amount; reverses what that part earned",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "order"));
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"items", "amount_minor", "reason"}));
        RefundInput in;
        RG_ASSIGN_OR_RETURN(in.amount_minor, f.Int("amount_minor"));
        RG_ASSIGN_OR_RETURN(auto reason, f.String("reason"));
        in.reason = reason.value_or("");
        if (f.Has("items")) {
          const json& items = r.body.at("items");
          if (!items.is_array()) return InvalidField("items", "must be an array");
          std::vector<RefundLine> lines;
          for (size_t i = 0; i < items.size(); ++i) {
            RG_ASSIGN_OR_RETURN(Fields it, Fields::Of(items[i], {"line", "quantity"},
                                                      fmt::format("items[{}].", i)));
            RG_ASSIGN_OR_RETURN(auto line, it.Int("line"));
            RG_ASSIGN_OR_RETURN(auto qty, it.Int("quantity"));
            if (!line) return InvalidField(fmt::format("items[{}].line", i), "is required");
            lines.push_back({static_cast<int>(*line), qty.value_or(0)});
          }
          in.items = std::move(lines);
        }
        RG_ASSIGN_OR_RETURN(auto res, RefundOrder(tx, r.actor, id, in));
        return OrderReply(tx, r, res, 201);
      });

  // Balances, ledger, lots, adjustments.
  router.Read(
      "GET", "/api/v1/members/{id}/balances",
      "Balances per point type with the points expiring in the next 30 days",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
        RG_ASSIGN_OR_RETURN(auto list, MemberBalances(tx, r.actor, id));
        json points = json::array();
        for (const auto& b : list) {
          json soon = json::array();
          for (const auto& l : b.expiring_soon)
            soon.push_back({{"points", l.remaining}, {"expires_at", TimeOrNull(l.expires_at)}});
          points.push_back({{"point_type", b.type.code},
                            {"name", b.type.name},
                            {"balance", b.balance},
                            {"debt", b.debt},
                            {"earned_total", b.earned_total},
                            {"expiring_soon", soon}});
        }
        return Reply{200, {{"member_id", IdToString(id)}, {"points", points}}};
      });
  router.Read("GET", "/api/v1/members/{id}/ledger", "Ledger entries, newest first",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto page, MemberLedger(tx, r.actor, id, r.Cursor(), limit));
                json data = json::array();
                for (const auto& e : page.items) data.push_back(ToJson(e));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Read("GET", "/api/v1/members/{id}/lots", "Open lots of a point type (?point_type=)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(auto bal, MemberBalances(tx, r.actor, id));
                std::string code = r.Query("point_type").value_or("points");
                RG_ASSIGN_OR_RETURN(auto t, FindPointType(tx, r.actor, code, "point_type"));
                RG_ASSIGN_OR_RETURN(auto lots, MemberLots(tx, r.actor, id, t.id));
                json data = json::array();
                for (const auto& l : lots) data.push_back(ToJson(l));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write(
      "POST", "/api/v1/members/{id}/adjustments",
      "Add or remove points by hand with a reason (owner or manager)",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"point_type", "points", "reason"}));
        RG_ASSIGN_OR_RETURN(auto pt, f.String("point_type"));
        RG_ASSIGN_OR_RETURN(auto points, f.Int("points"));
        RG_ASSIGN_OR_RETURN(auto reason, f.String("reason"));
        if (!points) return InvalidField("points", "is required");
        RG_ASSIGN_OR_RETURN(
            auto e, Adjust(tx, r.actor, id, pt.value_or("points"), *points, reason.value_or("")));
        return Reply{201, ToJson(e)};
      });

  // Redemptions.
  router.Write("POST", "/api/v1/redemptions",
               "Reserve points for a reward or an amount (commit: true to redeem at once)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(
                     Fields f, Fields::Of(r.body, {"member_id", "reward_id", "point_type", "points",
                                                   "order_id", "branch_id", "commit"}));
                 RedeemInput in;
                 RG_ASSIGN_OR_RETURN(auto member, f.IdValue("member_id"));
                 if (!member) return InvalidField("member_id", "is required");
                 in.member_id = *member;
                 RG_ASSIGN_OR_RETURN(in.reward_id, f.IdValue("reward_id"));
                 RG_ASSIGN_OR_RETURN(in.point_type, f.String("point_type"));
                 RG_ASSIGN_OR_RETURN(in.points, f.Int("points"));
                 RG_ASSIGN_OR_RETURN(in.order_id, f.IdValue("order_id"));
                 RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
                 RG_ASSIGN_OR_RETURN(auto commit, f.Bool("commit"));
                 in.commit = commit.value_or(false);
                 auto res = Reserve(tx, r.actor, in);
                 if (!res && res.error().code == Code::kNotFound &&
                     res.error().message == "member not found")
                   return InvalidField("member_id", "member not found");
                 RG_TRY(res);
                 return Reply{201, ToJson(*res)};
               });
  router.Write("POST", "/api/v1/redemptions/{id}/commit", "Commit a reserved redemption",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "redemption"));
                 RG_ASSIGN_OR_RETURN(auto res, CommitRedemption(tx, r.actor, id));
                 return Reply{200, ToJson(res)};
               });
  router.Write("POST", "/api/v1/redemptions/{id}/cancel",
               "Cancel a reserved redemption; its points come back to the same lots",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "redemption"));
                 RG_ASSIGN_OR_RETURN(auto res, CancelRedemption(tx, r.actor, id));
                 return Reply{200, ToJson(res)};
               });
}

}  // namespace regulars::http
