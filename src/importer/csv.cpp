#include "importer/csv.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace regulars::importer {
namespace {

// How the reader works, bottom up:
// 1. Raw bytes come from a file descriptor or a string, chunk_bytes at a time.
// 2. If the first two bytes are gzip's magic (1f 8b), zlib inflates them (members concatenated
//    by `cat a.gz b.gz` are read one after the other).
// 3. The bytes are decoded to UTF-8 and appended to `text_`. UTF-8 input is validated in place;
//    Big5 and GB18030 go through ICU (ucnv keeps a character cut by a chunk boundary in its state;
//    the UTF-8 path keeps such a tail aside until the next chunk). A byte sequence invalid in
//    the encoding becomes the byte 0xFF, which valid UTF-8 never contains, so the parser reports
//    it at its line and field without the decoder knowing about lines.
// 4. The parser is a resumable state machine over `text_`: when it reaches the end of the decoded
//    text mid-record, it keeps its state, the buffer is compacted to the start of the record and
//    refilled, and parsing resumes where it stopped. Fields are (offset, size) pairs while a
//    record is built (compaction moves the bytes) and become string_views when it is complete.
//    Quoted fields are unescaped in place ("" → ") behind the read position.

constexpr unsigned char kInvalidMark = 0xFF;

// ---------------------------------------------------------------------------------------------
// UTF-8 validation.

// Length of the valid UTF-8 prefix of [s, s+n); `*cut` is set to the length of a valid but
// incomplete sequence at the very end (0 when there is none), which is not counted as invalid.
size_t Utf8ValidPrefix(const unsigned char* s, size_t n, size_t* cut) {
  *cut = 0;
  size_t i = 0;
  while (i < n) {
    // ASCII runs, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    for (size_t k = 1; k < len; ++k) {
      if (i + k >= n) {
        *cut = n - i;
        return i;
      }
      unsigned char cc = s[i + k];
      if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF)) return i;
    }
    i += len;
  }
  return n;
}

bool LooksLikeUtf8(const unsigned char* s, size_t n) {
  size_t cut;
  return Utf8ValidPrefix(s, n, &cut) + cut == n;
}

// Replaces every byte that does not belong to a valid sequence with kInvalidMark, in place.
// Returns the length of an incomplete sequence at the end, left as it is (0 when `final`: then it
// is marked invalid too).
size_t MarkInvalidUtf8(unsigned char* s, size_t n, bool final) {
  size_t i = 0;
  for (;;) {
    size_t cut;
    i += Utf8ValidPrefix(s + i, n - i, &cut);
    if (cut) {
      if (!final) return cut;
      std::memset(s + i, kInvalidMark, cut);
      return 0;
    }
    if (i == n) return 0;
    s[i++] = kInvalidMark;
  }
}

