#pragma once

// Migration 4: tiers (會員分級) and stamp cards (集點卡).

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kTiersStamps = R"sql(
-- How a merchant's members qualify for tiers.
CREATE TABLE tier_programs (
  merchant_id BIGINT NOT NULL PRIMARY KEY REFERENCES merchants (merchant_id),
  metric TEXT NOT NULL,            -- spend | points
  point_type_id BIGINT,            -- for metric = points
  window_kind TEXT NOT NULL,       -- rolling_days | calendar_year
  window_days INTEGER NOT NULL DEFAULT 365,
  grace_days INTEGER NOT NULL DEFAULT 30,
  updated_at BIGINT NOT NULL
);

CREATE TABLE tiers (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  level INTEGER NOT NULL,
  name TEXT NOT NULL,
  threshold BIGINT NOT NULL,
  earn_multiplier_milli BIGINT NOT NULL DEFAULT 1000,
  benefits TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX tiers_level ON tiers (merchant_id, level);

-- Each member's current tier. `level` 0 means no tier. An override wins until it ends; a
-- member who no longer qualifies keeps the tier until `grace_until` passes at a review.
CREATE TABLE member_tiers (
  merchant_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  level INTEGER NOT NULL,
  since BIGINT NOT NULL,
  grace_until BIGINT,
  override_level INTEGER,
  override_until BIGINT,
  reviewed_at BIGINT,
  PRIMARY KEY (merchant_id, member_id)
);

CREATE TABLE tier_history (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  from_level INTEGER NOT NULL,
  to_level INTEGER NOT NULL,
  reason TEXT NOT NULL,
  staff_id BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX tier_history_member ON tier_history (merchant_id, member_id, created_at);

-- Stamp cards: N stamps (a point type of their own) complete a card and earn a reward.
CREATE TABLE stamp_cards (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  point_type_id BIGINT NOT NULL,
  stamps_needed INTEGER NOT NULL,
  per TEXT NOT NULL,               -- visit | item
  skus TEXT NOT NULL DEFAULT '[]',
  categories TEXT NOT NULL DEFAULT '[]',
  reward_name TEXT NOT NULL,
  restart INTEGER NOT NULL DEFAULT 1,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);

-- A full card's reward, waiting to be used at the counter.
CREATE TABLE stamp_rewards (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  card_id BIGINT NOT NULL,
  order_id BIGINT,
  status TEXT NOT NULL,            -- available | used
  created_at BIGINT NOT NULL,
  used_at BIGINT,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX stamp_rewards_member ON stamp_rewards (merchant_id, member_id, status);
)sql";

}  // namespace regulars::store::schema
