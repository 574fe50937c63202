#include "insight/reports.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "base/zone.h"
#include "insight/rfm.h"

namespace regulars::insight {
namespace {

using store::Rows;

constexpr int64_t kMaxRangeDays = 3660;

Cell IdCell(const std::optional<Id>& id) { return id ? Cell(int64_t{*id}) : Cell(); }
Cell RatioCell(int64_t part, int64_t whole) {
  return whole > 0 ? Cell(static_cast<double>(part) / static_cast<double>(whole)) : Cell();
}

Report Skeleton(const ReportData& d, const ReportQuery& q, std::string name) {
  Report r;
  r.name = std::move(name);
  r.from = q.from;
  r.to = q.to;
  r.branch_id = q.branch_id;
  r.currency = d.currency;
  r.timezone = d.timezone;
  return r;
}

bool InRange(Micros t, const ReportQuery& q) { return t >= q.from && t < q.to; }
bool AtBranch(const OrderRow& o, const ReportQuery& q) {
  return !q.branch_id || o.branch_id == q.branch_id;
}
bool HomeAt(const MemberRow& m, const ReportQuery& q) {
  return !q.branch_id || m.home_branch_id == q.branch_id;
}

// Live members by id, restricted to the query's branch.
std::unordered_map<Id, const MemberRow*> MembersOf(const ReportData& d, const ReportQuery& q) {
  std::unordered_map<Id, const MemberRow*> out;
  for (const auto& m : d.members)
    if (HomeAt(m, q)) out.emplace(m.id, &m);
  return out;
}

// Every live member (any home branch), by id: orders at a branch count for any member.
std::unordered_map<Id, const MemberRow*> AllMembers(const ReportData& d) {
  std::unordered_map<Id, const MemberRow*> out;
  for (const auto& m : d.members) out.emplace(m.id, &m);
  return out;
}

// A local month as year·12 + month − 1.
int64_t MonthIndex(const LocalTime& t) { return int64_t{t.year} * 12 + (t.month - 1); }
int64_t MonthIndexOf(Micros t, const std::string& tz) {
  auto lt = ToLocal(t, tz);
  if (!lt) return 0;  // the zone was checked when the merchant was created
  return MonthIndex(*lt);
}
// The local month of instants visited in ascending order, asking the tz database once per month
// (orders come oldest first, so a merchant's history costs a few dozen zone look-ups).
class MonthCursor {
 public:
  explicit MonthCursor(const std::string& tz) : tz_(tz) {}
  int64_t Of(Micros t) {
    if (t >= start_ && t < next_) return month_;
    month_ = MonthIndexOf(t, tz_);
    auto start = FromLocal(static_cast<int>(month_ / 12), static_cast<int>(month_ % 12) + 1, 1, 0,
                           0, 0, tz_);
    int64_t next = month_ + 1;
    auto end =
        FromLocal(static_cast<int>(next / 12), static_cast<int>(next % 12) + 1, 1, 0, 0, 0, tz_);
    // Without the bounds (an unknown zone) every call asks again.
    start_ = start ? *start : t;
    next_ = end ? *end : t;
    return month_;
  }

 private:
  const std::string& tz_;
  int64_t month_ = 0;
  Micros start_ = 0, next_ = 0;
};

int64_t FirstDayOfMonth(int64_t month_index) {
  int year = static_cast<int>(month_index / 12);
  int month = static_cast<int>(month_index % 12) + 1;
  return DaysFromCivil(year, month, 1);
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

}  // namespace

std::string_view ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kText:
      return "text";
    case ColumnType::kId:
      return "id";
    case ColumnType::kInt:
      return "int";
    case ColumnType::kMoney:
      return "money";
    case ColumnType::kRatio:
      return "ratio";
    case ColumnType::kNumber:
      return "number";
    case ColumnType::kTime:
      return "time";
    case ColumnType::kMonth:
      return "month";
  }
  return "text";
}

