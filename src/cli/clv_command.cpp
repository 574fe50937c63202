#include "cli/clv_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>

#include "base/time.h"
#include "insight/clv.h"
#include "insight/transactions_file.h"

namespace regulars::cli {
namespace {

using insight::CustomerRfm;
using insight::RfmSummary;

int Exit(const Error& e, bool json) {
  if (json) {
    nlohmann::json j = {{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}};
    if (!e.field.empty()) j["error"]["field"] = e.field;
    std::cout << j.dump() << "\n";
  } else {
    std::cerr << "regulars: " << e.message << "\n";
  }
  return e.code == Code::kInvalidArgument ? 2 : 1;
}

// A JSON number, or null when it is not finite (the spend model without a population mean).
nlohmann::json Num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

struct Loaded {
  std::vector<CustomerRfm> customers;
  std::vector<RfmSummary> rfm;
  int64_t transactions = 0;
};

Result<Loaded> Load(const ClvOptions& o) {
  if (o.format != "cdnow" && o.format != "csv")
    return InvalidField("--format", "must be cdnow or csv");
  if (!(o.unit_days > 0)) return InvalidField("--unit-days", "must be a positive number of days");
  RG_ASSIGN_OR_RETURN(int64_t end, insight::ParseDay(o.calibration_end, "--calibration-end"));
  std::ifstream in(o.transactions, std::ios::binary);
  if (!in)
    return Fail(Code::kNotFound, fmt::format("--transactions: cannot open {}", o.transactions),
                "--transactions");
  auto tx =
      o.format == "cdnow" ? insight::ReadCdnowTransactions(in) : insight::ReadCsvTransactions(in);
  if (!tx) {
    Error e = tx.error();
    e.message = fmt::format("{}: {}", o.transactions, e.message);
    return std::unexpected(std::move(e));
  }
  Loaded l;
  l.transactions = static_cast<int64_t>(tx->size());
  RG_ASSIGN_OR_RETURN(l.customers, insight::Summarise(*tx, end, o.unit_days));
  if (l.customers.empty())
    return Fail(Code::kFailedPrecondition,
                "--calibration-end: no customer made a purchase on or before this date",
                "--calibration-end");
  for (const auto& c : l.customers) l.rfm.push_back(c.rfm);
  return l;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

nlohmann::json ReportJson(const insight::FitReport& r, double seconds) {
  return {{"log_likelihood", r.log_likelihood}, {"customers", r.customers},
          {"evaluations", r.evaluations},       {"converged", r.converged},
          {"stop_reason", r.stop_reason},       {"seconds", seconds}};
}

std::string ReportText(const insight::FitReport& r, double seconds) {
  return fmt::format("  log-likelihood {:.4f}  customers {}  evaluations {}  time {:.3f} s  ({}{})",
                     r.log_likelihood, r.customers, r.evaluations, seconds, r.stop_reason,
                     r.converged ? "" : "; NOT CONVERGED");
}

struct Fitted {
  insight::ClvModels models;
  nlohmann::json json = nlohmann::json::object();
  std::vector<std::string> text;
};

Result<Fitted> FitModels(const std::vector<RfmSummary>& rfm, const std::string& which) {
  if (which != "all" && which != "bgnbd" && which != "pareto" && which != "gamma-gamma")
    return InvalidField("--model", "must be bgnbd, pareto, gamma-gamma or all");
  Fitted f;
  if (which == "all" || which == "bgnbd") {
    auto t0 = std::chrono::steady_clock::now();
    RG_ASSIGN_OR_RETURN(auto fit, insight::FitBgNbd(rfm));
    double sec = Seconds(t0);
    const auto& p = fit.params;
    f.models.bgnbd = p;
    f.json["bgnbd"] = ReportJson(fit.report, sec);
    f.json["bgnbd"]["params"] = {{"r", p.r}, {"alpha", p.alpha}, {"a", p.a}, {"b", p.b}};
    f.text.push_back(fmt::format("BG/NBD       r {:.4f}  alpha {:.4f}  a {:.4f}  b {:.4f}\n{}", p.r,
                                 p.alpha, p.a, p.b, ReportText(fit.report, sec)));
  }
  if (which == "all" || which == "pareto") {
    auto t0 = std::chrono::steady_clock::now();
    RG_ASSIGN_OR_RETURN(auto fit, insight::FitParetoNbd(rfm));
    double sec = Seconds(t0);
    const auto& p = fit.params;
    f.models.pareto = p;
    f.json["pareto"] = ReportJson(fit.report, sec);
    f.json["pareto"]["params"] = {{"r", p.r}, {"alpha", p.alpha}, {"s", p.s}, {"beta", p.beta}};
    f.text.push_back(fmt::format("Pareto/NBD   r {:.4f}  alpha {:.4f}  s {:.4f}  beta {:.4f}\n{}",
                                 p.r, p.alpha, p.s, p.beta, ReportText(fit.report, sec)));
  }
  if (which == "all" || which == "gamma-gamma") {
    auto t0 = std::chrono::steady_clock::now();
    RG_ASSIGN_OR_RETURN(auto fit, insight::FitGammaGamma(rfm));
    double sec = Seconds(t0);
    const auto& p = fit.params;
    f.models.gamma_gamma = p;
    f.json["gamma_gamma"] = ReportJson(fit.report, sec);
    f.json["gamma_gamma"]["params"] = {{"p", p.p}, {"q", p.q}, {"gamma", p.gamma}};
    f.text.push_back(
        fmt::format("Gamma-Gamma  p {:.4f}  q {:.4f}  gamma {:.4f}  (repeat buyers)\n{}", p.p, p.q,
                    p.gamma, ReportText(fit.report, sec)));
  }
  return f;
}

int RunFit(const ClvOptions& o) {
  auto loaded = Load(o);
  if (!loaded) return Exit(loaded.error(), o.json);
  auto fitted = FitModels(loaded->rfm, o.model);
  if (!fitted) return Exit(fitted.error(), o.json);
  if (o.json) {
    nlohmann::json j = {{"transactions", loaded->transactions},
                        {"customers", loaded->customers.size()},
                        {"calibration_end", o.calibration_end},
                        {"unit_days", o.unit_days},
                        {"models", fitted->json}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("{} transactions, {} customers, calibration to {}, time unit {} days\n",
                           loaded->transactions, loaded->customers.size(), o.calibration_end,
                           o.unit_days);
  for (const auto& t : fitted->text) std::cout << t << "\n";
  return 0;
}

int RunPredict(const ClvOptions& o) {
  if (o.horizon_days <= 0)
    return Exit(MakeError(Code::kInvalidArgument, "--horizon-days: must be a positive number",
                          "--horizon-days"),
                o.json);
  if (o.limit < 0)
    return Exit(MakeError(Code::kInvalidArgument, "--limit: must be 0 (all) or more", "--limit"),
                o.json);
  auto loaded = Load(o);
  if (!loaded) return Exit(loaded.error(), o.json);
  auto fitted = FitModels(loaded->rfm, "all");
  if (!fitted) return Exit(fitted.error(), o.json);
  const double horizon = o.horizon_days / o.unit_days;
  size_t n =
      o.limit > 0 ? std::min<size_t>(o.limit, loaded->customers.size()) : loaded->customers.size();
  if (o.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
      const auto& c = loaded->customers[i];
      auto f = insight::Forecast(fitted->models, c.rfm, horizon);
      rows.push_back({{"id", c.customer_id},
                      {"x", static_cast<int64_t>(c.rfm.x)},
                      {"t_x", c.rfm.t_x},
                      {"T", c.rfm.T},
                      {"monetary", c.rfm.monetary},
                      {"p_alive_bgnbd", f.p_alive_bgnbd},
                      {"p_alive_pareto", f.p_alive_pareto},
                      {"expected_purchases_bgnbd", f.expected_purchases_bgnbd},
                      {"expected_purchases_pareto", f.expected_purchases_pareto},
                      {"expected_spend", Num(f.expected_spend)},
                      {"expected_value", Num(f.expected_value)}});
    }
    nlohmann::json j = {{"horizon_days", o.horizon_days},
                        {"unit_days", o.unit_days},
                        {"calibration_end", o.calibration_end},
                        {"models", fitted->json},
                        {"customers", rows}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  for (const auto& t : fitted->text) std::cout << t << "\n";
  std::cout << fmt::format(
      "\nhorizon {} days; expected value = BG/NBD purchases x Gamma-Gamma spend, undiscounted\n",
      o.horizon_days);
  std::cout << fmt::format("{:>12} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "id",
                           "x", "t_x", "T", "alive_bg", "alive_pn", "purch_bg", "purch_pn", "spend",
                           "value");
  for (size_t i = 0; i < n; ++i) {
    const auto& c = loaded->customers[i];
    auto f = insight::Forecast(fitted->models, c.rfm, horizon);
    std::cout << fmt::format(
        "{:>12} {:>5} {:>8.2f} {:>8.2f} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.2f} {:>10.2f}\n",
        c.customer_id, c.rfm.x, c.rfm.t_x, c.rfm.T, f.p_alive_bgnbd, f.p_alive_pareto,
        f.expected_purchases_bgnbd, f.expected_purchases_pareto, f.expected_spend,
        f.expected_value);
  }
  return 0;
}

void AddInputOptions(CLI::App* cmd, ClvOptions& o) {
  cmd->add_option("--transactions", o.transactions, "purchase file")->required();
  cmd->add_option("--format", o.format,
                  "cdnow (the BG/NBD paper's files) or csv (customer_id,date,amount; "
                  "dates YYYY-MM-DD)")
      ->required();
  cmd->add_option("--calibration-end", o.calibration_end,
                  "last day of the calibration period, YYYY-MM-DD (inclusive)")
      ->required();
  cmd->add_option("--unit-days", o.unit_days,
                  "days per model time unit (default 7: weeks, as in the papers)");
  cmd->add_flag("--json", o.json, "machine-readable output");
}

}  // namespace

CLI::App* AddClvCommands(CLI::App& app, ClvOptions& o) {
  auto* clv = app.add_subcommand("clv", "churn and value models (BG/NBD, Pareto/NBD, Gamma-Gamma)");
  clv->require_subcommand(1);
  o.fit = clv->add_subcommand("fit", "fit the models by maximum likelihood; print the parameters");
  AddInputOptions(o.fit, o);
  o.fit->add_option("--model", o.model, "bgnbd, pareto, gamma-gamma or all (default all)");
  o.predict = clv->add_subcommand(
      "predict", "fit, then print per customer P(alive), expected purchases, spend and value");
  AddInputOptions(o.predict, o);
  o.predict->add_option("--horizon-days", o.horizon_days, "forecast horizon in days")->required();
  o.predict->add_option("--limit", o.limit, "print only the first N customers (default all)");
  return clv;
}

int RunClv(const ClvOptions& o) {
  if (o.fit && o.fit->parsed()) return RunFit(o);
  if (o.predict && o.predict->parsed()) return RunPredict(o);
  return 0;
}

}  // namespace regulars::cli
