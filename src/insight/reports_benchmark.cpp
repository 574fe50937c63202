// bench_reports: times every insight report (and its CSV and Excel rendering) on an existing
// database, e.g. one filled by bench_gen_insight:
//
//   bench_gen_insight --database sqlite:/tmp/r.db --members 100000 --orders 1000000
//   bench_reports --database sqlite:/tmp/r.db [--now 2026-12-01T00:00:00Z] [--runs 3]
//
// Reports the first merchant's reports over the 365 days before --now (the generator's default
// "now"). Prints one JSON line per report: the median wall time of --runs runs of RunReport (one
// read transaction: loading rows and building the table), then of TableCsv and ReportXlsx on
// the last result, the rows and the xlsx size. Nothing is written.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "insight/reports.h"
#include "insight/xlsx.h"
#include "store/db.h"

using namespace regulars;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "bench_reports: %s: %s\n", what.c_str(), e.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, now_text = "2026-12-01T00:00:00Z";
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--database")
      url = argv[i + 1];
    else if (flag == "--now")
      now_text = argv[i + 1];
    else if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "bench_reports: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto now = ParseRfc3339(now_text);
  if (url.empty() || !now) {
    std::fprintf(stderr, "usage: bench_reports --database URL [--now RFC3339] [--runs N]\n");
    return 2;
  }
  store::Options options;
  options.url = url;
  options.pool_size = 2;
  auto db = store::Open(options);
  if (!db) return Die("open", db.error());
  auto merchant = (*db)->ReadValue([](store::Tx& tx) -> Result<Id> {
    RG_ASSIGN_OR_RETURN(auto rows,
                        tx.Query("SELECT merchant_id FROM merchants ORDER BY merchant_id"));
    if (rows.empty()) return Fail(Code::kNotFound, "no merchant");
    return rows[0].Int(0);
  });
  if (!merchant) return Die("merchant", merchant.error());
  accounts::Actor actor = accounts::SystemActor(*merchant, *now);
  insight::ReportQuery q;
  q.to = *now;
  q.from = *now - 365 * kMicrosPerDay;
  for (const auto& name : insight::InsightReportNames()) {
    std::vector<double> times;
    insight::Report last;
    for (int r = 0; r < runs; ++r) {
      auto started = std::chrono::steady_clock::now();
      auto rep =
          (*db)->ReadValue([&](store::Tx& tx) { return insight::RunReport(tx, actor, name, q); });
      times.push_back(Seconds(started));
      if (!rep) return Die(name, rep.error());
      last = std::move(*rep);
    }
    std::sort(times.begin(), times.end());
    auto started = std::chrono::steady_clock::now();
    std::string csv = insight::TableCsv(last.tables.at(0));
    double csv_s = Seconds(started);
    started = std::chrono::steady_clock::now();
    auto xlsx = insight::ReportXlsx(last);
    double xlsx_s = Seconds(started);
    if (!xlsx) return Die(name + " xlsx", xlsx.error());
    std::printf(
        "{\"report\": \"%s\", \"median_s\": %.3f, \"csv_s\": %.4f, \"xlsx_s\": %.4f, \"rows\": "
        "%zu, \"csv_bytes\": %zu, \"xlsx_bytes\": %zu}\n",
        name.c_str(), times[times.size() / 2], csv_s, xlsx_s, last.tables.at(0).rows.size(),
        csv.size(), xlsx->size());
  }
  return 0;
}
