// What these tests prove:
// - Summaries follow the BG/NBD paper's conventions: on the CDNOW sample every customer's
//   (x, t_x, T, zbar) equals the paper's own summary file.
// - The fits are maximum likelihood: on CDNOW they reproduce the published estimates to three
//   significant digits and the published log-likelihoods to 0.1; on data drawn from known
//   parameters they recover them.
// - The predictions are the papers' formulas: P(alive) and conditional expectations are checked
//   against values this file computes on its own (the BG/NBD closed forms with a plain,
//   untransformed hypergeometric series; the Pareto/NBD P(alive) by two-dimensional numerical
//   integration over the gamma mixing distributions, which uses no hypergeometric function).
// - Edge cases (x = 0, t_x = T, very large x) give finite, bounded answers.

#include "insight/clv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "base/time.h"
#include "insight/transactions_file.h"

#ifndef REGULARS_SHARED_DATA
#define REGULARS_SHARED_DATA "../shared/data"
#endif

namespace regulars::insight {
namespace {

const std::string kCdnowDir = std::string(REGULARS_SHARED_DATA) + "/cdnow";

// Rounds to three significant digits.
double Sig3(double v) {
  if (v == 0) return 0;
  double scale = std::pow(10.0, 2 - std::floor(std::log10(std::abs(v))));
  return std::round(v * scale) / scale;
}

struct Cdnow {
  std::vector<CustomerRfm> customers;
  std::vector<RfmSummary> rfm;
};

// The CDNOW sample summarised as in the paper, or nullopt when the data is absent.
const Cdnow* LoadCdnow() {
  static std::optional<Cdnow> cached = []() -> std::optional<Cdnow> {
    std::ifstream in(kCdnowDir + "/CDNOW_sample.txt");
    if (!in) return std::nullopt;
    auto tx = ReadCdnowTransactions(in);
    EXPECT_TRUE(tx.has_value()) << tx.error().ToString();
    if (!tx) return std::nullopt;
    auto s = Summarise(*tx, DaysFromCivil(1997, 9, 30), 7.0);
    EXPECT_TRUE(s.has_value());
    if (!s) return std::nullopt;
    Cdnow c;
    c.customers = std::move(*s);
    for (const auto& cu : c.customers) c.rfm.push_back(cu.rfm);
    return c;
  }();
  return cached ? &*cached : nullptr;
}

#define REQUIRE_CDNOW(var)                                  \
  const Cdnow* var = LoadCdnow();                           \
  if (!var)                                                 \
  GTEST_SKIP() << "CDNOW sample not found at " << kCdnowDir \
               << "/CDNOW_sample.txt (the shared data folder beside the project)"

// ---------- Summaries ----------

TEST(Summarise, CdnowMatchesThePapersSummaryForEveryCustomer) {
  REQUIRE_CDNOW(cd);
  std::ifstream in(kCdnowDir + "/cdnow_customers_summary_with_transactions.csv");
  if (!in) GTEST_SKIP() << "cdnow_customers_summary_with_transactions.csv not found";
  std::string line;
  std::getline(in, line);
  ASSERT_EQ(line.substr(0, 15), "ID,x,t_x,T,zbar");
  std::map<int, CustomerRfm> mine;
  for (const auto& c : cd->customers) mine[std::stoi(c.customer_id)] = c;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    int id;
    double x, t_x, T, zbar;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf", &id, &x, &t_x, &T, &zbar), 5) << line;
    ++rows;
    ASSERT_TRUE(mine.contains(id)) << "customer " << id;
    const RfmSummary& s = mine[id].rfm;
    // The paper's file rounds to two decimals.
    EXPECT_EQ(s.x, x) << "customer " << id;
    EXPECT_NEAR(s.t_x, t_x, 0.005 + 1e-9) << "customer " << id;
    EXPECT_NEAR(s.T, T, 0.005 + 1e-9) << "customer " << id;
    EXPECT_NEAR(s.monetary, zbar, 0.005 + 1e-9) << "customer " << id;
  }
  EXPECT_EQ(rows, 2357);
  EXPECT_EQ(cd->customers.size(), 2357u);
  int repeat = 0;
  for (const auto& r : cd->rfm) repeat += r.x > 0;
  EXPECT_EQ(repeat, 946);
}

TEST(Summarise, SameDayPurchasesAreOneAndLaterDaysAreLeftOut) {
  std::vector<Transaction> tx = {
      {"b", 10, 5.0},  {"a", 0, 1.0},   {"a", 7, 2.0},  {"a", 7, 3.0},
      {"a", 14, 10.0}, {"a", 15, 99.0}, {"c", 30, 4.0},  // c starts after calibration
  };
  auto s = Summarise(tx, 14, 7.0);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].customer_id, "b");
  EXPECT_EQ((*s)[0].rfm.x, 0);
  EXPECT_EQ((*s)[0].rfm.t_x, 0);
  EXPECT_DOUBLE_EQ((*s)[0].rfm.T, 4.0 / 7.0);
  EXPECT_EQ((*s)[0].rfm.monetary, 0);
  EXPECT_EQ((*s)[1].customer_id, "a");
  EXPECT_EQ((*s)[1].rfm.x, 2);  // days 7 and 14 (day 7 twice is one)
  EXPECT_DOUBLE_EQ((*s)[1].rfm.t_x, 2.0);
  EXPECT_DOUBLE_EQ((*s)[1].rfm.T, 2.0);
  EXPECT_DOUBLE_EQ((*s)[1].rfm.monetary, (5.0 + 10.0) / 2);

  auto bad = Summarise(tx, 14, 0);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "unit");
}

