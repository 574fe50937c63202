// Tests for the streaming CSV reader. Most cases are read at several chunk sizes (down to one
// byte) and must give the same transcript every time: that is how chunk boundaries inside quotes,
// CRLFs, multi-byte characters and gzip blocks are covered without special cases.

#include "importer/csv.h"

#include <gtest/gtest.h>
#include <unicode/ucnv.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace regulars::importer {
namespace {

// Makes control characters visible in a transcript.
std::string Show(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

// Reads everything: "LINE:f1|f2" per record, "!LINE:COL message" per error, "!!LINE:COL message"
// for a fatal one (the last entry).
std::vector<std::string> Transcript(std::string data, CsvOptions options) {
  auto reader = CsvReader::FromString(std::move(data), options);
  if (!reader) return {"open failed: " + reader.error().ToString()};
  std::vector<std::string> out;
  std::vector<std::string_view> fields;
  for (int guard = 0; guard < 100000; ++guard) {
    auto r = (*reader)->Next(fields);
    if (!r) {
      const CsvError& e = r.error();
      out.push_back((e.fatal ? "!!" : "!") + std::to_string(e.line) + ":" +
                    std::to_string(e.column) + " " + e.message);
      if (e.fatal) {
        // Nothing more after a fatal error.
        auto again = (*reader)->Next(fields);
        if (!again || *again) out.push_back("read after fatal error");
        break;
      }
      continue;
    }
    if (!*r) break;
    std::string line = std::to_string((*reader)->record_line()) + ":";
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) line += "|";
      line += Show(fields[i]);
    }
    out.push_back(line);
  }
  return out;
}

const size_t kChunkSizes[] = {1 << 20, 1, 2, 3, 5, 7, 64};

struct Case {
  const char* name;
  std::string input;
  std::vector<std::string> want;
  Encoding encoding = Encoding::kAuto;
  size_t max_field_bytes = 1 << 20;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    for (size_t chunk : kChunkSizes) {
      CsvOptions o;
      o.encoding = c.encoding;
      o.max_field_bytes = c.max_field_bytes;
      o.chunk_bytes = chunk;
      EXPECT_EQ(Transcript(c.input, o), c.want) << c.name << " (chunk_bytes " << chunk << ")";
    }
  }
}

TEST(CsvReader, Rfc4180) {
  RunCases({
      {"simple", "a,b,c\n1,2,3\n", {"1:a|b|c", "2:1|2|3"}},
      {"CRLF", "a,b\r\n1,2\r\n", {"1:a|b", "2:1|2"}},
      {"no final newline", "a,b\n1,2", {"1:a|b", "2:1|2"}},
      {"no final newline after CR", "a\rb", {"1:a", "2:b"}},
      {"lone CR ends a record (old Mac exports)", "a\rb\r", {"1:a", "2:b"}},
      {"empty fields", ",a,,\n", {"1:|a||"}},
      {"trailing delimiter at end of input", "a,", {"1:a|"}},
      {"blank lines skipped", "\n\na\r\n\r\n\nb\n\n", {"3:a", "6:b"}},
      {"only blank lines", "\n\r\n\r", {}},
      {"empty input", "", {}},
      {"quoted delimiter", "\"a,b\",c\n", {"1:a,b|c"}},
      {"escaped quotes", "\"say \"\"hi\"\"\",x\n", {"1:say \"hi\"|x"}},
      {"only an escaped quote", "\"\"\"\"\n", {"1:\""}},
      {"empty quoted fields", "\"\",\"\"\n", {"1:|"}},
      {"quoted field at end of input", "a,\"b\"", {"1:a|b"}},
      {"quoted LF", "\"a\nb\",c\nd\n", {"1:a\\nb|c", "3:d"}},
      {"quoted CRLF", "\"a\r\nb\",c\r\nd\r\n", {"1:a\\r\\nb|c", "3:d"}},
      {"quoted lone CR", "\"a\rb\",c\nd\n", {"1:a\\rb|c", "3:d"}},
      {"quoted blank lines kept", "\"\n\n\"\nx\n", {"1:\\n\\n", "4:x"}},
      {"quotes after unescape then more text", "\"a\"\"\",\"\"\"b\"\n", {"1:a\"|\"b"}},
      {"spaces are data", " a , b \n", {"1: a | b "}},
      {"NUL byte is data", std::string("a\0b,c\n", 6), {std::string("1:a\0b|c", 7)}},
      {"UTF-8 split by chunks", "名字,金額\n陳小明,100\n", {"1:名字|金額", "2:陳小明|100"}},
      {"BOM stripped",
       "\xEF\xBB\xBF"
       "a,b\n",
       {"1:a|b"}},
      {"BOM before a quoted field", "\xEF\xBB\xBF\"a\",b\n", {"1:a|b"}},
      {"BOM only", "\xEF\xBB\xBF", {}},
      {"BOM only at the start",
       "a\n\xEF\xBB\xBF"
       "b\n",
       {"1:a",
        "2:\xEF\xBB\xBF"
        "b"}},
  });
}

TEST(CsvReader, OtherDelimiters) {
  CsvOptions o;
  o.delimiter = ';';
  EXPECT_EQ(Transcript("a;\"b;c\";d,e\n", o), (std::vector<std::string>{"1:a|b;c|d,e"}));
  o.delimiter = '\t';
  EXPECT_EQ(Transcript("a\tb c\t\n", o), (std::vector<std::string>{"1:a|b c|"}));
}

