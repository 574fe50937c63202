#pragma once

// Excel export of a report (libxlsxwriter): one sheet per table, in order, then a sheet "about"
// with the range, branch, currency and the report's facts. Each sheet has a bold, frozen header
// row and column widths fitted to the text. Money columns hold numbers in major units with the
// currency's format (`"TWD" #,##0.00`, their header "revenue (TWD)" instead of
// "revenue_minor"); ratios are percentages; times are the merchant's local date-times and months
// are dates, both real Excel dates; ids are text (they exceed a double's precision).

#include <string>

#include "base/error.h"
#include "insight/reports.h"

namespace regulars::insight {

// The .xlsx file's bytes. internal when libxlsxwriter or the temporary file fails.
Result<std::string> ReportXlsx(const Report& report);

// The Excel header of a column: money columns lose "_minor" and gain the currency.
std::string XlsxHeader(const Column& c, const std::string& currency);

}  // namespace regulars::insight
