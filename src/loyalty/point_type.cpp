#include "loyalty/point_type.h"

#include "base/zone.h"

namespace regulars::loyalty {

std::string_view ExpiryKindName(ExpiryKind k) {
  switch (k) {
    case ExpiryKind::kNever:
      return "never";
    case ExpiryKind::kDays:
      return "days";
    case ExpiryKind::kEndOfMonth:
      return "end_of_month";
    case ExpiryKind::kEndOfYear:
      return "end_of_year";
  }
  return "never";
}

std::optional<ExpiryKind> ParseExpiryKind(std::string_view s) {
  if (s == "never") return ExpiryKind::kNever;
  if (s == "days") return ExpiryKind::kDays;
  if (s == "end_of_month") return ExpiryKind::kEndOfMonth;
  if (s == "end_of_year") return ExpiryKind::kEndOfYear;
  return std::nullopt;
}

Status ValidateExpiry(const ExpiryPolicy& p) {
  switch (p.kind) {
    case ExpiryKind::kNever:
      return {};
    case ExpiryKind::kDays:
      if (p.n < 1 || p.n > 3650) return InvalidField("expiry.n", "days must be 1 to 3650");
      return {};
    case ExpiryKind::kEndOfMonth:
      if (p.n < 0 || p.n > 120) return InvalidField("expiry.n", "months must be 0 to 120");
      return {};
    case ExpiryKind::kEndOfYear:
      if (p.n < 0 || p.n > 10) return InvalidField("expiry.n", "years must be 0 to 10");
      return {};
  }
  return {};
}

Result<std::optional<Micros>> LotExpiry(const ExpiryPolicy& p, Micros earned_at,
                                        std::string_view tz) {
  switch (p.kind) {
    case ExpiryKind::kNever:
      return std::optional<Micros>{};
    case ExpiryKind::kDays:
      return std::optional<Micros>(earned_at + p.n * kMicrosPerDay);
    case ExpiryKind::kEndOfMonth: {
      RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(earned_at, tz));
      int months = lt.year * 12 + (lt.month - 1) + p.n + 1;  // the month after the nth
      RG_ASSIGN_OR_RETURN(Micros t, FromLocal(months / 12, months % 12 + 1, 1, 0, 0, 0, tz));
      return std::optional<Micros>(t);
    }
    case ExpiryKind::kEndOfYear: {
      RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(earned_at, tz));
      RG_ASSIGN_OR_RETURN(Micros t, FromLocal(lt.year + p.n + 1, 1, 1, 0, 0, 0, tz));
      return std::optional<Micros>(t);
    }
  }
  return std::optional<Micros>{};
}

}  // namespace regulars::loyalty
