#pragma once

// Branches: the shops of a merchant. Value types only.

#include <optional>
#include <string>

#include "base/ids.h"
#include "base/time.h"

namespace regulars::commerce {

struct Branch {
  Id merchant_id = 0;
  Id id = 0;
  std::string name;
  std::optional<std::string> code;  // the merchant's own short code ("TPE01"), unique
  std::optional<std::string> address;
  std::optional<std::string> phone;
  bool active = true;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct BranchPatch {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> code;  // outer: present; inner: null clears
  std::optional<std::optional<std::string>> address;
  std::optional<std::optional<std::string>> phone;
  std::optional<bool> active;
};

}  // namespace regulars::commerce
