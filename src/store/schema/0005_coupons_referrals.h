#pragma once

// Migration 0005: coupons (優惠券) and referrals (推薦).
//
// Coupons: a template says what a coupon is worth and when it may be used; each issued coupon
// has a unique code per merchant, one member, its own validity window and is redeemed at most
// once: redemption is a conditional UPDATE (`... AND redeemed_at IS NULL`) whose row count
// decides the race. Coupons issued by themselves (welcome, birthday, spend gifts, referral
// rewards) carry a source_key, unique per (template, member), so issuing twice does nothing.
//
// Referrals: one per newcomer; `referral_counts` is the per-referrer counter that a
// conditional UPDATE bumps so a limit per referrer holds under concurrency.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kCouponsReferrals = R"sql(
CREATE TABLE coupon_templates (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,                 -- amount_off | percent_off | free_item
  amount_off_minor BIGINT,
  percent_off INTEGER,
  free_item TEXT,
  item_value_minor BIGINT,
  max_discount_minor BIGINT,
  min_spend_minor BIGINT NOT NULL DEFAULT 0,
  valid_from BIGINT,
  valid_to BIGINT,
  valid_days INTEGER,
  issue_on TEXT NOT NULL DEFAULT 'manual',  -- manual | welcome | birthday | spend
  birthday_days_before INTEGER,
  spend_threshold_minor BIGINT,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX coupon_templates_issue_on ON coupon_templates (merchant_id, issue_on, active);

CREATE TABLE coupons (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  code TEXT NOT NULL,
  template_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  source TEXT NOT NULL,       -- staff | bulk | welcome | birthday | spend | referral
  source_key TEXT,            -- automatic issues: welcome, birthday:2026, order:<id>, referral:<id>
  batch_id BIGINT,
  valid_from BIGINT NOT NULL,
  valid_until BIGINT,         -- exclusive; NULL: never expires
  issued_at BIGINT NOT NULL,
  issued_by TEXT NOT NULL,
  redeemed_at BIGINT,
  redeemed_order_ref TEXT,
  redeemed_branch_id BIGINT,
  redeemed_by TEXT,
  discount_minor BIGINT,
  order_total_minor BIGINT,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, template_id) REFERENCES coupon_templates (merchant_id, id),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id)
);
CREATE UNIQUE INDEX coupons_code ON coupons (merchant_id, code);
CREATE UNIQUE INDEX coupons_source ON coupons (merchant_id, template_id, member_id, source_key);
CREATE INDEX coupons_member ON coupons (merchant_id, member_id, id);
CREATE INDEX coupons_batch ON coupons (merchant_id, batch_id);

-- One row per merchant: what each side of a referral gets, and when.
CREATE TABLE referral_programs (
  merchant_id BIGINT NOT NULL PRIMARY KEY REFERENCES merchants (merchant_id),
  active INTEGER NOT NULL DEFAULT 1,
  referrer_point_type_id BIGINT,
  referrer_points BIGINT,
  referrer_template_id BIGINT,
  newcomer_point_type_id BIGINT,
  newcomer_points BIGINT,
  newcomer_template_id BIGINT,
  min_spend_minor BIGINT NOT NULL DEFAULT 0,
  limit_per_referrer INTEGER,
  updated_at BIGINT NOT NULL
);

CREATE TABLE referrals (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  referrer_id BIGINT NOT NULL,
  newcomer_id BIGINT NOT NULL,
  code TEXT NOT NULL,
  device_id TEXT,
  status TEXT NOT NULL,       -- pending | rewarded
  order_id BIGINT,            -- the first qualifying purchase
  created_at BIGINT NOT NULL,
  rewarded_at BIGINT,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, referrer_id) REFERENCES members (merchant_id, id),
  FOREIGN KEY (merchant_id, newcomer_id) REFERENCES members (merchant_id, id)
);
CREATE UNIQUE INDEX referrals_newcomer ON referrals (merchant_id, newcomer_id);
CREATE UNIQUE INDEX referrals_device ON referrals (merchant_id, device_id);
CREATE INDEX referrals_referrer ON referrals (merchant_id, referrer_id);

CREATE TABLE referral_counts (
  merchant_id BIGINT NOT NULL,
  referrer_id BIGINT NOT NULL,
  referred INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (merchant_id, referrer_id)
);

-- Devices a member was seen on (the member's own phone or browser), for the self-referral guard.
CREATE TABLE member_devices (
  merchant_id BIGINT NOT NULL,
  device_id TEXT NOT NULL,
  member_id BIGINT NOT NULL,
  first_seen_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, device_id, member_id)
);
CREATE INDEX member_devices_member ON member_devices (merchant_id, member_id);
)sql";

}  // namespace regulars::store::schema
