#pragma once

#include <optional>
#include <string>
#include <vector>

namespace regulars {

// One page of a list and the opaque cursor of the next page (none on the last page).
template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

// Lists take at most this many items per page; the default when none is asked for.
inline constexpr int kMaxPageSize = 500;
inline constexpr int kDefaultPageSize = 50;

}  // namespace regulars
