#pragma once

// Churn and value models for one merchant's customers: BG/NBD and Pareto/NBD (is the customer
// still active, how many purchases next) and the Gamma-Gamma spend model (how much per purchase).
//
// Contract:
// - Pure functions over values: no I/O, no clock, no globals (but the diagnostic call counter
//   Hyp2F1SeriesCalls). Thread-safe.
// - Time is in one unit chosen by the caller when summarising (CDNOW uses weeks); every time
//   argument and every fitted alpha / beta is in that unit.
// - The likelihoods follow the papers exactly (same constants included), so the values are
//   comparable with the published ones:
//     BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing
//       Science 24(2), eqs. (6), (10), (13).
//     Pareto/NBD: Fader, Hardie & Lee (2005), "A Note on Deriving the Pareto/NBD Model and
//       Related Expressions", eqs. (22)-(24), (11), (13); Schmittlein, Morrison & Colombo (1987).
//     Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves", JMR 42(4),
//       appendix; Colombo & Jiang (1999).
// - Fits maximise the log-likelihood over the logarithms of the parameters (so every parameter
//   stays positive) with NLopt. Bad input is an invalid_argument naming the row; data that cannot
//   identify a model (no customers, no repeat buyers) is failed_precondition.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace regulars::insight {

// One purchase. `day` is the UTC civil day (days since 1970-01-01); the time of day is ignored
// because the models count purchase days.
struct Transaction {
  std::string customer_id;
  int64_t day = 0;
  double amount = 0;
};

// One customer's calibration-period summary, times in the caller's unit:
//   x         number of repeat purchase days (purchase days after the first one);
//   t_x       time from the first purchase to the last one (0 when x = 0);
//   T         time from the first purchase to the end of calibration (t_x <= T);
//   monetary  mean spend per repeat purchase day (0 when x = 0); the first day's spend is left
//             out, as the Gamma-Gamma papers do.
struct RfmSummary {
  double x = 0, t_x = 0, T = 0;
  double monetary = 0;
};

struct CustomerRfm {
  std::string customer_id;
  RfmSummary rfm;
};

// Summarises transactions with the papers' conventions: purchases on the same day are one
// transaction (their amounts are added); only days up to and including `calibration_end_day`
// count; x, t_x and T are measured from each customer's first purchase, in units of `unit_days`
// days (7 for weeks). Customers whose first purchase is after the calibration end are left out.
// Customers come out in the order of their first appearance in `transactions`, which need not
// be sorted. Errors: unit_days <= 0 (field "unit").
Result<std::vector<CustomerRfm>> Summarise(std::span<const Transaction> transactions,
                                           int64_t calibration_end_day, double unit_days);

// Checks that every row is a valid summary (finite, x a whole number >= 0, 0 <= t_x <= T,
// t_x = 0 when x = 0, monetary >= 0); the error names the row ("customers[12].t_x").
Status ValidateRfm(std::span<const RfmSummary> customers);

// Customers grouped by identical (x, t_x, T), with how many share each: the likelihoods of the
// purchase models depend on nothing else, so big fits evaluate each group once.
struct RfmGroups {
  std::vector<RfmSummary> rows;  // monetary is 0
  std::vector<double> weight;    // customers per row
  double customers = 0;
};
RfmGroups GroupRfm(std::span<const RfmSummary> customers);

// How a fit went. `evaluations` counts log-likelihood evaluations (with gradient where used).
struct FitReport {
  double log_likelihood = 0;
  int64_t customers = 0;
  int evaluations = 0;
  bool converged = false;
  std::string stop_reason;  // NLopt's reason, e.g. "xtol_rel reached"
};

// Options shared by the fits. Defaults reproduce the published CDNOW estimates; loosen the
// tolerance for speed at the cost of digits.
struct FitOptions {
  // Relative tolerance on the log-parameters: stop when a step changes each by less than this.
  double xtol_rel = 1e-10;
  // Stop when the log-likelihood changes by less than this between steps.
  double ftol_abs = 1e-10;
  // Upper bound on likelihood evaluations; reaching it is reported as not converged.
  int max_evaluations = 5000;
};

// ---- BG/NBD ----

struct BgNbdParams {
  double r = 0, alpha = 0, a = 0, b = 0;
};

// Sum of the per-customer log-likelihoods (FHL 2005 eq. 6, logged).
double BgNbdLogLikelihood(const BgNbdParams& p, std::span<const RfmSummary> customers);
// The same over groups; when `grad_log` is given it receives the gradient with respect to
// (ln r, ln alpha, ln a, ln b).
double BgNbdLogLikelihood(const BgNbdParams& p, const RfmGroups& groups,
                          double (*grad_log)[4] = nullptr);

struct BgNbdFit {
  BgNbdParams params;
  FitReport report;
};
// Maximum likelihood with L-BFGS on the log-parameters and the analytic gradient. Start:
// r = 1, alpha = sum(T) / sum(x) (the pooled rate's inverse), a = 1, b = 1.
Result<BgNbdFit> FitBgNbd(std::span<const RfmSummary> customers, const FitOptions& options = {});

