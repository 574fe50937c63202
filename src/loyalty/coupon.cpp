#include "loyalty/coupon.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/text.h"

namespace regulars::loyalty {
namespace {

Status CheckAmount(const std::optional<int64_t>& v, std::string_view field, bool positive) {
  if (!v) return {};
  if (positive ? *v <= 0 : *v < 0)
    return InvalidField(std::string(field),
                        positive ? fmt::format("must be 1 to {}", kMaxCouponAmountMinor)
                                 : fmt::format("must be 0 to {}", kMaxCouponAmountMinor));
  if (*v > kMaxCouponAmountMinor)
    return InvalidField(std::string(field),
                        fmt::format("must be at most {}", kMaxCouponAmountMinor));
  return {};
}

// Days since the epoch back to a civil date (Howard Hinnant's civil_from_days).
Date CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return Date{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

int64_t Days(const Date& d) { return DaysFromCivil(d.year, d.month, d.day); }

}  // namespace

std::string_view CouponKindName(CouponKind k) {
  switch (k) {
    case CouponKind::kAmountOff:
      return "amount_off";
    case CouponKind::kPercentOff:
      return "percent_off";
    case CouponKind::kFreeItem:
      return "free_item";
  }
  return "amount_off";
}

std::optional<CouponKind> ParseCouponKind(std::string_view s) {
  for (auto k : {CouponKind::kAmountOff, CouponKind::kPercentOff, CouponKind::kFreeItem})
    if (CouponKindName(k) == s) return k;
  return std::nullopt;
}

std::string_view IssueOnName(IssueOn i) {
  switch (i) {
    case IssueOn::kManual:
      return "manual";
    case IssueOn::kWelcome:
      return "welcome";
    case IssueOn::kBirthday:
      return "birthday";
    case IssueOn::kSpend:
      return "spend";
  }
  return "manual";
}

std::optional<IssueOn> ParseIssueOn(std::string_view s) {
  for (auto i : {IssueOn::kManual, IssueOn::kWelcome, IssueOn::kBirthday, IssueOn::kSpend})
    if (IssueOnName(i) == s) return i;
  return std::nullopt;
}

std::string_view CouponStateName(CouponState s) {
  switch (s) {
    case CouponState::kAvailable:
      return "available";
    case CouponState::kRedeemed:
      return "redeemed";
    case CouponState::kExpired:
      return "expired";
    case CouponState::kNotYetValid:
      return "not_yet_valid";
    case CouponState::kVoided:
      return "voided";
  }
  return "available";
}

std::optional<CouponState> ParseCouponState(std::string_view s) {
  for (auto x : {CouponState::kAvailable, CouponState::kRedeemed, CouponState::kExpired,
                 CouponState::kNotYetValid, CouponState::kVoided})
    if (CouponStateName(x) == s) return x;
  return std::nullopt;
}

Status ValidateTemplate(const CouponTemplate& t) {
  if (t.name.empty()) return InvalidField("name", "is required");
  if (t.name.size() > 200) return InvalidField("name", "is longer than 200 bytes");
  if (!IsValidUtf8(t.name)) return InvalidField("name", "is not valid UTF-8");
  switch (t.kind) {
    case CouponKind::kAmountOff:
      if (!t.amount_off_minor)
        return InvalidField("amount_off_minor", "is required for amount_off");
      RG_TRY(CheckAmount(t.amount_off_minor, "amount_off_minor", true));
      break;
    case CouponKind::kPercentOff:
      if (!t.percent_off) return InvalidField("percent_off", "is required for percent_off");
      if (*t.percent_off < 1 || *t.percent_off > 100)
        return InvalidField("percent_off", "must be 1 to 100");
      break;
    case CouponKind::kFreeItem:
      if (!t.free_item || t.free_item->empty())
        return InvalidField("free_item", "is required for free_item");
      if (t.free_item->size() > 200) return InvalidField("free_item", "is longer than 200 bytes");
      if (!IsValidUtf8(*t.free_item)) return InvalidField("free_item", "is not valid UTF-8");
      RG_TRY(CheckAmount(t.item_value_minor, "item_value_minor", false));
      break;
  }
  RG_TRY(CheckAmount(t.max_discount_minor, "max_discount_minor", true));
  RG_TRY(CheckAmount(t.min_spend_minor, "min_spend_minor", false));
  if (t.valid_days && (*t.valid_days < 1 || *t.valid_days > kMaxCouponValidDays))
    return InvalidField("valid_days", fmt::format("must be 1 to {}", kMaxCouponValidDays));
  if (t.valid_from && t.valid_to && *t.valid_to <= *t.valid_from)
    return InvalidField("valid_to", "must be after valid_from");
  switch (t.issue_on) {
    case IssueOn::kBirthday:
      if (!t.birthday_days_before)
        return InvalidField("birthday_days_before", "is required when issue_on is birthday");
      if (*t.birthday_days_before < 0 || *t.birthday_days_before > kMaxBirthdayDaysBefore)
        return InvalidField("birthday_days_before",
                            fmt::format("must be 0 to {}", kMaxBirthdayDaysBefore));
      break;
    case IssueOn::kSpend:
      if (!t.spend_threshold_minor)
        return InvalidField("spend_threshold_minor", "is required when issue_on is spend");
      RG_TRY(CheckAmount(t.spend_threshold_minor, "spend_threshold_minor", true));
      break;
    default:
      break;
  }
  return {};
}

Status ApplyTemplateInput(CouponTemplate& t, const CouponTemplateInput& in) {
  if (in.name) t.name = *in.name;
  if (in.kind) t.kind = *in.kind;
  if (in.amount_off_minor) t.amount_off_minor = *in.amount_off_minor;
  if (in.percent_off) t.percent_off = *in.percent_off;
  if (in.free_item) t.free_item = *in.free_item;
  if (in.item_value_minor) t.item_value_minor = *in.item_value_minor;
  if (in.max_discount_minor) t.max_discount_minor = *in.max_discount_minor;
  if (in.min_spend_minor) t.min_spend_minor = *in.min_spend_minor;
  if (in.valid_from) t.valid_from = *in.valid_from;
  if (in.valid_to) t.valid_to = *in.valid_to;
  if (in.valid_days) t.valid_days = *in.valid_days;
  if (in.issue_on) t.issue_on = *in.issue_on;
  if (in.birthday_days_before) t.birthday_days_before = *in.birthday_days_before;
  if (in.spend_threshold_minor) t.spend_threshold_minor = *in.spend_threshold_minor;
  if (in.active) t.active = *in.active;
  RG_TRY(ValidateTemplate(t));
  // Keep only what the kind and trigger use, so a kind change leaves no stale terms behind.
  if (t.kind != CouponKind::kAmountOff) t.amount_off_minor.reset();
  if (t.kind != CouponKind::kPercentOff) t.percent_off.reset();
  if (t.kind != CouponKind::kFreeItem) {
    t.free_item.reset();
    t.item_value_minor.reset();
  }
  if (t.issue_on != IssueOn::kBirthday) t.birthday_days_before.reset();
  if (t.issue_on != IssueOn::kSpend) t.spend_threshold_minor.reset();
  return {};
}

Result<CouponValidityWindow> CouponValidity(const CouponTemplate& t, Micros issued_at) {
  CouponValidityWindow w;
  w.valid_from = std::max(issued_at, t.valid_from.value_or(issued_at));
  if (t.valid_days) w.valid_until = issued_at + int64_t{*t.valid_days} * kMicrosPerDay;
  if (t.valid_to)
    w.valid_until = w.valid_until ? std::min(*w.valid_until, *t.valid_to) : *t.valid_to;
  if (w.valid_until && *w.valid_until <= issued_at)
    return Fail(Code::kFailedPrecondition,
                fmt::format("the template's validity ended at {}", FormatRfc3339(*w.valid_until)));
  return w;
}

CouponState Coupon::StateAt(Micros now) const {
  if (redeemed_at) return CouponState::kRedeemed;
  if (voided_at) return CouponState::kVoided;
  if (valid_until && now >= *valid_until) return CouponState::kExpired;
  if (now < valid_from) return CouponState::kNotYetValid;
  return CouponState::kAvailable;
}

int64_t PercentOf(int64_t amount_minor, int percent) {
  if (amount_minor <= 0 || percent <= 0) return 0;
  __int128 x = static_cast<__int128>(amount_minor) * percent;
  return static_cast<int64_t>((x + 50) / 100);
}

int64_t CouponDiscount(const CouponTemplate& t, std::optional<int64_t> order_total_minor) {
  int64_t d = 0;
  switch (t.kind) {
    case CouponKind::kAmountOff:
      d = t.amount_off_minor.value_or(0);
      break;
    case CouponKind::kPercentOff:
      d = order_total_minor ? PercentOf(*order_total_minor, t.percent_off.value_or(0))
                            : t.max_discount_minor.value_or(0);
      break;
    case CouponKind::kFreeItem:
      d = t.item_value_minor.value_or(0);
      break;
  }
  if (t.max_discount_minor) d = std::min(d, *t.max_discount_minor);
  if (order_total_minor) d = std::min(d, std::max<int64_t>(*order_total_minor, 0));
  return std::max<int64_t>(d, 0);
}

Status CheckRedeemable(const Coupon& c, const CouponTemplate& t, Micros now,
                       std::optional<int64_t> order_total_minor) {
  if (order_total_minor && *order_total_minor < 0)
    return InvalidField("order_total_minor", "must not be negative");
  if (c.redeemed_at)
    return Fail(MakeError(Code::kFailedPrecondition, fmt::format("coupon already redeemed at {}",
                                                                 FormatRfc3339(*c.redeemed_at)))
                    .WithDetail("redeemed_at", FormatRfc3339(*c.redeemed_at)));
  if (c.voided_at)
    return Fail(MakeError(Code::kFailedPrecondition,
                          fmt::format("coupon was voided at {}: {}", FormatRfc3339(*c.voided_at),
                                      c.void_reason.value_or("no reason given")))
                    .WithDetail("voided_at", FormatRfc3339(*c.voided_at)));
  if (now < c.valid_from)
    return Fail(Code::kFailedPrecondition,
                fmt::format("coupon is not valid until {}", FormatRfc3339(c.valid_from)));
  if (c.valid_until && now >= *c.valid_until)
    return Fail(Code::kFailedPrecondition,
                fmt::format("coupon expired at {}", FormatRfc3339(*c.valid_until)));
  if (t.min_spend_minor > 0) {
    if (!order_total_minor)
      return InvalidField("order_total_minor",
                          fmt::format("is required: the minimum spend is {}", t.min_spend_minor));
    if (*order_total_minor < t.min_spend_minor)
      return Fail(Code::kFailedPrecondition,
                  fmt::format("order_total_minor: the minimum spend is {}", t.min_spend_minor),
                  "order_total_minor");
  }
  return {};
}

Date AddDays(const Date& d, int days) { return CivilFromDays(Days(d) + days); }

Date BirthdayInYear(int month, int day, int year) {
  if (month == 2 && day == 29 && !IsLeapYear(year)) return Date{year, 2, 28};
  return Date{year, month, day};
}

Date BirthdayIssueDate(int month, int day, int year, int days_before) {
  return AddDays(BirthdayInYear(month, day, year), -days_before);
}

std::optional<int> BirthdayYearToIssue(const Date& today, int month, int day, int days_before) {
  const int64_t t = Days(today);
  for (int year : {today.year, today.year + 1}) {
    const int64_t birthday = Days(BirthdayInYear(month, day, year));
    if (t >= birthday - days_before && t <= birthday) return year;
  }
  return std::nullopt;
}

}  // namespace regulars::loyalty
