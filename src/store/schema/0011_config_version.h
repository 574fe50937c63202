#pragma once

// Migration 11: a merchant's configuration version. Every write of the configuration an order
// reads (merchant settings, point types, earning rules, stamp cards, tiers and the tier program,
// coupon templates, the referral program) sets `merchants.config_version` to a fresh value in
// the same transaction (loyalty::BumpConfigVersion), so a process that keeps that configuration
// in memory (loyalty/config_cache.h) reads this one column to know whether its copy is current.
// 0, the default, means "never set": such a merchant's configuration is always read afresh.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kConfigVersion = R"sql(
ALTER TABLE merchants ADD COLUMN config_version BIGINT NOT NULL DEFAULT 0;
)sql";

}  // namespace regulars::store::schema
