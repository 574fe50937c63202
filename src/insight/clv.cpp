#include "insight/clv.h"

#include <fmt/format.h>
#include <nlopt.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/math/special_functions/digamma.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace regulars::insight {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double Digamma(double x) { return boost::math::digamma(x); }

// log(exp(u) + exp(v)) without overflow.
double LogAddExp(double u, double v) {
  if (u == -kInf) return v;
  if (v == -kInf) return u;
  double m = std::max(u, v);
  return m + std::log1p(std::exp(-std::abs(u - v)));
}

// 1 / (1 + exp(u)) without overflow.
double Logistic(double u) {
  if (u > 0) {
    double e = std::exp(-u);
    return e / (1 + e);
  }
  return 1 / (1 + std::exp(u));
}

// ---- Optimiser ----

// The objective: value at the log-parameters, and the gradient into `grad` when it is non-null.
using Objective = std::function<double(const double* log_params, double* grad)>;

struct OptimiseResult {
  std::vector<double> log_params;
  double value = 0;
  int evaluations = 0;
  nlopt_result code = NLOPT_FAILURE;
};

struct ObjectiveContext {
  const Objective* f;
  int evaluations = 0;
};

double CallObjective(unsigned n, const double* x, double* grad, void* data) {
  auto* ctx = static_cast<ObjectiveContext*>(data);
  ++ctx->evaluations;
  double v = (*ctx->f)(x, grad);
  if (!std::isfinite(v)) {
    // Outside where the likelihood can be evaluated: a cliff the optimiser steps back from.
    if (grad) std::fill(grad, grad + n, 0.0);
    return -1e300;
  }
  return v;
}

// Maximises f over log-parameters in [-20, 20] (parameters between 2e-9 and 5e8).
OptimiseResult Maximise(nlopt_algorithm algorithm, const Objective& f, std::vector<double> start,
                        const FitOptions& options, int evaluations_left) {
  unsigned n = static_cast<unsigned>(start.size());
  nlopt_opt opt = nlopt_create(algorithm, n);
  std::vector<double> lower(n, -20.0), upper(n, 20.0);
  nlopt_set_lower_bounds(opt, lower.data());
  nlopt_set_upper_bounds(opt, upper.data());
  ObjectiveContext ctx{&f};
  nlopt_set_max_objective(opt, CallObjective, &ctx);
  nlopt_set_xtol_rel(opt, options.xtol_rel);
  nlopt_set_ftol_abs(opt, options.ftol_abs);
  nlopt_set_maxeval(opt, std::max(1, evaluations_left));
  if (algorithm == NLOPT_LN_BOBYQA || algorithm == NLOPT_LN_NELDERMEAD) {
    std::vector<double> step(n, 0.5);
    nlopt_set_initial_step(opt, step.data());
  }
  OptimiseResult out;
  out.log_params = std::move(start);
  double value = -kInf;
  out.code = nlopt_optimize(opt, out.log_params.data(), &value);
  nlopt_destroy(opt);
  out.value = value;
  out.evaluations = ctx.evaluations;
  return out;
}

std::string StopReason(nlopt_result code) {
  switch (code) {
    case NLOPT_SUCCESS:
      return "success";
    case NLOPT_STOPVAL_REACHED:
      return "stopval reached";
    case NLOPT_FTOL_REACHED:
      return "ftol_abs reached";
    case NLOPT_XTOL_REACHED:
      return "xtol_rel reached";
    case NLOPT_MAXEVAL_REACHED:
      return "max evaluations reached";
    case NLOPT_MAXTIME_REACHED:
      return "max time reached";
    case NLOPT_ROUNDOFF_LIMITED:
      return "roundoff limited (optimum to machine precision)";
    case NLOPT_FORCED_STOP:
      return "forced stop";
    case NLOPT_OUT_OF_MEMORY:
      return "out of memory";
    case NLOPT_INVALID_ARGS:
      return "invalid arguments";
    default:
      return "failure";
  }
}

