// Tests for the streaming CSV reader. Most cases are read at several chunk sizes (down to one
// byte) and must give the same transcript every time: that is how chunk boundaries inside quotes,
// CRLFs, multi-byte characters and gzip blocks are covered without special cases.

#include "importer/csv.h"

#include <gtest/gtest.h>
#include <unicode/ucnv.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
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

// ---------------------------------------------------------------------------------------------
// Encodings. Legacy bytes are produced from UTF-8 literals with ICU, so the test text is readable.

std::string Encode(const char* icu_name, std::string_view utf8) {
  UErrorCode err = U_ZERO_ERROR;
  std::vector<UChar> u16(utf8.size() + 16);
  UConverter* from = ucnv_open("utf-8", &err);
  int32_t n = ucnv_toUChars(from, u16.data(), static_cast<int32_t>(u16.size()), utf8.data(),
                            static_cast<int32_t>(utf8.size()), &err);
  ucnv_close(from);
  UConverter* to = ucnv_open(icu_name, &err);
  std::string out(utf8.size() * 2 + 16, '\0');
  int32_t m =
      ucnv_fromUChars(to, out.data(), static_cast<int32_t>(out.size()), u16.data(), n, &err);
  ucnv_close(to);
  EXPECT_TRUE(U_SUCCESS(err)) << u_errorName(err) << " encoding to " << icu_name;
  out.resize(m);
  return out;
}

std::string Big5(std::string_view utf8) { return Encode("windows-950-2000", utf8); }
std::string Gb18030(std::string_view utf8) { return Encode("gb18030", utf8); }

// Everyday sentences in Traditional and Simplified Chinese, as a POS or web-store export would
// hold them in names, addresses and notes.
const char kTraditional[] =
    "訂單編號,姓名,地址,備註\n"
    "1001,陳小明,台北市信義區松仁路100號,今天天氣很好，我們一起去公園散步。\n"
    "1002,林美華,新北市板橋區文化路一段,請在下午三點以後送達，謝謝您的幫忙。\n"
    "1003,王大同,高雄市前鎮區中華五路,會員生日當月消費享有九折優惠，歡迎再次光臨。\n";
const char kSimplified[] =
    "订单编号,姓名,地址,备注\n"
    "1001,陈小明,北京市朝阳区建国路88号,今天天气很好，我们一起去公园散步。\n"
    "1002,林美华,上海市浦东新区世纪大道,请在下午三点以后送达，谢谢您的帮忙。\n"
    "1003,王大同,广州市天河区体育西路,会员生日当月消费享有九折优惠，欢迎再次光临。\n";

// The transcript of UTF-8 text, for comparing a decoded legacy file with it.
std::vector<std::string> Utf8Transcript(std::string_view utf8) {
  CsvOptions o;
  o.encoding = Encoding::kUtf8;
  return Transcript(std::string(utf8), o);
}

TEST(CsvReader, ExplicitLegacyEncodingsAtEveryChunkSize) {
  struct {
    const char* name;
    std::string bytes;
    Encoding encoding;
    std::string_view utf8;
  } cases[] = {
      {"Traditional as Big5", Big5(kTraditional), Encoding::kBig5, kTraditional},
      {"Simplified as GB18030", Gb18030(kSimplified), Encoding::kGb18030, kSimplified},
      {"Traditional as GB18030", Gb18030(kTraditional), Encoding::kGb18030, kTraditional},
      // Four-byte GB18030 sequences: an emoji and a rare CJK Extension B character.
      {"GB18030 four-byte sequences", Gb18030("a,😀𠀀\n"), Encoding::kGb18030, "a,😀𠀀\n"},
  };
  for (const auto& c : cases) {
    ASSERT_NE(c.bytes, std::string(c.utf8)) << c.name;
    for (size_t chunk : kChunkSizes) {
      CsvOptions o;
      o.encoding = c.encoding;
      o.chunk_bytes = chunk;
      EXPECT_EQ(Transcript(c.bytes, o), Utf8Transcript(c.utf8)) << c.name << " chunk " << chunk;
    }
  }
}

