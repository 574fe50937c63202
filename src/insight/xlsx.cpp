#include "insight/xlsx.h"

#include <fmt/format.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/money.h"
#include "base/zone.h"

namespace regulars::insight {
namespace {

// Removes the temporary file however the export ends.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

struct Formats {
  lxw_format* header = nullptr;
  lxw_format* integer = nullptr;
  lxw_format* money = nullptr;
  lxw_format* ratio = nullptr;
  lxw_format* number = nullptr;
  lxw_format* time = nullptr;
  lxw_format* month = nullptr;
};

lxw_format* NumberFormat(lxw_workbook* wb, const std::string& pattern) {
  lxw_format* f = workbook_add_format(wb);
  format_set_num_format(f, pattern.c_str());
  return f;
}

int Exponent(const std::string& currency) {
  int e = CurrencyExponent(currency);
  return e < 0 ? 2 : e;
}

// The text a cell shows, to size its column.
size_t ShownWidth(const Cell& c, const Column& col, int exponent) {
  if (std::holds_alternative<std::monostate>(c)) return 0;
  switch (col.type) {
    case ColumnType::kMoney:
      // Digits, separators, decimals and the currency code.
      return CellText(c, col.type).size() * 4 / 3 + 6;
    case ColumnType::kTime:
      return 16;  // yyyy-mm-dd hh:mm
    case ColumnType::kMonth:
      return 7;
    case ColumnType::kRatio:
      return 7;
    default:
      return CellText(c, col.type).size();
  }
}

// Local wall-clock seconds since 1970 (what Excel shows), from a UTC instant.
int64_t LocalUnixSeconds(Micros t, const std::string& tz) {
  auto lt = ToLocal(t, tz);
  if (!lt) return t / kMicrosPerSecond;
  return DaysFromCivil(lt->year, lt->month, lt->day) * 86400 + lt->hour * 3600 + lt->minute * 60 +
         lt->second;
}

Status Check(lxw_error e, std::string_view what) {
  if (e == LXW_NO_ERROR) return {};
  return Fail(Code::kInternal, fmt::format("xlsx: {}: {}", what, lxw_strerror(e)));
}

Status WriteTable(lxw_worksheet* ws, const Table& t, const Report& rep, const Formats& f) {
  int exponent = Exponent(rep.currency);
  double scale = std::pow(10.0, exponent);
  // Widths first: libxlsxwriter's constant-memory mode writes rows as they come.
  for (size_t c = 0; c < t.columns.size(); ++c) {
    size_t width = XlsxHeader(t.columns[c], rep.currency).size();
    for (const auto& row : t.rows)
      if (c < row.size()) width = std::max(width, ShownWidth(row[c], t.columns[c], exponent));
    double w = static_cast<double>(std::clamp<size_t>(width + 2, 8, 60));
    RG_TRY(Check(worksheet_set_column(ws, c, c, w, nullptr), "column width"));
  }
  worksheet_freeze_panes(ws, 1, 0);
  for (size_t c = 0; c < t.columns.size(); ++c)
    RG_TRY(Check(
        worksheet_write_string(ws, 0, c, XlsxHeader(t.columns[c], rep.currency).c_str(), f.header),
        "header"));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    lxw_row_t row = static_cast<lxw_row_t>(r + 1);
    for (size_t c = 0; c < t.columns.size() && c < t.rows[r].size(); ++c) {
      const Cell& cell = t.rows[r][c];
      if (std::holds_alternative<std::monostate>(cell)) continue;
      lxw_col_t col = static_cast<lxw_col_t>(c);
      lxw_error e = LXW_NO_ERROR;
      auto number = [&]() {
        if (const auto* d = std::get_if<double>(&cell)) return *d;
        if (const auto* i = std::get_if<int64_t>(&cell)) return static_cast<double>(*i);
        return 0.0;
      };
      if (const auto* s = std::get_if<std::string>(&cell)) {
        e = worksheet_write_string(ws, row, col, s->c_str(), nullptr);
      } else {
        switch (t.columns[c].type) {
          case ColumnType::kText:
          case ColumnType::kId:
            e = worksheet_write_string(ws, row, col, CellText(cell, t.columns[c].type).c_str(),
                                       nullptr);
            break;
          case ColumnType::kInt:
            e = worksheet_write_number(ws, row, col, number(), f.integer);
            break;
          case ColumnType::kMoney:
            e = worksheet_write_number(ws, row, col, number() / scale, f.money);
            break;
          case ColumnType::kRatio:
            e = worksheet_write_number(ws, row, col, number(), f.ratio);
            break;
          case ColumnType::kNumber:
            e = worksheet_write_number(ws, row, col, number(), f.number);
            break;
          case ColumnType::kTime:
            e = worksheet_write_unixtime(
                ws, row, col, LocalUnixSeconds(std::get<int64_t>(cell), rep.timezone), f.time);
            break;
          case ColumnType::kMonth:
            e = worksheet_write_unixtime(ws, row, col, std::get<int64_t>(cell) * 86400, f.month);
            break;
        }
      }
      RG_TRY(Check(e, fmt::format("{} row {} column {}", t.name, r + 2, c + 1)));
    }
  }
  return {};
}

Status WriteAbout(lxw_worksheet* ws, const Report& rep, const Formats& f) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"report", rep.name},          {"from", FormatRfc3339(rep.from)},
      {"to", FormatRfc3339(rep.to)}, {"branch_id", rep.branch_id ? IdToString(*rep.branch_id) : ""},
      {"currency", rep.currency},    {"timezone", rep.timezone}};
  for (const auto& fact : rep.facts) lines.push_back(fact);
  RG_TRY(Check(worksheet_set_column(ws, 0, 0, 16, nullptr), "column width"));
  RG_TRY(Check(worksheet_set_column(ws, 1, 1, 30, nullptr), "column width"));
  RG_TRY(Check(worksheet_write_string(ws, 0, 0, "name", f.header), "header"));
  RG_TRY(Check(worksheet_write_string(ws, 0, 1, "value", f.header), "header"));
  worksheet_freeze_panes(ws, 1, 0);
  for (size_t i = 0; i < lines.size(); ++i) {
    RG_TRY(Check(worksheet_write_string(ws, i + 1, 0, lines[i].first.c_str(), nullptr), "about"));
    RG_TRY(Check(worksheet_write_string(ws, i + 1, 1, lines[i].second.c_str(), nullptr), "about"));
  }
  return {};
}

}  // namespace