TEST(ValidateRfm, NamesTheRowAndField) {
  std::vector<RfmSummary> rows = {{1, 2, 3, 4}, {1, 4, 3, 4}};
  auto s = ValidateRfm(rows);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Code::kInvalidArgument);
  EXPECT_EQ(s.error().field, "customers[1].t_x");
  EXPECT_EQ(s.error().message, "customers[1].t_x: must be between 0 and T");
  rows = {{1.5, 1, 3, 4}};
  EXPECT_EQ(ValidateRfm(rows).error().field, "customers[0].x");
  rows = {{0, 1, 3, 0}};
  EXPECT_EQ(ValidateRfm(rows).error().message, "customers[0].t_x: must be 0 when x is 0");
}

TEST(GroupRfm, CountsIdenticalRows) {
  std::vector<RfmSummary> rows = {{1, 2, 3, 9}, {0, 0, 3, 0}, {1, 2, 3, 1}, {0, 0, 3, 0}};
  auto g = GroupRfm(rows);
  ASSERT_EQ(g.rows.size(), 2u);
  EXPECT_EQ(g.rows[0].x, 0);
  EXPECT_EQ(g.weight[0], 2);
  EXPECT_EQ(g.rows[1].x, 1);
  EXPECT_EQ(g.weight[1], 2);
  EXPECT_EQ(g.customers, 4);
}

// ---------- Transaction files ----------

TEST(ReadCsvTransactions, ReadsRowsAndNamesTheBadField) {
  std::istringstream ok("customer_id,date,amount\r\nm1,2026-01-02,12.5\r\nm2,2026-01-03,7\n");
  auto tx = ReadCsvTransactions(ok);
  ASSERT_TRUE(tx.has_value()) << tx.error().ToString();
  ASSERT_EQ(tx->size(), 2u);
  EXPECT_EQ((*tx)[0].customer_id, "m1");
  EXPECT_EQ((*tx)[0].day, DaysFromCivil(2026, 1, 2));
  EXPECT_EQ((*tx)[0].amount, 12.5);

  std::istringstream bad_date("customer_id,date,amount\nm1,2026-02-30,1\n");
  auto e = ReadCsvTransactions(bad_date);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, Code::kInvalidArgument);
  EXPECT_EQ(e.error().field, "date");
  EXPECT_EQ(e.error().message, "line 2, column 2 (date): expected YYYY-MM-DD, got \"2026-02-30\"");

  std::istringstream bad_amount("customer_id,date,amount\nm1,2026-02-03,1\nm1,2026-02-03,x1\n");
  e = ReadCsvTransactions(bad_amount);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message, "line 3, column 3 (amount): expected a number, got \"x1\"");

  std::istringstream bad_header("id,date,amount\n");
  e = ReadCsvTransactions(bad_header);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().field, "header");

  std::istringstream short_row("customer_id,date,amount\nm1,2026-02-03\n");
  e = ReadCsvTransactions(short_row);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message,
            "line 2, column 2 (columns): expected 3 comma-separated fields, got 2");
}

