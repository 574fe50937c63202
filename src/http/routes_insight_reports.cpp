// Insight reports over HTTP: GET /api/v1/reports/{overview|cohorts|rfm|churn|tiers|branches}
// as JSON, CSV or Excel. The route itself lives in routes_loyalty.cpp (with liability and
// points-activity), which hands every other name to InsightReportReply.

#include <fmt/format.h>

#include <charconv>

#include "http/router.h"
#include "insight/reports.h"
#include "insight/xlsx.h"

namespace regulars::http {
namespace {

constexpr std::string_view kXlsxType =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

json CellJson(const insight::Cell& c, insight::ColumnType t) {
  using insight::ColumnType;
  if (std::holds_alternative<std::monostate>(c)) return nullptr;
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* d = std::get_if<double>(&c)) return *d;
  switch (t) {
    case ColumnType::kId:
    case ColumnType::kTime:
    case ColumnType::kMonth:
      return insight::CellText(c, t);
    default:
      return std::get<int64_t>(c);
  }
}

json ColumnsJson(const insight::Table& t) {
  json out = json::array();
  for (const auto& c : t.columns)
    out.push_back({{"name", c.name}, {"type", std::string(insight::ColumnTypeName(c.type))}});
  return out;
}

json RowsJson(const insight::Table& t) {
  json out = json::array();
  for (const auto& row : t.rows) {
    json o = json::object();
    for (size_t i = 0; i < t.columns.size() && i < row.size(); ++i)
      o[t.columns[i].name] = CellJson(row[i], t.columns[i].type);
    out.push_back(std::move(o));
  }
  return out;
}

json ReportJson(const insight::Report& rep) {
  json body = {{"report", rep.name},
               {"from", FormatRfc3339(rep.from)},
               {"to", FormatRfc3339(rep.to)},
               {"branch_id", rep.branch_id ? json(IdToString(*rep.branch_id)) : json(nullptr)},
               {"currency", rep.currency}};
  if (!rep.tables.empty()) {
    body["columns"] = ColumnsJson(rep.tables[0]);
    body["data"] = RowsJson(rep.tables[0]);
  }
  json parts = json::object();
  for (size_t i = 1; i < rep.tables.size(); ++i)
    parts[rep.tables[i].name] = {{"columns", ColumnsJson(rep.tables[i])},
                                 {"data", RowsJson(rep.tables[i])}};
  if (!parts.empty()) body["tables"] = std::move(parts);
  json facts = json::object();
  for (const auto& [k, v] : rep.facts) facts[k] = v;
  body["facts"] = std::move(facts);
  return body;
}

Result<Micros> TimeParam(const Request& r, const std::string& name, Micros fallback) {
  auto v = r.Query(name);
  if (!v) return fallback;
  auto t = ParseRfc3339(*v);
  if (!t) return InvalidField(name, "must be an RFC 3339 time");
  return *t;
}

enum class Format { kJson, kCsv, kXlsx };

Result<Format> FormatOf(const Request& r) {
  if (auto f = r.Query("format")) {
    if (*f == "json") return Format::kJson;
    if (*f == "csv") return Format::kCsv;
    if (*f == "xlsx") return Format::kXlsx;
    return InvalidField("format", "must be json, csv or xlsx");
  }
  std::string accept = r.http.get_header_value("Accept");
  if (accept.find(kXlsxType) != std::string::npos) return Format::kXlsx;
  if (accept.find("text/csv") != std::string::npos) return Format::kCsv;
  return Format::kJson;
}

}  // namespace

Result<Reply> InsightReportReply(Request& r, store::Tx& tx, const std::string& name) {
  if (!insight::IsInsightReport(name)) {
    std::string list = "liability, points-activity";
    for (const auto& n : insight::InsightReportNames()) list += ", " + n;
    return Fail(Code::kNotFound, "report not found (" + list + ")");
  }
  insight::ReportQuery q;
  RG_ASSIGN_OR_RETURN(q.to, TimeParam(r, "to", r.actor.now));
  RG_ASSIGN_OR_RETURN(q.from, TimeParam(r, "from", q.to - 365 * kMicrosPerDay));
  if (auto b = r.Query("branch_id")) {
    q.branch_id = ParseId(*b);
    if (!q.branch_id) return InvalidField("branch_id", "is not a valid id");
  }
  if (auto l = r.Query("limit")) {
    int v = 0;
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
    if (ec != std::errc() || end != l->data() + l->size() || v < 1 || v > 10000)
      return InvalidField("limit", "must be 1 to 10000");
    q.limit = v;
  }
  RG_ASSIGN_OR_RETURN(Format format, FormatOf(r));
  RG_ASSIGN_OR_RETURN(insight::Report rep, insight::RunReport(tx, r.actor, name, q));
  Reply reply;
  if (format == Format::kJson) {
    reply.body = ReportJson(rep);
    return reply;
  }
  if (format == Format::kCsv) {
    // One table per CSV: the report's own, or the part named by ?table= (rfm's groups).
    const insight::Table* table = &rep.tables.at(0);
    if (auto t = r.Query("table")) {
      table = nullptr;
      std::string names;
      for (const auto& x : rep.tables) {
        if (x.name == *t) table = &x;
        names += (names.empty() ? "" : ", ") + x.name;
      }
      if (!table) return InvalidField("table", fmt::format("{} has the tables {}", name, names));
    }
    reply.raw = insight::TableCsv(*table);
    reply.content_type = "text/csv; charset=utf-8";
    std::string file = table == &rep.tables[0] ? name : name + "-" + table->name;
    reply.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + ".csv\"");
    return reply;
  }
  RG_ASSIGN_OR_RETURN(reply.raw, insight::ReportXlsx(rep));
  reply.content_type = std::string(kXlsxType);
  reply.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + ".xlsx\"");
  return reply;
}

}  // namespace regulars::http