bool Converged(nlopt_result code) {
  return (code >= NLOPT_SUCCESS && code <= NLOPT_XTOL_REACHED) || code == NLOPT_ROUNDOFF_LIMITED;
}

// Sum of T over sum of x: the inverse of the pooled purchase rate, a start value for alpha.
double PooledAlpha(std::span<const RfmSummary> customers) {
  double sx = 0, st = 0;
  for (const auto& c : customers) sx += c.x, st += c.T;
  return sx > 0 && st > 0 ? st / sx : 1.0;
}

Status RequireFitData(std::span<const RfmSummary> customers) {
  RG_TRY(ValidateRfm(customers));
  if (customers.empty())
    return Fail(Code::kFailedPrecondition, "customers: no customers to fit", "customers");
  bool any_repeat =
      std::any_of(customers.begin(), customers.end(), [](const RfmSummary& c) { return c.x > 0; });
  if (!any_repeat)
    return Fail(Code::kFailedPrecondition,
                "customers: no customer has a repeat purchase; the model cannot be identified",
                "customers");
  return {};
}

}  // namespace

// ---- Summaries ----

Result<std::vector<CustomerRfm>> Summarise(std::span<const Transaction> transactions,
                                           int64_t calibration_end_day, double unit_days) {
  if (!(unit_days > 0) || !std::isfinite(unit_days))
    return InvalidField("unit", "must be a positive number of days");
  // Per customer: purchase day -> spend that day, in first-appearance order of customers.
  struct Acc {
    std::vector<std::pair<int64_t, double>> days;
  };
  std::unordered_map<std::string, size_t> index;
  std::vector<std::string> ids;
  std::vector<Acc> accs;
  for (const auto& t : transactions) {
    if (t.day > calibration_end_day) continue;
    auto [it, inserted] = index.try_emplace(t.customer_id, accs.size());
    if (inserted) {
      ids.push_back(t.customer_id);
      accs.emplace_back();
    }
    accs[it->second].days.emplace_back(t.day, t.amount);
  }
  std::vector<CustomerRfm> out;
  out.reserve(accs.size());
  for (size_t i = 0; i < accs.size(); ++i) {
    auto& days = accs[i].days;
    std::sort(days.begin(), days.end(),
              [](const auto& u, const auto& v) { return u.first < v.first; });
    // Merge same-day purchases into one transaction.
    std::vector<std::pair<int64_t, double>> merged;
    for (const auto& d : days) {
      if (!merged.empty() && merged.back().first == d.first)
        merged.back().second += d.second;
      else
        merged.push_back(d);
    }
    int64_t first = merged.front().first;
    RfmSummary s;
    s.x = static_cast<double>(merged.size() - 1);
    s.t_x = static_cast<double>(merged.back().first - first) / unit_days;
    s.T = static_cast<double>(calibration_end_day - first) / unit_days;
    if (merged.size() > 1) {
      double spend = 0;
      for (size_t k = 1; k < merged.size(); ++k) spend += merged[k].second;
      s.monetary = spend / s.x;
    }
    out.push_back({std::move(ids[i]), s});
  }
  return out;
}

Status ValidateRfm(std::span<const RfmSummary> customers) {
  for (size_t i = 0; i < customers.size(); ++i) {
    const auto& c = customers[i];
    auto field = [&](const char* name) { return fmt::format("customers[{}].{}", i, name); };
    if (!std::isfinite(c.x) || c.x < 0 || c.x != std::floor(c.x))
      return InvalidField(field("x"), "must be a whole number >= 0");
    if (!std::isfinite(c.T) || c.T < 0) return InvalidField(field("T"), "must be a number >= 0");
    if (!std::isfinite(c.t_x) || c.t_x < 0 || c.t_x > c.T)
      return InvalidField(field("t_x"), "must be between 0 and T");
    if (c.x == 0 && c.t_x != 0) return InvalidField(field("t_x"), "must be 0 when x is 0");
    if (!std::isfinite(c.monetary) || c.monetary < 0)
      return InvalidField(field("monetary"), "must be a number >= 0");
  }
  return {};
}

