#include "base/phone.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <fmt/format.h>

namespace regulars {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

Result<Phone> NormalizePhone(std::string_view raw, std::string_view region,
                             std::string_view field) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::string f(field);
  std::string text(raw);
  bool has_digit = false;
  for (char c : text) has_digit |= (c >= '0' && c <= '9');
  if (text.empty() || !has_digit) return InvalidField(f, "is required");
  if (text.size() > 40) return InvalidField(f, "is too long to be a phone number");
  PhoneNumber number;
  auto err = util.Parse(text, std::string(region), &number);
  if (err != PhoneNumberUtil::NO_PARSING_ERROR)
    return InvalidField(f, fmt::format("not a valid number for region {}", region));
  if (!util.IsValidNumber(number)) {
    std::string number_region;
    util.GetRegionCodeForCountryCode(number.country_code(), &number_region);
    if (number_region.empty() || number_region == region || number_region == "ZZ")
      return InvalidField(f, fmt::format("not a valid number for region {}", region));
    return InvalidField(f, fmt::format("not a valid number for region {}", number_region));
  }
  Phone out;
  util.Format(number, PhoneNumberUtil::E164, &out.e164);
  util.Format(number, PhoneNumberUtil::NATIONAL, &out.national);
  return out;
}

std::string DisplayPhone(std::string_view e164) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(std::string(e164), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR)
    return std::string(e164);
  std::string out;
  util.Format(number, PhoneNumberUtil::NATIONAL, &out);
  return out;
}

bool IsKnownRegion(std::string_view region) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  return util.GetCountryCodeForRegion(std::string(region)) != 0;
}

}  // namespace regulars