TEST(ReadCdnowTransactions, ReadsBothLayouts) {
  std::istringstream sample(
      " 00004 0001 19970101  2   29.33\r\n 00021 0002 19970102  3   63.34\r\n");
  auto tx = ReadCdnowTransactions(sample);
  ASSERT_TRUE(tx.has_value());
  ASSERT_EQ(tx->size(), 2u);
  EXPECT_EQ((*tx)[0].customer_id, "0001");
  EXPECT_EQ((*tx)[1].day, DaysFromCivil(1997, 1, 2));
  EXPECT_EQ((*tx)[1].amount, 63.34);
  std::istringstream master(
      " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n");
  tx = ReadCdnowTransactions(master);
  ASSERT_TRUE(tx.has_value());
  ASSERT_EQ(tx->size(), 1u);
  EXPECT_EQ((*tx)[0].customer_id, "00001");
  std::istringstream bad(" 00001 19971301  1   11.77\n");
  auto e = ReadCdnowTransactions(bad);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message, "line 1, column 2 (date): expected YYYYMMDD, got \"19971301\"");
}

// ---------- Fits on CDNOW ----------

TEST(FitBgNbd, ReproducesThePublishedCdnowEstimates) {
  REQUIRE_CDNOW(cd);
  auto fit = FitBgNbd(cd->rfm);
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  EXPECT_EQ(Sig3(fit->params.r), 0.243);
  EXPECT_EQ(Sig3(fit->params.alpha), 4.41);
  EXPECT_EQ(Sig3(fit->params.a), 0.793);
  EXPECT_EQ(Sig3(fit->params.b), 2.43);
  EXPECT_NEAR(fit->report.log_likelihood, -9582.4, 0.1);
  EXPECT_EQ(fit->report.customers, 2357);
  // The published point itself has the published log-likelihood.
  EXPECT_NEAR(BgNbdLogLikelihood({0.243, 4.414, 0.793, 2.426}, cd->rfm), -9582.4, 0.1);
}

TEST(FitParetoNbd, ReproducesThePublishedCdnowEstimates) {
  REQUIRE_CDNOW(cd);
  auto fit = FitParetoNbd(cd->rfm);
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  EXPECT_EQ(Sig3(fit->params.r), 0.553);
  EXPECT_EQ(Sig3(fit->params.alpha), 10.6);
  EXPECT_EQ(Sig3(fit->params.s), 0.606);
  EXPECT_EQ(Sig3(fit->params.beta), 11.7);
  EXPECT_NEAR(fit->report.log_likelihood, -9595.0, 0.1);
  EXPECT_NEAR(ParetoNbdLogLikelihood({0.553, 10.578, 0.606, 11.669}, cd->rfm), -9595.0, 0.1);
}

TEST(FitGammaGamma, ReproducesThePublishedCdnowEstimates) {
  REQUIRE_CDNOW(cd);
  auto fit = FitGammaGamma(cd->rfm);
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  EXPECT_EQ(fit->report.customers, 946);
  EXPECT_EQ(Sig3(fit->params.p), 6.25);
  EXPECT_EQ(Sig3(fit->params.q), 3.74);
  EXPECT_EQ(Sig3(fit->params.gamma), 15.4);
  EXPECT_NEAR(fit->params.gamma, 15.44, 0.005);
}