RfmGroups GroupRfm(std::span<const RfmSummary> customers) {
  // Sorting the keys themselves (not indices into `customers`) keeps the sort in cache.
  std::vector<std::array<double, 3>> keys;
  keys.reserve(customers.size());
  for (const auto& c : customers) keys.push_back({c.x, c.t_x, c.T});
  std::sort(keys.begin(), keys.end());
  RfmGroups g;
  g.customers = static_cast<double>(customers.size());
  for (size_t i = 0; i < keys.size();) {
    size_t j = i + 1;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    g.rows.push_back({keys[i][0], keys[i][1], keys[i][2], 0});
    g.weight.push_back(static_cast<double>(j - i));
    i = j;
  }
  return g;
}

// ---- Hypergeometric series ----

namespace {
std::atomic<int64_t> hyp2f1_series_calls{0};
}  // namespace

int64_t Hyp2F1SeriesCalls() { return hyp2f1_series_calls.load(std::memory_order_relaxed); }

double Hyp2F1Series(double a, double b, double c, double z) {
  hyp2f1_series_calls.fetch_add(1, std::memory_order_relaxed);
  double term = 1, sum = 1;
  for (int n = 0; n < 2'000'000; ++n) {
    double ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
    term *= ratio;
    sum += term;
    if (term == 0) break;
    if (std::abs(ratio) < 1 && std::abs(term) <= 1e-16 * std::abs(sum)) break;
  }
  return sum;
}

namespace {

// S(z) = 2F1(1, d; m + 1; z) = sum_n (d)_n / (m + 1)_n z^n for 0 <= z < 1, d > 0, m + 1 > d.
// Every term is positive and at most z times the one before, so the sum is accurate and the
// tail after term t is below t z / (1 - z). It needs about 40 / (1 - z) terms, so callers use
// it for z <= kSeriesMaxZ only.
constexpr double kSeriesMaxZ = 0.99;
double PositiveSeries(double d, double m, double z) {
  double term = 1, sum = 1;
  for (int n = 0; n < 1'000'000; ++n) {
    term *= z * (d + n) / (m + 1 + n);
    sum += term;
    if (term <= 1e-17 * sum * (1 - z)) break;
  }
  return sum;
}

// 16-point Gauss-Legendre nodes and weights on [-1, 1], by Newton's method on P_16.
struct GaussLegendre16 {
  double node[16], weight[16];
  GaussLegendre16() {
    const int n = 16;
    for (int i = 0; i < n; ++i) {
      double x = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = x;
        for (int k = 2; k <= n; ++k) {
          double pk = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = pk;
        }
        dp = n * (x * p1 - p0) / (x * x - 1);
        double step = p1 / dp;
        x -= step;
        if (std::abs(step) < 1e-16) break;
      }
      node[i] = x;
      weight[i] = 2 / ((1 - x * x) * dp * dp);
    }
  }
};

