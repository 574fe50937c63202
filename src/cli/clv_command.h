#pragma once

// `regulars clv fit` and `regulars clv predict`: the churn and value models (insight/clv.h) on a
// purchase file, without a database. main.cpp adds the verbs with AddClvCommands and, when one
// was given, hands over to RunClv.

#include <CLI/CLI.hpp>

#include <string>

namespace regulars::cli {

struct ClvOptions {
  std::string transactions;     // file path
  std::string format = "csv";   // cdnow | csv
  std::string calibration_end;  // YYYY-MM-DD (cdnow also YYYYMMDD)
  std::string model = "all";    // bgnbd | pareto | gamma-gamma | all (fit only)
  double unit_days = 7;         // the models' time unit; the papers use weeks
  int horizon_days = 0;         // predict: required, > 0
  int limit = 0;                // predict: customers printed, 0 = all
  bool json = false;
  CLI::App* fit = nullptr;
  CLI::App* predict = nullptr;
};

// Registers `clv fit` and `clv predict` on `app`.
CLI::App* AddClvCommands(CLI::App& app, ClvOptions& options);

// Runs whichever of the two verbs was parsed; returns the process exit code (0, 1, or 2 for
// bad input). Errors go to stderr, or to stdout as {"error": {...}} with --json.
int RunClv(const ClvOptions& options);

}  // namespace regulars::cli
