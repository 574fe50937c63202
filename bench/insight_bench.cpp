// bench_insight: the insight benchmark's measurements on one database from bench_gen_insight.
//
//   bench_insight regulars --database sqlite:/tmp/insight.db --segment bench/insight_segment.json
//   bench_insight sql --database URL --sql bench/insight_segment.sql
//       [--setup bench/insight_peer_indexes.sql] [--segment bench/insight_segment.json]
//
// `regulars`: builds the FeatureStore from the database (FeatureStore::Build, all merchants) and
// reports the build time, FeatureStore::MemoryBytes() and the process's VmRSS / VmHWM (and VmRSS
// after malloc_trim, once the build's freed temporaries are given back); evaluates
// the segment --runs times on the in-memory features (EvaluateSegment, median), and each of the
// root's children alone once; applies --apply generated orders to the features
// (insight::ApplyOrder, all under one exclusive lock, µs per order); summarises every buyer's
// order log into (x, t_x, T) in weeks and fits BG/NBD on them (insight::FitBgNbd, median of 3);
// then, when scores.cpp is built, the product's own fit once (BuyerSummaries, FitModels with
// Gamma-Gamma; ApplyModels with RFM with --apply-models).
//
// `sql`: runs the peer query on the same kind of database through the project's store (the
// sqlite3 C API or libpq): first the --setup script (the DBA's indexes, then ANALYZE; timed),
// then each hand-written query (--sql FILE..., placeholders as bench/insight_segment.sql says)
// --runs times (all must count the same members), and, when --segment is given and
// src/insight/segment_sql is built, the segment compiled by CompileSegmentSql --runs times, whose
// member count must equal the hand-written query's
// (--compiled-out writes that query with its parameters as literals, for the DuckDB peer).
//
// Both print human-readable lines on stderr and `RESULT key=value ...` lines on stdout for
// bench/run_insight.sh. "now" is --now (default 2026-12-01T00:00:00Z, bench_gen_insight's).
// Exit 1 on any error or when two counts that must agree do not.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <malloc.h>
#include <algorithm>
#include <chrono>
#include <cmath>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/time.h"
#include "insight/clv.h"
#include "store/db.h"
#ifdef REGULARS_BENCH_HAVE_FEATURES
#include "insight/feature_store.h"
#include "insight/segment.h"
#endif
#ifdef REGULARS_BENCH_HAVE_SEGMENT_SQL
#include "insight/segment_sql.h"
#endif
#ifdef REGULARS_BENCH_HAVE_SCORES
#include "insight/scores.h"
#endif

namespace {

using namespace regulars;

using SteadyClock = std::chrono::steady_clock;
double Since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string Join(const std::vector<double>& v, int digits) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ",") + fmt::format("{:.{}f}", x, digits);
  return out;
}

// kB from /proc/self/status ("VmRSS", "VmHWM").
int64_t ProcStatusKb(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}