std::string XlsxHeader(const Column& c, const std::string& currency) {
  if (c.type != ColumnType::kMoney) return c.name;
  std::string base = c.name;
  if (base.ends_with("_minor")) base.resize(base.size() - 6);
  return base + " (" + currency + ")";
}

Result<std::string> ReportXlsx(const Report& report) {
  std::string dir = std::filesystem::temp_directory_path().string();
  TempFile file;
  {
    std::string tmpl = dir + "/regulars-report-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) return Fail(Code::kInternal, "xlsx: cannot create a temporary file in " + dir);
    close(fd);
    file.path = tmpl;
  }
  lxw_workbook_options options = {};
  options.constant_memory = LXW_TRUE;
  options.tmpdir = dir.data();
  lxw_workbook* wb = workbook_new_opt(file.path.c_str(), &options);
  if (!wb) return Fail(Code::kInternal, "xlsx: cannot start a workbook");
  Formats f;
  f.header = workbook_add_format(wb);
  format_set_bold(f.header);
  f.integer = NumberFormat(wb, "0");
  int exponent = Exponent(report.currency);
  f.money = NumberFormat(wb, fmt::format("\"{}\" #,##0{}{}", report.currency,
                                         exponent > 0 ? "." : "", std::string(exponent, '0')));
  f.ratio = NumberFormat(wb, "0.0%");
  f.number = NumberFormat(wb, "0.0000");
  f.time = NumberFormat(wb, "yyyy-mm-dd hh:mm");
  f.month = NumberFormat(wb, "yyyy-mm");
  Status written;
  for (const auto& t : report.tables) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, t.name.c_str());
    if (!ws) {
      written = Fail(Code::kInternal, "xlsx: bad sheet name " + t.name);
      break;
    }
    written = WriteTable(ws, t, report, f);
    if (!written) break;
  }
  if (written) {
    lxw_worksheet* about = workbook_add_worksheet(wb, "about");
    written = about ? WriteAbout(about, report, f) : Fail(Code::kInternal, "xlsx: about sheet");
  }
  lxw_error closed = workbook_close(wb);  // frees the workbook in every case
  RG_TRY(written);
  RG_TRY(Check(closed, "close"));
  std::ifstream in(file.path, std::ios::binary);
  if (!in) return Fail(Code::kInternal, "xlsx: cannot read back " + file.path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace regulars::insight