TEST(CsvReader, InvalidLegacyBytes) {
  RunCases({
      // 0x81 is a Big5 lead byte; a space cannot follow it.
      {"bad Big5 pair",
       "a,\x81 b\nc\n",
       {"!1:2 invalid big5 byte sequence", "2:c"},
       Encoding::kBig5},
      {"bad Big5 pair in quotes",
       "x\n\"a\nb\x81\"\",c\nd\n",
       {"1:x", "!3:1 invalid big5 byte sequence", "4:d"},
       Encoding::kBig5},
      {"Big5 lead byte cut by the end of the input",
       "ok\na,\xA4",
       {"1:ok", "!2:2 invalid big5 byte sequence"},
       Encoding::kBig5},
      {"bad GB18030 byte",
       "a,\x80\nc\n",
       {"!1:2 invalid gb18030 byte sequence", "2:c"},
       Encoding::kGb18030},
      {"bad GB18030 four-byte sequence",
       "\x81\x30\x20\nc\n",
       {"!1:1 invalid gb18030 byte sequence", "2:c"},
       Encoding::kGb18030},
  });
  // The valid text around a bad sequence decodes normally.
  CsvOptions o;
  o.encoding = Encoding::kBig5;
  EXPECT_EQ(Transcript(Big5("陳,1\n") + "\x81\n" + Big5("林,2\n"), o),
            (std::vector<std::string>{"1:陳|1", "!2:1 invalid big5 byte sequence", "3:林|2"}));
}

TEST(CsvReader, GbkAndGb2312NamesReadAsGb18030) {
  for (const char* name : {"gbk", "GB2312", "gb18030"}) {
    CsvOptions o;
    o.encoding = *ParseEncoding(name);
    EXPECT_EQ(Transcript(Encode("GBK", kSimplified), o), Utf8Transcript(kSimplified)) << name;
  }
}

TEST(CsvReader, DetectsTheEncoding) {
  struct {
    const char* name;
    std::string bytes;
    Encoding want;
    std::string_view utf8;
  } cases[] = {
      {"UTF-8", kTraditional, Encoding::kUtf8, kTraditional},
      {"UTF-8 with BOM", std::string("\xEF\xBB\xBF") + kSimplified, Encoding::kUtf8, kSimplified},
      {"Big5 Traditional", Big5(kTraditional), Encoding::kBig5, kTraditional},
      {"GB18030 Simplified", Gb18030(kSimplified), Encoding::kGb18030, kSimplified},
      {"GB18030 Traditional", Gb18030(kTraditional), Encoding::kGb18030, kTraditional},
      {"Big5 names only", Big5("姓名,電話\n陳美玲,0912345678\n張志豪,0987654321\n"),
       Encoding::kBig5, "姓名,電話\n陳美玲,0912345678\n張志豪,0987654321\n"},
      {"GB18030 names only", Gb18030("姓名,电话\n陈美玲,13912345678\n张志豪,13887654321\n"),
       Encoding::kGb18030, "姓名,电话\n陈美玲,13912345678\n张志豪,13887654321\n"},
      {"Big5 product line", Big5("品名,數量\n珍珠奶茶(大杯),2\n雞排便當,1\n"), Encoding::kBig5,
       "品名,數量\n珍珠奶茶(大杯),2\n雞排便當,1\n"},
      {"GB18030 product line", Gb18030("品名,数量\n珍珠奶茶(大杯),2\n鸡排便当,1\n"),
       Encoding::kGb18030, "品名,数量\n珍珠奶茶(大杯),2\n鸡排便当,1\n"},
  };
  for (const auto& c : cases) {
    auto reader = CsvReader::FromString(c.bytes, CsvOptions{});
    ASSERT_TRUE(reader) << c.name;
    EXPECT_EQ((*reader)->encoding(), c.want) << c.name;
    EXPECT_EQ(Transcript(c.bytes, CsvOptions{}), Utf8Transcript(c.utf8)) << c.name;
  }
}