Result<std::string> ReadText(const std::string& path, std::string_view flag) {
  std::ifstream in(path);
  if (!in) return InvalidField(std::string(flag), "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Replace(std::string& s, std::string_view from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

Result<Id> OnlyMerchant(store::Database& db) {
  return db.ReadValue([](store::Tx& tx) -> Result<Id> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT merchant_id FROM merchants ORDER BY 1"));
    if (rows.size() != 1)
      return Fail(Code::kFailedPrecondition,
                  fmt::format("expected one merchant (a bench_gen_insight database), found {}",
                              rows.size()));
    return rows[0].Int(0);
  });
}

struct Common {
  std::string url, segment_path, now_text = "2026-12-01T00:00:00Z";
  int runs = 5;
  Micros now = 0;
};

#ifdef REGULARS_BENCH_HAVE_FEATURES
Result<insight::SegmentNode> LoadSegment(const std::string& path) {
  RG_ASSIGN_OR_RETURN(std::string text, ReadText(path, "--segment"));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidField("--segment", path + " is not JSON");
  return insight::ParseSegmentDefinition(j);
}

// Purchase days of one member's counted orders (net > 0), as bench/clv_fit_bench.cpp and
// insight::Summarise count them: UTC days, same-day orders are one.
insight::RfmSummary Summary(const insight::MerchantFeatures& f, uint32_t i, int64_t now_s,
                            int64_t end_day) {
  insight::RfmSummary s;
  int64_t first = -1, last = -1;
  for (const auto& o : f.Orders(i)) {
    if (int64_t{o.at_s} >= now_s || f.NetMinor(o) <= 0) continue;
    const int64_t day = int64_t{o.at_s} / 86'400;
    if (first < 0) {
      first = last = day;
    } else if (day != last) {
      s.x += 1;
      last = day;
    }
  }
  if (first < 0) return {-1, 0, 0, 0};
  s.t_x = (last - first) / 7.0;
  s.T = (end_day - first) / 7.0;
  return s;
}

Status RunRegulars(const Common& c, int64_t apply_n, bool apply_models) {
  store::Options options;
  options.url = c.url;
  options.pool_size = 2;
  RG_ASSIGN_OR_RETURN(auto db, store::Open(options));
  RG_ASSIGN_OR_RETURN(Id mid, OnlyMerchant(*db));
  RG_ASSIGN_OR_RETURN(insight::SegmentNode segment, LoadSegment(c.segment_path));
  ManualClock clock(c.now);

  const int64_t rss_before = ProcStatusKb("VmRSS");
  insight::FeatureStore store(*db, clock);
  auto t0 = SteadyClock::now();
  RG_TRY(store.Build());
  const double build_s = Since(t0);
  const int64_t rss_after = ProcStatusKb("VmRSS"), hwm = ProcStatusKb("VmHWM");
  // What stays resident once the allocator hands the build's freed temporaries back.
  malloc_trim(0);
  const int64_t rss_trimmed = ProcStatusKb("VmRSS");
  const size_t bytes = store.MemoryBytes();

  int64_t members = 0, log_orders = 0, item_codes = 0, shapes = 0;
  RG_TRY(store.Read(mid, [&](const insight::MerchantFeatures& f) {
    members = static_cast<int64_t>(f.size());
    for (uint32_t i = 0; i < f.size(); ++i) {
      log_orders += static_cast<int64_t>(f.Orders(i).size());
      for (const auto& o : f.Orders(i)) item_codes += static_cast<int64_t>(f.Items(o).size());
    }
    shapes = static_cast<int64_t>(f.shapes.size());
    // Where the bytes go.
    for (const auto& [part, part_bytes] : f.MemoryBreakdown())
      fmt::print(stderr, "regulars: memory {:<30} {:>10.1f} MB\n", part, part_bytes / 1e6);
  }));
  fmt::print(stderr,
             "regulars: built the feature store in {:.2f} s: {} members, {} member orders, {} "
             "item codes in {} order shapes; MemoryBytes {:.1f} MB; VmRSS {:.1f} -> {:.1f} MB "
             "(peak {:.1f} MB), {:.1f} MB after malloc_trim\n",
             build_s, members, log_orders, item_codes, shapes, bytes / 1e6, rss_before / 1e3,
             rss_after / 1e3, hwm / 1e3, rss_trimmed / 1e3);
  fmt::print(
      "RESULT engine=regulars step=build build_s={:.3f} members={} orders={} item_codes={} "
      "shapes={} memory_bytes={} rss_before_kb={} rss_kb={} hwm_kb={} rss_trimmed_kb={}\n",
      build_s, members, log_orders, item_codes, shapes, bytes, rss_before, rss_after, hwm,
      rss_trimmed);

  // The segment, --runs times, then each child of the root alone.
  std::vector<double> ms;
  uint64_t count = 0;
  std::vector<std::pair<std::string, double>> parts;
  std::vector<uint64_t> part_counts;
  RG_TRY(store.Read(mid, [&](const insight::MerchantFeatures& f) -> Status {
    for (int r = 0; r < c.runs; ++r) {
      auto t = SteadyClock::now();
      RG_ASSIGN_OR_RETURN(auto bits, insight::EvaluateSegment(segment, f, c.now));
      ms.push_back(Since(t) * 1e3);
      if (r > 0 && bits.cardinality() != count)
        return Fail(Code::kInternal, "the segment's count changed between runs");
      count = bits.cardinality();
      fmt::print(stderr, "regulars: run {}: {:.3f} ms, {} members\n", r + 1, ms.back(), count);
    }
    {
      // What the evaluation visited (counts, not timed).
      insight::SegmentEvalStats stats;
      RG_TRY(insight::EvaluateSegment(segment, f, c.now, {}, &stats));
      fmt::print(stderr,
                 "regulars: segment visited: {} predicates, {} member tests, {} order logs\n",
                 stats.predicates, stats.members_tested, stats.order_logs_read);
    }
    for (const auto& child : segment.children) {
      auto t = SteadyClock::now();
      RG_ASSIGN_OR_RETURN(auto bits, insight::EvaluateSegment(child, f, c.now));
      parts.push_back({child.path, Since(t) * 1e3});
      part_counts.push_back(bits.cardinality());
    }
    return {};
  }));
  fmt::print("RESULT engine=regulars step=segment count={} median_ms={:.3f} runs_ms={}\n", count,
             Median(ms), Join(ms, 3));
  for (size_t i = 0; i < parts.size(); ++i)
    fmt::print(stderr, "regulars: {} alone: {:.3f} ms, {} members\n", parts[i].first,
               parts[i].second, part_counts[i]);

  // ApplyOrder: orders of random existing members after `now`, 1-3 items from the generator's
  // catalogue (its sku and category names).
  static constexpr const char* kCats[] = {"tea",   "coffee",      "pastry",
                                          "snack", "merchandise", "gift"};
  static constexpr const char* kPrefix[] = {"TEA", "COF", "PAS", "SNK", "MER", "GFT"};
  std::vector<insight::OrderInput> inputs;
  RG_TRY(store.Read(mid, [&](const insight::MerchantFeatures& f) {
    uint64_t x = 88172645463325252ull;
    auto next = [&] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    inputs.reserve(static_cast<size_t>(apply_n));
    for (int64_t k = 0; k < apply_n; ++k) {
      insight::OrderInput o;
      o.order_id = (int64_t{1'800'000'000'000} << 22) + k;
      o.member_id = f.member_ids.empty() ? 0 : f.member_ids[next() % f.member_ids.size()];
      o.occurred_at = c.now + (k + 1) * kMicrosPerSecond;
      const int lines = 1 + static_cast<int>(next() % 3);
      for (int l = 0; l < lines; ++l) {
        const int cat = static_cast<int>(next() % 6);
        o.items.push_back({fmt::format("{}-{:02d}", kPrefix[cat], 1 + next() % 12), kCats[cat]});
        o.total_minor += 10'000 + static_cast<int64_t>(next() % 20) * 1'000;
      }
      inputs.push_back(std::move(o));
    }
  }));
  // Timed as a whole (the figure) and one by one (the slowest order: one that moves its log or
  // compacts the order log).
  double apply_s = 0, slowest_us = 0;
  size_t garbage_after = 0;
  RG_TRY(store.Update(mid, [&](insight::MerchantFeatures& f) {
    auto t = SteadyClock::now();
    for (const auto& o : inputs) {
      auto t1 = SteadyClock::now();
      insight::ApplyOrder(f, o);
      slowest_us = std::max(slowest_us, Since(t1) * 1e6);
    }
    apply_s = Since(t);
    garbage_after = f.garbage_facts;
  }));
  const double us_per_order = apply_n > 0 ? apply_s * 1e6 / static_cast<double>(apply_n) : 0;
  const size_t bytes_after = store.MemoryBytes();
  fmt::print(stderr,
             "regulars: ApplyOrder x {}: {:.3f} s, {:.3f} us/order (slowest {:.0f} us); "
             "MemoryBytes after {:.1f} MB ({} garbage facts)\n",
             apply_n, apply_s, us_per_order, slowest_us, bytes_after / 1e6, garbage_after);
  fmt::print(
      "RESULT engine=regulars step=apply orders={} seconds={:.4f} us_per_order={:.3f} "
      "slowest_us={:.0f} memory_bytes_after={} garbage_facts={}\n",
      apply_n, apply_s, us_per_order, slowest_us, bytes_after, garbage_after);

  // BG/NBD on the store's buyers (the orders applied above are after `now` and left out).
  std::vector<insight::RfmSummary> customers;
  auto s0 = SteadyClock::now();
  const int64_t end_day = c.now / kMicrosPerSecond / 86'400;
  RG_TRY(store.Read(mid, [&](const insight::MerchantFeatures& f) {
    customers.reserve(f.size());
    const int64_t now_s = c.now / kMicrosPerSecond;
    for (uint32_t i = 0; i < f.size(); ++i) {
      auto s = Summary(f, i, now_s, end_day);
      if (s.x >= 0) customers.push_back(s);
    }
  }));
  const double summarise_s = Since(s0);
  std::vector<double> fit_s;
  insight::BgNbdFit fit;
  for (int r = 0; r < 3; ++r) {
    auto t = SteadyClock::now();
    RG_ASSIGN_OR_RETURN(fit, insight::FitBgNbd(customers));
    fit_s.push_back(Since(t));
  }
  const auto& p = fit.params;
  fmt::print(stderr,
             "regulars: BG/NBD on {} buyers (summarised in {:.2f} s): fit median {:.3f} s ({}), "
             "{} evaluations, {}; r {:.4f} alpha {:.4f} a {:.4f} b {:.4f}\n",
             customers.size(), summarise_s, Median(fit_s), Join(fit_s, 3), fit.report.evaluations,
             fit.report.stop_reason, p.r, p.alpha, p.a, p.b);
  fmt::print(
      "RESULT engine=regulars step=bgnbd customers={} summarise_s={:.3f} median_s={:.3f} "
      "runs_s={} converged={} evaluations={}\n",
      customers.size(), summarise_s, Median(fit_s), Join(fit_s, 3), fit.report.converged ? 1 : 0,
      fit.report.evaluations);
#ifdef REGULARS_BENCH_HAVE_SCORES
  // The product's path (scores.h): summaries in days from the store, BG/NBD + Gamma-Gamma,
  // applied to every member with RFM.
  {
    std::vector<insight::RfmSummary> buyers;
    auto t = SteadyClock::now();
    RG_TRY(store.Read(mid, [&](const insight::MerchantFeatures& f) {
      buyers = insight::BuyerSummaries(f, c.now);
    }));
    const double sum_s = Since(t);
    t = SteadyClock::now();
    RG_ASSIGN_OR_RETURN(insight::ModelFit models, insight::FitModels(buyers, c.now));
    const double models_s = Since(t);
    // ApplyModels only on request: on histories without a BG/NBD dropout signal (a and b
    // driven up, as on this generator's data) its hypergeometric series is slow per member.
    double apply_models_s = -1;
    if (apply_models) {
      t = SteadyClock::now();
      RG_TRY(store.Update(
          mid, [&](insight::MerchantFeatures& f) { insight::ApplyModels(f, models, c.now); }));
      apply_models_s = Since(t);
    }
    fmt::print(stderr,
               "regulars: scores.h: BuyerSummaries {} buyers {:.3f} s, FitModels (BG/NBD + "
               "Gamma-Gamma) {:.3f} s (converged {}; a {:.4g} b {:.4g}), ApplyModels + RFM {:.3f} "
               "s (-1: not run)\n",
               buyers.size(), sum_s, models_s, models.converged, models.bgnbd.a, models.bgnbd.b,
               apply_models_s);
    fmt::print(
        "RESULT engine=regulars step=scores buyers={} summaries_s={:.3f} fit_s={:.3f} "
        "converged={} apply_s={:.3f}\n",
        buyers.size(), sum_s, models_s, models.converged ? 1 : 0, apply_models_s);
  }
#endif
  return {};
}
#endif

Status RunSql(const Common& c, const std::vector<std::string>& sql_paths, int pg_timeout_s,
              const std::string& pg_work_mem, const std::string& setup_path,
              const std::string& compiled_out) {
  store::Options options;
  options.url = c.url;
  options.pool_size = 2;
  RG_ASSIGN_OR_RETURN(auto db, store::Open(options));
  const bool pg = db->dialect() == store::Dialect::kPostgres;
  const std::string engine = pg ? "postgresql" : "sqlite";
  RG_ASSIGN_OR_RETURN(Id mid, OnlyMerchant(*db));

  if (!setup_path.empty()) {
    RG_ASSIGN_OR_RETURN(std::string setup, ReadText(setup_path, "--setup"));
    auto t = SteadyClock::now();
    RG_TRY(db->Write([&](store::Tx& tx) -> Status { return tx.ExecScript(setup); }));
    const double index_s = Since(t);
    t = SteadyClock::now();
    // (VACUUM cannot run inside a transaction: bench/run_insight.sh VACUUMs PostgreSQL first.)
    RG_TRY(db->Write([](store::Tx& tx) -> Status { return tx.ExecScript("ANALYZE"); }));
    const double analyze_s = Since(t);
    fmt::print(stderr, "{}: indexes {:.1f} s, ANALYZE {:.1f} s\n", engine, index_s, analyze_s);
    fmt::print("RESULT engine={} step=setup index_s={:.2f} analyze_s={:.2f}\n", engine, index_s,
               analyze_s);
  }

  // PostgreSQL sessions get the DBA's work_mem (hash joins and aggregates in memory) and, when
  // asked, a statement_timeout; a cancelled query is reported as such and not run again.
  auto pg_session = [&](store::Tx& tx) -> Status {
    if (!pg) return {};
    std::string set = fmt::format("SET LOCAL work_mem = '{}'", pg_work_mem);
    if (pg_timeout_s > 0) set += fmt::format("; SET LOCAL statement_timeout = '{}s'", pg_timeout_s);
    return tx.ExecScript(set);
  };
  int64_t count = -1;
  for (const auto& sql_path : sql_paths) {
    RG_ASSIGN_OR_RETURN(std::string sql, ReadText(sql_path, "--sql"));
    Replace(sql, "{merchant_id}", std::to_string(mid));
    Replace(sql, "{since_365d}", std::to_string(c.now - 365 * kMicrosPerDay));
    Replace(sql, "{before_60d}", std::to_string(c.now - 60 * kMicrosPerDay));
    const std::string variant = std::filesystem::path(sql_path).stem().string();
    std::vector<double> ms;
    bool timed_out = false;
    for (int r = 0; r < c.runs; ++r) {
      int64_t got = 0;
      auto t = SteadyClock::now();
      Status q = db->Read([&](store::Tx& tx) -> Status {
        RG_TRY(pg_session(tx));
        RG_ASSIGN_OR_RETURN(auto rows, tx.Query(sql));
        got = rows.empty() ? 0 : rows[0].Int(0);
        return {};
      });
      if (!q && pg && pg_timeout_s > 0 && Since(t) >= pg_timeout_s * 0.9) {
        fmt::print(stderr, "{}: {} run {}: cancelled at the {} s statement_timeout\n", engine,
                   variant, r + 1, pg_timeout_s);
        timed_out = true;
        break;
      }
      RG_TRY(q);
      ms.push_back(Since(t) * 1e3);
      if (count >= 0 && got != count)
        return Fail(Code::kInternal,
                    fmt::format("{} run {}: count {} != {}", variant, r + 1, got, count));
      count = got;
      fmt::print(stderr, "{}: {} run {}: {:.1f} ms, {} members\n", engine, variant, r + 1,
                 ms.back(), got);
    }
    if (timed_out) {
      fmt::print("RESULT engine={} step=segment variant={} timed_out_s={} runs_ms={}\n", engine,
                 variant, pg_timeout_s, Join(ms, 1));
      continue;
    }
    fmt::print("RESULT engine={} step=segment variant={} count={} median_ms={:.1f} runs_ms={}\n",
               engine, variant, count, Median(ms), Join(ms, 1));
  }

#if defined(REGULARS_BENCH_HAVE_FEATURES) && defined(REGULARS_BENCH_HAVE_SEGMENT_SQL)
  if (!c.segment_path.empty()) {
    RG_ASSIGN_OR_RETURN(insight::SegmentNode segment, LoadSegment(c.segment_path));
    std::string tz;
    RG_TRY(db->Read([&](store::Tx& tx) -> Status {
      RG_ASSIGN_OR_RETURN(auto rows,
                          tx.Query("SELECT timezone FROM merchants WHERE merchant_id = ?", {mid}));
      if (!rows.empty()) tz = rows[0].Str(0);
      return {};
    }));
    insight::SegmentSqlContext ctx;
    ctx.dialect = db->dialect();
    ctx.merchant_id = mid;
    ctx.now = c.now;
    ctx.timezone = tz;
    RG_ASSIGN_OR_RETURN(auto compiled, insight::CompileSegmentSql(segment, ctx));
    std::vector<double> cms;
    int64_t got = -1;
    for (int r = 0; r < c.runs; ++r) {
      int64_t n = 0;
      auto t = SteadyClock::now();
      Status q = db->Read([&](store::Tx& tx) -> Status {
        RG_TRY(pg_session(tx));
        RG_ASSIGN_OR_RETURN(auto rows, tx.Query(compiled.sql, compiled.params));
        n = static_cast<int64_t>(rows.size());
        return {};
      });
      if (!q && pg && pg_timeout_s > 0 && Since(t) >= pg_timeout_s * 0.9) {
        fmt::print(stderr,
                   "{}: CompileSegmentSql's query, run {}: cancelled at the {} s "
                   "statement_timeout\n",
                   engine, r + 1, pg_timeout_s);
        fmt::print("RESULT engine={} step=segment variant=compiled timed_out_s={} runs_ms={}\n",
                   engine, pg_timeout_s, Join(cms, 1));
        return {};
      }
      RG_TRY(q);
      cms.push_back(Since(t) * 1e3);
      got = n;
      fmt::print(stderr, "{}: CompileSegmentSql's query, run {}: {:.1f} ms, {} members\n", engine,
                 r + 1, cms.back(), n);
    }
    fmt::print(
        "RESULT engine={} step=segment variant=compiled count={} median_ms={:.1f} runs_ms={}\n",
        engine, got, Median(cms), Join(cms, 1));
    if (got != count)
      return Fail(Code::kInternal,
                  fmt::format("CompileSegmentSql's query found {} members, the hand-written "
                              "query {}",
                              got, count));
    if (!compiled_out.empty()) {
      // The same query with its parameters written in as literals (for the DuckDB peer).
      std::string literal;
      size_t k = 0;
      for (char ch : compiled.sql) {
        if (ch != '?' || k >= compiled.params.size()) {
          literal += ch;
          continue;
        }
        const auto& v = compiled.params[k++];
        if (const auto* i = std::get_if<int64_t>(&v)) {
          literal += std::to_string(*i);
        } else if (const auto* d = std::get_if<double>(&v)) {
          literal += fmt::format("{}", *d);
        } else if (const auto* str = std::get_if<std::string>(&v)) {
          std::string q = "'";
          for (char x : *str) q += x == '\'' ? std::string("''") : std::string(1, x);
          literal += q + "'";
        } else {
          literal += "NULL";
        }
      }
      std::ofstream out(compiled_out);
      out << literal << "\n";
      if (!out) return InvalidField("--compiled-out", "cannot write " + compiled_out);
    }
  }
#endif
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Insight benchmark: the feature store and the segment's SQL peers"};
  app.require_subcommand(1);
  Common c;
  int64_t apply_n = 100'000;
  bool apply_models = false;
  std::vector<std::string> sql_paths;
  std::string setup_path, compiled_out, pg_work_mem = "256MB";
  int pg_timeout_s = 0;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--database", c.url, "sqlite:PATH or postgresql://...")->required();
    sub->add_option("--runs", c.runs, "timed runs of the segment (default 5)");
    sub->add_option("--now", c.now_text, "RFC 3339 (default 2026-12-01T00:00:00Z)");
  };
  auto* regulars = app.add_subcommand("regulars", "the feature store, segment, ApplyOrder, BG/NBD");
  add_common(regulars);
  regulars->add_option("--segment", c.segment_path, "segment definition (JSON)")->required();
  regulars->add_option("--apply", apply_n, "orders to apply (default 100000)");
  regulars->add_flag("--apply-models", apply_models,
                     "also time scores.h's ApplyModels on every member (slow: see the code)");
  auto* sql = app.add_subcommand("sql", "the hand-written query (and the compiled one)");
  add_common(sql);
  sql->add_option("--sql", sql_paths, "query files (bench/insight_segment*.sql), each timed")
      ->required();
  sql->add_option("--setup", setup_path, "SQL run first, timed (the peers' indexes)");
  sql->add_option("--segment", c.segment_path, "also run CompileSegmentSql's query (--runs times)");
  sql->add_option("--pg-timeout-s", pg_timeout_s,
                  "PostgreSQL: statement_timeout of each query in seconds (default 0, none)");
  sql->add_option("--pg-work-mem", pg_work_mem, "PostgreSQL: work_mem (default 256MB)");
  sql->add_option("--compiled-out", compiled_out,
                  "write CompileSegmentSql's query, parameters as literals, to FILE");
  CLI11_PARSE(app, argc, argv);

  auto now = ParseRfc3339(c.now_text);
  if (!now) {
    std::cerr << "bench_insight: --now: \"" << c.now_text << "\" is not an RFC 3339 time\n";
    return 2;
  }
  c.now = *now;
  if (c.runs < 1) {
    std::cerr << "bench_insight: --runs must be at least 1\n";
    return 2;
  }
  Status s;
  if (regulars->parsed()) {
#ifdef REGULARS_BENCH_HAVE_FEATURES
    s = RunRegulars(c, apply_n, apply_models);
#else
    std::cerr << "bench_insight: built without src/insight/feature_store.cpp and segment.cpp\n";
    return 3;
#endif
  } else {
    s = RunSql(c, sql_paths, pg_timeout_s, pg_work_mem, setup_path, compiled_out);
  }
  if (!s) {
    std::cerr << "bench_insight: " << s.error().ToString() << "\n";
    return 1;
  }
  return 0;
}