TEST(Fits, RefuseDataThatCannotIdentifyTheModel) {
  std::vector<RfmSummary> none;
  auto e = FitBgNbd(none);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(e.error().message, "customers: no customers to fit");
  std::vector<RfmSummary> once = {{0, 0, 10, 0}, {0, 0, 5, 0}};
  auto p = FitParetoNbd(once);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, Code::kFailedPrecondition);
  auto g = FitGammaGamma(once);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code, Code::kFailedPrecondition);
  std::vector<RfmSummary> free_lunch = {{2, 1, 10, 0}};
  g = FitGammaGamma(free_lunch);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code, Code::kInvalidArgument);
  EXPECT_EQ(g.error().field, "customers[0].monetary");
  std::vector<RfmSummary> bad = {{2, 11, 10, 5}};
  auto b = FitBgNbd(bad);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().field, "customers[0].t_x");
}

// ---------- Independent BG/NBD closed forms ----------

// 2F1 by its plain power series in long double, with no transformation.
long double NaiveHyp2F1(long double a, long double b, long double c, long double z) {
  long double term = 1, sum = 1;
  for (int n = 0; n < 200000; ++n) {
    term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
    sum += term;
    if (n > 10 && std::fabs(term) < 1e-19L * std::fabs(sum)) break;
  }
  return sum;
}

double RefBgAlive(const BgNbdParams& p, double x, double t_x, double T) {
  if (x == 0) return 1;
  return 1.0 / (1.0 + p.a / (p.b + x - 1) * std::pow((p.alpha + T) / (p.alpha + t_x), p.r + x));
}

double RefBgConditional(const BgNbdParams& p, double x, double t_x, double T, double t) {
  long double z = t / (p.alpha + T + t);
  long double h = NaiveHyp2F1(p.r + x, p.b + x, p.a + p.b + x - 1, z);
  long double front = (p.a + p.b + x - 1) / (p.a - 1) *
                      (1 - std::pow((p.alpha + T) / (p.alpha + T + t), p.r + x) * h);
  long double denom =
      1 + (x > 0 ? p.a / (p.b + x - 1) * std::pow((p.alpha + T) / (p.alpha + t_x), p.r + x) : 0);
  return static_cast<double>(front / denom);
}

const BgNbdParams kBg{0.243, 4.414, 0.793, 2.426};
const ParetoNbdParams kPnbd{0.553, 10.578, 0.606, 11.669};

TEST(BgNbd, PredictionsMatchTheClosedFormsComputedHere) {
  struct Case {
    double x, t_x, T, t;
  };
  for (const Case& c : {Case{0, 0, 38.86, 39}, Case{2, 30.43, 38.86, 39}, Case{1, 1.71, 38.86, 39},
                        Case{7, 29.43, 32.71, 10}, Case{5, 35, 36, 52}, Case{3, 3, 3, 1}}) {
    SCOPED_TRACE(::testing::Message() << "x=" << c.x << " t_x=" << c.t_x << " T=" << c.T);
    RfmSummary s{c.x, c.t_x, c.T, 0};
    EXPECT_NEAR(BgNbdProbabilityAlive(kBg, s), RefBgAlive(kBg, c.x, c.t_x, c.T), 1e-12);
    double ref = RefBgConditional(kBg, c.x, c.t_x, c.T, c.t);
    EXPECT_NEAR(BgNbdConditionalExpectedPurchases(kBg, s, c.t), ref, 1e-9 * std::abs(ref));
  }
  // E[X(t)] for a new customer is eq. (9) with the untransformed series.
  for (double t : {1.0, 10.0, 39.0, 78.0}) {
    long double z = t / (kBg.alpha + t);
    long double ref = (kBg.a + kBg.b - 1) / (kBg.a - 1) *
                      (1 - std::pow(kBg.alpha / (kBg.alpha + t), kBg.r) *
                               NaiveHyp2F1(kBg.r, kBg.b, kBg.a + kBg.b - 1, z));
    EXPECT_NEAR(BgNbdExpectedPurchases(kBg, t), static_cast<double>(ref), 1e-9) << "t=" << t;
  }
}