const std::vector<std::string>& InsightReportNames() {
  static const std::vector<std::string> names = {"overview", "cohorts", "rfm",
                                                 "churn",    "tiers",   "branches"};
  return names;
}

bool IsInsightReport(std::string_view name) {
  const auto& n = InsightReportNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

// ---- Data ---------------------------------------------------------------------------------------

Result<ReportData> LoadReportData(store::Tx& tx, Id merchant_id, Micros now, Micros from,
                                  Micros to) {
  ReportData d;
  d.merchant_id = merchant_id;
  d.now = now;
  RG_ASSIGN_OR_RETURN(
      Rows merchant,
      tx.Query("SELECT currency, timezone FROM merchants WHERE merchant_id = ?", {merchant_id}));
  if (merchant.empty()) return Fail(Code::kNotFound, "merchant not found");
  d.currency = merchant[0].Str(0);
  d.timezone = merchant[0].Str(1);

  RG_ASSIGN_OR_RETURN(
      Rows members,
      tx.Query("SELECT m.id, m.created_at, m.home_branch_id, m.name, m.phone, t.level, "
               "t.override_level, t.override_until FROM members m LEFT JOIN member_tiers t ON "
               "t.merchant_id = m.merchant_id AND t.member_id = m.id WHERE m.merchant_id = ? AND "
               "m.merged_into IS NULL AND m.erased_at IS NULL ORDER BY m.id",
               {merchant_id}));
  d.members.reserve(members.size());
  for (const auto& r : members) {
    MemberRow m;
    m.id = r.Int(0);
    m.joined_at = r.Int(1);
    m.home_branch_id = r.OptInt(2);
    m.name = r.Str(3);
    m.phone = r.Str(4);
    // As loyalty's EffectiveLevel: an override until it ends, else the kept level.
    auto override_level = r.OptInt(6);
    auto override_until = r.OptInt(7);
    if (override_level && (!override_until || now < *override_until))
      m.tier_level = static_cast<int>(*override_level);
    else
      m.tier_level = static_cast<int>(r.Int(5));
    d.members.push_back(std::move(m));
  }

  // As in the feature store, an order counts while its net amount is above zero. Ordered by
  // time alone, which orders_time gives without a sort.
  RG_ASSIGN_OR_RETURN(
      Rows orders,
      tx.Query("SELECT member_id, branch_id, occurred_at, total_minor - refunded_minor FROM "
               "orders WHERE merchant_id = ? AND occurred_at >= ? AND occurred_at < ? AND "
               "total_minor > refunded_minor ORDER BY occurred_at",
               {merchant_id, from, to}));
  d.orders.reserve(orders.size());
  for (const auto& r : orders) d.orders.push_back({r.OptInt(0), r.OptInt(1), r.Int(2), r.Int(3)});

  RG_ASSIGN_OR_RETURN(
      Rows tiers, tx.Query("SELECT id, level, name FROM tiers WHERE merchant_id = ? ORDER BY level",
                           {merchant_id}));
  for (const auto& r : tiers) d.tiers.push_back({r.Int(0), static_cast<int>(r.Int(1)), r.Str(2)});

  RG_ASSIGN_OR_RETURN(
      Rows branches,
      tx.Query("SELECT id, name FROM branches WHERE merchant_id = ? ORDER BY name, id",
               {merchant_id}));
  for (const auto& r : branches) d.branches.push_back({r.Int(0), r.Str(1)});

  // Scores count only once a model has been fitted (migration 9's insight_models).
  RG_ASSIGN_OR_RETURN(Rows models, tx.Query("SELECT COUNT(*) FROM insight_models WHERE "
                                            "merchant_id = ?",
                                            {merchant_id}));
  if (models[0].Int(0) > 0) {
    RG_ASSIGN_OR_RETURN(
        Rows scores,
        tx.Query("SELECT member_id, p_alive, expected_value_minor FROM member_scores WHERE "
                 "merchant_id = ? AND p_alive IS NOT NULL AND expected_value_minor IS NOT NULL "
                 "ORDER BY member_id",
                 {merchant_id}));
    d.scores.emplace();
    for (const auto& r : scores) d.scores->push_back({r.Int(0), r.Double(1), r.Double(2)});
  }
  return d;
}

Result<std::vector<MemberHistory>> LoadMemberHistories(store::Tx& tx, Id merchant_id, Micros before,
                                                       std::optional<Id> branch_id) {
  std::string sql =
      "SELECT member_id, MIN(occurred_at), MAX(occurred_at), COUNT(*), SUM(total_minor - "
      "refunded_minor) FROM orders WHERE merchant_id = ? AND member_id IS NOT NULL AND "
      "occurred_at < ? AND total_minor > refunded_minor";
  std::vector<store::Value> params = {merchant_id, before};
  if (branch_id) {
    sql += " AND branch_id = ?";
    params.push_back(*branch_id);
  }
  sql += " GROUP BY member_id ORDER BY member_id";
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  std::vector<MemberHistory> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({r.Int(0), r.Int(1), r.Int(2), r.Int(3), r.Int(4)});
  return out;
}

// ---- Overview -----------------------------------------------------------------------------------

Report BuildOverview(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "overview");
  int64_t total = 0, fresh = 0;
  for (const auto& m : d.members) {
    if (!HomeAt(m, q) || m.joined_at >= q.to) continue;
    ++total;
    if (m.joined_at >= q.from) ++fresh;
  }
  auto live = AllMembers(d);
  std::unordered_map<Id, int64_t> orders_of;
  int64_t orders = 0, member_rev = 0, anon_rev = 0;
  for (const auto& o : d.orders) {
    if (!InRange(o.at, q) || !AtBranch(o, q)) continue;
    ++orders;
    if (o.member_id) {
      member_rev += o.net_minor;
      if (live.contains(*o.member_id)) ++orders_of[*o.member_id];
    } else {
      anon_rev += o.net_minor;
    }
  }
  int64_t active = static_cast<int64_t>(orders_of.size()), repeat = 0;
  for (const auto& [id, n] : orders_of)
    if (n >= 2) ++repeat;
  int64_t revenue = member_rev + anon_rev;
  Table t;
  t.name = "overview";
  t.columns = {{"members_total", ColumnType::kInt},
               {"members_new", ColumnType::kInt},
               {"active_members", ColumnType::kInt},
               {"repeat_members", ColumnType::kInt},
               {"repeat_rate", ColumnType::kRatio},
               {"orders", ColumnType::kInt},
               {"revenue_members_minor", ColumnType::kMoney},
               {"revenue_anonymous_minor", ColumnType::kMoney},
               {"revenue_minor", ColumnType::kMoney},
               {"aov_minor", ColumnType::kMoney}};
  t.rows.push_back({total, fresh, active, repeat, RatioCell(repeat, active), orders, member_rev,
                    anon_rev, revenue, orders > 0 ? Cell(revenue / orders) : Cell()});
  rep.tables.push_back(std::move(t));
  return rep;
}