// ln[ (a+T)^(r+x) (b+T)^s Int_{t_x}^{T} (a+u)^-(r+x) (b+u)^-(s+1) du ] by Gauss-Legendre in
// v = ln(min(a, b) + u), for the corner where the series above would be long (one of alpha,
// beta many times the other and t_x small). In v the log-integrand is smooth and concave, so
// panels stop once it has fallen 60 below its peak.
double LogIntegralByQuadrature(const ParetoNbdParams& p, double x, double t_x, double T) {
  static const GaussLegendre16 gl;
  const double r = p.r, al = p.alpha, s = p.s, be = p.beta;
  const double small = std::min(al, be);
  const double la_T = std::log(al + T), lb_T = std::log(be + T);
  const double v0 = std::log(small + t_x), v1 = std::log(small + T);
  const double width = std::min(0.5, 4 / (r + x + s + 1));
  const int panels = std::max(1, static_cast<int>(std::ceil((v1 - v0) / width)));
  const double h = (v1 - v0) / panels;
  auto log_h = [&](double v) {
    double u = std::max(0.0, std::exp(v) - small);
    double lau = std::log(al + u), lbu = std::log(be + u);
    return (r + x) * (la_T - lau) + s * (lb_T - lbu) - lbu + v;
  };
  double peak = -kInf, sum = 0;  // sum of exp(log_h - peak) * weight
  double prev = -kInf;
  for (int k = 0; k < panels; ++k) {
    double mid = v0 + (k + 0.5) * h;
    for (int i = 0; i < 16; ++i) {
      double lh = log_h(mid + 0.5 * h * gl.node[i]);
      double w = 0.5 * h * gl.weight[i];
      if (lh > peak) {
        sum = sum * std::exp(peak - lh) + w;
        peak = lh;
      } else {
        sum += w * std::exp(lh - peak);
      }
      if (i == 15) {
        if (lh < prev && lh < peak - 60) return peak + std::log(sum);
        prev = lh;
      }
    }
  }
  return peak + std::log(sum);
}

// The Pareto/NBD pieces for one customer: ln L and ln(1 / P(alive)).
//
// L = C [ (a+T)^-(r+x) (b+T)^-s + s * Int_{t_x}^{T} (a+u)^-(r+x) (b+u)^-(s+1) du ] with
// C = G(r+x) a^r b^s / G(r) (a = alpha, b = beta), which is the note's eq. (22): the integral
// from t to infinity is 2F1(m, s+1; m+1; (a-b)/(a+t)) / (m (a+t)^m) for a >= b (and the mirror
// with r+x for a < b), m = r+s+x. Euler's transformation 2F1(A,B;C;z) =
// (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns it into (a+t)^-(r+x) (b+t)^-s S(z_t) / m with the
// positive series S above (d = r+x when a >= b, s+1 when a < b): no alternating terms, no
// overflow, and the two hypergeometric terms are subtracted as ratios in log space. (For a < b
// the transformed term is (a+t)^-(r+x) (b+t)^-s (1 - z_t) S(z_t) / m.)
struct ParetoTerms {
  double log_l;
  double log_inv_alive;
};

ParetoTerms ParetoCustomer(const ParetoNbdParams& p, double x, double t_x, double T,
                           double log_front) {
  const double r = p.r, al = p.alpha, s = p.s, be = p.beta;
  const double m = r + s + x;
  const double big = std::max(al, be);
  const double gap = std::abs(al - be);
  const double d = al >= be ? r + x : s + 1;
  const double la_T = std::log(al + T), lb_T = std::log(be + T);
  double log_bracket = -kInf;  // ln((s/m) (R S1 - S2))
  if (t_x < T && gap / (big + t_x) > kSeriesMaxZ) {
    log_bracket = std::log(s) + LogIntegralByQuadrature(p, x, t_x, T);
  } else if (t_x < T) {
    double s1 = PositiveSeries(d, m, gap / (big + t_x));
    double s2 = PositiveSeries(d, m, gap / (big + T));
    if (al < be) {
      // The mirror form carries one more factor (1 - z_t) = (alpha+t) / (beta+t).
      s1 *= (al + t_x) / (be + t_x);
      s2 *= (al + T) / (be + T);
    }
    double log_r = (r + x) * (la_T - std::log(al + t_x)) + s * (lb_T - std::log(be + t_x));  // >= 0
    double log_rs1 = log_r + std::log(s1);
    double ratio = std::exp(std::log(s2) - log_rs1);
    if (ratio < 1) log_bracket = std::log(s / m) + log_rs1 + std::log1p(-ratio);
  }
  double log_inv_alive = LogAddExp(0.0, log_bracket);
  double log_l = log_front + std::lgamma(r + x) - (r + x) * la_T - s * lb_T + log_inv_alive;
  return {log_l, log_inv_alive};
}

}  // namespace

