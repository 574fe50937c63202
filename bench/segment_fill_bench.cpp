// bench_segment_fill: the first fill of a saved segment that every member matches, on a
// bench_gen_insight database, written by SegmentMembership (chunked: several transactions of
// SegmentMembership::kChangesPerTransaction rows, multi-row statements on PostgreSQL, event seqs
// reserved per chunk) beside the previous code path, reproduced here as `old` (one transaction,
// one INSERT and one events::AppendEvent per member).
//
//   build-g/bench/bench_segment_fill --database sqlite:/tmp/g/insight-100k.db --runs 3
//
// Each run, per mode: the segment is created, the store has caught up on that, then the fill is
// timed while a probe thread writes a one-row UPDATE of the merchant's event counter every 5 ms
// through Database::Write (what every event-writing command waits for: SQLite's one writer, and
// on PostgreSQL the merchants row that numbers events); the probe's worst wait is reported. Then
// the feature store's catch-up on the fill's events is timed. The store skips segment_entered
// events; before it did, it reloaded each named member, which `old` reproduces by renaming its
// events to a type the store reloads on before the catch-up. Afterwards the segment, its rows and
// the run's events are deleted and the event counter put back, so runs start alike.
// Prints one JSON line per run and mode. --modes new (or old) runs one of them only: on
// PostgreSQL the old writer takes minutes at 100k members (100k UPDATEs of one merchants row in
// one transaction).

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "accounts/account.h"
#include "base/time.h"
#include "events/event_repo.h"
#include "insight/feature_store.h"
#include "insight/segment_service.h"
#include "store/db.h"

using namespace regulars;
using nlohmann::json;

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The previous SegmentMembership write: one transaction for the whole difference, each row
// with its own INSERT and AppendEvent (after re-reading the segment's rows under its lock).
Result<int64_t> OldFill(store::Database& db, insight::FeatureStore& features, Id mid, Micros now,
                        const insight::SavedSegment& seg) {
  RG_ASSIGN_OR_RETURN(insight::SegmentNode node, insight::ParseSaved(seg));
  insight::SegmentDefinitions defs;
  RG_ASSIGN_OR_RETURN(std::vector<Id> after,
                      insight::SegmentMemberIds(&features, mid, node, defs, now));
  int64_t written = 0;
  RG_TRY(db.Write([&](store::Tx& tx) -> Status {
    written = 0;
    RG_TRY(
        tx.Exec("UPDATE segments SET updated_at = updated_at WHERE merchant_id = ? AND id = ? "
                "AND deleted_at IS NULL",
                {mid, seg.id}));
    RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query("SELECT member_id FROM segment_members WHERE "
                                                   "merchant_id = ? AND segment_id = ? ORDER BY "
                                                   "member_id",
                                                   {mid, seg.id}));
    std::vector<Id> before;
    for (const auto& r : rows) before.push_back(r.Int(0));
    std::vector<Id> entered;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(entered));
    std::string data = json{{"segment_id", IdToString(seg.id)}, {"name", seg.name}}.dump();
    for (Id m : entered) {
      RG_TRY(
          tx.Exec("INSERT INTO segment_members (merchant_id, segment_id, member_id, entered_at) "
                  "VALUES (?, ?, ?, ?)",
                  {mid, seg.id, m, now}));
      RG_TRY(events::AppendEvent(tx, mid, now, {"segment_entered", m, "system", data}));
    }
    written = static_cast<int64_t>(entered.size());
    return {};
  }));
  return written;
}

