#include "insight/scores.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/zone.h"
#include "insight/rfm.h"

namespace regulars::insight {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;

namespace {

constexpr int64_t kSecondsPerDay = 86'400;
constexpr int kNightlyHour = 3;  // local hour from which the nightly fit is due

int64_t DayOf(int64_t seconds) {
  return seconds >= 0 ? seconds / kSecondsPerDay
                      : -((-seconds + kSecondsPerDay - 1) / kSecondsPerDay);
}

// The member's own mean net spend per purchase day.
double OwnMeanSpend(const MerchantFeatures& f, uint32_t i) {
  int64_t days = 0, last_day = std::numeric_limits<int64_t>::min();
  for (const OrderFact& o : f.Orders(i)) {
    if (f.NetMinor(o) <= 0) continue;
    int64_t d = DayOf(o.at_s);
    if (d != last_day) ++days;
    last_day = d;
  }
  return days == 0 ? 0.0 : static_cast<double>(f.spend_minor[i]) / static_cast<double>(days);
}

}  // namespace

double LimitExpectedPurchases(const BgNbdParams& p, const RfmSummary& s, double t) {
  if (!(t > 0)) return 0.0;
  const double pd = p.a / (p.a + p.b);
  const double k = p.r + s.x;
  if (!(pd > 0)) return k / (p.alpha + s.T) * t;  // the NBD
  // (1 - ((alpha + T) / (alpha + T + pd t))^k) / pd, accurate for small pd.
  const double grow = -std::expm1(-k * std::log1p(pd * t / (p.alpha + s.T)));
  return BgNbdProbabilityAlive(p, s) * grow / pd;
}

double ExpectedPurchases(const BgNbdParams& p, const RfmSummary& s, double t) {
  double e = BgNbdConditionalExpectedPurchases(p, s, t);
  if (std::isfinite(e)) return e;
  return LimitExpectedPurchases(p, s, t);
}

bool UsesLimit(const ModelFit& fit) {
  const double a = fit.bgnbd.a, b = fit.bgnbd.b;
  return !fit.converged || !std::isfinite(a) || !std::isfinite(b) || a > kMaxDropoutShape ||
         b > kMaxDropoutShape;
}

std::optional<RfmSummary> MemberSummary(const MerchantFeatures& f, uint32_t i, Micros now) {
  // The log is sorted by time, so purchase days come in order.
  int64_t first_day = 0, last_day = 0, days = 0;
  double first_spend = 0, total = 0;
  for (const OrderFact& o : f.Orders(i)) {
    const int64_t net = f.NetMinor(o);
    if (net <= 0) continue;
    int64_t d = DayOf(o.at_s);
    if (days == 0) {
      first_day = last_day = d;
      days = 1;
    } else if (d != last_day) {
      last_day = d;
      ++days;
    }
    if (d == first_day) first_spend += static_cast<double>(net);
    total += static_cast<double>(net);
  }
  if (days == 0) return std::nullopt;
  int64_t today = DayOf(now / kMicrosPerSecond);
  RfmSummary s;
  s.x = static_cast<double>(days - 1);
  s.t_x = static_cast<double>(last_day - first_day);
  s.T = static_cast<double>(std::max(today, last_day) - first_day);
  s.monetary = days > 1 ? (total - first_spend) / s.x : 0.0;
  return s;
}

std::vector<RfmSummary> BuyerSummaries(const MerchantFeatures& f, Micros now) {
  std::vector<RfmSummary> out;
  for (uint32_t i = 0; i < f.size(); ++i)
    if (auto s = MemberSummary(f, i, now)) out.push_back(*s);
  return out;
}

Result<ModelFit> FitModels(const std::vector<RfmSummary>& buyers, Micros now) {
  ModelFit fit;
  fit.calibration_end = now;
  fit.fitted_at = now;
  fit.customers = static_cast<int64_t>(buyers.size());
  for (const auto& s : buyers) fit.repeat_buyers += s.x > 0 ? 1 : 0;
  if (buyers.empty()) return Fail(Code::kFailedPrecondition, "no member has bought yet");
  if (fit.repeat_buyers == 0)
    return Fail(Code::kFailedPrecondition,
                "no member has bought on two different days yet: the purchase model needs "
                "repeat buyers");
  FitOptions options;
  options.xtol_rel = 1e-8;
  options.ftol_abs = 1e-8;
  RG_ASSIGN_OR_RETURN(BgNbdFit bg, FitBgNbd(buyers, options));
  fit.bgnbd = bg.params;
  fit.log_likelihood = bg.report.log_likelihood;
  fit.converged = bg.report.converged;
  if (fit.repeat_buyers >= 2) {
    auto gg = FitGammaGamma(buyers, options);
    if (gg && gg->params.q > 1) fit.gamma_gamma = gg->params;
  }
  return fit;
}

void ApplyModels(MerchantFeatures& f, const ModelFit& fit, Micros now) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  size_t n = f.size();
  f.p_alive.assign(n, nan);
  f.expected_purchases_90d.assign(n, nan);
  f.expected_value_minor.assign(n, nan);
  const bool limit = UsesLimit(fit);
  for (uint32_t i = 0; i < n; ++i) {
    auto s = MemberSummary(f, i, now);
    if (!s) continue;
    double spend =
        fit.gamma_gamma ? GammaGammaExpectedSpend(*fit.gamma_gamma, *s) : OwnMeanSpend(f, i);
    double e90 =
        limit ? LimitExpectedPurchases(fit.bgnbd, *s, 90) : ExpectedPurchases(fit.bgnbd, *s, 90);
    double e365 =
        limit ? LimitExpectedPurchases(fit.bgnbd, *s, 365) : ExpectedPurchases(fit.bgnbd, *s, 365);
    f.p_alive[i] = static_cast<float>(BgNbdProbabilityAlive(fit.bgnbd, *s));
    f.expected_purchases_90d[i] = static_cast<float>(e90);
    f.expected_value_minor[i] = static_cast<float>(e365 * spend);
  }
  ApplyRfm(f, now);
  f.model_kind = limit ? std::string(kLimitModelKind) : fit.kind;
  f.model_fitted_at = fit.fitted_at;
}

