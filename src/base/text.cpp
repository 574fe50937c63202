#include "base/text.h"

#include <opencc/opencc.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <memory>
#include <mutex>

namespace regulars {
namespace {

// OpenCC's converter is safe to share for conversion once built.
const opencc::SimpleConverter* T2S() {
  static std::once_flag once;
  static std::unique_ptr<opencc::SimpleConverter> conv;
  std::call_once(once, [] {
    try {
      conv = std::make_unique<opencc::SimpleConverter>("t2s.json");
    } catch (...) {
      conv = nullptr;  // Without OpenCC data, search still works within one script.
    }
  });
  return conv.get();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

std::string FoldForSearch(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  std::string folded;
  if (U_SUCCESS(status)) {
    icu::UnicodeString n = nfkc_cf->normalize(u, status);
    if (U_SUCCESS(status)) n.toUTF8String(folded);
  }
  if (folded.empty()) u.toUTF8String(folded);
  // Collapse whitespace runs to one space and trim.
  std::string compact;
  compact.reserve(folded.size());
  bool space = false;
  for (char c : folded) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !compact.empty();
      continue;
    }
    if (space) compact.push_back(' ');
    space = false;
    compact.push_back(c);
  }
  if (const auto* conv = T2S()) {
    try {
      return conv->Convert(compact);
    } catch (...) {
    }
  }
  return compact;
}

}  // namespace regulars