// ---- BG/NBD ----

double BgNbdLogLikelihood(const BgNbdParams& p, std::span<const RfmSummary> customers) {
  return BgNbdLogLikelihood(p, GroupRfm(customers));
}

double BgNbdLogLikelihood(const BgNbdParams& p, const RfmGroups& groups, double (*grad_log)[4]) {
  const double r = p.r, al = p.alpha, a = p.a, b = p.b;
  const double log_al = std::log(al), log_a = std::log(a);
  const double lg_r = std::lgamma(r), lg_ab = std::lgamma(a + b), lg_b = std::lgamma(b);
  const bool want_grad = grad_log != nullptr;
  const double dg_r = want_grad ? Digamma(r) : 0, dg_ab = want_grad ? Digamma(a + b) : 0,
               dg_b = want_grad ? Digamma(b) : 0;
  double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
  // Terms that depend on x only, recomputed when x changes (rows are sorted by x).
  double cur_x = -1, base = 0, dbase_r = 0, dbase_a = 0, dbase_b = 0, log_bx1 = 0;
  for (size_t i = 0; i < groups.rows.size(); ++i) {
    const auto& c = groups.rows[i];
    const double w = groups.weight[i];
    const double x = c.x;
    if (x != cur_x) {
      cur_x = x;
      // ln[G(r+x) a^r / G(r)] + ln[B(a, b+x) / B(a, b)]
      base = std::lgamma(r + x) - lg_r + r * log_al + lg_ab + std::lgamma(b + x) - lg_b -
             std::lgamma(a + b + x);
      log_bx1 = x > 0 ? std::log(b + x - 1) : 0;
      if (want_grad) {
        double dg_abx = Digamma(a + b + x);
        dbase_r = Digamma(r + x) - dg_r + log_al;
        dbase_a = dg_ab - dg_abx;
        dbase_b = dg_ab + Digamma(b + x) - dg_b - dg_abx;
      }
    }
    const double log_aT = std::log(al + c.T);
    const double a3 = -(r + x) * log_aT;
    double lse = a3, w3 = 1, w4 = 0, log_atx = 0;
    if (x > 0) {
      log_atx = std::log(al + c.t_x);
      const double a4 = log_a - log_bx1 - (r + x) * log_atx;
      lse = LogAddExp(a3, a4);
      w3 = std::exp(a3 - lse);
      w4 = std::exp(a4 - lse);
    }
    ll += w * (base + lse);
    if (want_grad) {
      gr += w * (dbase_r - w3 * log_aT - w4 * log_atx);
      gal += w * (r / al - (r + x) * (w3 / (al + c.T) + (x > 0 ? w4 / (al + c.t_x) : 0)));
      ga += w * (dbase_a + w4 / a);
      gb += w * (dbase_b - (x > 0 ? w4 / (b + x - 1) : 0));
    }
  }
  if (want_grad) {
    (*grad_log)[0] = r * gr;
    (*grad_log)[1] = al * gal;
    (*grad_log)[2] = a * ga;
    (*grad_log)[3] = b * gb;
  }
  return ll;
}