// ---- Cohorts ------------------------------------------------------------------------------------

Report BuildCohorts(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "cohorts");
  auto members = MembersOf(d, q);
  // Per member: the month of the first order and the months bought in (local months).
  struct History {
    Micros first = 0;
    int64_t first_month = 0;
    std::set<int64_t> months;
  };
  std::unordered_map<Id, History> hist;
  MonthCursor months(d.timezone);
  for (const auto& o : d.orders) {  // oldest first
    if (!o.member_id || !AtBranch(o, q) || !members.contains(*o.member_id)) continue;
    int64_t month = months.Of(o.at);
    auto [it, inserted] = hist.try_emplace(*o.member_id);
    if (inserted) {
      it->second.first = o.at;
      it->second.first_month = month;
    }
    it->second.months.insert(month);
  }
  struct Cohort {
    int64_t members = 0;
    int64_t again[13] = {};
  };
  std::map<int64_t, Cohort> cohorts;
  for (const auto& [id, h] : hist) {
    if (!InRange(h.first, q)) continue;
    Cohort& c = cohorts[h.first_month];
    ++c.members;
    for (int k = 1; k <= 12; ++k)
      if (h.months.contains(h.first_month + k)) ++c.again[k];
  }
  int64_t now_month = MonthIndexOf(d.now, d.timezone);
  Table t;
  t.name = "cohorts";
  t.columns = {{"cohort", ColumnType::kMonth}, {"members", ColumnType::kInt}};
  for (int k = 1; k <= 12; ++k) t.columns.push_back({fmt::format("m{}", k), ColumnType::kRatio});
  for (const auto& [month, c] : cohorts) {
    std::vector<Cell> row = {FirstDayOfMonth(month), c.members};
    for (int k = 1; k <= 12; ++k)
      row.push_back(month + k > now_month ? Cell() : RatioCell(c.again[k], c.members));
    t.rows.push_back(std::move(row));
  }
  rep.tables.push_back(std::move(t));
  return rep;
}

