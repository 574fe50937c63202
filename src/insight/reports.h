#pragma once

// Insight reports: overview, retention cohorts, the RFM grid, the churn-risk list, tiers and
// branches. Each report is a typed table (columns with types, then rows) so one renderer makes
// JSON, CSV (here) and Excel (xlsx.h) of any of them.
//
// Two layers: LoadReportData reads the rows a report needs inside one read transaction (the
// thin data-access part), and the Build* functions are pure over those rows, so the numbers are
// tested without a database as well as through it.
//
// Conventions shared by every report:
// - The range is [from, to) in UTC; an order belongs to it by occurred_at.
// - An order counts while total minus refunded is above zero (as in the feature store); that
//   is its revenue.
// - Members are the live ones: merged and erased members are left out of member counts (as in
//   the feature store); their orders still count as member revenue.
// - With a branch, members are those whose home branch it is, and orders those placed at it.
// - Calendar months (cohorts) are the merchant's local months.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "store/db.h"

namespace regulars::insight {

enum class ColumnType {
  kText,    // UTF-8 text
  kId,      // an id (int64), written as its opaque string
  kInt,     // a count or a whole number of days
  kMoney,   // minor units of the report's currency (int64)
  kRatio,   // a share 0..1 (double): 4 decimals in CSV, a percentage in Excel
  kNumber,  // any other fractional number (double): 4 decimals in CSV
  kTime,    // an instant, UTC Micros (int64): RFC 3339 in JSON and CSV, a local date-time in Excel
  kMonth,   // a local calendar month, as the day number (DaysFromCivil) of its first day:
            // "YYYY-MM" in JSON and CSV, a date in Excel
};
std::string_view ColumnTypeName(ColumnType t);  // "text", "id", "int", "money", ...

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
};

// Null, an integer (id, int, money, time, month), a double (ratio, number) or text.
using Cell = std::variant<std::monostate, int64_t, double, std::string>;

struct Table {
  std::string name;  // also the Excel sheet name: at most 31 characters, no []:*?/\ .
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;  // each row has one cell per column
};

struct Report {
  std::string name;  // "overview", ...
  Micros from = 0, to = 0;
  std::optional<Id> branch_id;
  std::string currency;  // ISO 4217 of every money column
  std::string timezone;  // the merchant's IANA zone (Excel writes local times)
  // tables[0] is the report; further tables are parts of it (the RFM groups).
  std::vector<Table> tables;
  // Facts about how the report was made, e.g. {"basis", "model"} for churn.
  std::vector<std::pair<std::string, std::string>> facts;
};

struct ReportQuery {
  Micros from = 0, to = 0;  // [from, to) in UTC
  std::optional<Id> branch_id;
  int limit = 100;  // churn: at most this many members (1..10000)
};

// The report names, in the order the console lists them.
const std::vector<std::string>& InsightReportNames();
bool IsInsightReport(std::string_view name);

// ---- Data (read once, in one read transaction) ------------------------------------------------

struct MemberRow {
  Id id = 0;
  Micros joined_at = 0;
  std::optional<Id> home_branch_id;
  std::string name;
  std::string phone;
  int tier_level = 0;  // the level in effect now (an override until it ends); 0 = no tier
};
struct OrderRow {
  std::optional<Id> member_id;  // nullopt: an anonymous sale
  std::optional<Id> branch_id;
  Micros at = 0;
  int64_t net_minor = 0;  // total minus refunded, > 0 (orders with nothing left are not loaded)
};
struct TierRow {
  Id id = 0;
  int level = 0;
  std::string name;
};
struct BranchRow {
  Id id = 0;
  std::string name;
};
// A fitted model's outputs for one member (migration 9's member_scores, written by scores.h).
struct MemberScore {
  Id member_id = 0;
  double p_alive = 0;
  double expected_value_minor = 0;
};

// One member's counted orders, summed in SQL (churn reads these, not every order).
struct MemberHistory {
  Id member_id = 0;
  Micros first_at = 0, last_at = 0;
  int64_t orders = 0;
  int64_t spend_minor = 0;
};

