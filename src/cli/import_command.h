#pragma once

// `regulars import orders FILE --merchant ID [--preset NAME | --mapping FILE] [--encoding E]
// [--dry-run] [--all-or-nothing] [--award-points] [--rebuild-tiers] [--rejected-csv OUT]`:
// the order-history import from the command line (importer/order_import.h does the work).
// Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise); the summary
// and the first 20 rejected lines to stdout, or the whole report as JSON with --json.
// Exit codes: 0 done, 1 lines rejected in all-or-nothing mode (nothing written) or a failure,
// 2 usage errors.

#include <CLI/CLI.hpp>

#include <string>

#include "base/time.h"
#include "importer/order_import.h"
#include "store/db.h"

namespace regulars::cli {

struct ImportOrdersArgs {
  std::string file;
  std::string merchant;
  std::string preset;
  std::string mapping_file;
  std::string encoding = "auto";
  std::string delimiter = ",";
  std::string rejected_csv;
  bool dry_run = false;
  bool all_or_nothing = false;
  bool award_points = false;
  bool rebuild_tiers = false;
  int batch_orders = 0;  // 0: the engine's default
};

void AddImportOrdersOptions(CLI::App* cmd, ImportOrdersArgs& args);

// Checks the arguments before any database is opened; invalid_argument names the flag.
// Without --preset or --mapping the preset is guessed from the file's header.
Result<importer::ImportOptions> ImportOptionsFromArgs(const ImportOrdersArgs& args);

int RunImportOrders(store::Database& db, const Clock& clock, const ImportOrdersArgs& args,
                    importer::ImportOptions options, bool json);

}  // namespace regulars::cli
