#pragma once

// A streaming CSV reader (RFC 4180) for the files merchants export from their POS or web store.
//
// Contract:
// - Input is read in chunks from a file (plain or gzip, detected by its magic bytes) or a string;
//   memory stays bounded by the chunk size plus the longest record.
// - Bytes are decoded to UTF-8: UTF-8 with or without BOM, Big5, GBK / GB18030 (GB18030 is a
//   superset of GBK). kAuto detects the encoding from the first chunk (valid UTF-8 wins; otherwise
//   the legacy encoding whose decoding of that chunk is cleanest).
// - Quoted fields may hold delimiters, "" and line breaks. CRLF, LF and a missing final newline
//   are accepted.
// - A malformed record (a stray quote inside an unquoted field, text after a closing quote, a field
//   longer than max_field_bytes, bytes invalid in the chosen encoding) is an error naming its line
//   and column; the reader then resumes at the next line, so one bad line costs only itself.
//   An unterminated quote at the end of the input (a truncated file) is an error and the end.
// - Not thread-safe; one reader per thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace regulars::importer {

enum class Encoding { kAuto, kUtf8, kBig5, kGb18030 };
// "auto", "utf-8", "big5", "gb18030" (also accepts "gbk", "gb2312", "utf8", case-insensitive).
std::optional<Encoding> ParseEncoding(std::string_view name);
std::string_view EncodingName(Encoding e);

struct CsvOptions {
  char delimiter = ',';
  Encoding encoding = Encoding::kAuto;
  // A field longer than this is an error (a runaway quote would otherwise swallow the file).
  size_t max_field_bytes = 1 << 20;
  // Bytes read from the input (and produced by gzip) per step. The default suits files; tests
  // set it small to put chunk boundaries inside quotes, CRLFs and multi-byte characters. kAuto
  // settles the encoding on the first chunk that holds a non-ASCII byte.
  size_t chunk_bytes = 1 << 20;
};

// Where a record went wrong. `line` is the 1-based physical line where the problem is,
// `column` the 1-based field index (0 when unknown).
struct CsvError {
  int64_t line = 0;
  int column = 0;
  std::string message;  // "unterminated quoted field", "invalid big5 byte sequence", ...
  bool fatal = false;   // true: nothing more can be read (truncated input, I/O error)
};

class CsvReader {
 public:
  virtual ~CsvReader() = default;

  // Opens a file; "-" is standard input. Fails with not_found / invalid_argument. Both factories
  // read the first chunk before returning (to settle the encoding); an error in it, such as a
  // broken gzip header, is the first Next()'s fatal CsvError.
  static Result<std::unique_ptr<CsvReader>> OpenFile(const std::string& path,
                                                     const CsvOptions& options);
  // Reads from memory (the bytes may be gzip-compressed too).
  static Result<std::unique_ptr<CsvReader>> FromString(std::string data, const CsvOptions& options);

  // Reads the next record into `fields` (UTF-8; valid until the next call). Returns true with a
  // record, false at the end of the input, or a CsvError for a malformed record (after which the
  // next call continues at the following line unless the error is fatal).
  // A BOM is stripped from the first field of the first record.
  virtual std::expected<bool, CsvError> Next(std::vector<std::string_view>& fields) = 0;

  // The 1-based physical line on which the last record returned by Next started.
  virtual int64_t record_line() const = 0;
  // Compressed bytes consumed so far and the input's total size (0 when unknown, e.g. stdin):
  // for progress bars.
  virtual int64_t bytes_consumed() const = 0;
  virtual int64_t total_bytes() const = 0;
  // The encoding in use (after detection). Never kAuto: while every byte read so far was ASCII
  // (the same in all three encodings) it is kUtf8, and it may still become Big5 or GB18030.
  virtual Encoding encoding() const = 0;
};

}  // namespace regulars::importer