// ---------- Independent Pareto/NBD P(alive) by numerical integration ----------

// P(alive | x, t_x, T) = E[ lambda^x e^-(lambda+mu)T ] / E[ L(lambda, mu | x, t_x, T) ] over
// lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta), where the individual likelihood is
// lambda^x e^-(lambda+mu)T + lambda^x mu/(lambda+mu) (e^-(lambda+mu)t_x - e^-(lambda+mu)T).
// In y = ln lambda and w = ln mu the integrands are smooth (the densities' singular powers at 0
// become decaying exponentials); composite Simpson on a box that holds all but ~e^-40 of the mass.
double RefParetoAlive(const ParetoNbdParams& p, double x, double t_x, double T) {
  const double cl = p.r + x, cm = p.s;
  const double y1 = std::log((cl + 12 * std::sqrt(cl) + 40) / (p.alpha + t_x));
  const double w1 = std::log(60 / p.beta);
  const double y0 = y1 - 40 / cl - 3, w0 = w1 - 40 / cm - 3;
  const int n = 1000;  // even
  const double hy = (y1 - y0) / n, hw = (w1 - w0) / n;
  long double num = 0, den = 0;
  for (int i = 0; i <= n; ++i) {
    double wy = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    double y = y0 + i * hy, lam = std::exp(y);
    for (int j = 0; j <= n; ++j) {
      double ww = (j == 0 || j == n) ? 1 : (j % 2 ? 4 : 2);
      double w = w0 + j * hw, mu = std::exp(w);
      // lambda^(r+x) mu^s e^(-alpha lambda - beta mu): the densities times the Jacobian.
      double prior = std::exp(cl * y + cm * w - p.alpha * lam - p.beta * mu);
      double alive = std::exp(-(lam + mu) * T);
      double died = mu / (lam + mu) * (std::exp(-(lam + mu) * t_x) - std::exp(-(lam + mu) * T));
      num += wy * ww * prior * alive;
      den += wy * ww * prior * (alive + died);
    }
  }
  return static_cast<double>(num / den);
}

TEST(ParetoNbd, ProbabilityAliveMatchesNumericalIntegration) {
  struct Case {
    double x, t_x, T;
  };
  for (const Case& c : {Case{0, 0, 38.86}, Case{2, 30.43, 38.86}, Case{1, 1.71, 38.86},
                        Case{4, 20, 30}, Case{3, 10, 12}}) {
    SCOPED_TRACE(::testing::Message() << "x=" << c.x << " t_x=" << c.t_x << " T=" << c.T);
    EXPECT_NEAR(ParetoNbdProbabilityAlive(kPnbd, {c.x, c.t_x, c.T, 0}),
                RefParetoAlive(kPnbd, c.x, c.t_x, c.T), 2e-4);
  }
  // alpha > beta takes the other branch of the hypergeometric terms.
  ParetoNbdParams swapped{0.553, 11.669, 0.606, 3.0};
  EXPECT_NEAR(ParetoNbdProbabilityAlive(swapped, {2, 30.43, 38.86, 0}),
              RefParetoAlive(swapped, 2, 30.43, 38.86), 2e-4);
  EXPECT_NEAR(ParetoNbdProbabilityAlive(swapped, {1, 5, 38.86, 0}),
              RefParetoAlive(swapped, 1, 5, 38.86), 2e-4);
  // beta hundreds of times alpha: the hypergeometric argument is near 1, where the series is
  // replaced by quadrature; both sides of the switch agree with the integral.
  for (double beta : {4.0, 40.0, 400.0}) {
    ParetoNbdParams far{0.553, 0.5, 0.606, beta};
    for (const Case& c : {Case{0, 0, 38.86}, Case{2, 0.5, 38.86}, Case{1, 5, 20}}) {
      SCOPED_TRACE(::testing::Message() << "beta=" << beta << " x=" << c.x << " t_x=" << c.t_x);
      EXPECT_NEAR(ParetoNbdProbabilityAlive(far, {c.x, c.t_x, c.T, 0}),
                  RefParetoAlive(far, c.x, c.t_x, c.T), 5e-4);
    }
  }
}