TEST(CsvReader, ErrorsNameLineAndColumnAndRecover) {
  RunCases({
      {"stray quote", "a,b\"c,d\nx,y\n", {"!1:2 unexpected quote in unquoted field", "2:x|y"}},
      {"stray quote on a later line",
       "h1,h2\nok,ok\n1,2,3\"\n4,5\n",
       {"1:h1|h2", "2:ok|ok", "!3:3 unexpected quote in unquoted field", "4:4|5"}},
      {"text after closing quote", "\"a\"b,c\nx\n", {"!1:1 text after closing quote", "2:x"}},
      {"text after closing quote, CRLF",
       "\"a\" ,c\r\nx\r\n",
       {"!1:1 text after closing quote", "2:x"}},
      {"text after a multi-line quoted field",
       "h\n\"a\nb\"c\nnext\n",
       {"1:h", "!3:1 text after closing quote", "4:next"}},
      {"error on the last line without newline",
       "x\n\"a\"b",
       {"1:x", "!2:1 text after closing quote"}},
      {"two bad lines in a row",
       "a\"\nb\"\nc\n",
       {"!1:1 unexpected quote in unquoted field", "!2:1 unexpected quote in unquoted field",
        "3:c"}},
      {"unterminated quote is fatal",
       "a,b\nc,\"d\ne\n",
       {"1:a|b", "!!2:2 unterminated quoted field (opened at line 2, column 2)"}},
      {"unterminated quote right at the end",
       "a,\"",
       {"!!1:2 unterminated quoted field (opened at line 1, column 2)"}},
      {"line numbers count blank lines and quoted breaks",
       "\n\"x\r\ny\"\n\nz,\"\"\"\nq\n",
       {"2:x\\r\\ny", "!!5:2 unterminated quoted field (opened at line 5, column 2)"}},
      {"field too long",
       "abcde,x\nab,abcd\n",
       {"!1:1 field longer than 4 bytes", "2:ab|abcd"},
       Encoding::kAuto,
       4},
      {"quoted field too long",
       "x,\"ab\"\"cd\"\nok\n",
       {"!1:2 field longer than 4 bytes", "2:ok"},
       Encoding::kAuto,
       4},
      {"quoted field at the limit", "\"ab\"\"c\"\n", {"1:ab\"c"}, Encoding::kAuto, 4},
      {"runaway quote stops at the limit, resumes after the line where it hit it",
       "\"abc\nde\nfg\n",
       {"!1:1 field longer than 4 bytes", "3:fg"},
       Encoding::kAuto,
       4},
      {"invalid UTF-8 (explicit)",
       "a,\xff\nb\n",
       {"!1:2 invalid UTF-8 byte sequence", "2:b"},
       Encoding::kUtf8},
      {"invalid UTF-8 inside quotes",
       "\"a\nb\xc3(\",c\nd\n",
       {"!2:1 invalid UTF-8 byte sequence", "3:d"},
       Encoding::kUtf8},
      {"overlong UTF-8",
       "\xc0\xaf\nok\n",
       {"!1:1 invalid UTF-8 byte sequence", "2:ok"},
       Encoding::kUtf8},
      {"UTF-8 surrogate",
       "\xed\xa0\x80\nok\n",
       {"!1:1 invalid UTF-8 byte sequence", "2:ok"},
       Encoding::kUtf8},
      {"truncated UTF-8 at the end",
       "ok\nab\xe9\x99",
       {"1:ok", "!2:1 invalid UTF-8 byte sequence"},
       Encoding::kUtf8},
      {"invalid byte after closing quote",
       "\"a\"\xff\nok\n",
       {"!1:1 invalid UTF-8 byte sequence", "2:ok"},
       Encoding::kUtf8},
  });
}

TEST(CsvReader, Options) {
  CsvOptions o;
  o.delimiter = '"';
  auto r = CsvReader::FromString("a", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().field, "delimiter");
  o = {};
  o.chunk_bytes = 0;
  r = CsvReader::FromString("a", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "chunk_bytes");

  auto f = CsvReader::OpenFile("/nonexistent/orders.csv", CsvOptions{});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Code::kNotFound);
  EXPECT_EQ(f.error().field, "file");
  EXPECT_EQ(f.error().message,
            "file: cannot open /nonexistent/orders.csv: No such file or directory");
  f = CsvReader::OpenFile("/", CsvOptions{});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Code::kInvalidArgument);
}

TEST(CsvReader, EncodingNames) {
  struct {
    const char* name;
    std::optional<Encoding> want;
  } cases[] = {
      {"auto", Encoding::kAuto},      {"UTF-8", Encoding::kUtf8},      {"utf8", Encoding::kUtf8},
      {"Big5", Encoding::kBig5},      {"gb18030", Encoding::kGb18030}, {"GBK", Encoding::kGb18030},
      {"gb2312", Encoding::kGb18030}, {"latin1", std::nullopt},        {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseEncoding(c.name), c.want) << c.name;
  EXPECT_EQ(EncodingName(Encoding::kBig5), "big5");
  EXPECT_EQ(EncodingName(Encoding::kGb18030), "gb18030");
  EXPECT_EQ(EncodingName(Encoding::kUtf8), "utf-8");
  EXPECT_EQ(EncodingName(Encoding::kAuto), "auto");
}

}  // namespace
}  // namespace regulars::importer
