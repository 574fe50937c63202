#pragma once

// Migration 0004: tiers and stamp cards.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kTiersStamps = R"sql(
SELECT 1;
)sql";

}  // namespace regulars::store::schema
