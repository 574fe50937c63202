#pragma once

// Migration 0005: coupons and referrals.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kCouponsReferrals = R"sql(
SELECT 1;
)sql";

}  // namespace regulars::store::schema