// ---- RFM ----------------------------------------------------------------------------------------

Report BuildRfm(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "rfm");
  auto members = MembersOf(d, q);
  struct Agg {
    Micros last = 0;
    int64_t orders = 0;
    int64_t spend = 0;
  };
  std::map<Id, Agg> agg;
  for (const auto& o : d.orders) {
    if (!o.member_id || !InRange(o.at, q) || !AtBranch(o, q) || !members.contains(*o.member_id))
      continue;
    Agg& a = agg[*o.member_id];
    a.last = std::max(a.last, o.at);
    ++a.orders;
    a.spend += o.net_minor;
  }
  Micros as_of = std::min(q.to, d.now);
  std::vector<RfmInput> buyers;
  for (const auto& [id, a] : agg)
    buyers.push_back({std::max<int64_t>(0, (as_of - a.last) / kMicrosPerDay), a.orders, a.spend});
  std::vector<RfmScore> scores = ScoreRfm(buyers);
  int64_t grid_members[6][6] = {}, grid_spend[6][6] = {};
  std::map<RfmGroup, std::pair<int64_t, int64_t>> groups;  // members, spend
  for (size_t i = 0; i < scores.size(); ++i) {
    const RfmScore& s = scores[i];
    ++grid_members[s.r][s.f];
    grid_spend[s.r][s.f] += buyers[i].spend_minor;
    auto& g = groups[s.group];
    ++g.first;
    g.second += buyers[i].spend_minor;
  }
  Table grid;
  grid.name = "grid";
  grid.columns = {{"r", ColumnType::kInt},
                  {"f", ColumnType::kInt},
                  {"members", ColumnType::kInt},
                  {"spend_minor", ColumnType::kMoney}};
  for (int r = 5; r >= 1; --r)
    for (int f = 1; f <= 5; ++f)
      grid.rows.push_back({int64_t{r}, int64_t{f}, grid_members[r][f], grid_spend[r][f]});
  Table by_group;
  by_group.name = "groups";
  by_group.columns = {{"group", ColumnType::kText},
                      {"members", ColumnType::kInt},
                      {"share", ColumnType::kRatio},
                      {"spend_minor", ColumnType::kMoney}};
  int64_t n = static_cast<int64_t>(scores.size());
  for (std::string_view name : RfmGroupNames()) {
    auto it = groups.find(*ParseRfmGroup(name));
    int64_t m = it == groups.end() ? 0 : it->second.first;
    int64_t s = it == groups.end() ? 0 : it->second.second;
    by_group.rows.push_back({std::string(name), m, RatioCell(m, n), s});
  }
  rep.tables.push_back(std::move(grid));
  rep.tables.push_back(std::move(by_group));
  return rep;
}

