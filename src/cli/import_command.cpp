#include "cli/import_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "accounts/account.h"
#include "base/ids.h"
#include "base/money.h"

namespace regulars::cli {
namespace {

using importer::ImportReport;

std::string FormatMoney(int64_t minor, const std::string& currency) {
  int e = CurrencyExponent(currency);
  if (e <= 0) return fmt::format("{} {}", currency, minor);
  int64_t scale = 1;
  for (int i = 0; i < e; ++i) scale *= 10;
  std::string sign = minor < 0 ? "-" : "";
  int64_t a = minor < 0 ? -minor : minor;
  return fmt::format("{} {}{}.{:0{}}", currency, sign, a / scale, a % scale, e);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

nlohmann::json ReportJson(const ImportReport& r) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& c : importer::ReportCounters()) out[std::string(c.name)] = r.*c.member;
  nlohmann::json rejected = nlohmann::json::array();
  for (const auto& j : r.rejected)
    rejected.push_back({{"line", j.line}, {"column", j.column}, {"reason", j.reason}});
  out.update({{"currency", r.currency},
              {"encoding", r.encoding},
              {"dry_run", r.dry_run},
              {"committed", r.committed},
              {"cancelled", r.cancelled},
              {"seconds", r.seconds},
              {"rejected", rejected}});
  return out;
}

}  // namespace

void AddImportOrdersOptions(CLI::App* cmd, ImportOrdersArgs& a) {
  cmd->add_option("FILE", a.file, "CSV file (plain or .gz); - reads standard input");
  cmd->add_option("--merchant", a.merchant, "merchant id");
  cmd->add_option("--preset", a.preset, "generic, shopify or online-retail (default: guessed)");
  cmd->add_option("--mapping", a.mapping_file, "TOML mapping file (field = \"Column\")");
  cmd->add_option("--encoding", a.encoding, "auto, utf-8, big5 or gb18030 (default auto)");
  cmd->add_option("--delimiter", a.delimiter, "field delimiter (default ,)");
  cmd->add_flag("--dry-run", a.dry_run, "write nothing; report what would happen");
  cmd->add_flag("--all-or-nothing", a.all_or_nothing,
                "write nothing if any line is rejected (the file is read twice)");
  cmd->add_flag("--award-points", a.award_points, "score imported orders by today's rules");
  cmd->add_flag("--rebuild-tiers", a.rebuild_tiers, "re-qualify the tiers of touched members");
  cmd->add_option("--batch-orders", a.batch_orders, "orders per transaction (default 50000)");
  cmd->add_option("--rejected-csv", a.rejected_csv,
                  "write the rejected lines (line,column,reason) to this CSV file");
}

Result<importer::ImportOptions> ImportOptionsFromArgs(const ImportOrdersArgs& a) {
  importer::ImportOptions o;
  if (a.file.empty()) return InvalidField("FILE", "give the CSV file to import");
  if (a.file != "-" && !std::filesystem::is_regular_file(a.file))
    return InvalidField("FILE", fmt::format("no such file: {}", a.file));
  if (a.merchant.empty() || !ParseId(a.merchant))
    return InvalidField("--merchant", "give the merchant id");
  auto enc = importer::ParseEncoding(a.encoding);
  if (!enc)
    return InvalidField(
        "--encoding",
        fmt::format("unknown encoding \"{}\" (auto, utf-8, big5, gb18030)", a.encoding));
  o.csv.encoding = *enc;
  if (a.delimiter.size() != 1) return InvalidField("--delimiter", "must be one character");
  o.csv.delimiter = a.delimiter == "\\t" ? '\t' : a.delimiter[0];
  if (!a.preset.empty() && !a.mapping_file.empty())
    return InvalidField("--mapping", "give --preset or --mapping, not both");
  if (!a.mapping_file.empty()) {
    std::ifstream in(a.mapping_file);
    if (!in) return InvalidField("--mapping", fmt::format("cannot read {}", a.mapping_file));
    std::stringstream ss;
    ss << in.rdbuf();
    RG_ASSIGN_OR_RETURN(o.mapping, importer::ParseMappingToml(ss.str()));
  } else if (!a.preset.empty()) {
    auto m = importer::PresetMapping(a.preset);
    if (!m)
      return InvalidField("--preset", fmt::format("unknown preset \"{}\" (generic, shopify, "
                                                  "online-retail)",
                                                  a.preset));
    o.mapping = *m;
  } else {
    if (a.file == "-")
      return InvalidField("--preset", "give --preset or --mapping when reading standard input");
    auto reader = importer::CsvReader::OpenFile(a.file, o.csv);
    if (!reader) return std::unexpected(reader.error());
    std::vector<std::string_view> fields;
    auto first = (*reader)->Next(fields);
    std::vector<std::string> header(fields.begin(), fields.end());
    auto guess = first && *first ? importer::GuessPreset(header) : std::nullopt;
    if (!guess)
      return InvalidField("--preset", "the header fits no preset; give --preset or --mapping");
    o.mapping = *importer::PresetMapping(*guess);
  }
  o.dry_run = a.dry_run;
  o.all_or_nothing = a.all_or_nothing;
  o.award_points = a.award_points;
  o.rebuild_tiers = a.rebuild_tiers;
  if (a.batch_orders < 0 || a.batch_orders > 100000)
    return InvalidField("--batch-orders", "must be 1 to 100000");
  if (a.batch_orders > 0) o.batch_orders = a.batch_orders;
  return o;
}