// P(alive | x, t_x, T) (FHL 2005 eq. 13): 1 for x = 0, since BG/NBD customers can only drop out
// right after a purchase.
double BgNbdProbabilityAlive(const BgNbdParams& p, const RfmSummary& c);
// E[X(t)]: expected purchases in a period of length t for a customer just acquired (eq. 9).
double BgNbdExpectedPurchases(const BgNbdParams& p, double t);
// E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] for this customer (eq. 10).
double BgNbdConditionalExpectedPurchases(const BgNbdParams& p, const RfmSummary& c, double t);

// ---- Pareto/NBD ----

struct ParetoNbdParams {
  double r = 0, alpha = 0, s = 0, beta = 0;
};

// Sum of the per-customer log-likelihoods (FHL note eqs. 22-24). The two Gaussian
// hypergeometric terms are evaluated in the Euler-transformed form whose series has positive,
// decreasing terms, in log space, for either ordering of alpha and beta.
double ParetoNbdLogLikelihood(const ParetoNbdParams& p, std::span<const RfmSummary> customers);
double ParetoNbdLogLikelihood(const ParetoNbdParams& p, const RfmGroups& groups);

struct ParetoNbdFit {
  ParetoNbdParams params;
  FitReport report;
};
// Maximum likelihood with BOBYQA (derivative-free) on the log-parameters, then a Nelder-Mead
// polish from the result. Start: r = 1, alpha = sum(T) / sum(x), s = 1, beta = mean(T).
Result<ParetoNbdFit> FitParetoNbd(std::span<const RfmSummary> customers,
                                  const FitOptions& options = {});

// P(alive | x, t_x, T) (FHL note eq. 11, with the same hypergeometric evaluation).
double ParetoNbdProbabilityAlive(const ParetoNbdParams& p, const RfmSummary& c);
// E[X(t)] for a customer just acquired.
double ParetoNbdExpectedPurchases(const ParetoNbdParams& p, double t);
// E[Y(t) | x, t_x, T] (FHL note eq. 13).
double ParetoNbdConditionalExpectedPurchases(const ParetoNbdParams& p, const RfmSummary& c,
                                             double t);

// ---- Gamma-Gamma spend ----

struct GammaGammaParams {
  double p = 0, q = 0, gamma = 0;
};

// Sum over repeat buyers (x > 0) of log f(monetary | x; p, q, gamma); others are skipped.
// Repeat buyers need monetary > 0 (the model is for positive spend).
double GammaGammaLogLikelihood(const GammaGammaParams& p, std::span<const RfmSummary> customers);

struct GammaGammaFit {
  GammaGammaParams params;
  FitReport report;  // customers = repeat buyers used
};
// Maximum likelihood with L-BFGS on the log-parameters and the analytic gradient, over the
// repeat buyers. Start: p = 1, q = 2, gamma = mean monetary (so the start's population mean
// spend equals the sample's). Error: a repeat buyer with monetary <= 0 (invalid_argument).
Result<GammaGammaFit> FitGammaGamma(std::span<const RfmSummary> customers,
                                    const FitOptions& options = {});

// E[spend per purchase | x, monetary]: the weighted mean of the population mean
// p * gamma / (q - 1) and the customer's own mean (eq. 5 of the iso-value paper). For x = 0 it
// is the population mean. Needs q > 1 (the population mean exists); NaN otherwise.
double GammaGammaExpectedSpend(const GammaGammaParams& p, const RfmSummary& c);

// ---- Value ----

// The three models fitted to one merchant.
struct ClvModels {
  BgNbdParams bgnbd;
  ParetoNbdParams pareto;
  GammaGammaParams gamma_gamma;
};

struct CustomerForecast {
  double p_alive_bgnbd = 0;
  double p_alive_pareto = 0;
  double expected_purchases_bgnbd = 0;   // over the horizon
  double expected_purchases_pareto = 0;  // over the horizon
  double expected_spend = 0;             // per purchase, Gamma-Gamma
  // expected_purchases_bgnbd x expected_spend: undiscounted expected revenue over the horizon
  // (no discount rate and no margin; the horizon is short enough for the merchant's use).
  double expected_value = 0;
};
// Applies the models to one customer for a horizon of `horizon` time units.
CustomerForecast Forecast(const ClvModels& models, const RfmSummary& c, double horizon);

// ---- Special functions (exposed for tests) ----

// Gaussian hypergeometric 2F1(a, b; c; z) by its power series, for |z| < 1 and c not a
// non-positive integer; stops when the terms are past their peak and below 1e-16 of the sum.
// Callers transform their arguments so the series is short (see the .cpp).
double Hyp2F1Series(double a, double b, double c, double z);
// How many times Hyp2F1Series has been called in this process (a relaxed atomic counter, the
// one piece of global state here): lets tests check that a code path evaluates no series.
int64_t Hyp2F1SeriesCalls();

}  // namespace regulars::insight