TEST(CsvReader, DetectionWaitsForTheFirstNonAsciiChunk) {
  // 4 KiB of ASCII orders, then Big5: the first chunk says nothing about the encoding.
  std::string ascii = "id,name\n";
  while (ascii.size() < 4096) ascii += "1,customer\n";
  std::string tail = "2,陳小明，台北市信義區松仁路一百號\n3,林美華，新北市板橋區文化路一段\n";
  CsvOptions o;
  o.chunk_bytes = 4096;
  auto reader = CsvReader::FromString(ascii + Big5(tail), o);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->encoding(), Encoding::kUtf8);  // pure ASCII so far
  std::vector<std::string_view> fields;
  std::string last;
  for (;;) {
    auto r = (*reader)->Next(fields);
    ASSERT_TRUE(r) << r.error().message;
    if (!*r) break;
    last = std::string(fields[1]);
  }
  EXPECT_EQ((*reader)->encoding(), Encoding::kBig5);
  EXPECT_EQ(last, "林美華，新北市板橋區文化路一段");
}

TEST(CsvReader, PureAsciiIsUtf8) {
  auto reader = CsvReader::FromString("a,b\n", CsvOptions{});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->encoding(), Encoding::kUtf8);
}

bool WriteFile(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  return std::fclose(f) == 0 && ok;
}

// ---------------------------------------------------------------------------------------------
// gzip.

std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Orders(int n) {
  std::string s = "order,customer,amount\n";
  for (int i = 1; i <= n; ++i) {
    s += std::to_string(i) + ",\"Customer " + std::to_string(i % 97) + ", Taipei\"," +
         std::to_string(i * 7 % 1000) + ".50\r\n";
  }
  return s;
}

TEST(CsvReader, GzipAtEveryChunkSize) {
  const std::string plain = Orders(300);
  const std::vector<std::string> want = Transcript(plain, CsvOptions{});
  ASSERT_EQ(want.size(), 301u);
  EXPECT_EQ(want[1], "2:1|Customer 1, Taipei|7.50");
  const std::string gz = Gzip(plain);
  ASSERT_LT(gz.size(), plain.size());
  for (size_t chunk : kChunkSizes) {
    CsvOptions o;
    o.chunk_bytes = chunk;
    EXPECT_EQ(Transcript(gz, o), want) << "chunk " << chunk;
  }
  // Two members one after the other (`cat a.gz b.gz`) read as one file.
  EXPECT_EQ(Transcript(Gzip("a,b\n") + Gzip("c,d\n"), CsvOptions{}),
            (std::vector<std::string>{"1:a|b", "2:c|d"}));
  // Big5 inside gzip is detected too.
  auto reader = CsvReader::FromString(Gzip(Big5(kTraditional)), CsvOptions{});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->encoding(), Encoding::kBig5);
  EXPECT_EQ(Transcript(Gzip(Big5(kTraditional)), CsvOptions{}), Utf8Transcript(kTraditional));
}

TEST(CsvReader, TruncatedGzipKeepsTheRecordsBeforeTheCut) {
  const std::string plain = Orders(2000);
  const std::vector<std::string> all = Transcript(plain, CsvOptions{});
  const std::string gz = Gzip(plain);
  for (size_t chunk : kChunkSizes) {
    CsvOptions o;
    o.chunk_bytes = chunk;
    std::vector<std::string> got = Transcript(gz.substr(0, gz.size() / 2), o);
    ASSERT_GE(got.size(), 2u) << "chunk " << chunk;
    const std::string& last = got.back();
    EXPECT_TRUE(last.starts_with("!!") && last.ends_with(":0 truncated gzip stream")) << last;
    got.pop_back();
    EXPECT_GT(got.size(), 100u) << "chunk " << chunk;
    EXPECT_LT(got.size(), all.size()) << "chunk " << chunk;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), all.begin())) << "chunk " << chunk;
  }
  // The cut right after the header: nothing but the error.
  EXPECT_EQ(Transcript(gz.substr(0, 10), CsvOptions{}),
            (std::vector<std::string>{"!!1:0 truncated gzip stream"}));
}