std::string ModelParamsJson(const ModelFit& fit) {
  nlohmann::json j = {
      {"bgnbd",
       {{"r", fit.bgnbd.r}, {"alpha", fit.bgnbd.alpha}, {"a", fit.bgnbd.a}, {"b", fit.bgnbd.b}}},
      {"gg", nullptr},
      {"repeat_buyers", fit.repeat_buyers},
      {"log_likelihood", fit.log_likelihood},
      {"converged", fit.converged},
      {"purchase_model", UsesLimit(fit) ? "bgnbd_limit" : "bgnbd"},
      {"unit_days", 1}};
  if (fit.gamma_gamma)
    j["gg"] = {
        {"p", fit.gamma_gamma->p}, {"q", fit.gamma_gamma->q}, {"gamma", fit.gamma_gamma->gamma}};
  return j.dump();
}

Result<ModelFit> ParseModelParams(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto num = [](const nlohmann::json& o, const char* k) -> std::optional<double> {
    if (!o.is_object() || !o.contains(k) || !o[k].is_number()) return std::nullopt;
    return o[k].get<double>();
  };
  if (!j.is_object() || !j.contains("bgnbd"))
    return Fail(Code::kInvalidArgument, "params_json: no bgnbd parameters", "params_json");
  ModelFit fit;
  const auto& bg = j["bgnbd"];
  auto r = num(bg, "r"), alpha = num(bg, "alpha"), a = num(bg, "a"), b = num(bg, "b");
  if (!r || !alpha || !a || !b)
    return Fail(Code::kInvalidArgument, "params_json.bgnbd: needs r, alpha, a and b",
                "params_json.bgnbd");
  fit.bgnbd = {*r, *alpha, *a, *b};
  if (j.contains("gg") && j["gg"].is_object()) {
    auto p = num(j["gg"], "p"), q = num(j["gg"], "q"), g = num(j["gg"], "gamma");
    if (!p || !q || !g)
      return Fail(Code::kInvalidArgument, "params_json.gg: needs p, q and gamma", "params_json.gg");
    fit.gamma_gamma = GammaGammaParams{*p, *q, *g};
  }
  if (j.contains("repeat_buyers") && j["repeat_buyers"].is_number_integer())
    fit.repeat_buyers = j["repeat_buyers"].get<int64_t>();
  if (auto ll = num(j, "log_likelihood")) fit.log_likelihood = *ll;
  if (j.contains("converged") && j["converged"].is_boolean())
    fit.converged = j["converged"].get<bool>();
  return fit;
}

