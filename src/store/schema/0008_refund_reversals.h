#pragma once

// Migration 8: what a refund takes back besides points. A spend gift (滿額贈) or a referral
// reward coupon that is not yet used is voided when the order that earned it is refunded below
// the threshold; a referral whose qualifying order is refunded so is marked 'reversed'.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kRefundReversals = R"sql(
ALTER TABLE coupons ADD COLUMN voided_at BIGINT;
ALTER TABLE coupons ADD COLUMN void_reason TEXT;
ALTER TABLE referrals ADD COLUMN reversed_at BIGINT;
)sql";

}  // namespace regulars::store::schema
