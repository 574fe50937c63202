#pragma once

// The churn and value models (clv.h) fitted per merchant on its members' order history and
// applied to every member in the feature store, and RFM (rfm.h) scored at the same time.
//
// Model kind "bgnbd_gg": BG/NBD for purchases, Gamma-Gamma for spend per purchase.
//   - Calibration: every member's whole history up to the fit's "now". A purchase is a UTC
//     civil day with orders of net amount > 0 (same-day orders are one purchase, their net
//     amounts added); time is in days (unit_days = 1).
//   - p_alive = P(alive | x, t_x, T); expected_purchases_90d = E[Y(90 days) | x, t_x, T];
//     expected_value_minor = E[Y(365 days) | x, t_x, T] x E[spend per purchase | x, monetary]
//     (Gamma-Gamma): undiscounted expected revenue in minor units over the next 365 days, no
//     margin. Without a Gamma-Gamma fit (fewer than two repeat buyers, or q <= 1) the spend is
//     the member's own mean net spend per purchase day.
//   - Members who never bought have no score (NaN): the models describe customers.
// Fits are saved in insight_models (one row per merchant and kind) and every member's scores
// in member_scores; a server applies the newest saved fit it has not applied yet, so several
// servers sharing a database agree. Nightly: the first sweep after 03:00 in the merchant's
// zone on a local day without a fit fits again (RunDueFits).

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "insight/clv.h"
#include "insight/feature_store.h"
#include "store/db.h"

namespace regulars::insight {

inline constexpr std::string_view kModelKind = "bgnbd_gg";

// The large-parameter limit. A BG/NBD fit on histories without a clear dropout signal diverges
// (a and b grow without bound, the fit does not converge: the benchmark's 1M members left
// a = 1.7e5, b = 5.5e6), and eq. 10's hypergeometric series then needs on the order of
// a * t / (alpha + T) terms per member (about 2 hours of ApplyModels at 1M members). Such a fit
// is applied in the model's limit for a, b -> infinity at a fixed dropout probability
// pd = a / (a + b) after each purchase, in closed form (no series):
//   p_alive = P(alive | x, t_x, T) of eq. 13 (closed form already);
//   E[Y(t) | x, t_x, T] = p_alive * (1 - ((alpha + T) / (alpha + T + pd t))^(r + x)) / pd,
// which for pd -> 0 is the no-dropout NBD: p_alive -> 1, E -> (r + x) / (alpha + T) * t.
// MerchantFeatures::model_kind (the features route's model.kind) then says "bgnbd_gg_limit";
// the saved row keeps kind "bgnbd_gg" (one row per merchant) and its params_json carries
// "purchase_model": "bgnbd_limit" (else "bgnbd").
inline constexpr std::string_view kLimitModelKind = "bgnbd_gg_limit";
// a or b above this (or a fit that did not converge) selects the limit.
inline constexpr double kMaxDropoutShape = 1e3;

struct ModelFit {
  std::string kind = std::string(kModelKind);
  BgNbdParams bgnbd;
  std::optional<GammaGammaParams> gamma_gamma;
  int64_t customers = 0;      // buyers the fit saw
  int64_t repeat_buyers = 0;  // of them, with x > 0
  double log_likelihood = 0;  // BG/NBD
  bool converged = false;
  Micros calibration_end = 0;
  Micros fitted_at = 0;
};

// True when `fit` is applied in the large-parameter limit (see kLimitModelKind): the BG/NBD
// fit did not converge, or its a or b exceeds kMaxDropoutShape or is not finite.
bool UsesLimit(const ModelFit& fit);

// One buyer's calibration summary from its order log (days), as of `now`. nullopt for a member
// with no purchase day.
std::optional<RfmSummary> MemberSummary(const MerchantFeatures& f, uint32_t i, Micros now);

// Every buyer's summary as of `now` (members without a purchase day left out).
std::vector<RfmSummary> BuyerSummaries(const MerchantFeatures& f, Micros now);
// E[Y(t) | x, t_x, T] of BG/NBD (clv.h); when a and b are so large that its hypergeometric
// series overflows, LimitExpectedPurchases.
double ExpectedPurchases(const BgNbdParams& p, const RfmSummary& s, double t);
// The closed-form limit above (see kLimitModelKind); no series. The NBD (r + x) / (alpha + T) t
// when pd underflows to 0.
double LimitExpectedPurchases(const BgNbdParams& p, const RfmSummary& s, double t);

// Fits both models on the summaries. failed_precondition when BG/NBD cannot be identified (no
// buyers, no repeat buyers).
Result<ModelFit> FitModels(const std::vector<RfmSummary>& buyers, Micros now);

// Applies a fit to every member (model outputs; NaN for members who never bought) and scores
// RFM as of `now`. Pure: touches only `f`. In the limit (UsesLimit) no hypergeometric series is
// evaluated: O(1) per member.
void ApplyModels(MerchantFeatures& f, const ModelFit& fit, Micros now);

// The fit's parameters as insight_models.params_json, and back.
std::string ModelParamsJson(const ModelFit& fit);
Result<ModelFit> ParseModelParams(std::string_view json);

// Fits one merchant from the store, saves the fit and the members' scores, and applies them.
Result<ModelFit> FitMerchant(store::Database& db, FeatureStore& store, Id merchant_id, Micros now);

// What RunDueFits remembers between sweeps: the local day (days since 1970-01-01 in the
// merchant's zone) of each merchant's last fit attempt, so a merchant whose fit fails (no
// repeat buyers yet) is tried once a day, not at every sweep.
struct FitSweepState {
  std::unordered_map<Id, int64_t> attempted_day;
};

// For every merchant: fits when due (nightly, see above), else applies a saved fit newer than
// the one applied. Returns the number of merchants fitted or applied. Errors of one merchant
// are logged and do not stop the others.
Result<int> RunDueFits(store::Database& db, FeatureStore& store, Micros now, FitSweepState& state);

}  // namespace regulars::insight
