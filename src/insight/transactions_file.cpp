#include "insight/transactions_file.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "base/time.h"

namespace regulars::insight {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::unexpected<Error> LineError(int64_t line, int column, std::string_view field,
                                 std::string_view why) {
  return Fail(Code::kInvalidArgument,
              fmt::format("line {}, column {} ({}): {}", line, column, field, why),
              std::string(field));
}

Result<double> ParseAmount(std::string_view text, int64_t line, int column) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
    return LineError(line, column, "amount", fmt::format("expected a number, got \"{}\"", text));
  return v;
}

}  // namespace

Result<int64_t> ParseDay(std::string_view text, std::string_view field) {
  auto bad = [&] {
    return InvalidField(std::string(field),
                        fmt::format("expected YYYY-MM-DD or YYYYMMDD, got \"{}\"", text));
  };
  std::string iso;
  if (text.size() == 8 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    iso = fmt::format("{}-{}-{}", text.substr(0, 4), text.substr(4, 2), text.substr(6, 2));
  } else if (text.size() == 10) {
    iso = std::string(text);
  } else {
    return bad();
  }
  auto d = ParseDate(iso);
  if (!d || d->year == 0) return bad();
  return DaysFromCivil(d->year, d->month, d->day);
}

Result<std::vector<Transaction>> ReadCdnowTransactions(std::istream& in) {
  std::vector<Transaction> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::vector<std::string_view> cols;
    std::string_view rest = line;
    while (true) {
      rest = Trim(rest);
      if (rest.empty()) break;
      size_t end = rest.find_first_of(" \t\r");
      cols.push_back(rest.substr(0, end));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end);
    }
    if (cols.empty()) continue;
    if (n == 1 && cols[0] == "customer_id") continue;
    if (cols.size() != 4 && cols.size() != 5)
      return LineError(
          n, static_cast<int>(cols.size()), "columns",
          fmt::format("expected 4 or 5 whitespace-separated columns, got {}", cols.size()));
    size_t off = cols.size() - 4;  // the sample file leads with the master id
    Transaction t;
    t.customer_id = std::string(cols[off]);
    auto day = ParseDay(cols[off + 1]);
    if (!day)
      return LineError(n, static_cast<int>(off + 2), "date",
                       fmt::format("expected YYYYMMDD, got \"{}\"", cols[off + 1]));
    t.day = *day;
    RG_ASSIGN_OR_RETURN(t.amount, ParseAmount(cols[off + 3], n, static_cast<int>(off + 4)));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<Transaction>> ReadCsvTransactions(std::istream& in) {
  std::vector<Transaction> out;
  std::string line;
  int64_t n = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++n;
    std::string_view row = Trim(line);
    if (n == 1 && row.starts_with("\xEF\xBB\xBF")) row.remove_prefix(3);
    if (row.empty()) continue;
    if (!header) {
      if (row != "customer_id,date,amount")
        return LineError(n, 1, "header",
                         fmt::format("expected \"customer_id,date,amount\", got \"{}\"", row));
      header = true;
      continue;
    }
    std::vector<std::string_view> cols;
    size_t start = 0;
    while (true) {
      size_t comma = row.find(',', start);
      cols.push_back(Trim(row.substr(start, comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (cols.size() != 3)
      return LineError(n, static_cast<int>(cols.size()), "columns",
                       fmt::format("expected 3 comma-separated fields, got {}", cols.size()));
    for (int c = 0; c < 3; ++c) {
      if (cols[c].find('"') != std::string_view::npos)
        return LineError(n, c + 1,
                         c == 0   ? "customer_id"
                         : c == 1 ? "date"
                                  : "amount",
                         "quoted fields are not supported");
    }
    if (cols[0].empty()) return LineError(n, 1, "customer_id", "must not be empty");
    Transaction t;
    t.customer_id = std::string(cols[0]);
    if (cols[1].size() != 10)
      return LineError(n, 2, "date", fmt::format("expected YYYY-MM-DD, got \"{}\"", cols[1]));
    auto day = ParseDay(cols[1]);
    if (!day)
      return LineError(n, 2, "date", fmt::format("expected YYYY-MM-DD, got \"{}\"", cols[1]));
    t.day = *day;
    RG_ASSIGN_OR_RETURN(t.amount, ParseAmount(cols[2], n, 3));
    out.push_back(std::move(t));
  }
  if (!header) return LineError(1, 1, "header", "empty file; expected \"customer_id,date,amount\"");
  return out;
}

}  // namespace regulars::insight