TEST(ParetoNbd, ConditionalExpectationIsRateTimesSurvivalTimesAlive) {
  // Eq. (13) written out here: (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
  // times P(alive), with P(alive) from the numerical integral above.
  RfmSummary c{2, 30.43, 38.86, 0};
  double t = 39;
  double ref = (kPnbd.r + c.x) * (kPnbd.beta + c.T) / ((kPnbd.alpha + c.T) * (kPnbd.s - 1)) *
               (1 - std::pow((kPnbd.beta + c.T) / (kPnbd.beta + c.T + t), kPnbd.s - 1)) *
               RefParetoAlive(kPnbd, c.x, c.t_x, c.T);
  EXPECT_NEAR(ParetoNbdConditionalExpectedPurchases(kPnbd, c, t), ref, 1e-3 * ref);
  double ref_new = kPnbd.r * kPnbd.beta / (kPnbd.alpha * (kPnbd.s - 1)) *
                   (1 - std::pow(kPnbd.beta / (kPnbd.beta + t), kPnbd.s - 1));
  EXPECT_NEAR(ParetoNbdExpectedPurchases(kPnbd, t), ref_new, 1e-12);
}

// ---------- Gamma-Gamma ----------

TEST(GammaGamma, ExpectedSpendIsTheWeightedMean) {
  GammaGammaParams g{6.25, 3.74, 15.44};
  double pop = g.p * g.gamma / (g.q - 1);
  RfmSummary c{4, 20, 30, 40.0};
  double w = g.p * c.x / (g.p * c.x + g.q - 1);
  EXPECT_NEAR(GammaGammaExpectedSpend(g, c), (1 - w) * pop + w * 40.0, 1e-12);
  EXPECT_NEAR(GammaGammaExpectedSpend(g, {0, 0, 30, 0}), pop, 1e-12);
  EXPECT_TRUE(std::isnan(GammaGammaExpectedSpend({6.25, 0.9, 15.44}, c)));
}

// ---------- Edge cases ----------

TEST(EdgeCases, ZeroRepeatsFullRecencyAndVeryLargeX) {
  // x = 0: BG/NBD customers cannot have dropped out; Pareto/NBD ones may have.
  EXPECT_EQ(BgNbdProbabilityAlive(kBg, {0, 0, 38.86, 0}), 1.0);
  double pa0 = ParetoNbdProbabilityAlive(kPnbd, {0, 0, 38.86, 0});
  EXPECT_GT(pa0, 0.0);
  EXPECT_LT(pa0, 1.0);
  // t_x = T: a purchase just now. BG/NBD: 1 / (1 + a/(b+x-1)); Pareto/NBD: certainly alive.
  EXPECT_NEAR(BgNbdProbabilityAlive(kBg, {3, 20, 20, 0}), 1 / (1 + kBg.a / (kBg.b + 2)), 1e-15);
  EXPECT_EQ(ParetoNbdProbabilityAlive(kPnbd, {3, 20, 20, 0}), 1.0);
  // Very large x: no overflow; a long silence makes the customer almost surely gone, a recent
  // purchase almost surely alive, and expected purchases stay below rate x horizon.
  for (double x : {200.0, 2000.0}) {
    SCOPED_TRACE(x);
    RfmSummary gone{x, 10, 38.86, 0}, recent{x, 38.8, 38.86, 0};
    EXPECT_LT(BgNbdProbabilityAlive(kBg, gone), 1e-10);
    EXPECT_LT(ParetoNbdProbabilityAlive(kPnbd, gone), 1e-10);
    EXPECT_GT(ParetoNbdProbabilityAlive(kPnbd, recent), 0.99);
    double e_bg = BgNbdConditionalExpectedPurchases(kBg, recent, 39);
    double e_p = ParetoNbdConditionalExpectedPurchases(kPnbd, recent, 39);
    double bound = (kBg.r + x) / (kBg.alpha + recent.T) * 39;
    EXPECT_TRUE(std::isfinite(e_bg));
    EXPECT_GT(e_bg, 0.5 * bound * BgNbdProbabilityAlive(kBg, recent));
    EXPECT_LT(e_bg, bound);
    EXPECT_GT(e_p, 0);
    EXPECT_LT(e_p, (kPnbd.r + x) / (kPnbd.alpha + recent.T) * 39);
    std::vector<RfmSummary> one = {recent};
    EXPECT_TRUE(std::isfinite(BgNbdLogLikelihood(kBg, one)));
    EXPECT_TRUE(std::isfinite(ParetoNbdLogLikelihood(kPnbd, one)));
  }
  // Horizon 0: nothing expected.
  EXPECT_EQ(BgNbdConditionalExpectedPurchases(kBg, {2, 30, 38, 0}, 0), 0.0);
  EXPECT_EQ(ParetoNbdConditionalExpectedPurchases(kPnbd, {2, 30, 38, 0}, 0), 0.0);
}