namespace {

Status SaveModel(store::Database& db, Id merchant_id, const ModelFit& fit) {
  return db.Write([&](Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO insight_models (merchant_id, kind, params_json, customers, calibration_end, "
        "fitted_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id, kind) DO UPDATE SET "
        "params_json = excluded.params_json, customers = excluded.customers, calibration_end = "
        "excluded.calibration_end, fitted_at = excluded.fitted_at",
        {merchant_id, fit.kind, ModelParamsJson(fit), fit.customers, fit.calibration_end,
         fit.fitted_at}));
    return {};
  });
}

struct ScoreRow {
  Id member_id;
  float p_alive, e90, value;
  uint8_t r, f, m, group;
};

Value FloatValue(float v) { return std::isnan(v) ? Value() : Value(static_cast<double>(v)); }

// Replaces the merchant's member_scores, in transactions of a few thousand rows.
Status SaveScores(store::Database& db, Id merchant_id, const std::vector<ScoreRow>& rows,
                  Micros now) {
  RG_TRY(db.Write([&](Tx& tx) -> Status {
    RG_TRY(tx.Exec("DELETE FROM member_scores WHERE merchant_id = ?", {merchant_id}));
    return {};
  }));
  constexpr size_t kPerStatement = 200, kPerTx = 5000;
  for (size_t start = 0; start < rows.size(); start += kPerTx) {
    size_t end = std::min(rows.size(), start + kPerTx);
    RG_TRY(db.Write([&](Tx& tx) -> Status {
      for (size_t k = start; k < end; k += kPerStatement) {
        size_t n = std::min(end - k, kPerStatement);
        std::string sql =
            "INSERT INTO member_scores (merchant_id, member_id, p_alive, expected_purchases_90d, "
            "expected_value_minor, rfm_r, rfm_f, rfm_m, rfm_group, scored_at) VALUES ";
        std::vector<Value> p;
        p.reserve(n * 10);
        for (size_t j = 0; j < n; ++j) {
          const ScoreRow& s = rows[k + j];
          sql += j ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
          auto group = RfmGroupName(static_cast<RfmGroup>(s.group));
          p.insert(p.end(), {merchant_id, s.member_id, FloatValue(s.p_alive), FloatValue(s.e90),
                             FloatValue(s.value), int64_t{s.r}, int64_t{s.f}, int64_t{s.m},
                             group.empty() ? Value() : Value(std::string(group)), now});
        }
        RG_TRY(tx.Exec(sql, p));
      }
      return {};
    }));
  }
  return {};
}

Result<std::vector<ScoreRow>> ScoresOf(FeatureStore& store, Id merchant_id) {
  return store.Read(merchant_id, [](const MerchantFeatures& f) {
    std::vector<ScoreRow> rows;
    rows.reserve(f.size());
    for (uint32_t i = 0; i < f.size(); ++i)
      rows.push_back({f.member_ids[i], f.p_alive[i], f.expected_purchases_90d[i],
                      f.expected_value_minor[i], f.rfm_r[i], f.rfm_f[i], f.rfm_m[i],
                      f.rfm_group[i]});
    return rows;
  });
}