// ---- Churn --------------------------------------------------------------------------------------

Report BuildChurn(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "churn");
  auto members = MembersOf(d, q);
  Micros as_of = std::min(q.to, d.now);
  struct Agg {
    Micros first = 0, last = 0;
    int64_t orders = 0, spend = 0;
  };
  std::unordered_map<Id, Agg> agg;
  for (const auto& h : d.histories)
    if (members.contains(h.member_id))
      agg[h.member_id] = {h.first_at, h.last_at, h.orders, h.spend_minor};
  struct Line {
    const MemberRow* m;
    const Agg* a;  // null: never bought
    std::optional<double> usual_gap_days, p_alive, expected_value;
    int64_t at_risk = 0;
  };
  std::vector<Line> lines;
  bool model = d.scores.has_value();
  if (model) {
    for (const auto& s : *d.scores) {
      auto it = members.find(s.member_id);
      if (it == members.end() || std::isnan(s.p_alive) || std::isnan(s.expected_value_minor))
        continue;
      auto a = agg.find(s.member_id);
      Line l{it->second,
             a == agg.end() ? nullptr : &a->second,
             std::nullopt,
             s.p_alive,
             s.expected_value_minor,
             0};
      l.at_risk = std::llround(s.expected_value_minor * (1.0 - s.p_alive));
      lines.push_back(l);
    }
  } else {
    for (const auto& [id, a] : agg) {
      if (a.orders < 2) continue;
      double gap =
          std::max(1.0, static_cast<double>(a.last - a.first) / static_cast<double>(kMicrosPerDay) /
                            static_cast<double>(a.orders - 1));
      double since = static_cast<double>(as_of - a.last) / static_cast<double>(kMicrosPerDay);
      if (since <= gap) continue;
      Line l{members.at(id), &a, gap, std::nullopt, std::nullopt, 0};
      double aov = static_cast<double>(a.spend) / static_cast<double>(a.orders);
      l.at_risk = std::llround(aov * 365.0 / gap);
      lines.push_back(l);
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& x, const Line& y) {
    if (x.at_risk != y.at_risk) return x.at_risk > y.at_risk;
    return x.m->id < y.m->id;
  });
  if (lines.size() > static_cast<size_t>(std::max(q.limit, 0))) lines.resize(q.limit);
  Table t;
  t.name = "churn";
  t.columns = {{"member_id", ColumnType::kId},
               {"name", ColumnType::kText},
               {"phone", ColumnType::kText},
               {"orders", ColumnType::kInt},
               {"spend_minor", ColumnType::kMoney},
               {"last_order_at", ColumnType::kTime},
               {"days_since_last_order", ColumnType::kInt},
               {"usual_gap_days", ColumnType::kNumber},
               {"p_alive", ColumnType::kNumber},
               {"expected_value_minor", ColumnType::kMoney},
               {"value_at_risk_minor", ColumnType::kMoney}};
  auto opt = [](const std::optional<double>& v) { return v ? Cell(*v) : Cell(); };
  for (const auto& l : lines) {
    t.rows.push_back(
        {int64_t{l.m->id}, l.m->name, l.m->phone, l.a ? l.a->orders : int64_t{0},
         l.a ? l.a->spend : int64_t{0}, l.a ? Cell(int64_t{l.a->last}) : Cell(),
         l.a ? Cell(int64_t{(as_of - l.a->last) / kMicrosPerDay}) : Cell(), opt(l.usual_gap_days),
         opt(l.p_alive),
         l.expected_value ? Cell(static_cast<int64_t>(std::llround(*l.expected_value))) : Cell(),
         l.at_risk});
  }
  rep.tables.push_back(std::move(t));
  rep.facts.emplace_back("basis", model ? "model" : "order_gap");
  return rep;
}

