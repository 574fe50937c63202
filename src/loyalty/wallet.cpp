#include "loyalty/wallet.h"

#include <fmt/format.h>

#include <algorithm>

namespace regulars::loyalty {
namespace {

constexpr size_t kMaxNoteChars = 500;
constexpr size_t kMaxOrderIdChars = 128;
constexpr size_t kMaxSchemeNameChars = 100;
constexpr size_t kMaxPaymentMethodChars = 32;

// Characters (code points) in UTF-8 text.
size_t CharCount(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// ceil(a * b / c) for non-negative a, b and positive c, without overflow.
int64_t MulDivCeil(int64_t a, int64_t b, int64_t c) {
  __int128 n = static_cast<__int128>(a) * b;
  return static_cast<int64_t>((n + c - 1) / c);
}

Status CheckPositiveAmount(std::optional<int64_t> v, std::string_view field, bool required) {
  if (!v) {
    if (required) return InvalidField(std::string(field), "is required");
    return {};
  }
  if (*v <= 0) return InvalidField(std::string(field), "must be a positive integer");
  if (*v > kMaxWalletAmountMinor)
    return InvalidField(std::string(field),
                        fmt::format("must be at most {}", kMaxWalletAmountMinor));
  return {};
}

Status CheckSignedAmount(std::optional<int64_t> v, std::string_view field) {
  if (v && (*v > kMaxWalletAmountMinor || *v < -kMaxWalletAmountMinor))
    return InvalidField(
        std::string(field),
        fmt::format("must be between {} and {}", -kMaxWalletAmountMinor, kMaxWalletAmountMinor));
  return {};
}

Status CheckText(const std::optional<std::string>& v, std::string_view field, size_t max_chars) {
  if (v && CharCount(*v) > max_chars)
    return InvalidField(std::string(field),
                        fmt::format("must be at most {} characters", max_chars));
  return {};
}

Status CheckBranchId(std::optional<Id> branch_id) {
  (void)branch_id;  // existence and permission are checked against the database
  return {};
}

Result<std::optional<Micros>> ParseTime(const std::optional<std::string>& s,
                                        std::string_view field) {
  if (!s) return std::optional<Micros>{};
  auto t = ParseRfc3339(*s);
  if (!t) return InvalidField(std::string(field), "must be an RFC 3339 time");
  return std::optional<Micros>(*t);
}

}  // namespace

std::string_view WalletEntryKindName(WalletEntryKind kind) {
  switch (kind) {
    case WalletEntryKind::kTopUp:
      return "top_up";
    case WalletEntryKind::kCharge:
      return "charge";
    case WalletEntryKind::kRefund:
      return "refund";
    case WalletEntryKind::kAdjust:
      return "adjust";
    case WalletEntryKind::kMerge:
      return "merge";
  }
  return "adjust";
}

std::optional<WalletEntryKind> ParseWalletEntryKind(std::string_view name) {
  for (auto k : {WalletEntryKind::kTopUp, WalletEntryKind::kCharge, WalletEntryKind::kRefund,
                 WalletEntryKind::kAdjust, WalletEntryKind::kMerge})
    if (WalletEntryKindName(k) == name) return k;
  return std::nullopt;
}

bool BonusScheme::InForceAt(Micros now) const {
  if (!active) return false;
  if (valid_from && now < *valid_from) return false;
  if (valid_to && now >= *valid_to) return false;
  return true;
}

int64_t SchemeBonus(const BonusScheme& scheme, int64_t amount_minor) {
  if (scheme.pay_minor <= 0 || amount_minor < scheme.pay_minor) return 0;
  int64_t times = scheme.repeats ? amount_minor / scheme.pay_minor : 1;
  __int128 bonus = static_cast<__int128>(times) * scheme.bonus_minor;
  return static_cast<int64_t>(std::min<__int128>(bonus, kMaxWalletAmountMinor));
}

BonusChoice ChooseBonus(const std::vector<BonusScheme>& schemes, int64_t amount_minor, Micros now) {
  const BonusScheme* best = nullptr;
  int64_t best_bonus = 0;
  for (const BonusScheme& s : schemes) {
    if (!s.InForceAt(now)) continue;
    int64_t bonus = SchemeBonus(s, amount_minor);
    if (bonus <= 0) continue;
    bool better = !best || bonus > best_bonus ||
                  (bonus == best_bonus && (s.pay_minor > best->pay_minor ||
                                           (s.pay_minor == best->pay_minor && s.id < best->id)));
    if (better) {
      best = &s;
      best_bonus = bonus;
    }
  }
  if (!best) return {};
  return {best->id, best_bonus};
}

Result<BonusChoice> ApplyScheme(const BonusScheme& scheme, int64_t amount_minor, Micros now) {
  if (!scheme.InForceAt(now))
    return Fail(Code::kFailedPrecondition, "scheme_id: this bonus scheme is not in force",
                "scheme_id");
  if (amount_minor < scheme.pay_minor)
    return InvalidField(
        "amount_minor",
        fmt::format("this bonus scheme needs a top-up of at least {}", scheme.pay_minor));
  return BonusChoice{scheme.id, SchemeBonus(scheme, amount_minor)};
}

Result<WalletSplit> SplitCharge(const WalletBalance& balance, int64_t amount_minor) {
  if (amount_minor <= 0) return InvalidField("amount_minor", "must be a positive integer");
  int64_t total = balance.total_minor();
  if (amount_minor > total)
    return Fail(Code::kFailedPrecondition,
                fmt::format("amount_minor: the wallet holds only {}", total), "amount_minor");
  WalletSplit s;
  s.paid_minor = MulDivCeil(amount_minor, balance.paid_minor, total);
  s.bonus_minor = amount_minor - s.paid_minor;
  return s;
}

Result<WalletSplit> SplitRefund(const WalletSplit& charged, const WalletSplit& refunded,
                                std::optional<int64_t> amount_minor) {
  int64_t paid_left = std::max<int64_t>(0, charged.paid_minor - refunded.paid_minor);
  int64_t bonus_left = std::max<int64_t>(0, charged.bonus_minor - refunded.bonus_minor);
  int64_t left = paid_left + bonus_left;
  if (amount_minor && *amount_minor <= 0)
    return InvalidField("amount_minor", "must be a positive integer");
  if (left <= 0)
    return Fail(Code::kFailedPrecondition, "charge_id: this charge was already refunded in full",
                "charge_id");
  int64_t amount = amount_minor.value_or(left);
  if (amount > left)
    return Fail(Code::kFailedPrecondition,
                fmt::format("amount_minor: only {} of this charge can still be refunded", left),
                "amount_minor");
  // Cumulative rounding in favour of paid, like the charge: after this refund, paid has had
  // back ceil(refunded_total * charged_paid / charged_total).
  int64_t total_after = refunded.total_minor() + amount;
  int64_t paid_target = MulDivCeil(total_after, charged.paid_minor, charged.total_minor());
  int64_t paid = paid_target - refunded.paid_minor;
  // Stay within what each part may still take back (only matters for inconsistent history).
  paid = std::clamp(paid, std::max<int64_t>(0, amount - bonus_left), std::min(amount, paid_left));
  return WalletSplit{paid, amount - paid};
}

Result<WalletBalance> ApplyWalletAdjustment(const WalletBalance& balance, int64_t paid_delta,
                                            int64_t bonus_delta) {
  WalletBalance out{balance.paid_minor + paid_delta, balance.bonus_minor + bonus_delta};
  if (out.paid_minor < 0)
    return Fail(
        Code::kFailedPrecondition,
        fmt::format("paid_minor: the wallet holds only {} of paid value", balance.paid_minor),
        "paid_minor");
  if (out.bonus_minor < 0)
    return Fail(
        Code::kFailedPrecondition,
        fmt::format("bonus_minor: the wallet holds only {} of bonus value", balance.bonus_minor),
        "bonus_minor");
  return out;
}

Status ValidateWalletTopUp(const WalletTopUpInput& in) {
  RG_TRY(CheckPositiveAmount(in.amount_minor, "amount_minor", true));
  if (in.payment_method) {
    const std::string& m = *in.payment_method;
    bool ok = !m.empty() && m.size() <= kMaxPaymentMethodChars &&
              std::all_of(m.begin(), m.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
              });
    if (!ok)
      return InvalidField("payment_method",
                          "must be 1 to 32 lowercase letters, digits or underscores");
  }
  RG_TRY(CheckBranchId(in.branch_id));
  RG_TRY(CheckText(in.note, "note", kMaxNoteChars));
  return {};
}

Status ValidateWalletCharge(const WalletChargeInput& in) {
  RG_TRY(CheckPositiveAmount(in.amount_minor, "amount_minor", true));
  if (in.order_id && (in.order_id->empty() || CharCount(*in.order_id) > kMaxOrderIdChars))
    return InvalidField("order_id", "must be 1 to 128 characters");
  RG_TRY(CheckText(in.note, "note", kMaxNoteChars));
  return {};
}

Status ValidateWalletRefund(const WalletRefundInput& in) {
  if (!in.charge_id) return InvalidField("charge_id", "is required");
  RG_TRY(CheckPositiveAmount(in.amount_minor, "amount_minor", false));
  RG_TRY(CheckText(in.note, "note", kMaxNoteChars));
  return {};
}

Status ValidateWalletAdjust(const WalletAdjustInput& in) {
  RG_TRY(CheckSignedAmount(in.paid_minor, "paid_minor"));
  RG_TRY(CheckSignedAmount(in.bonus_minor, "bonus_minor"));
  if (in.paid_minor.value_or(0) == 0 && in.bonus_minor.value_or(0) == 0)
    return InvalidField("paid_minor", "give a non-zero paid_minor or bonus_minor");
  if (!in.reason || IsBlank(*in.reason)) return InvalidField("reason", "is required");
  RG_TRY(CheckText(in.reason, "reason", kMaxNoteChars));
  return {};
}

Status ApplySchemeInput(BonusScheme& scheme, const BonusSchemeInput& in, bool create) {
  if (create) {
    if (!in.name) return InvalidField("name", "is required");
    if (!in.pay_minor) return InvalidField("pay_minor", "is required");
    if (!in.bonus_minor) return InvalidField("bonus_minor", "is required");
  }
  if (in.name) {
    if (IsBlank(*in.name)) return InvalidField("name", "must not be empty");
    RG_TRY(CheckText(in.name, "name", kMaxSchemeNameChars));
    scheme.name = *in.name;
  }
  RG_TRY(CheckPositiveAmount(in.pay_minor, "pay_minor", false));
  RG_TRY(CheckPositiveAmount(in.bonus_minor, "bonus_minor", false));
  if (in.pay_minor) scheme.pay_minor = *in.pay_minor;
  if (in.bonus_minor) scheme.bonus_minor = *in.bonus_minor;
  if (in.repeats) scheme.repeats = *in.repeats;
  if (in.active) scheme.active = *in.active;
  if (in.valid_from) {
    RG_ASSIGN_OR_RETURN(scheme.valid_from, ParseTime(*in.valid_from, "valid_from"));
  }
  if (in.valid_to) {
    RG_ASSIGN_OR_RETURN(scheme.valid_to, ParseTime(*in.valid_to, "valid_to"));
  }
  if (scheme.valid_from && scheme.valid_to && *scheme.valid_to <= *scheme.valid_from)
    return InvalidField("valid_to", "must be after valid_from");
  return {};
}

}  // namespace regulars::loyalty
