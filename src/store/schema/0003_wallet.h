#pragma once

// Migration 3: the prepaid wallet (儲值). Filled in by the wallet work.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kWallet = R"sql(
SELECT 1;
)sql";

}  // namespace regulars::store::schema
