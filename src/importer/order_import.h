#pragma once

// Importing years of order history from CSV exports (regulars import orders, POST /api/v1/imports,
// the console's import page). One engine behind all three.
//
// Contract:
// - Lines are grouped into orders by the order column; an export lists an order's lines together,
//   and a line whose order already ended earlier in the file is rejected with that line's number.
// - Members are matched by the store's customer id, then phone, then e-mail, and created when none
//   matches. Lines without any customer are anonymous sales (an order with no member).
// - Cancellations and returns (negative quantities, or a cancel marker such as UCI's "C" invoice
//   prefix) become refunds of the member's earlier order holding those items where one is found,
//   otherwise stand-alone returns.
// - Orders are keyed by external_id (the order number), returns by theirs: running the same file
//   again, or a killed import again, adds nothing twice; a fresh export adds only what is new.
// - Every rejected line is reported with its line number, column and reason. With all_or_nothing
//   a single rejected line means nothing is written. dry_run writes nothing and reports what would
//   happen.
// - Work is committed in batches of orders, each one transaction; progress is reported per batch.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "importer/csv.h"
#include "store/db.h"

namespace regulars::importer {

// Which CSV column (by header name) feeds each order field. Empty: not in the file.
struct Mapping {
  std::string order_id;     // required: groups lines into orders
  std::string occurred_at;  // required: "2011-12-09 12:50:00", "2011-12-09T12:50:00", "12/9/2011
                            // 12:50", RFC 3339
  std::string sku;          // product code
  std::string name;         // product name
  std::string category;
  std::string quantity;     // default 1; negative: a return
  std::string unit_price;   // in major units with decimals ("2.55")
  std::string line_total;   // alternative to quantity x unit_price
  std::string customer_id;  // the store's own customer id ("17850.0" is read as "17850")
  std::string phone;
  std::string email;
  std::string customer_name;
  std::string country;  // member region / country
  std::string city;
  std::string branch;     // branch code or name
  std::string currency;   // default: the merchant's
  std::string cancelled;  // a column whose non-empty / true value marks a cancellation
  // An order number starting with this marks a cancellation ("C" for UCI Online Retail).
  std::string cancel_prefix;
  // Time zone of local times without an offset (default: the merchant's).
  std::string timezone;
  // Fields (by their TOML key, "order_id") whose column must be in the header. Other mapped
  // columns that the header lacks are treated as not mapped, so one preset fits exports with or
  // without optional columns. Presets require order_id and occurred_at; a mapping file also
  // requires every column it names itself.
  std::vector<std::string> required;
};

// Built-in mappings: "generic", "shopify", "online-retail".
std::optional<Mapping> PresetMapping(std::string_view name);
std::vector<std::string> PresetNames();
// Every Mapping field by its wire / TOML name, in the order the console shows them. Those with
// names_column false (cancel_prefix, timezone) are settings, not columns.
struct MappingField {
  std::string_view name;
  std::string Mapping::*member;
  bool names_column;
};
std::span<const MappingField> MappingFields();
const MappingField* FindMappingField(std::string_view name);
// A mapping file: TOML with the Mapping field names as keys (`order_id = "Invoice"`), optionally
// `preset = "shopify"` to start from a preset.
Result<Mapping> ParseMappingToml(std::string_view text);
// The preset whose required columns the header has, if any (for the console's first guess).
std::optional<std::string> GuessPreset(const std::vector<std::string>& header);

struct ImportOptions {
  Mapping mapping;
  CsvOptions csv;
  bool dry_run = false;
  bool all_or_nothing = false;
  bool award_points = false;   // score past orders by today's earning rules
  bool rebuild_tiers = false;  // re-qualify tiers of touched members at the end
  bool create_members = true;
  // Orders per transaction. 50,000 rather than 2,000: each commit writes every page it changed
  // to the WAL once (and the checkpointer copies it back), and an import changes index pages all
  // over (orders and events by member), so larger batches write each such page fewer times
  // (1M generated lines on SQLite, single runs: 10,000 a batch wrote 38% less than 2,000; 50,000
  // took 33% less time than 10,000). Two batches are in memory at a time (one parsed while one is
  // written).
  int batch_orders = 50000;
  std::string source = "import";
  // A second reader over the same input from its start. all_or_nothing needs it: the first pass
  // only validates (every rule that rejects a line depends on the file alone), and only when no
  // line is rejected does a second pass import, in batches as usual. So memory stays bounded and
  // the progress callback never runs inside a transaction. ImportOrdersFile sets it.
  std::function<Result<std::unique_ptr<CsvReader>>()> reopen;
};

struct RejectedLine {
  int64_t line = 0;
  std::string column;  // header name, or "" for the whole line
  std::string reason;
};

struct ImportReport {
  int64_t lines = 0;  // data lines read (header excluded)
  int64_t lines_imported = 0;
  int64_t lines_rejected = 0;
  int64_t orders_created = 0;
  int64_t orders_existing = 0;   // already present from an earlier run: skipped
  int64_t anonymous_orders = 0;  // of orders_created, those without a member
  int64_t refunds = 0;           // returns matched to an earlier order
  int64_t standalone_returns = 0;
  int64_t returns_existing = 0;
  int64_t members_created = 0;
  int64_t members_matched = 0;
  int64_t revenue_minor = 0;   // sum of created orders' totals
  int64_t refunded_minor = 0;  // sum of refunds and stand-alone returns (positive)
  int64_t points_awarded = 0;
  std::string currency;
  std::string encoding;
  bool dry_run = false;
  bool committed = false;              // false after all_or_nothing with rejections, or dry_run
  bool cancelled = false;              // the ProgressFn stopped it; what was committed before stays
  std::vector<RejectedLine> rejected;  // the first max_rejected_kept; lines_rejected counts all
  double seconds = 0;
};

// The report's counters by their wire name, in the order reports list them: the one table behind
// every place a report is written or read (the CLI's --json, the jobs table, the HTTP API).
struct ReportCounter {
  std::string_view name;
  int64_t ImportReport::*member;
};
std::span<const ReportCounter> ReportCounters();

struct Progress {
  int64_t lines = 0;
  int64_t bytes_consumed = 0;
  int64_t total_bytes = 0;  // 0 when unknown
};
// Called after each batch; returning false stops the import (cancellation) after that batch.
using ProgressFn = std::function<bool(const Progress&)>;

inline constexpr size_t kMaxRejectedKept = 10000;

// Runs an import into `actor.merchant_id`. The header line names the columns; a mapping column
// missing from the header is an invalid_argument error naming it, before anything is read further.
//
// Batches: each batch of options.batch_orders orders is one transaction (Database::Write) and
// then one ProgressFn call, outside any transaction (it may use the database). dry_run runs the
// same batches in read transactions and writes nothing; its report equals a real run's on the
// same database (the state that links batches, such as members created and orders a later return
// refunds, is kept in memory). all_or_nothing: see ImportOptions.reopen; with a rejected line the
// report has lines, lines_rejected and rejected only, and nothing is written. Without reopen it
// is failed_precondition.
// Returns: a return line of member X and SKU S refunds X's most recent order at or before the
// return's time that holds S with at least the returned quantity not yet refunded (orders of this
// file or already in the database); the refund is worth the returned quantity at the return's
// unit price, at most what the order has left. One refunds row per (return, order refunded);
// whatever matched no order (lines without a member too) is the return's stand-alone part.
// `refunds` counts refunds rows, `standalone_returns` returns with a stand-alone part,
// `refunded_minor` the worth of all returns. An order with the cancelled column set is imported
// and refunded in full against itself (return id "<order>/return"); so are an order's negative
// lines returned under "<order>/return" when the order also has sales.
// award_points scores each new member order by the earning rules in force now (no tier
// multiplier, no per-day caps across history) and credits the points as earned today (their
// expiry counts from today); refunds then take back their share. Stamps, spend gifts and
// referral rewards are not given for history. rebuild_tiers re-qualifies every touched member at
// the end (not in a dry run).
Result<ImportReport> ImportOrders(store::Database& db, const accounts::Actor& actor,
                                  CsvReader& reader, const ImportOptions& options,
                                  const ProgressFn& progress = {});

// Opens `path` (plain or gzip) and imports it, setting options.reopen to open it again.
Result<ImportReport> ImportOrdersFile(store::Database& db, const accounts::Actor& actor,
                                      const std::string& path, ImportOptions options,
                                      const ProgressFn& progress = {});

}  // namespace regulars::importer