TEST(BgNbd, GradientMatchesFiniteDifferences) {
  REQUIRE_CDNOW(cd);
  RfmGroups g = GroupRfm(cd->rfm);
  BgNbdParams p{0.3, 5.0, 0.7, 2.0};
  double grad[4];
  BgNbdLogLikelihood(p, g, &grad);
  double lp[4] = {std::log(p.r), std::log(p.alpha), std::log(p.a), std::log(p.b)};
  for (int k = 0; k < 4; ++k) {
    auto at = [&](double d) {
      double q[4] = {lp[0], lp[1], lp[2], lp[3]};
      q[k] += d;
      return BgNbdLogLikelihood({std::exp(q[0]), std::exp(q[1]), std::exp(q[2]), std::exp(q[3])},
                                g);
    };
    double h = 1e-5;
    EXPECT_NEAR(grad[k], (at(h) - at(-h)) / (2 * h), 1e-3 * std::max(1.0, std::abs(grad[k])))
        << "parameter " << k;
  }
}

// ---------- Synthetic data from known parameters ----------

// Draws customers from the BG/NBD story: rate lambda ~ Gamma(r, alpha), dropout p ~ Beta(a, b);
// after each repeat purchase the customer leaves with probability p; observed for T_i time units.
std::vector<RfmSummary> DrawBgNbd(const BgNbdParams& p, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> lam_d(p.r, 1 / p.alpha), ga(p.a, 1), gb(p.b, 1);
  std::uniform_real_distribution<double> u(0, 1), join(0, 12);
  std::vector<RfmSummary> out;
  for (int i = 0; i < n; ++i) {
    double lam = lam_d(rng), xa = ga(rng), drop = xa / (xa + gb(rng));
    double T = 39 - join(rng);
    RfmSummary s{0, 0, T, 0};
    double t = 0;
    while (true) {
      t += -std::log(1 - u(rng)) / lam;
      if (t > T) break;
      s.x += 1;
      s.t_x = t;
      if (u(rng) < drop) break;  // leaves right after this repeat purchase
    }
    out.push_back(s);
  }
  return out;
}

std::vector<RfmSummary> DrawParetoNbd(const ParetoNbdParams& p, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> lam_d(p.r, 1 / p.alpha), mu_d(p.s, 1 / p.beta);
  std::uniform_real_distribution<double> u(0, 1), join(0, 12);
  std::vector<RfmSummary> out;
  for (int i = 0; i < n; ++i) {
    double lam = lam_d(rng), mu = mu_d(rng);
    double T = 39 - join(rng);
    double life = -std::log(1 - u(rng)) / mu;
    double end = std::min(T, life);
    RfmSummary s{0, 0, T, 0};
    double t = 0;
    while (true) {
      t += -std::log(1 - u(rng)) / lam;
      if (t > end) break;
      s.x += 1;
      s.t_x = t;
    }
    out.push_back(s);
  }
  return out;
}