Result<BgNbdFit> FitBgNbd(std::span<const RfmSummary> customers, const FitOptions& options) {
  RG_TRY(RequireFitData(customers));
  RfmGroups groups = GroupRfm(customers);
  Objective f = [&](const double* lp, double* grad) {
    BgNbdParams p{std::exp(lp[0]), std::exp(lp[1]), std::exp(lp[2]), std::exp(lp[3])};
    double g[4];
    double v = BgNbdLogLikelihood(p, groups, grad ? &g : nullptr);
    if (grad) std::copy(g, g + 4, grad);
    return v;
  };
  std::vector<double> start = {0.0, std::log(PooledAlpha(customers)), 0.0, 0.0};
  auto res = Maximise(NLOPT_LD_LBFGS, f, start, options, options.max_evaluations);
  BgNbdFit fit;
  fit.params = {std::exp(res.log_params[0]), std::exp(res.log_params[1]),
                std::exp(res.log_params[2]), std::exp(res.log_params[3])};
  fit.report.log_likelihood = BgNbdLogLikelihood(fit.params, groups);
  fit.report.customers = static_cast<int64_t>(customers.size());
  fit.report.evaluations = res.evaluations;
  fit.report.converged = Converged(res.code) && std::isfinite(fit.report.log_likelihood);
  fit.report.stop_reason = StopReason(res.code);
  return fit;
}

double BgNbdProbabilityAlive(const BgNbdParams& p, const RfmSummary& c) {
  if (c.x == 0) return 1.0;
  // 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
  double u = std::log(p.a) - std::log(p.b + c.x - 1) +
             (p.r + c.x) * (std::log(p.alpha + c.T) - std::log(p.alpha + c.t_x));
  return Logistic(u);
}

double BgNbdConditionalExpectedPurchases(const BgNbdParams& p, const RfmSummary& c, double t) {
  if (!(t > 0)) return 0.0;
  // Eq. (10): (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
  //           / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),  z = t/(alpha+T+t).
  // Euler's transformation gives ((alpha+T)/(alpha+T+t))^(r+x) 2F1(...) =
  // (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose terms fall like n^-(r+x+1) z^n: no large
  // intermediate terms however large x is. At a = 1 the expression is 0/0; a is moved off 1.
  double a = p.a;
  if (std::abs(a - 1) < 1e-7) a = 1 + 1e-7;
  const double r = p.r, b = p.b, x = c.x;
  const double z = t / (p.alpha + c.T + t);
  const double f = Hyp2F1Series(a + b - 1 - r, a - 1, a + b + x - 1, z);
  const double front = (a + b + x - 1) / (a - 1) * (1 - std::exp((a - 1) * std::log1p(-z)) * f);
  return front * (c.x == 0 ? 1.0 : BgNbdProbabilityAlive({r, p.alpha, a, b}, c));
}

double BgNbdExpectedPurchases(const BgNbdParams& p, double t) {
  // Eq. (9) is eq. (10) for a customer with x = t_x = T = 0.
  return BgNbdConditionalExpectedPurchases(p, RfmSummary{0, 0, 0, 0}, t);
}

// ---- Pareto/NBD ----

double ParetoNbdLogLikelihood(const ParetoNbdParams& p, std::span<const RfmSummary> customers) {
  return ParetoNbdLogLikelihood(p, GroupRfm(customers));
}

double ParetoNbdLogLikelihood(const ParetoNbdParams& p, const RfmGroups& groups) {
  const double log_front = -std::lgamma(p.r) + p.r * std::log(p.alpha) + p.s * std::log(p.beta);
  double ll = 0;
  for (size_t i = 0; i < groups.rows.size(); ++i) {
    const auto& c = groups.rows[i];
    ll += groups.weight[i] * ParetoCustomer(p, c.x, c.t_x, c.T, log_front).log_l;
  }
  return ll;
}