// Appends UTF-16 code units as UTF-8. `pending_lead` carries a lead surrogate cut off at the end
// of one batch into the next. An unpaired surrogate (ICU never produces one) becomes kInvalidMark.
void AppendUtf16AsUtf8(const UChar* u, size_t n, char16_t* pending_lead, std::string* out) {
  size_t old = out->size();
  out->resize(old + 3 * n + 4);
  char* o = out->data() + old;
  auto put = [&o](uint32_t cp) {
    if (cp < 0x80) {
      *o++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *o++ = static_cast<char>(0xC0 | (cp >> 6));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = static_cast<char>(0xE0 | (cp >> 12));
      *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *o++ = static_cast<char>(0xF0 | (cp >> 18));
      *o++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  for (size_t i = 0; i < n; ++i) {
    char16_t c = u[i];
    if (*pending_lead) {
      char16_t lead = *pending_lead;
      *pending_lead = 0;
      if (c >= 0xDC00 && c <= 0xDFFF) {
        put(0x10000 + ((uint32_t(lead) - 0xD800) << 10) + (c - 0xDC00));
        continue;
      }
      *o++ = static_cast<char>(kInvalidMark);
    }
    if (c < 0x80) {
      *o++ = static_cast<char>(c);
    } else if (c >= 0xD800 && c <= 0xDBFF) {
      *pending_lead = c;
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      *o++ = static_cast<char>(kInvalidMark);
    } else {
      put(c);
    }
  }
  out->resize(o - out->data());
}

// ---------------------------------------------------------------------------------------------
// ICU converters.

const char* IcuName(Encoding e) {
  switch (e) {
    case Encoding::kBig5:
      // Microsoft's code page 950, the Big5 that Excel and Windows POS software write (Big5 plus
      // the ETEN extensions and the euro sign).
      return "windows-950-2000";
    case Encoding::kGb18030:
      return "gb18030";
    default:
      return nullptr;
  }
}

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using ConverterPtr = std::unique_ptr<UConverter, ConverterCloser>;

// A converter that stops at every invalid or unmappable sequence instead of substituting, so
// the caller can mark it.
ConverterPtr OpenConverter(Encoding e) {
  UErrorCode err = U_ZERO_ERROR;
  ConverterPtr c(ucnv_open(IcuName(e), &err));
  if (U_FAILURE(err) || !c) return nullptr;
  ucnv_setToUCallBack(c.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
  if (U_FAILURE(err)) return nullptr;
  return c;
}

// Decodes [src, src+n) with `cnv`, appending UTF-8 to `out` (kInvalidMark for each invalid
// sequence). Returns the number of invalid sequences. `u16` is scratch space.
size_t DecodeWithIcu(UConverter* cnv, const char* src, size_t n, bool flush,
                     std::vector<UChar>* u16, char16_t* pending_lead, std::string* out) {
  size_t invalid = 0;
  const char* s = src;
  const char* e = src + n;
  int stalls = 0;
  for (;;) {
    UChar* t = u16->data();
    UErrorCode err = U_ZERO_ERROR;
    const char* before = s;
    ucnv_toUnicode(cnv, &t, u16->data() + u16->size(), &s, e, nullptr, flush, &err);
    AppendUtf16AsUtf8(u16->data(), t - u16->data(), pending_lead, out);
    if (err == U_BUFFER_OVERFLOW_ERROR) continue;
    if (U_FAILURE(err)) {
      // With the STOP callback ICU has consumed the bad sequence; conversion goes on after it.
      out->push_back(static_cast<char>(kInvalidMark));
      ++invalid;
      // Guard against a converter that reports the same failure without making progress.
      stalls = (s == before && t == u16->data()) ? stalls + 1 : 0;
      if (stalls > 2) break;
      continue;
    }
    break;
  }
  if (flush && *pending_lead) {
    *pending_lead = 0;
    out->push_back(static_cast<char>(kInvalidMark));
    ++invalid;
  }
  return invalid;
}

// ---------------------------------------------------------------------------------------------
// Encoding detection.
//
// The heuristic, for a first chunk that is not valid UTF-8: decode it as Big5 and as GB18030 and
// score each decoding as
//     (common - 3 * invalid) / (non-ASCII characters + invalid)
// where `common` counts characters in a set of everyday Chinese characters: the 5,401 frequent
// hanzi of Big5 (A440-C67E, Traditional), the 3,755 level-1 hanzi of GB2312 (B0A1-D7F9,
// Simplified) and the CJK and full-width punctuation blocks. The set holds both scripts, so a
// Traditional text saved as GB18030 still scores as GB18030. The higher score wins; a tie goes to
// GB18030. Why it works: Big5 bytes read as GB18030 rarely fail (GB18030 accepts almost any
// byte pair), but about half of Big5's trail bytes (40-7E) land in GBK's extension areas of rare
// characters and its symbol rows land on kana and box drawing, so the share of common characters
// collapses; GB bytes read as Big5 hit Big5's unassigned rows (C6A1-C8FE), its second level of
// rarer characters and, for GBK trail bytes 80-A0, outright invalid sequences.

class CommonChars {
 public:
  static const CommonChars& Get() {
    static const CommonChars chars;
    return chars;
  }
  bool Has(uint32_t cp) const { return cp < 0x10000 && bits_[cp]; }

 private:
  CommonChars() {
    for (uint32_t cp = 0x3000; cp <= 0x303F; ++cp) bits_[cp] = true;  // CJK punctuation
    for (uint32_t cp = 0xFF01; cp <= 0xFF5E; ++cp) bits_[cp] = true;  // full-width forms
    std::string big5;
    for (int lead = 0xA4; lead <= 0xC6; ++lead) {
      for (int trail = 0x40; trail <= 0xFE; ++trail) {
        if (trail > 0x7E && trail < 0xA1) continue;
        if (lead == 0xC6 && trail > 0x7E) break;
        big5 += static_cast<char>(lead);
        big5 += static_cast<char>(trail);
      }
    }
    std::string gb;
    for (int lead = 0xB0; lead <= 0xD7; ++lead) {
      for (int trail = 0xA1; trail <= 0xFE; ++trail) {
        if (lead == 0xD7 && trail > 0xF9) break;
        gb += static_cast<char>(lead);
        gb += static_cast<char>(trail);
      }
    }
    Add(Encoding::kBig5, big5);
    Add(Encoding::kGb18030, gb);
  }
  void Add(Encoding e, const std::string& pairs) {
    ConverterPtr cnv = OpenConverter(e);
    if (!cnv) return;
    std::vector<UChar> u16(pairs.size() + 16);
    UChar* t = u16.data();
    const char* s = pairs.data();
    // Each pair is decoded on its own so an unassigned one cannot swallow its neighbour.
    for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
      UErrorCode err = U_ZERO_ERROR;
      ucnv_reset(cnv.get());
      UChar* before = t;
      s = pairs.data() + i;
      ucnv_toUnicode(cnv.get(), &t, u16.data() + u16.size(), &s, pairs.data() + i + 2, nullptr,
                     true, &err);
      if (U_FAILURE(err) || t - before != 1) {
        t = before;
        continue;
      }
      bits_[*before] = true;
    }
  }
  std::bitset<0x10000> bits_;
};

double LegacyScore(Encoding e, const char* s, size_t n) {
  ConverterPtr cnv = OpenConverter(e);
  if (!cnv) return -1e9;
  std::vector<UChar> u16(n + 16);
  size_t invalid = 0, other = 0, common = 0;
  const CommonChars& chars = CommonChars::Get();
  const char* src = s;
  const char* end = s + n;
  int stalls = 0;
  for (;;) {
    UChar* t = u16.data();
    UErrorCode err = U_ZERO_ERROR;
    const char* before = src;
    // flush=false: a character cut at the end of the chunk is not held against the encoding.
    ucnv_toUnicode(cnv.get(), &t, u16.data() + u16.size(), &src, end, nullptr, false, &err);
    for (UChar* q = u16.data(); q < t; ++q) {
      if (*q < 0x80) continue;
      if (U16_IS_TRAIL(*q)) continue;  // counted with its lead
      if (chars.Has(*q)) {
        ++common;
      } else {
        ++other;
      }
    }
    if (err == U_BUFFER_OVERFLOW_ERROR) continue;
    if (U_FAILURE(err)) {
      ++invalid;
      stalls = (src == before) ? stalls + 1 : 0;
      if (stalls > 2) break;
      continue;
    }
    break;
  }
  double total = static_cast<double>(common + other + invalid);
  if (total == 0) return 0;
  return (static_cast<double>(common) - 3.0 * static_cast<double>(invalid)) / total;
}

Encoding DetectEncoding(const char* s, size_t n) {
  if (LooksLikeUtf8(reinterpret_cast<const unsigned char*>(s), n)) return Encoding::kUtf8;
  double big5 = LegacyScore(Encoding::kBig5, s, n);
  double gb = LegacyScore(Encoding::kGb18030, s, n);
  return big5 > gb ? Encoding::kBig5 : Encoding::kGb18030;
}

bool HasNonAscii(const char* s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ull) return true;
  }
  for (; i < n; ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Byte sources.

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `cap` bytes into `out`; 0 at the end. An error is a message for the user.
  virtual std::expected<size_t, std::string> Read(char* out, size_t cap) = 0;
};

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdSource() override {
    if (owned_) ::close(fd_);
  }
  std::expected<size_t, std::string> Read(char* out, size_t cap) override {
    for (;;) {
      ssize_t r = ::read(fd_, out, cap);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      return std::unexpected(std::string("read failed: ") + std::strerror(errno));
    }
  }

 private:
  int fd_;
  bool owned_;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  std::expected<size_t, std::string> Read(char* out, size_t cap) override {
    size_t n = std::min(cap, data_.size() - pos_);
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The reader.

// Byte classes for the parser.
enum : unsigned char { kPlain = 0, kDelim, kQuote, kCr, kLf, kBad };

class Reader final : public CsvReader {
 public:
  Reader(std::unique_ptr<ByteSource> source, const CsvOptions& options, int64_t total)
      : source_(std::move(source)), options_(options), total_bytes_(total) {
    cls_.fill(kPlain);
    cls_[static_cast<unsigned char>(options_.delimiter)] = kDelim;
    cls_['"'] = kQuote;
    cls_['\r'] = kCr;
    cls_['\n'] = kLf;
    cls_[kInvalidMark] = kBad;
    quoted_cls_.fill(kPlain);
    quoted_cls_['"'] = kQuote;
    quoted_cls_['\r'] = kCr;
    quoted_cls_['\n'] = kLf;
    quoted_cls_[kInvalidMark] = kBad;
    // A small input needs no 1 MiB buffer (the size is known for strings and regular files).
    read_bytes_ = options_.chunk_bytes;
    if (total > 0) read_bytes_ = std::min<size_t>(read_bytes_, static_cast<size_t>(total) + 1);
    raw_.resize(std::max<size_t>(read_bytes_, 2));
    encoding_ = options_.encoding;
  }
  ~Reader() override {
    if (zs_open_) inflateEnd(&zs_);
  }

  // Reads and decodes the first chunk so encoding() is known; a failure is kept for Next().
  void Prime() {
    auto st = Fill();
    if (!st) pending_error_ = std::move(st.error());
  }

  std::expected<bool, CsvError> Next(std::vector<std::string_view>& fields) override {
    fields.clear();
    if (pending_error_) {
      done_ = true;
      CsvError e = std::move(*pending_error_);
      pending_error_.reset();
      return std::unexpected(std::move(e));
    }
    if (done_) return false;
    for (;;) {
      switch (Parse()) {
        case Outcome::kRecord:
          fields.reserve(spans_.size());
          for (const Span& s : spans_) fields.emplace_back(text_.data() + s.begin, s.size);
          record_line_ = start_line_;
          return true;
        case Outcome::kEnd:
          done_ = true;
          return false;
        case Outcome::kError:
          if (error_.fatal) done_ = true;
          return std::unexpected(std::move(error_));
        case Outcome::kNeedMore: {
          auto st = Fill();
          if (!st) {
            done_ = true;
            return std::unexpected(std::move(st.error()));
          }
          break;
        }
      }
    }
  }

  int64_t record_line() const override { return record_line_; }
  int64_t bytes_consumed() const override { return bytes_consumed_; }
  int64_t total_bytes() const override { return total_bytes_; }
  Encoding encoding() const override {
    return encoding_ == Encoding::kAuto ? Encoding::kUtf8 : encoding_;
  }

 private:
  enum class Outcome { kRecord, kEnd, kError, kNeedMore };
  enum class State { kRecordStart, kFieldStart, kUnquoted, kQuoted, kQuoteSeen, kSkipLine };
  struct Span {
    size_t begin;
    size_t size;
  };

  // --- input -----------------------------------------------------------------------------------

  // Reads up to chunk_bytes of raw bytes; sets raw_eof_ at the end.
  std::expected<size_t, std::string> ReadRaw(char* out, size_t cap) {
    auto r = source_->Read(out, cap);
    if (!r) return r;
    if (*r == 0) raw_eof_ = true;
    bytes_consumed_ += static_cast<int64_t>(*r);
    return r;
  }

  // Produces the next chunk of decompressed bytes into plain_ (empty at the end).
  std::expected<void, std::string> ReadPlain() {
    plain_.clear();
    if (!sniffed_) {
      sniffed_ = true;
      // Two bytes decide gzip; with a tiny chunk size keep reading until they are there.
      size_t have = 0;
      while (have < 2 && !raw_eof_) {
        auto r = ReadRaw(raw_.data() + have, raw_.size() - have);
        if (!r) return std::unexpected(r.error());
        have += *r;
      }
      gzip_ = have >= 2 && static_cast<unsigned char>(raw_[0]) == 0x1F &&
              static_cast<unsigned char>(raw_[1]) == 0x8B;
      if (!gzip_) {
        plain_.assign(raw_.data(), have);
        return {};
      }
      std::memset(&zs_, 0, sizeof zs_);
      if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
        return std::unexpected(std::string("not a gzip stream: cannot initialise zlib"));
      }
      zs_open_ = true;
      zs_.next_in = reinterpret_cast<Bytef*>(raw_.data());
      zs_.avail_in = static_cast<uInt>(have);
    }
    if (!gzip_) {
      if (raw_eof_) return {};
      auto r = ReadRaw(raw_.data(), read_bytes_);
      if (!r) return std::unexpected(r.error());
      plain_.assign(raw_.data(), *r);
      return {};
    }
    return Inflate();
  }

  // Inflates up to chunk_bytes. An error after some output is held back until that output has
  // been parsed, so the records before a truncation are still read.
  std::expected<void, std::string> Inflate() {
    if (deferred_error_) {
      std::string e = std::move(*deferred_error_);
      deferred_error_.reset();
      return std::unexpected(std::move(e));
    }
    plain_.resize(options_.chunk_bytes);
    size_t produced = 0;
    auto fail = [&](std::string why) -> std::expected<void, std::string> {
      if (produced == 0) return std::unexpected(std::move(why));
      deferred_error_ = std::move(why);
      plain_.resize(produced);
      return {};
    };
    while (produced < plain_.size() && !gzip_done_) {
      if (zs_.avail_in == 0) {
        if (raw_eof_) {
          if (member_started_) return fail("truncated gzip stream");
          gzip_done_ = true;  // the previous member ended exactly at the end of the input
          break;
        }
        auto r = ReadRaw(raw_.data(), read_bytes_);
        if (!r) return fail(r.error());
        zs_.next_in = reinterpret_cast<Bytef*>(raw_.data());
        zs_.avail_in = static_cast<uInt>(*r);
        continue;
      }
      member_started_ = true;
      zs_.next_out = reinterpret_cast<Bytef*>(plain_.data() + produced);
      zs_.avail_out = static_cast<uInt>(plain_.size() - produced);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced = plain_.size() - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        member_started_ = false;
        // Another member may follow (`cat a.gz b.gz`); anything else after a complete member
        // (padding from some tools) is ignored, as gzip -d does.
        if (zs_.avail_in == 0 && !raw_eof_) {
          auto r = ReadRaw(raw_.data(), read_bytes_);
          if (!r) return fail(r.error());
          zs_.next_in = reinterpret_cast<Bytef*>(raw_.data());
          zs_.avail_in = static_cast<uInt>(*r);
        }
        if (zs_.avail_in >= 1 && zs_.next_in[0] == 0x1F &&
            (zs_.avail_in < 2 || zs_.next_in[1] == 0x8B)) {
          inflateReset(&zs_);
        } else {
          gzip_done_ = true;
        }
        continue;
      }
      if (rc == Z_BUF_ERROR) continue;  // needs more input: read on the next turn
      if (rc != Z_OK) {
        std::string why = zs_.msg ? zs_.msg : "corrupt data";
        return fail("not a gzip stream: " + why);
      }
    }
    plain_.resize(produced);
    return {};
  }

  // Decodes the next chunk into text_. Sets eof_ when the input is exhausted.
  std::expected<void, CsvError> Fill() {
    // Compact: bytes before the current record are no longer needed.
    if (beg_ > 0) {
      text_.erase(0, beg_);
      pos_ -= beg_;
      field_begin_ -= beg_;
      write_ -= beg_;
      for (Span& s : spans_) s.begin -= beg_;
      beg_ = 0;
    }
    auto st = ReadPlain();
    if (!st) {
      return std::unexpected(CsvError{line_, 0, std::move(st.error()), true});
    }
    bool final = plain_.empty();
    if (!started_) {
      started_ = true;
      // Excel's "Unicode text" export is UTF-16 with a BOM; read as UTF-8 it would be a line of
      // errors followed by garbage, so say what it is.
      bool utf16 = plain_.size() >= 2 && ((plain_[0] == '\xFF' && plain_[1] == '\xFE') ||
                                          (plain_[0] == '\xFE' && plain_[1] == '\xFF'));
      if (utf16 && (encoding_ == Encoding::kAuto || encoding_ == Encoding::kUtf8)) {
        return std::unexpected(
            CsvError{1, 0, "UTF-16 text is not supported (save the file as CSV UTF-8)", true});
      }
    }
    if (encoding_ == Encoding::kAuto && !final && HasNonAscii(plain_.data(), plain_.size())) {
      encoding_ = DetectEncoding(plain_.data(), plain_.size());
    }
    if (encoding_ == Encoding::kUtf8 || encoding_ == Encoding::kAuto) {
      size_t old = text_.size();
      text_.append(utf8_cut_);
      text_.append(plain_);
      auto* p = reinterpret_cast<unsigned char*>(text_.data()) + old;
      size_t cut = MarkInvalidUtf8(p, text_.size() - old, final);
      utf8_cut_.assign(text_.data() + text_.size() - cut, cut);
      text_.resize(text_.size() - cut);
    } else {
      if (!cnv_) {
        cnv_ = OpenConverter(encoding_);
        if (!cnv_) {
          return std::unexpected(CsvError{
              line_, 0, "cannot open the " + std::string(EncodingName(encoding_)) + " converter",
              true});
        }
      }
      if (u16_.size() < plain_.size() + 16) u16_.resize(plain_.size() + 16);
      DecodeWithIcu(cnv_.get(), plain_.data(), plain_.size(), final, &u16_, &pending_lead_, &text_);
    }
    if (!bom_checked_ && !text_.empty()) {
      bom_checked_ = true;
      if (text_.size() >= 3 && std::memcmp(text_.data(), "\xEF\xBB\xBF", 3) == 0) {
        text_.erase(0, 3);
      }
    }
    if (final) eof_ = true;
    return {};
  }

  // --- parsing ---------------------------------------------------------------------------------

  // A non-fatal error: the next call skips to the end of the physical line holding `at`.
  Outcome Reject(int64_t line, int column, std::string message, size_t at) {
    error_ = CsvError{line, column, std::move(message), false};
    spans_.clear();
    state_ = State::kSkipLine;
    pos_ = at;
    beg_ = at;
    return Outcome::kError;
  }

  std::string InvalidMessage() const {
    switch (encoding()) {
      case Encoding::kBig5:
        return "invalid big5 byte sequence";
      case Encoding::kGb18030:
        return "invalid gb18030 byte sequence";
      default:
        return "invalid UTF-8 byte sequence";
    }
  }

  std::string TooLongMessage() const {
    return "field longer than " + std::to_string(options_.max_field_bytes) + " bytes";
  }

  int column() const { return static_cast<int>(spans_.size()) + 1; }

  // Consumes the line break at i (CR, LF or CRLF). Returns false when a CR is the last byte
  // available and more input may follow (the LF could be in the next chunk).
  bool LineBreak(const unsigned char* d, size_t n, size_t* i) {
    if (d[*i] == '\r') {
      if (*i + 1 == n && !eof_) return false;
      ++*i;
      if (*i < n && d[*i] == '\n') ++*i;
    } else {
      ++*i;
    }
    ++line_;
    return true;
  }

  Outcome Parse() {
    auto* d = reinterpret_cast<unsigned char*>(text_.data());
    const size_t n = text_.size();
    const size_t max = options_.max_field_bytes;
    size_t i = pos_;
    auto need_more = [&] {
      pos_ = i;
      return Outcome::kNeedMore;
    };
    for (;;) {
      switch (state_) {
        case State::kRecordStart: {
          beg_ = i;
          if (i == n) {
            if (eof_) return Outcome::kEnd;
            return need_more();
          }
          unsigned char c = cls_[d[i]];
          if (c == kCr || c == kLf) {  // a blank line
            if (!LineBreak(d, n, &i)) return need_more();
            continue;
          }
          spans_.clear();
          start_line_ = line_;
          state_ = State::kFieldStart;
          break;
        }
        case State::kFieldStart: {
          if (i == n) {
            if (!eof_) return need_more();
            spans_.push_back({i, 0});  // "a," at the end of the input: a last, empty field
            return Finish(i);
          }
          if (d[i] == '"') {
            quote_line_ = line_;
            quote_column_ = column();
            ++i;
            field_begin_ = write_ = i;
            state_ = State::kQuoted;
          } else {
            field_begin_ = i;
            state_ = State::kUnquoted;
          }
          break;
        }
        case State::kUnquoted: {
          while (i < n && cls_[d[i]] == kPlain) ++i;
          if (i - field_begin_ > max) return Reject(line_, column(), TooLongMessage(), i);
          if (i == n) {
            if (!eof_) return need_more();
            spans_.push_back({field_begin_, i - field_begin_});
            return Finish(i);
          }
          switch (cls_[d[i]]) {
            case kDelim:
              spans_.push_back({field_begin_, i - field_begin_});
              ++i;
              state_ = State::kFieldStart;
              break;
            case kCr:
            case kLf: {
              size_t end = i;
              if (!LineBreak(d, n, &i)) return need_more();
              spans_.push_back({field_begin_, end - field_begin_});
              return Finish(i);
            }
            case kQuote:
              return Reject(line_, column(), "unexpected quote in unquoted field", i);
            default:
              return Reject(line_, column(), InvalidMessage(), i);
          }
          break;
        }
        case State::kQuoted: {
          if (write_ == i) {  // nothing unescaped yet: no need to move bytes
            while (i < n && quoted_cls_[d[i]] == kPlain) ++i;
            write_ = i;
          } else {
            while (i < n && quoted_cls_[d[i]] == kPlain) d[write_++] = d[i++];
          }
          if (write_ - field_begin_ > max) {
            return Reject(quote_line_, quote_column_, TooLongMessage(), i);
          }
          if (i == n) {
            if (!eof_) return need_more();
            return FailFatal(quote_line_, quote_column_,
                             "unterminated quoted field (opened at line " +
                                 std::to_string(quote_line_) + ", column " +
                                 std::to_string(quote_column_) + ")");
          }
          unsigned char c = d[i];
          if (c == '"') {
            ++i;
            state_ = State::kQuoteSeen;
          } else if (c == '\r') {
            if (i + 1 == n && !eof_) return need_more();
            d[write_++] = d[i++];
            if (i < n && d[i] == '\n') d[write_++] = d[i++];
            ++line_;
          } else if (c == '\n') {
            d[write_++] = d[i++];
            ++line_;
          } else {
            return Reject(line_, column(), InvalidMessage(), i);
          }
          break;
        }
        case State::kQuoteSeen: {
          if (i == n) {
            if (!eof_) return need_more();
            spans_.push_back({field_begin_, write_ - field_begin_});
            return Finish(i);
          }
          switch (cls_[d[i]]) {
            case kQuote:
              d[write_++] = '"';
              ++i;
              state_ = State::kQuoted;
              break;
            case kDelim:
              spans_.push_back({field_begin_, write_ - field_begin_});
              ++i;
              state_ = State::kFieldStart;
              break;
            case kCr:
            case kLf:
              if (!LineBreak(d, n, &i)) return need_more();
              spans_.push_back({field_begin_, write_ - field_begin_});
              return Finish(i);
            case kBad:
              return Reject(line_, column(), InvalidMessage(), i);
            default:
              return Reject(line_, column(), "text after closing quote", i);
          }
          break;
        }
        case State::kSkipLine: {
          while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
          beg_ = i;
          if (i == n) {
            if (eof_) return Outcome::kEnd;
            return need_more();
          }
          if (!LineBreak(d, n, &i)) return need_more();
          state_ = State::kRecordStart;
          break;
        }
      }
    }
  }

  Outcome FailFatal(int64_t line, int column, std::string message) {
    error_ = CsvError{line, column, std::move(message), true};
    spans_.clear();
    return Outcome::kError;
  }

  Outcome Finish(size_t next) {
    pos_ = next;
    state_ = State::kRecordStart;
    // beg_ stays at the record's start: its bytes must survive until the next call.
    return Outcome::kRecord;
  }

  std::unique_ptr<ByteSource> source_;
  CsvOptions options_;
  size_t read_bytes_;  // bytes asked of the source per read
  int64_t total_bytes_ = 0;
  int64_t bytes_consumed_ = 0;
  Encoding encoding_;
  std::array<unsigned char, 256> cls_;         // outside quotes
  std::array<unsigned char, 256> quoted_cls_;  // inside quotes

  // Raw and decompressed input.
  std::string raw_;
  std::string plain_;
  bool raw_eof_ = false;
  bool sniffed_ = false;
  bool gzip_ = false;
  bool gzip_done_ = false;
  bool member_started_ = false;
  bool zs_open_ = false;
  z_stream zs_{};
  std::optional<std::string> deferred_error_;

  // Decoding.
  ConverterPtr cnv_;
  std::vector<UChar> u16_;
  char16_t pending_lead_ = 0;
  std::string utf8_cut_;
  bool bom_checked_ = false;
  bool started_ = false;  // the first chunk has been looked at

  // Decoded text and the parser's state. Offsets index text_.
  std::string text_;
  bool eof_ = false;
  size_t beg_ = 0;  // the start of the record being parsed; text_ before it may be dropped
  size_t pos_ = 0;  // where parsing resumes
  size_t field_begin_ = 0;
  size_t write_ = 0;  // where the next unescaped byte of a quoted field goes
  State state_ = State::kRecordStart;
  std::vector<Span> spans_;
  int64_t line_ = 1;  // the physical line of text_[pos_]
  int64_t start_line_ = 0;
  int64_t record_line_ = 0;
  int64_t quote_line_ = 0;
  int quote_column_ = 0;
  CsvError error_;
  std::optional<CsvError> pending_error_;
  bool done_ = false;
};

