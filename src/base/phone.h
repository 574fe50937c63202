#pragma once

// Phone numbers, normalised with libphonenumber. "0912 345 678", "0912-345678" and
// "+886912345678" with region TW are one number: +886912345678 (E.164).

#include <string>
#include <string_view>

#include "base/error.h"

namespace regulars {

struct Phone {
  std::string e164;      // "+886912345678"
  std::string national;  // "0912 345 678", for display
};

// Parses a number typed by a person or sent by a system. `region` is the merchant's ISO 3166
// region ("TW"), used when the number has no country prefix. Returns invalid_argument naming
// `field` when the number is malformed, impossible, or not valid for any region. Thread-safe.
Result<Phone> NormalizePhone(std::string_view raw, std::string_view region,
                             std::string_view field = "phone");

// Formats an E.164 number for display in the national format of its own country.
std::string DisplayPhone(std::string_view e164);

// True if `region` is a region code libphonenumber knows ("TW", "US", ...).
bool IsKnownRegion(std::string_view region);

}  // namespace regulars