int RunImportOrders(store::Database& db, const Clock& clock, const ImportOrdersArgs& a,
                    importer::ImportOptions options, bool json) {
  auto fail = [&](const Error& e) {
    if (json) {
      nlohmann::json j = {{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}};
      if (!e.field.empty()) j["error"]["field"] = e.field;
      std::cout << j.dump() << "\n";
    } else {
      std::cerr << "regulars: " << e.message << "\n";
    }
    return e.code == Code::kInvalidArgument ? 2 : 1;
  };
  Id merchant = *ParseId(a.merchant);
  accounts::Actor actor = accounts::SystemActor(merchant, clock.Now());
  const bool tty = isatty(STDERR_FILENO) == 1;
  auto started = std::chrono::steady_clock::now();
  auto last_line = started;
  bool drew = false;
  auto progress = [&](const importer::Progress& p) {
    auto now = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(now - started).count();
    double rate = secs > 0 ? static_cast<double>(p.lines) / secs : 0;
    double pct = p.total_bytes > 0 ? 100.0 * static_cast<double>(p.bytes_consumed) /
                                         static_cast<double>(p.total_bytes)
                                   : 0;
    if (tty) {
      int filled = static_cast<int>(pct / 100 * 30);
      std::string bar(static_cast<size_t>(std::clamp(filled, 0, 30)), '#');
      bar.resize(30, ' ');
      std::fprintf(stderr, "\r[%s] %5.1f%%  %lld lines  %.0f lines/s ", bar.c_str(), pct,
                   static_cast<long long>(p.lines), rate);
      std::fflush(stderr);
      drew = true;
    } else if (now - last_line >= std::chrono::seconds(5)) {
      last_line = now;
      std::fprintf(stderr, "import: %.1f%%, %lld lines, %.0f lines/s\n", pct,
                   static_cast<long long>(p.lines), rate);
    }
    return true;
  };
  Result<ImportReport> r;
  if (a.file == "-") {
    auto reader = importer::CsvReader::OpenFile("-", options.csv);
    if (!reader) return fail(reader.error());
    if (options.all_or_nothing && !options.dry_run)
      return fail(MakeError(Code::kInvalidArgument,
                            "--all-or-nothing: reads the file twice, so it needs a file, not "
                            "standard input",
                            "--all-or-nothing"));
    r = importer::ImportOrders(db, actor, **reader, options, progress);
  } else {
    r = importer::ImportOrdersFile(db, actor, a.file, options, progress);
  }
  if (drew) std::fprintf(stderr, "\n");
  if (!r) return fail(r.error());
  const ImportReport& rep = *r;

  if (!a.rejected_csv.empty()) {
    std::ofstream out(a.rejected_csv);
    if (!out)
      return fail(MakeError(Code::kInvalidArgument,
                            "--rejected-csv: cannot write " + a.rejected_csv, "--rejected-csv"));
    out << "line,column,reason\n";
    for (const auto& j : rep.rejected)
      out << j.line << "," << CsvField(j.column) << "," << CsvField(j.reason) << "\n";
  }
  bool refused = options.all_or_nothing && rep.lines_rejected > 0;
  if (json) {
    std::cout << ReportJson(rep).dump() << "\n";
    return refused ? 1 : 0;
  }
  double rate = rep.seconds > 0 ? static_cast<double>(rep.lines) / rep.seconds : 0;
  std::cout << fmt::format("{} {} ({}) in {:.1f} s, {:.0f} lines/s\n",
                           rep.dry_run ? "dry run of"
                           : refused   ? "checked"
                                       : "imported",
                           a.file, rep.encoding, rep.seconds, rate);
  std::cout << fmt::format("  lines    {} read, {} imported, {} rejected\n", rep.lines,
                           rep.lines_imported, rep.lines_rejected);
  std::cout << fmt::format("  orders   {} created ({} anonymous), {} already there\n",
                           rep.orders_created, rep.anonymous_orders, rep.orders_existing);
  std::cout << fmt::format("  members  {} created, {} matched\n", rep.members_created,
                           rep.members_matched);
  std::cout << fmt::format(
      "  returns  {} refunds of their order, {} stand-alone, {} already there\n", rep.refunds,
      rep.standalone_returns, rep.returns_existing);
  std::cout << fmt::format("  revenue  {}, refunded {}\n",
                           FormatMoney(rep.revenue_minor, rep.currency),
                           FormatMoney(rep.refunded_minor, rep.currency));
  if (options.award_points) std::cout << fmt::format("  points   {} awarded\n", rep.points_awarded);
  if (rep.dry_run) std::cout << "dry run: nothing was written\n";
  if (refused) std::cout << "all or nothing: lines were rejected, so nothing was written\n";
  if (rep.cancelled) std::cout << "cancelled: what was committed stays; run again to finish\n";
  if (rep.lines_rejected > 0) {
    size_t shown = std::min<size_t>(20, rep.rejected.size());
    std::cout << fmt::format("rejected lines (first {} of {}):\n", shown, rep.lines_rejected);
    for (size_t i = 0; i < shown; ++i) {
      const auto& j = rep.rejected[i];
      if (j.column.empty())
        std::cout << fmt::format("  line {}: {}\n", j.line, j.reason);
      else
        std::cout << fmt::format("  line {}, column {}: {}\n", j.line, j.column, j.reason);
    }
  }
  return refused ? 1 : 0;
}

}  // namespace regulars::cli