TEST(CsvReader, BrokenGzip) {
  std::string gz = Gzip(Orders(10));
  std::string bad_method = gz;
  bad_method[2] = 7;  // compression method other than deflate
  EXPECT_EQ(Transcript(bad_method, CsvOptions{}),
            (std::vector<std::string>{"!!1:0 not a gzip stream: unknown compression method"}));
  std::string bad_block = gz.substr(0, 10) + "\xff\xff\xff\xff" + gz.substr(14);
  EXPECT_EQ(Transcript(bad_block, CsvOptions{}),
            (std::vector<std::string>{"!!1:0 not a gzip stream: invalid block type"}));
  // Only the two magic bytes.
  EXPECT_EQ(Transcript("\x1f\x8b", CsvOptions{}),
            (std::vector<std::string>{"!!1:0 truncated gzip stream"}));
}

// ---------------------------------------------------------------------------------------------
// Size limits and progress.

TEST(CsvReader, HugeFields) {
  const size_t limit = 1 << 20;
  std::string at_limit(limit, 'x');
  std::string over(limit + 1, 'y');
  std::string quoted_at_limit = "\"" + std::string(limit - 2, 'q') + "\"\"\"\"\"";  // ends in ""
  std::string input = "a," + at_limit + "\n" + over + ",b\n" + quoted_at_limit + "\nlast\n";
  auto reader = CsvReader::FromString(input, CsvOptions{});
  ASSERT_TRUE(reader);
  std::vector<std::string_view> f;
  auto r = (*reader)->Next(f);
  ASSERT_TRUE(r && *r);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].size(), limit);
  r = (*reader)->Next(f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "field longer than 1048576 bytes");
  EXPECT_EQ(r.error().line, 2);
  EXPECT_EQ(r.error().column, 1);
  EXPECT_FALSE(r.error().fatal);
  r = (*reader)->Next(f);
  ASSERT_TRUE(r && *r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].size(), limit);
  EXPECT_EQ(f[0].substr(limit - 2), "\"\"");
  r = (*reader)->Next(f);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(f, (std::vector<std::string_view>{"last"}));
  EXPECT_EQ((*reader)->record_line(), 4);
}

TEST(CsvReader, RunawayQuoteIsCutAtTheLimit) {
  // An opening quote that is never closed would swallow the file; it stops at max_field_bytes.
  std::string input = "a,\"oops\n";
  for (int i = 0; i < 1000; ++i) input += "1,2,3\n";
  CsvOptions o;
  o.max_field_bytes = 64;
  std::vector<std::string> got = Transcript(input, o);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], "!1:2 field longer than 64 bytes");
  // The quoted text passes 64 bytes on line 12 ("oops\n" and 6 bytes a line); reading resumes
  // on line 13, and lines 13 to 1001 are records again.
  ASSERT_EQ(got.size(), 1u + 989u);
  EXPECT_EQ(got[1], "13:1|2|3");
  EXPECT_EQ(got.back(), "1001:1|2|3");
}

TEST(CsvReader, ProgressCounters) {
  std::string plain = Orders(1000);
  CsvOptions o;
  o.chunk_bytes = 4096;
  auto reader = CsvReader::FromString(plain, o);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->total_bytes(), static_cast<int64_t>(plain.size()));
  EXPECT_EQ((*reader)->bytes_consumed(), 4096);  // the first chunk, read to settle the encoding
  std::vector<std::string_view> f;
  while (true) {
    auto r = (*reader)->Next(f);
    ASSERT_TRUE(r);
    if (!*r) break;
  }
  EXPECT_EQ((*reader)->bytes_consumed(), static_cast<int64_t>(plain.size()));
  EXPECT_EQ((*reader)->record_line(), 1001);
}

