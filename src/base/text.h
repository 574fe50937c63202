#pragma once

// Text folding for search: one key under which Traditional and Simplified Chinese, upper and
// lower case, and full- and half-width forms meet ("陳小明", "陈小明" -> the same key).

#include <string>
#include <string_view>

namespace regulars {

// NFKC, case-folded, Traditional Chinese converted to Simplified (OpenCC t2s), whitespace
// collapsed. Thread-safe. Invalid UTF-8 is replaced, never rejected.
std::string FoldForSearch(std::string_view text);

// True if `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);

// Number of Unicode code points in valid UTF-8.
size_t Utf8Length(std::string_view s);

}  // namespace regulars