// ---- Tiers --------------------------------------------------------------------------------------

Report BuildTiers(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "tiers");
  std::map<int, size_t> row_of;  // level -> row
  struct Acc {
    std::optional<Id> id;
    int level = 0;
    std::string name;
    int64_t members = 0, spend = 0;
  };
  std::vector<Acc> acc = {{std::nullopt, 0, "", 0, 0}};
  row_of[0] = 0;
  for (const auto& tier : d.tiers) {
    row_of[tier.level] = acc.size();
    acc.push_back({tier.id, tier.level, tier.name, 0, 0});
  }
  std::unordered_map<Id, size_t> member_row;
  int64_t total = 0;
  for (const auto& m : d.members) {
    if (!HomeAt(m, q) || m.joined_at >= q.to) continue;
    auto it = row_of.find(m.tier_level);
    size_t row = it == row_of.end() ? 0 : it->second;  // a level without a tier: no tier
    ++acc[row].members;
    ++total;
    member_row[m.id] = row;
  }
  for (const auto& o : d.orders) {
    if (!o.member_id || !InRange(o.at, q) || !AtBranch(o, q)) continue;
    auto it = member_row.find(*o.member_id);
    if (it != member_row.end()) acc[it->second].spend += o.net_minor;
  }
  Table t;
  t.name = "tiers";
  t.columns = {{"tier_id", ColumnType::kId},
               {"level", ColumnType::kInt},
               {"tier", ColumnType::kText},
               {"members", ColumnType::kInt},
               {"share", ColumnType::kRatio},
               {"spend_minor", ColumnType::kMoney},
               {"avg_spend_minor", ColumnType::kMoney}};
  for (const auto& a : acc)
    t.rows.push_back({IdCell(a.id), int64_t{a.level}, a.name, a.members,
                      RatioCell(a.members, total), a.spend,
                      a.members > 0 ? Cell(a.spend / a.members) : Cell()});
  rep.tables.push_back(std::move(t));
  return rep;
}

// ---- Branches -----------------------------------------------------------------------------------

Report BuildBranches(const ReportData& d, const ReportQuery& q) {
  Report rep = Skeleton(d, q, "branches");
  struct Acc {
    int64_t orders = 0, revenue = 0, new_members = 0;
    std::unordered_map<Id, int64_t> orders_of;
  };
  std::map<int64_t, Acc> by;  // branch id, 0 = none
  auto live = AllMembers(d);
  for (const auto& o : d.orders) {
    if (!InRange(o.at, q) || !AtBranch(o, q)) continue;
    Acc& a = by[o.branch_id.value_or(0)];
    ++a.orders;
    a.revenue += o.net_minor;
    if (o.member_id && live.contains(*o.member_id)) ++a.orders_of[*o.member_id];
  }
  for (const auto& m : d.members)
    if (HomeAt(m, q) && InRange(m.joined_at, q)) ++by[m.home_branch_id.value_or(0)].new_members;
  Table t;
  t.name = "branches";
  t.columns = {{"branch_id", ColumnType::kId},     {"branch", ColumnType::kText},
               {"orders", ColumnType::kInt},       {"revenue_minor", ColumnType::kMoney},
               {"members", ColumnType::kInt},      {"new_members", ColumnType::kInt},
               {"repeat_rate", ColumnType::kRatio}};
  auto row = [&](std::optional<Id> id, const std::string& name) {
    const Acc& a = by[id.value_or(0)];
    int64_t buyers = static_cast<int64_t>(a.orders_of.size()), repeat = 0;
    for (const auto& [m, n] : a.orders_of)
      if (n >= 2) ++repeat;
    t.rows.push_back(
        {IdCell(id), name, a.orders, a.revenue, buyers, a.new_members, RatioCell(repeat, buyers)});
  };
  for (const auto& b : d.branches)
    if (!q.branch_id || b.id == *q.branch_id) row(b.id, b.name);
  // Sales and members without a branch, when there are any.
  if (!q.branch_id && by.contains(0)) row(std::nullopt, "");
  rep.tables.push_back(std::move(t));
  return rep;
}