TEST(CsvReader, OpenFileReadsPlainAndGzipFiles) {
  const std::string dir = ::testing::TempDir();
  const std::string plain_path = dir + "/csv_test_orders.csv";
  const std::string gz_path = dir + "/csv_test_orders.csv.gz";
  std::string plain = Orders(50);
  std::string gz = Gzip(plain);
  ASSERT_TRUE(WriteFile(plain_path, plain));
  ASSERT_TRUE(WriteFile(gz_path, gz));
  for (const std::string& path : {plain_path, gz_path}) {
    auto reader = CsvReader::OpenFile(path, CsvOptions{});
    ASSERT_TRUE(reader) << path;
    EXPECT_EQ((*reader)->total_bytes(),
              static_cast<int64_t>(path == gz_path ? gz.size() : plain.size()));
    std::vector<std::string_view> f;
    int records = 0;
    while (true) {
      auto r = (*reader)->Next(f);
      ASSERT_TRUE(r) << path;
      if (!*r) break;
      ++records;
    }
    EXPECT_EQ(records, 51) << path;
  }
  std::filesystem::remove(plain_path);
  std::filesystem::remove(gz_path);
}

TEST(CsvReader, DashIsStandardInput) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string data = Gzip("a,b\n\"c\",d\n");
  ASSERT_EQ(::write(pipe_fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(pipe_fds[1]);
  int saved_stdin = ::dup(0);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(::dup2(pipe_fds[0], 0), 0);
  ::close(pipe_fds[0]);
  std::vector<std::string> got;
  {
    auto reader = CsvReader::OpenFile("-", CsvOptions{});
    ASSERT_TRUE(reader);
    EXPECT_EQ((*reader)->total_bytes(), 0);  // a pipe has no size
    std::vector<std::string_view> f;
    while (true) {
      auto r = (*reader)->Next(f);
      ASSERT_TRUE(r);
      if (!*r) break;
      got.push_back(std::string(f[0]) + "|" + std::string(f[1]));
    }
    EXPECT_EQ((*reader)->bytes_consumed(), static_cast<int64_t>(data.size()));
  }
  ASSERT_EQ(::dup2(saved_stdin, 0), 0);
  ::close(saved_stdin);
  EXPECT_EQ(got, (std::vector<std::string>{"a|b", "c|d"}));
}

TEST(CsvReader, Utf16IsRefusedWithAHint) {
  const std::string le(
      "\xFF\xFE"
      "a\0,\0b\0\n\0",
      10);
  const std::string be(
      "\xFE\xFF"
      "\0a\0,\0b\0\n",
      10);
  const std::vector<std::string> want = {
      "!!1:0 UTF-16 text is not supported (save the file as CSV UTF-8)"};
  for (size_t chunk : kChunkSizes) {
    CsvOptions o;
    o.chunk_bytes = chunk;
    EXPECT_EQ(Transcript(le, o), want) << "LE, chunk " << chunk;
    EXPECT_EQ(Transcript(be, o), want) << "BE, chunk " << chunk;
  }
  EXPECT_EQ(Transcript(Gzip(le), CsvOptions{}), want);
}

// The merchants' reference file: the UCI "Online Retail" export, 541,909 order lines, gzip.
TEST(CsvReader, OnlineRetailExport) {
  const std::string path =
      std::string(REGULARS_SHARED_DATA) + "/online-retail/online_retail.csv.gz";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << path << " is absent (it comes with ../shared/data)";
  }
  auto reader = CsvReader::OpenFile(path, CsvOptions{});
  ASSERT_TRUE(reader) << reader.error().ToString();
  std::vector<std::string_view> f;
  auto r = (*reader)->Next(f);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(f,
            (std::vector<std::string_view>{"InvoiceNo", "StockCode", "Description", "Quantity",
                                           "InvoiceDate", "UnitPrice", "CustomerID", "Country"}));
  int64_t lines = 0, errors = 0, wrong_width = 0;
  while (true) {
    r = (*reader)->Next(f);
    if (!r) {
      ++errors;
      ADD_FAILURE() << "line " << r.error().line << ": " << r.error().message;
      if (r.error().fatal || errors > 10) break;
      continue;
    }
    if (!*r) break;
    ++lines;
    if (f.size() != 8) ++wrong_width;
  }
  EXPECT_EQ(lines, 541909);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(wrong_width, 0);
  EXPECT_EQ((*reader)->encoding(), Encoding::kUtf8);
  EXPECT_EQ((*reader)->bytes_consumed(), (*reader)->total_bytes());
}

}  // namespace
}  // namespace regulars::importer
