// Insight: one member's features and scores (from the in-memory feature store), and fitting the
// churn/value models on demand.

#include <cmath>

#include "http/render.h"
#include "http/router.h"
#include "insight/feature_store.h"
#include "insight/rfm.h"
#include "insight/scores.h"
#include "members/member_service.h"

namespace regulars::http {
namespace {

json TimeOrNull(Micros t) { return t == 0 ? json(nullptr) : json(FormatRfc3339(t)); }
json FloatOrNull(float v) { return std::isnan(v) ? json(nullptr) : json(static_cast<double>(v)); }

// The features route's body for member index i (or a member the store has not seen yet: i < 0).
json FeaturesJson(const insight::MerchantFeatures& f, int64_t i, Micros now) {
  json out;
  bool known = i >= 0;
  auto idx = static_cast<size_t>(known ? i : 0);
  int64_t orders = known ? f.orders[idx] : 0;
  int64_t spend = known ? f.spend_minor[idx] : 0;
  Micros first = known ? f.first_order_at[idx] : 0;
  Micros last = known ? f.last_order_at[idx] : 0;
  out["orders"] = orders;
  out["spend_minor"] = spend;
  out["aov_minor"] = orders > 0 ? json(spend / orders) : json(nullptr);
  out["first_order_at"] = TimeOrNull(first);
  out["last_order_at"] = TimeOrNull(last);
  out["days_since_last_order"] = last == 0 ? json(nullptr) : json((now - last) / kMicrosPerDay);
  uint8_t r = known ? f.rfm_r[idx] : 0, fr = known ? f.rfm_f[idx] : 0, m = known ? f.rfm_m[idx] : 0;
  auto group = static_cast<insight::RfmGroup>(known ? f.rfm_group[idx] : 0);
  out["rfm"] = {{"r", r},
                {"f", fr},
                {"m", m},
                {"group", group == insight::RfmGroup::kNone
                              ? json(nullptr)
                              : json(std::string(insight::RfmGroupName(group)))}};
  float nan = std::nanf("");
  float value = known ? f.expected_value_minor[idx] : nan;
  out["p_alive"] = FloatOrNull(known ? f.p_alive[idx] : nan);
  out["expected_purchases_90d"] = FloatOrNull(known ? f.expected_purchases_90d[idx] : nan);
  out["expected_value_minor"] =
      std::isnan(value) ? json(nullptr) : json(static_cast<int64_t>(std::llround(value)));
  out["currency"] = f.currency;
  out["model"] = f.model_kind.empty() ? json(nullptr)
                                      : json{{"fitted_at", FormatRfc3339(f.model_fitted_at)},
                                             {"kind", f.model_kind}};
  return out;
}

json FitJson(const insight::ModelFit& fit) {
  json gg = nullptr;
  if (fit.gamma_gamma)
    gg = {{"p", fit.gamma_gamma->p}, {"q", fit.gamma_gamma->q}, {"gamma", fit.gamma_gamma->gamma}};
  return {
      {"kind", fit.kind},
      {"fitted_at", FormatRfc3339(fit.fitted_at)},
      {"customers", fit.customers},
      {"repeat_buyers", fit.repeat_buyers},
      {"converged", fit.converged},
      {"params",
       {{"bgnbd",
         {{"r", fit.bgnbd.r}, {"alpha", fit.bgnbd.alpha}, {"a", fit.bgnbd.a}, {"b", fit.bgnbd.b}}},
        {"gg", gg}}}};
}

}  // namespace

void RegisterInsightRoutes(Router& router) {
  insight::FeatureStore* features = router.app().features;
  router.Read(
      "GET", "/api/v1/members/{id}/features",
      "A member's purchase features, RFM scores and model predictions",
      [features](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
        RG_ASSIGN_OR_RETURN(auto m, members::GetMember(tx, r.actor, id));
        if (m.erased_at) return Fail(Code::kFailedPrecondition, "member was erased");
        if (m.merged_into)
          return Fail(MakeError(Code::kFailedPrecondition, "member was merged into another member")
                          .WithDetail("member_id", IdToString(*m.merged_into)));
        if (!features) return Fail(Code::kUnavailable, "the feature store is not running");
        Micros now = r.actor.now;
        auto body = features->Read(r.actor.merchant_id, [&](const insight::MerchantFeatures& f) {
          auto it = f.index_of.find(id);
          return FeaturesJson(f, it == f.index_of.end() ? int64_t{-1} : int64_t{it->second}, now);
        });
        if (!body && body.error().code == Code::kNotFound) {
          // A merchant the store has not loaded yet (created a moment ago): nothing bought.
          insight::MerchantFeatures none;
          none.currency = r.merchant.currency;
          body = FeaturesJson(none, -1, now);
        }
        if (!body) return std::unexpected(body.error());
        return Reply{200, std::move(*body)};
      });
  // Fits outside any request transaction: it reads the feature store, then saves the fit and the
  // members' scores in transactions of its own.
  router.Raw("POST", "/api/v1/insight/fit",
             "Fit the churn and value models now and score every member (owner or manager)", true,
             [features](Request& r, AppContext& app) -> Result<Reply> {
               if (!r.actor.IsManagerOrOwner())
                 return Fail(Code::kPermissionDenied, "only an owner or manager may fit models");
               if (!features) return Fail(Code::kUnavailable, "the feature store is not running");
               // "Fit now" includes every order committed before the request.
               RG_TRY(features->CatchUp());
               RG_ASSIGN_OR_RETURN(
                   auto fit,
                   insight::FitMerchant(app.db, *features, r.actor.merchant_id, r.actor.now));
               return Reply{200, FitJson(fit)};
             });
}

}  // namespace regulars::http