Status Run(const std::string& url, int runs, const std::string& now_text,
           const std::vector<std::string>& only) {
  store::Options options;
  options.url = url;
  options.pool_size = 4;
  RG_ASSIGN_OR_RETURN(auto db, store::Open(options));
  auto now_opt = ParseRfc3339(now_text);
  if (!now_opt) return InvalidField("--now", "must be an RFC 3339 time");
  ManualClock clock(*now_opt);
  Id mid = 0;
  int64_t base_seq = 0;
  RG_TRY(db->Read([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query("SELECT merchant_id, last_event_seq FROM merchants ORDER BY "
                                 "merchant_id LIMIT 1"));
    if (rows.empty()) return Fail(Code::kNotFound, "no merchant: run bench_gen_insight first");
    mid = rows[0].Int(0);
    base_seq = rows[0].Int(1);
    return {};
  }));
  insight::FeatureStore features(*db, clock);
  auto t_build = std::chrono::steady_clock::now();
  RG_TRY(features.Build());
  size_t members = features.MemberCount();
  fmt::print(stderr, "store built: {} members in {:.1f} s\n", members, Since(t_build));

  auto reset = [&]() -> Status {
    RG_TRY(db->Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec("DELETE FROM segment_members WHERE merchant_id = ?", {mid}));
      RG_TRY(tx.Exec("DELETE FROM segments WHERE merchant_id = ?", {mid}));
      RG_TRY(tx.Exec("DELETE FROM events WHERE merchant_id = ? AND seq > ?", {mid, base_seq}));
      RG_TRY(tx.Exec("UPDATE merchants SET last_event_seq = ? WHERE merchant_id = ?",
                     {base_seq, mid}));
      return {};
    }));
    return features.Update(mid, [&](insight::MerchantFeatures& f) { f.last_seq = base_seq; });
  };
  RG_TRY(reset());
  accounts::Actor actor = accounts::SystemActor(mid, clock.Now());
  for (int run = 1; run <= runs; ++run) {
    // Alternate the order so neither mode always runs on a warmer cache.
    std::vector<std::string> modes =
        run % 2 ? std::vector<std::string>{"old", "new"} : std::vector<std::string>{"new", "old"};
    for (const std::string& mode : modes) {
      if (std::find(only.begin(), only.end(), mode) == only.end()) continue;
      insight::SavedSegment seg;
      RG_TRY(db->Write([&](store::Tx& tx) -> Status {
        RG_ASSIGN_OR_RETURN(
            seg, insight::CreateSegment(
                     tx, actor,
                     {"Everyone",
                      json::parse(R"({"feature": "days_since_joined", "op": ">=", "value": 0})")}));
        return {};
      }));
      RG_TRY(features.CatchUp());
      int64_t fill_from = 0;
      RG_TRY(db->Read([&](store::Tx& tx) -> Status {
        RG_ASSIGN_OR_RETURN(store::Rows r, tx.Query("SELECT last_event_seq FROM merchants WHERE "
                                                    "merchant_id = ?",
                                                    {mid}));
        fill_from = r[0].Int(0);
        return {};
      }));

      std::atomic<bool> stop{false};
      std::vector<double> waits;
      std::thread probe([&] {
        while (!stop.load()) {
          auto t0 = std::chrono::steady_clock::now();
          (void)db->Write([&](store::Tx& tx) -> Status {
            RG_TRY(
                tx.Exec("UPDATE merchants SET last_event_seq = last_event_seq WHERE "
                        "merchant_id = ?",
                        {mid}));
            return {};
          });
          waits.push_back(Since(t0));
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      });
      auto t_fill = std::chrono::steady_clock::now();
      int64_t written = 0;
      if (mode == "old") {
        auto w = OldFill(*db, features, mid, clock.Now(), seg);
        if (!w) {
          stop = true;
          probe.join();
          return std::unexpected(w.error());
        }
        written = *w;
      } else {
        insight::SegmentMembership membership(*db, features, clock);
        auto w = membership.RefreshMerchant(mid);
        if (!w) {
          stop = true;
          probe.join();
          return std::unexpected(w.error());
        }
        written = *w;
      }
      double fill_s = Since(t_fill);
      stop = true;
      probe.join();
      std::sort(waits.begin(), waits.end());
      double max_wait = waits.empty() ? 0 : waits.back();
      double p50_wait = waits.empty() ? 0 : waits[waits.size() / 2];

      if (mode == "old") {
        // What the store did with these events before it skipped segment_entered: reload each
        // member named (any member event it has no incremental rule for).
        RG_TRY(db->Write([&](store::Tx& tx) -> Status {
          RG_TRY(
              tx.Exec("UPDATE events SET type = 'segment_entered_as_before' WHERE "
                      "merchant_id = ? AND seq > ? AND type = 'segment_entered'",
                      {mid, fill_from}));
          return {};
        }));
      }
      auto t_catch = std::chrono::steady_clock::now();
      RG_ASSIGN_OR_RETURN(int64_t caught, features.CatchUp());
      double catch_s = Since(t_catch);
      int64_t rows = 0;
      RG_TRY(db->Read([&](store::Tx& tx) -> Status {
        RG_ASSIGN_OR_RETURN(store::Rows r, tx.Query("SELECT COUNT(*) FROM segment_members WHERE "
                                                    "merchant_id = ?",
                                                    {mid}));
        rows = r[0].Int(0);
        return {};
      }));
      fmt::print("{}\n", json{{"run", run},
                              {"mode", mode},
                              {"members", members},
                              {"rows", rows},
                              {"events", written},
                              {"fill_s", fill_s},
                              {"probe_max_wait_ms", max_wait * 1e3},
                              {"probe_p50_wait_ms", p50_wait * 1e3},
                              {"probes", waits.size()},
                              {"catchup_s", catch_s},
                              {"catchup_events", caught}}
                             .dump());
      std::fflush(stdout);
      RG_TRY(reset());
    }
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"First fill of a segment every member matches: chunked writer vs the old one"};
  std::string url, now_text = "2026-12-01T00:00:00Z";
  int runs = 3;
  app.add_option("--database", url, "sqlite:PATH or postgresql://... (a bench_gen_insight one)")
      ->required();
  app.add_option("--runs", runs, "runs per mode (default 3)");
  app.add_option("--now", now_text, "the clock (default 2026-12-01T00:00:00Z, the data's end)");
  std::vector<std::string> modes = {"old", "new"};
  app.add_option("--modes", modes, "which writers to run (default: old new)")
      ->check(CLI::IsMember({"old", "new"}));
  CLI11_PARSE(app, argc, argv);
  auto s = Run(url, runs, now_text, modes);
  if (!s) {
    fmt::print(stderr, "bench_segment_fill: {}\n", s.error().ToString());
    return 1;
  }
  return 0;
}
