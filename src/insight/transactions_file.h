#pragma once

// Reading purchase histories for the churn and value models from text: the CDNOW files of the
// BG/NBD paper and a plain `customer_id,date,amount` CSV. Readers take a stream so tests feed
// strings; the only I/O in insight/ is the stream the caller hands in.
//
// Errors are invalid_argument naming the line and column: "line 7, column 2 (date): expected
// YYYY-MM-DD, got \"2026-13-01\"", with field "date".

#include <cstdint>
#include <istream>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "insight/clv.h"

namespace regulars::insight {

// A civil day (days since 1970-01-01) from "YYYY-MM-DD" or "YYYYMMDD"; nullopt-like error
// (invalid_argument, field `field`) when malformed or not a calendar date.
Result<int64_t> ParseDay(std::string_view text, std::string_view field = "date");

// CDNOW: whitespace-separated, CRLF or LF. Either the sample's five columns
// `master_id sample_id yyyymmdd cds dollars` (the customer is the sample id, as in the paper's
// summary file) or the master file's four `customer_id yyyymmdd cds dollars`, after an optional
// header line starting with "customer_id". Blank lines are skipped.
Result<std::vector<Transaction>> ReadCdnowTransactions(std::istream& in);

// CSV with the header `customer_id,date,amount` (exactly, in that order); dates YYYY-MM-DD;
// amounts decimal numbers. No quoting: a field holding a comma or a quote is an error.
Result<std::vector<Transaction>> ReadCsvTransactions(std::istream& in);

}  // namespace regulars::insight