Status CheckOptions(const CsvOptions& o) {
  auto d = static_cast<unsigned char>(o.delimiter);
  if (d == '"' || d == '\r' || d == '\n' || d >= 0x80 || d == 0) {
    return InvalidField("delimiter",
                        "must be an ASCII character other than a quote or a line break");
  }
  if (o.max_field_bytes == 0) return InvalidField("max_field_bytes", "must be at least 1");
  if (o.chunk_bytes == 0) return InvalidField("chunk_bytes", "must be at least 1");
  return {};
}

}  // namespace

std::optional<Encoding> ParseEncoding(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "auto") return Encoding::kAuto;
  if (n == "utf-8" || n == "utf8") return Encoding::kUtf8;
  if (n == "big5") return Encoding::kBig5;
  if (n == "gb18030" || n == "gbk" || n == "gb2312") return Encoding::kGb18030;
  return std::nullopt;
}

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kAuto:
      return "auto";
    case Encoding::kUtf8:
      return "utf-8";
    case Encoding::kBig5:
      return "big5";
    case Encoding::kGb18030:
      return "gb18030";
  }
  return "auto";
}

Result<std::unique_ptr<CsvReader>> CsvReader::OpenFile(const std::string& path,
                                                       const CsvOptions& options) {
  RG_TRY(CheckOptions(options));
  int fd = 0;
  bool owned = false;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      std::string msg = "file: cannot open " + path + ": " + std::strerror(err);
      return Fail(err == ENOENT ? Code::kNotFound : Code::kInvalidArgument, std::move(msg), "file");
    }
    owned = true;
  }
  int64_t total = 0;
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      if (owned) ::close(fd);
      return InvalidField("file", path + " is a directory");
    }
    if (S_ISREG(st.st_mode)) total = static_cast<int64_t>(st.st_size);
  }
  auto reader = std::make_unique<Reader>(std::make_unique<FdSource>(fd, owned), options, total);
  reader->Prime();
  return std::unique_ptr<CsvReader>(std::move(reader));
}

Result<std::unique_ptr<CsvReader>> CsvReader::FromString(std::string data,
                                                         const CsvOptions& options) {
  RG_TRY(CheckOptions(options));
  auto total = static_cast<int64_t>(data.size());
  auto reader =
      std::make_unique<Reader>(std::make_unique<StringSource>(std::move(data)), options, total);
  reader->Prime();
  return std::unique_ptr<CsvReader>(std::move(reader));
}

}  // namespace regulars::importer
