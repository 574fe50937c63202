// libFuzzer target for the import's CSV reader (src/importer/csv.h).
//
// What it proves: for any bytes, read with every encoding (auto, UTF-8, Big5, GB18030), with a
// tiny field limit and the default one, and in 1 MiB and 7-byte chunks, the reader
//   - never crashes, hangs or reads out of bounds (run under ASan and UBSan),
//   - hands out only valid UTF-8 fields no longer than max_field_bytes,
//   - reports line numbers (of records and of errors) that never decrease,
//   - gives the same records and errors whatever the chunk size, for an explicit encoding
//     (kAuto settles on the first chunk holding a non-ASCII byte, so its choice may differ), and
//   - ends after a fatal error.
// A broken invariant aborts with a message, which libFuzzer reports as a crash.
//
// Built two ways: by scripts/fuzz-csv.sh with clang and -fsanitize=fuzzer, and by the main build
// (g++) as csv_fuzz_corpus_test, whose main (corpus_main.cpp) replays tests/fuzz/corpus/csv.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "importer/csv.h"

namespace {

using regulars::importer::CsvOptions;
using regulars::importer::CsvReader;
using regulars::importer::Encoding;

[[noreturn]] void Broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "csv_fuzz: invariant broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

// An independent UTF-8 check (not the reader's own).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F, len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F, len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07, len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Reads everything and returns a transcript; checks the invariants that hold for one reading.
std::vector<std::string> ReadAll(const uint8_t* data, size_t size, const CsvOptions& o) {
  std::vector<std::string> out;
  auto reader = CsvReader::FromString(std::string(reinterpret_cast<const char*>(data), size), o);
  if (!reader) Broken("FromString failed", reader.error().message);
  std::vector<std::string_view> fields;
  int64_t last_line = 0;
  // Every call consumes at least one decoded byte or ends the input, so this bounds a healthy
  // reader (gzip inflates at most 1032:1).
  const size_t max_calls = size * 1100 + 4;
  for (size_t calls = 0;; ++calls) {
    if (calls > max_calls) Broken("no progress", std::to_string(calls) + " calls");
    auto r = (*reader)->Next(fields);
    if (!r) {
      const auto& e = r.error();
      if (e.line < last_line) {
        Broken("error line went back", std::to_string(e.line) + " < " + std::to_string(last_line));
      }
      if (e.message.empty()) Broken("empty error message", "");
      last_line = e.line;
      out.push_back("!" + std::to_string(e.line) + ":" + std::to_string(e.column) + " " +
                    e.message + (e.fatal ? " (fatal)" : ""));
      if (e.fatal) {
        auto again = (*reader)->Next(fields);
        if (!again || *again) Broken("read after a fatal error", e.message);
        break;
      }
      continue;
    }
    if (!*r) break;
    int64_t line = (*reader)->record_line();
    if (line < last_line || line < 1) {
      Broken("record line went back", std::to_string(line) + " < " + std::to_string(last_line));
    }
    last_line = line;
    if (fields.empty()) Broken("record without fields", std::to_string(line));
    std::string t = std::to_string(line) + ":";
    for (std::string_view f : fields) {
      if (!ValidUtf8(f)) Broken("field is not UTF-8", std::to_string(line));
      if (f.size() > o.max_field_bytes) Broken("field over the limit", std::to_string(f.size()));
      t += std::to_string(f.size()) + "[" + std::string(f) + "]";
    }
    out.push_back(std::move(t));
  }
  const bool gzip = size >= 2 && data[0] == 0x1F && data[1] == 0x8B;
  if (!gzip && (*reader)->bytes_consumed() != static_cast<int64_t>(size)) {
    // Plain input is read to the end unless a fatal error stopped early (gzip may stop at the
    // end of its last member and leave trailing bytes).
    if (out.empty() || out.back().find("(fatal)") == std::string::npos) {
      Broken("input not read to the end", std::to_string((*reader)->bytes_consumed()));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  for (Encoding e : {Encoding::kAuto, Encoding::kUtf8, Encoding::kBig5, Encoding::kGb18030}) {
    for (size_t limit : {size_t{8}, size_t{1} << 20}) {
      CsvOptions o;
      o.encoding = e;
      o.max_field_bytes = limit;
      std::vector<std::string> whole = ReadAll(data, size, o);
      o.chunk_bytes = 7;
      std::vector<std::string> chunked = ReadAll(data, size, o);
      if (e != Encoding::kAuto && whole != chunked) {
        std::string diff;
        for (size_t i = 0; i < std::max(whole.size(), chunked.size()); ++i) {
          std::string a = i < whole.size() ? whole[i] : "(none)";
          std::string b = i < chunked.size() ? chunked[i] : "(none)";
          if (a != b) {
            diff = "entry " + std::to_string(i) + ": " + a + " vs " + b;
            break;
          }
        }
        Broken("chunk size changed the result", std::string(EncodingName(e)) + " " + diff);
      }
    }
  }
  return 0;
}
