#pragma once

// Money is an integer count of minor units plus an ISO 4217 currency code.

#include <cstdint>
#include <string>

namespace regulars {

struct Money {
  int64_t minor = 0;
  std::string currency;  // "TWD"
  friend bool operator==(const Money&, const Money&) = default;
};

// Digits after the decimal point for an ISO 4217 currency (TWD 2, JPY 0, KWD 3, ...); -1 if the
// code is unknown.
int CurrencyExponent(std::string_view currency);

}  // namespace regulars