TEST(FitBgNbd, RecoversKnownParametersFromSyntheticData) {
  BgNbdParams truth{0.5, 6.0, 0.8, 2.5};
  auto data = DrawBgNbd(truth, 40000, 20260101);
  auto fit = FitBgNbd(data);
  ASSERT_TRUE(fit.has_value());
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  // Tolerances are a few standard errors at this sample size.
  EXPECT_NEAR(fit->params.r, truth.r, 0.1 * truth.r);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.15 * truth.alpha);
  EXPECT_NEAR(fit->params.a, truth.a, 0.25 * truth.a);
  EXPECT_NEAR(fit->params.b, truth.b, 0.3 * truth.b);
  // The truth is less likely than the optimum, never more.
  EXPECT_LE(BgNbdLogLikelihood(truth, data), fit->report.log_likelihood);
}

TEST(FitParetoNbd, RecoversKnownParametersFromSyntheticData) {
  ParetoNbdParams truth{0.6, 9.0, 0.7, 12.0};
  auto data = DrawParetoNbd(truth, 20000, 7);
  auto fit = FitParetoNbd(data);
  ASSERT_TRUE(fit.has_value());
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  EXPECT_NEAR(fit->params.r, truth.r, 0.15 * truth.r);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.2 * truth.alpha);
  EXPECT_NEAR(fit->params.s, truth.s, 0.35 * truth.s);
  EXPECT_NEAR(fit->params.beta, truth.beta, 0.6 * truth.beta);
  EXPECT_LE(ParetoNbdLogLikelihood(truth, data), fit->report.log_likelihood);
}

TEST(FitGammaGamma, RecoversKnownParametersFromSyntheticData) {
  // Per customer nu ~ Gamma(q, gamma); each purchase ~ Gamma(p, nu); monetary = mean.
  GammaGammaParams truth{6.0, 4.0, 15.0};
  std::mt19937_64 rng(99);
  std::gamma_distribution<double> nu_d(truth.q, 1 / truth.gamma);
  std::uniform_int_distribution<int> xs(1, 8);
  std::vector<RfmSummary> data;
  for (int i = 0; i < 20000; ++i) {
    double nu = nu_d(rng);
    int x = xs(rng);
    std::gamma_distribution<double> z(truth.p, 1 / nu);
    double sum = 0;
    for (int k = 0; k < x; ++k) sum += z(rng);
    data.push_back({double(x), 1, 2, sum / x});
  }
  auto fit = FitGammaGamma(data);
  ASSERT_TRUE(fit.has_value());
  EXPECT_TRUE(fit->report.converged) << fit->report.stop_reason;
  EXPECT_NEAR(fit->params.p, truth.p, 0.1 * truth.p);
  EXPECT_NEAR(fit->params.q, truth.q, 0.15 * truth.q);
  EXPECT_NEAR(fit->params.gamma, truth.gamma, 0.2 * truth.gamma);
}

TEST(Forecast, CombinesTheModels) {
  ClvModels m{kBg, kPnbd, {6.25, 3.74, 15.44}};
  RfmSummary c{2, 30.43, 38.86, 22.35};
  auto f = Forecast(m, c, 39);
  EXPECT_EQ(f.p_alive_bgnbd, BgNbdProbabilityAlive(kBg, c));
  EXPECT_EQ(f.p_alive_pareto, ParetoNbdProbabilityAlive(kPnbd, c));
  EXPECT_EQ(f.expected_purchases_bgnbd, BgNbdConditionalExpectedPurchases(kBg, c, 39));
  EXPECT_EQ(f.expected_purchases_pareto, ParetoNbdConditionalExpectedPurchases(kPnbd, c, 39));
  EXPECT_EQ(f.expected_spend, GammaGammaExpectedSpend(m.gamma_gamma, c));
  EXPECT_DOUBLE_EQ(f.expected_value, f.expected_purchases_bgnbd * f.expected_spend);
}

}  // namespace
}  // namespace regulars::insight