// Applies `fit` in memory and saves the members' scores.
Status ApplyAndSave(store::Database& db, FeatureStore& store, Id merchant_id, const ModelFit& fit,
                    Micros now) {
  RG_TRY(store.Update(merchant_id, [&](MerchantFeatures& f) { ApplyModels(f, fit, now); }));
  RG_ASSIGN_OR_RETURN(auto rows, ScoresOf(store, merchant_id));
  return SaveScores(db, merchant_id, rows, now);
}

}  // namespace

Result<ModelFit> FitMerchant(store::Database& db, FeatureStore& store, Id merchant_id, Micros now) {
  // Catch up first, so the fit sees every order committed before it started.
  RG_TRY(store.CatchUp());
  RG_ASSIGN_OR_RETURN(auto buyers, store.Read(merchant_id, [&](const MerchantFeatures& f) {
    return BuyerSummaries(f, now);
  }));
  // The fit itself runs without any lock.
  RG_ASSIGN_OR_RETURN(ModelFit fit, FitModels(buyers, now));
  RG_TRY(SaveModel(db, merchant_id, fit));
  RG_TRY(ApplyAndSave(db, store, merchant_id, fit, now));
  return fit;
}

Result<int> RunDueFits(store::Database& db, FeatureStore& store, Micros now, FitSweepState& state) {
  struct Due {
    Id merchant_id;
    std::string timezone;
    std::optional<Micros> fitted_at;
    std::string params;
  };
  RG_ASSIGN_OR_RETURN(auto merchants, db.ReadValue([&](Tx& tx) -> Result<std::vector<Due>> {
    RG_ASSIGN_OR_RETURN(
        Rows rows,
        tx.Query("SELECT m.merchant_id, m.timezone, im.fitted_at, im.params_json FROM merchants m "
                 "LEFT JOIN insight_models im ON im.merchant_id = m.merchant_id AND im.kind = ? "
                 "ORDER BY m.merchant_id",
                 {std::string(kModelKind)}));
    std::vector<Due> out;
    for (const Row& r : rows) out.push_back({r.Int(0), r.Str(1), r.OptInt(2), r.Str(3)});
    return out;
  }));
  int done = 0;
  for (const Due& m : merchants) {
    auto local = ToLocal(now, m.timezone);
    if (!local) continue;
    int64_t today = DaysFromCivil(local->year, local->month, local->day);
    std::optional<int64_t> fitted_day;
    if (m.fitted_at)
      if (auto l = ToLocal(*m.fitted_at, m.timezone))
        fitted_day = DaysFromCivil(l->year, l->month, l->day);
    bool due = local->hour >= kNightlyHour && (!fitted_day || *fitted_day < today);
    auto attempted = state.attempted_day.find(m.merchant_id);
    if (due && (attempted == state.attempted_day.end() || attempted->second < today)) {
      state.attempted_day[m.merchant_id] = today;
      auto fit = FitMerchant(db, store, m.merchant_id, now);
      if (fit) {
        spdlog::info("insight: models fitted merchant={} customers={} repeat_buyers={}",
                     m.merchant_id, fit->customers, fit->repeat_buyers);
        ++done;
      } else if (fit.error().code == Code::kFailedPrecondition) {
        spdlog::info("insight: no model for merchant={}: {}", m.merchant_id, fit.error().message);
      } else {
        spdlog::error("insight: fitting merchant={} failed: {}", m.merchant_id,
                      fit.error().ToString());
      }
      continue;
    }
    if (!m.fitted_at) continue;
    // A fit saved by another server (or before a restart) that this store has not applied yet.
    auto applied =
        store.Read(m.merchant_id, [](const MerchantFeatures& f) { return f.model_fitted_at; });
    if (!applied || *applied >= *m.fitted_at) continue;
    auto fit = ParseModelParams(m.params);
    if (!fit) {
      spdlog::error("insight: saved model of merchant={}: {}", m.merchant_id,
                    fit.error().ToString());
      continue;
    }
    fit->fitted_at = *m.fitted_at;
    fit->calibration_end = *m.fitted_at;
    auto s = store.Update(m.merchant_id, [&](MerchantFeatures& f) { ApplyModels(f, *fit, now); });
    if (s) ++done;
  }
  return done;
}

}  // namespace regulars::insight
