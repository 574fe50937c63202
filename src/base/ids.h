#pragma once

// Ids are positive 63-bit integers that sort by creation time: milliseconds since the Unix epoch
// in the high 41 bits, then a 12-bit per-process sequence and 10 random bits (so several
// processes sharing one PostgreSQL do not collide in practice). Clients see them as opaque
// decimal strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regulars {

using Id = int64_t;

// Thread-safe; strictly increasing within one process.
Id NewId();

std::string IdToString(Id id);
// nullopt for anything that is not a positive decimal id.
std::optional<Id> ParseId(std::string_view s);

}  // namespace regulars
