#pragma once

// Point types ("points", "coffee stamps", "event tokens") and their expiry policies. Pure.

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::loyalty {

enum class ExpiryKind {
  kNever,
  kDays,        // n days after earning
  kEndOfMonth,  // end of the nth month after the month of earning (0 = that month)
  kEndOfYear,   // end of the nth year after the year of earning (0 = that year)
};
std::string_view ExpiryKindName(ExpiryKind k);
std::optional<ExpiryKind> ParseExpiryKind(std::string_view s);

struct ExpiryPolicy {
  ExpiryKind kind = ExpiryKind::kNever;
  int n = 0;
};

// What happens when a refund takes back points the member already spent.
enum class Shortfall {
  kNegative,  // the balance goes below zero; future earnings fill it first
  kDebt,      // the balance stays at zero and a debt is recorded; future earnings pay it first
};

struct PointType {
  Id merchant_id = 0;
  Id id = 0;
  std::string code;  // stable name used by the API: "points"
  std::string name;
  ExpiryPolicy expiry;
  int64_t value_minor_per_1000 = 0;  // liability valuation
  Shortfall shortfall = Shortfall::kNegative;
  bool active = true;
  Micros created_at = 0;
  Micros updated_at = 0;
};

// Checks a policy: n within 1..3650 for days, 0..120 for months, 0..10 for years.
Status ValidateExpiry(const ExpiryPolicy& p);

// The instant a lot earned at `earned_at` expires (exclusive), in the merchant's zone `tz`;
// nullopt when it never does. "End of the month" means the first instant of the next local month.
Result<std::optional<Micros>> LotExpiry(const ExpiryPolicy& p, Micros earned_at,
                                        std::string_view tz);

}  // namespace regulars::loyalty