Result<ParetoNbdFit> FitParetoNbd(std::span<const RfmSummary> customers,
                                  const FitOptions& options) {
  RG_TRY(RequireFitData(customers));
  RfmGroups groups = GroupRfm(customers);
  double mean_t = 0;
  for (const auto& c : customers) mean_t += c.T;
  mean_t = std::max(mean_t / static_cast<double>(customers.size()), 1e-3);
  Objective f = [&](const double* lp, double*) {
    return ParetoNbdLogLikelihood(
        {std::exp(lp[0]), std::exp(lp[1]), std::exp(lp[2]), std::exp(lp[3])}, groups);
  };
  std::vector<double> start = {0.0, std::log(PooledAlpha(customers)), 0.0, std::log(mean_t)};
  auto first = Maximise(NLOPT_LN_BOBYQA, f, start, options, options.max_evaluations);
  // BOBYQA's quadratic model can stop a little short on a flat ridge; Nelder-Mead from its
  // result either confirms the optimum or walks the rest of the way.
  auto polish = Maximise(NLOPT_LN_NELDERMEAD, f, first.log_params, options,
                         options.max_evaluations - first.evaluations);
  const auto& best = polish.value >= first.value ? polish : first;
  ParetoNbdFit fit;
  fit.params = {std::exp(best.log_params[0]), std::exp(best.log_params[1]),
                std::exp(best.log_params[2]), std::exp(best.log_params[3])};
  fit.report.log_likelihood = ParetoNbdLogLikelihood(fit.params, groups);
  fit.report.customers = static_cast<int64_t>(customers.size());
  fit.report.evaluations = first.evaluations + polish.evaluations;
  fit.report.converged = Converged(best.code) && std::isfinite(fit.report.log_likelihood);
  fit.report.stop_reason = StopReason(best.code);
  return fit;
}

double ParetoNbdProbabilityAlive(const ParetoNbdParams& p, const RfmSummary& c) {
  return std::exp(-ParetoCustomer(p, c.x, c.t_x, c.T, 0).log_inv_alive);
}

namespace {
// (1 - q^(s-1)) / (s-1) for 0 < q <= 1, continuous at s = 1 (where it is -ln q).
double PowerDifference(double q, double s) {
  double lq = std::log(q);
  if (std::abs(s - 1) < 1e-10) return -lq;
  return -std::expm1((s - 1) * lq) / (s - 1);
}
}  // namespace

double ParetoNbdExpectedPurchases(const ParetoNbdParams& p, double t) {
  if (!(t > 0)) return 0.0;
  return p.r * p.beta / p.alpha * PowerDifference(p.beta / (p.beta + t), p.s);
}

double ParetoNbdConditionalExpectedPurchases(const ParetoNbdParams& p, const RfmSummary& c,
                                             double t) {
  if (!(t > 0)) return 0.0;
  return (p.r + c.x) * (p.beta + c.T) / (p.alpha + c.T) *
         PowerDifference((p.beta + c.T) / (p.beta + c.T + t), p.s) *
         ParetoNbdProbabilityAlive(p, c);
}

// ---- Gamma-Gamma ----

namespace {

// Repeat buyers as (x, monetary) pairs grouped by x: the gamma-function terms depend on x only.
struct SpendData {
  std::vector<double> x, m, log_m, log_x;
};

double GammaGammaLogLikelihood(const GammaGammaParams& g, const SpendData& d, double* grad) {
  const double p = g.p, q = g.q, ga = g.gamma, log_ga = std::log(ga);
  const double lg_q = std::lgamma(q);
  const double dg_q = grad ? Digamma(q) : 0;
  double ll = 0, dp = 0, dq = 0, dga = 0;
  double cur_x = -1, lg_terms = 0, dg_pxq = 0, dg_px = 0;
  for (size_t i = 0; i < d.x.size(); ++i) {
    const double x = d.x[i], px = p * x;
    if (x != cur_x) {
      cur_x = x;
      lg_terms = std::lgamma(px + q) - std::lgamma(px) - lg_q;
      if (grad) dg_pxq = Digamma(px + q), dg_px = Digamma(px);
    }
    const double log_den = std::log(ga + x * d.m[i]);
    ll += lg_terms + q * log_ga + (px - 1) * d.log_m[i] + px * d.log_x[i] - (px + q) * log_den;
    if (grad) {
      dp += x * (dg_pxq - dg_px + d.log_m[i] + d.log_x[i] - log_den);
      dq += dg_pxq - dg_q + log_ga - log_den;
      dga += q / ga - (px + q) / (ga + x * d.m[i]);
    }
  }
  if (grad) {
    grad[0] = p * dp;
    grad[1] = q * dq;
    grad[2] = ga * dga;
  }
  return ll;
}

Result<SpendData> RepeatBuyers(std::span<const RfmSummary> customers) {
  std::vector<std::pair<double, double>> rows;
  for (size_t i = 0; i < customers.size(); ++i) {
    const auto& c = customers[i];
    if (c.x <= 0) continue;
    if (!(c.monetary > 0) || !std::isfinite(c.monetary))
      return InvalidField(fmt::format("customers[{}].monetary", i),
                          "must be positive for a repeat buyer");
    rows.emplace_back(c.x, c.monetary);
  }
  std::sort(rows.begin(), rows.end());
  SpendData d;
  for (const auto& [x, m] : rows) {
    d.x.push_back(x);
    d.m.push_back(m);
    d.log_m.push_back(std::log(m));
    d.log_x.push_back(std::log(x));
  }
  return d;
}

}  // namespace