struct ReportData {
  Id merchant_id = 0;
  std::string currency;
  std::string timezone;
  Micros now = 0;
  std::vector<MemberRow> members;  // live members, by id
  std::vector<OrderRow> orders;  // counted orders with occurred_at < the query's `to`, oldest first
  std::vector<TierRow> tiers;    // by level
  std::vector<BranchRow> branches;  // by name
  // nullopt when no model has been fitted for the merchant (no insight_models row).
  std::optional<std::vector<MemberScore>> scores;
  // Churn only (LoadMemberHistories): members' orders before its as-of time, at its branch.
  std::vector<MemberHistory> histories;
};

// Reads what the reports need for `merchant_id` as of `now`; orders only in [from, to) (the
// range a report looks at, so a short range reads few orders: orders_time is the index).
Result<ReportData> LoadReportData(store::Tx& tx, Id merchant_id, Micros now, Micros from,
                                  Micros to);

// Each member's counted orders before `before` (at `branch_id` when given), by member id.
Result<std::vector<MemberHistory>> LoadMemberHistories(store::Tx& tx, Id merchant_id, Micros before,
                                                       std::optional<Id> branch_id);

// ---- Pure builders -----------------------------------------------------------------------------

// One row: members_total (joined before `to`), members_new (joined in range), active_members
// (bought in range), repeat_members (>= 2 orders in range), repeat_rate (repeat / active, null
// when no one bought), orders, revenue_members_minor, revenue_anonymous_minor, revenue_minor,
// aov_minor (revenue / orders, integer division; null without orders).
Report BuildOverview(const ReportData& d, const ReportQuery& q);

// A row per local month of first purchase in range (first purchase ever, at the branch when
// one is given): cohort, members, then m1 .. m12 = the share of the cohort's members who bought
// in the month k months after it; null for months that have not started by `now`.
Report BuildCohorts(const ReportData& d, const ReportQuery& q);

// RFM of members who bought in range, scored with rfm.h's quintiles and groups over their
// orders in range: recency (whole days from their last order to min(to, now)), frequency
// (orders), monetary (spend). Table "grid": 25 rows r 5..1 × f 1..5 with members and
// spend_minor; table "groups": each of rfm.h's groups (in its order) with members, share and
// spend_minor. (The feature store's own RFM covers all history as of now; this one the range.)
Report BuildRfm(const ReportData& d, const ReportQuery& q);

// Members by value at risk, largest first, at most q.limit rows. With fitted scores (fact
// basis=model): value at risk = expected_value_minor × (1 − p_alive). Without (basis=order_gap):
// members with >= 2 orders whose days since their last order exceed their usual gap (first to
// last order / (orders − 1), at least one day); value at risk = their average order value × 365 /
// usual gap (a year of orders at their usual pace), p_alive null. Orders are d.histories, which
// RunReport loads up to min(to, now) at the query's branch.
Report BuildChurn(const ReportData& d, const ReportQuery& q);

// A row per tier (and "no tier", level 0): members (live, joined before `to`), share, spend_minor
// (their orders in range) and avg_spend_minor (spend / members, integer division).
Report BuildTiers(const ReportData& d, const ReportQuery& q);

// A row per branch (and one without a branch for orders with none): orders, revenue_minor,
// members (who bought there in range), new_members (home branch, joined in range), repeat_rate.
Report BuildBranches(const ReportData& d, const ReportQuery& q);

// ---- Running and rendering ---------------------------------------------------------------------

// Owner or manager only (permission_denied). A manager limited to branches must name one of
// them (branch_id). to must be after from and at most 3660 days later (invalid_argument "to").
// An unknown branch is not_found naming branch_id. Unknown names are not_found.
Result<Report> RunReport(store::Tx& tx, const accounts::Actor& actor, std::string_view name,
                         const ReportQuery& q);

// RFC 4180 CSV (CRLF, a header row, empty cells for nulls) of one table.
std::string TableCsv(const Table& t);
// A cell as CSV / JSON-ready text for its column type (ids as strings, times RFC 3339, months
// YYYY-MM, ratios and numbers with 4 decimals); "" for null.
std::string CellText(const Cell& c, ColumnType t);

}  // namespace regulars::insight
