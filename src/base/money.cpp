#include "base/money.h"

#include <string_view>

namespace regulars {

int CurrencyExponent(std::string_view c) {
  static constexpr std::string_view kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                               "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                               "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::string_view kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  static constexpr std::string_view kTwo[] = {
      "TWD", "USD", "EUR", "GBP", "CNY", "HKD", "MOP", "SGD", "MYR", "THB", "PHP", "IDR",
      "AUD", "NZD", "CAD", "CHF", "SEK", "NOK", "DKK", "INR", "MXN", "BRL", "ZAR", "AED"};
  for (auto z : kZero)
    if (z == c) return 0;
  for (auto t : kThree)
    if (t == c) return 3;
  for (auto t : kTwo)
    if (t == c) return 2;
  return -1;
}

}  // namespace regulars