double GammaGammaLogLikelihood(const GammaGammaParams& p, std::span<const RfmSummary> customers) {
  auto d = RepeatBuyers(customers);
  if (!d) return kNaN;
  return GammaGammaLogLikelihood(p, *d, nullptr);
}

Result<GammaGammaFit> FitGammaGamma(std::span<const RfmSummary> customers,
                                    const FitOptions& options) {
  RG_TRY(ValidateRfm(customers));
  RG_ASSIGN_OR_RETURN(SpendData d, RepeatBuyers(customers));
  if (d.x.empty())
    return Fail(Code::kFailedPrecondition,
                "customers: no repeat buyer; the spend model needs customers with x > 0",
                "customers");
  double mean_m = std::accumulate(d.m.begin(), d.m.end(), 0.0) / static_cast<double>(d.m.size());
  Objective f = [&](const double* lp, double* grad) {
    return GammaGammaLogLikelihood({std::exp(lp[0]), std::exp(lp[1]), std::exp(lp[2])}, d, grad);
  };
  std::vector<double> start = {0.0, std::log(2.0), std::log(mean_m)};
  auto res = Maximise(NLOPT_LD_LBFGS, f, start, options, options.max_evaluations);
  GammaGammaFit fit;
  fit.params = {std::exp(res.log_params[0]), std::exp(res.log_params[1]),
                std::exp(res.log_params[2])};
  fit.report.log_likelihood = GammaGammaLogLikelihood(fit.params, d, nullptr);
  fit.report.customers = static_cast<int64_t>(d.x.size());
  fit.report.evaluations = res.evaluations;
  fit.report.converged = Converged(res.code) && std::isfinite(fit.report.log_likelihood);
  fit.report.stop_reason = StopReason(res.code);
  return fit;
}

double GammaGammaExpectedSpend(const GammaGammaParams& p, const RfmSummary& c) {
  if (!(p.q > 1)) return kNaN;
  const double px = p.p * c.x;
  // E[M | x, mbar] = (gamma + x mbar) p / (p x + q - 1)
  return (p.gamma + c.x * c.monetary) * p.p / (px + p.q - 1);
}

// ---- Value ----

CustomerForecast Forecast(const ClvModels& models, const RfmSummary& c, double horizon) {
  CustomerForecast f;
  f.p_alive_bgnbd = BgNbdProbabilityAlive(models.bgnbd, c);
  f.p_alive_pareto = ParetoNbdProbabilityAlive(models.pareto, c);
  f.expected_purchases_bgnbd = BgNbdConditionalExpectedPurchases(models.bgnbd, c, horizon);
  f.expected_purchases_pareto = ParetoNbdConditionalExpectedPurchases(models.pareto, c, horizon);
  f.expected_spend = GammaGammaExpectedSpend(models.gamma_gamma, c);
  f.expected_value = f.expected_purchases_bgnbd * f.expected_spend;
  return f;
}

}  // namespace regulars::insight
