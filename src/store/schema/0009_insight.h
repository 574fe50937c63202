#pragma once

// Migration 9: insight. Fitted churn/value models per merchant, the scores they gave each
// member, and saved segments with their live membership.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kInsight = R"sql(
-- The last fit of each model kind per merchant ('bgnbd_gg': BG/NBD + Gamma-Gamma).
-- params_json holds the fitted parameters ({"bgnbd": {r, alpha, a, b}, "gg": {p, q, gamma}}),
-- customers the members the fit saw, calibration_end the "now" of the fit.
CREATE TABLE insight_models (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  kind TEXT NOT NULL,
  params_json TEXT NOT NULL,
  customers BIGINT NOT NULL,
  calibration_end BIGINT NOT NULL,
  fitted_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, kind)
);

-- What the last applied fit and RFM scoring gave each live member. A member without a row
-- (or with NULL scores) has no score. rfm_* are 1..5 (0 = never bought); rfm_group is the
-- group name (rfm.h).
CREATE TABLE member_scores (
  merchant_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  p_alive DOUBLE PRECISION,
  expected_purchases_90d DOUBLE PRECISION,
  expected_value_minor DOUBLE PRECISION,
  rfm_r INTEGER NOT NULL DEFAULT 0,
  rfm_f INTEGER NOT NULL DEFAULT 0,
  rfm_m INTEGER NOT NULL DEFAULT 0,
  rfm_group TEXT,
  scored_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, member_id)
);

-- Saved segments: definition is the segment language's JSON tree (insight/segment.h).
CREATE TABLE segments (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT,
  PRIMARY KEY (merchant_id, id)
);

-- A saved segment's current members (segment_service.h keeps it live).
CREATE TABLE segment_members (
  merchant_id BIGINT NOT NULL,
  segment_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  entered_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, segment_id, member_id)
);
CREATE INDEX segment_members_member ON segment_members (merchant_id, member_id);
)sql";

}  // namespace regulars::store::schema
