#include "accounts/account.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "base/money.h"
#include "base/phone.h"
#include "base/text.h"

namespace regulars::accounts {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kManager:
      return "manager";
    case Role::kCashier:
      return "cashier";
  }
  return "cashier";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "owner") return Role::kOwner;
  if (name == "manager") return Role::kManager;
  if (name == "cashier") return Role::kCashier;
  return std::nullopt;
}

std::string Actor::Label() const {
  if (staff_id) return fmt::format("staff:{}", *staff_id);
  if (api_key_id) return fmt::format("api_key:{}", *api_key_id);
  return "system";
}

bool Actor::MayUseBranch(Id branch_id) const {
  return branch_ids.empty() ||
         std::find(branch_ids.begin(), branch_ids.end(), branch_id) != branch_ids.end();
}

Actor SystemActor(Id merchant_id, Micros now) {
  Actor a;
  a.merchant_id = merchant_id;
  a.role = Role::kOwner;
  a.now = now;
  return a;
}

bool IsSupportedLanguage(std::string_view lang) {
  return lang == "zh-TW" || lang == "zh-CN" || lang == "en";
}

namespace {

bool IsKnownTimeZone(std::string_view tz) {
  if (tz == "UTC") return true;
  if (tz.empty() || tz.find("..") != std::string_view::npos || tz.front() == '/') return false;
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path("/usr/share/zoneinfo") / tz, ec);
}

}  // namespace

Status ValidateMerchant(const Merchant& m) {
  if (m.name.empty() || m.name.size() > 200) return InvalidField("name", "must be 1 to 200 bytes");
  if (!IsValidUtf8(m.name)) return InvalidField("name", "is not valid UTF-8");
  if (m.region.size() != 2 || !IsKnownRegion(m.region))
    return InvalidField("region",
                        fmt::format("unknown region '{}' (use ISO 3166, e.g. TW)", m.region));
  if (CurrencyExponent(m.currency) < 0)
    return InvalidField("currency",
                        fmt::format("unknown currency '{}' (use ISO 4217, e.g. TWD)", m.currency));
  if (!IsKnownTimeZone(m.timezone))
    return InvalidField(
        "timezone", fmt::format("unknown time zone '{}' (use IANA, e.g. Asia/Taipei)", m.timezone));
  if (!IsSupportedLanguage(m.language))
    return InvalidField("language", "must be zh-TW, zh-CN or en");
  return {};
}

Result<std::string> NormalizeEmail(std::string_view raw, std::string_view field) {
  std::string f(field);
  size_t b = raw.find_first_not_of(" \t\r\n");
  size_t e = raw.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) return InvalidField(f, "is required");
  std::string s(raw.substr(b, e - b + 1));
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t at = s.find('@');
  if (s.size() > 254 || at == std::string::npos || at == 0 || at != s.rfind('@') ||
      s.find('.', at) == std::string::npos || s.back() == '.' ||
      s.find_first_of(" \t,;<>()[]\\\"") != std::string::npos || !IsValidUtf8(s))
    return InvalidField(f, "is not a valid e-mail address");
  return s;
}

Status ValidatePassword(std::string_view password, std::string_view field) {
  if (Utf8Length(password) < 8)
    return InvalidField(std::string(field), "must be at least 8 characters");
  if (password.size() > 1024) return InvalidField(std::string(field), "is too long");
  return {};
}

}  // namespace regulars::accounts