// ---- Running ------------------------------------------------------------------------------------

Result<Report> RunReport(store::Tx& tx, const accounts::Actor& actor, std::string_view name,
                         const ReportQuery& q) {
  if (!actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may see reports");
  if (!IsInsightReport(name)) {
    std::string list;
    for (const auto& n : InsightReportNames()) list += (list.empty() ? "" : ", ") + n;
    return Fail(Code::kNotFound, "report not found (" + list + ")");
  }
  if (q.to <= q.from) return InvalidField("to", "must be after from");
  if (q.to - q.from > kMaxRangeDays * kMicrosPerDay)
    return InvalidField("to", fmt::format("at most {} days after from", kMaxRangeDays));
  if (q.limit < 1 || q.limit > 10000) return InvalidField("limit", "must be 1 to 10000");
  if (!actor.branch_ids.empty()) {
    if (!q.branch_id)
      return Fail(Code::kPermissionDenied,
                  "branch_id: staff limited to branches must name one of theirs", "branch_id");
    if (!actor.MayUseBranch(*q.branch_id))
      return Fail(Code::kPermissionDenied, "branch_id: not one of your branches", "branch_id");
  }
  // Cohorts need every first purchase and follow buyers past `to` (retention months after the
  // range); churn reads per-member sums of the whole history instead of orders (LoadMember
  // Histories). The rest look at the range.
  Micros lo = q.from, hi = q.to;
  if (name == "cohorts") {
    lo = std::numeric_limits<Micros>::min();
    hi = std::numeric_limits<Micros>::max();
  } else if (name == "churn") {
    hi = lo;  // no orders
  }
  RG_ASSIGN_OR_RETURN(ReportData d, LoadReportData(tx, actor.merchant_id, actor.now, lo, hi));
  if (name == "churn") {
    RG_ASSIGN_OR_RETURN(d.histories, LoadMemberHistories(tx, actor.merchant_id,
                                                         std::min(q.to, actor.now), q.branch_id));
  }
  if (q.branch_id && std::none_of(d.branches.begin(), d.branches.end(),
                                  [&](const BranchRow& b) { return b.id == *q.branch_id; }))
    return Fail(Code::kNotFound, "branch_id: no such branch", "branch_id");
  if (name == "overview") return BuildOverview(d, q);
  if (name == "cohorts") return BuildCohorts(d, q);
  if (name == "rfm") return BuildRfm(d, q);
  if (name == "churn") return BuildChurn(d, q);
  if (name == "tiers") return BuildTiers(d, q);
  return BuildBranches(d, q);
}

// ---- Rendering ----------------------------------------------------------------------------------

std::string CellText(const Cell& c, ColumnType t) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* x = std::get_if<double>(&c)) return fmt::format("{:.4f}", *x);
  int64_t v = std::get<int64_t>(c);
  switch (t) {
    case ColumnType::kId:
      return IdToString(v);
    case ColumnType::kTime:
      return FormatRfc3339(v);
    case ColumnType::kMonth: {
      Date day = CivilFromDays(v);
      return fmt::format("{:04}-{:02}", day.year, day.month);
    }
    case ColumnType::kRatio:
    case ColumnType::kNumber:
      return fmt::format("{:.4f}", static_cast<double>(v));
    default:
      return std::to_string(v);
  }
}

std::string TableCsv(const Table& t) {
  std::string out;
  for (size_t i = 0; i < t.columns.size(); ++i) out += (i ? "," : "") + CsvField(t.columns[i].name);
  out += "\r\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i) out += ',';
      out += CsvField(i < row.size() ? CellText(row[i], t.columns[i].type) : "");
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace regulars::insight
