#pragma once

// Migration 2: orders, point types, earning rules, the points ledger with lots and balances,
// rewards and redemptions.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kLoyalty = R"sql(
-- Whether an order with an unknown phone registers a new member.
ALTER TABLE merchants ADD COLUMN register_on_order INTEGER NOT NULL DEFAULT 1;

CREATE TABLE point_types (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  expiry_kind TEXT NOT NULL,
  expiry_n INTEGER NOT NULL DEFAULT 0,
  -- What 1,000 points are worth to the merchant, in minor units (for liability reports).
  value_minor_per_1000 BIGINT NOT NULL DEFAULT 0,
  -- When a refund takes back points already spent: 'negative' balance or a 'debt'.
  refund_shortfall TEXT NOT NULL DEFAULT 'negative',
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX point_types_code ON point_types (merchant_id, code);

-- Earning rules are versioned: a change closes the current version and opens a new one, so an
-- order is always scored by the versions in force when it happened.
CREATE TABLE earning_rules (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  version INTEGER NOT NULL,
  valid_from BIGINT NOT NULL,
  valid_to BIGINT,
  point_type_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id, version),
  FOREIGN KEY (merchant_id, point_type_id) REFERENCES point_types (merchant_id, id)
);
CREATE INDEX earning_rules_valid ON earning_rules (merchant_id, valid_from);

CREATE TABLE orders (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  external_id TEXT NOT NULL,
  member_id BIGINT,
  branch_id BIGINT,
  staff_id BIGINT,
  occurred_at BIGINT NOT NULL,
  currency TEXT NOT NULL,
  total_minor BIGINT NOT NULL,
  refunded_minor BIGINT NOT NULL DEFAULT 0,
  source TEXT NOT NULL DEFAULT 'api',
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX orders_external ON orders (merchant_id, external_id);
CREATE INDEX orders_member ON orders (merchant_id, member_id, occurred_at);
CREATE INDEX orders_time ON orders (merchant_id, occurred_at);

CREATE TABLE order_items (
  merchant_id BIGINT NOT NULL,
  order_id BIGINT NOT NULL,
  line INTEGER NOT NULL,
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  category TEXT,
  quantity BIGINT NOT NULL,
  unit_price_minor BIGINT NOT NULL,
  refunded_quantity BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (merchant_id, order_id, line),
  FOREIGN KEY (merchant_id, order_id) REFERENCES orders (merchant_id, id)
);

-- What each rule gave an order: the "why" behind its points, and daily caps.
CREATE TABLE order_earnings (
  merchant_id BIGINT NOT NULL,
  order_id BIGINT NOT NULL,
  line INTEGER NOT NULL,
  member_id BIGINT NOT NULL,
  occurred_at BIGINT NOT NULL,
  rule_id BIGINT NOT NULL,
  rule_version INTEGER NOT NULL,
  point_type_id BIGINT NOT NULL,
  points BIGINT NOT NULL,
  explanation TEXT NOT NULL,
  PRIMARY KEY (merchant_id, order_id, line)
);
CREATE INDEX order_earnings_member ON order_earnings (merchant_id, member_id, occurred_at);

CREATE TABLE refunds (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  order_id BIGINT NOT NULL,
  amount_minor BIGINT NOT NULL,
  reason TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, order_id) REFERENCES orders (merchant_id, id)
);

-- The append-only points ledger. Every change to a balance is one entry; balances and lots are
-- maintained in the same transaction. Invariant (checked by `regulars check`):
--   balance = SUM(amount) = SUM(open lots) - debt.
CREATE TABLE ledger_entries (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  point_type_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  amount BIGINT NOT NULL,
  balance_after BIGINT NOT NULL,
  reason TEXT,
  source_type TEXT,
  source_id BIGINT,
  branch_id BIGINT,
  staff_id BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id),
  FOREIGN KEY (merchant_id, point_type_id) REFERENCES point_types (merchant_id, id)
);
CREATE INDEX ledger_member ON ledger_entries (merchant_id, member_id, point_type_id, id);
CREATE INDEX ledger_source ON ledger_entries (merchant_id, source_type, source_id);

-- Earned points kept as lots, consumed oldest-expiring first.
CREATE TABLE point_lots (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  point_type_id BIGINT NOT NULL,
  earned_at BIGINT NOT NULL,
  expires_at BIGINT,
  original BIGINT NOT NULL,
  remaining BIGINT NOT NULL,
  entry_id BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX point_lots_open ON point_lots (merchant_id, member_id, point_type_id, remaining);
CREATE INDEX point_lots_expiry ON point_lots (merchant_id, expires_at);

-- Which lots an entry took points from (or gave back to), so a release or a reversal restores
-- exactly the lots it took, with their original expiry.
CREATE TABLE lot_moves (
  merchant_id BIGINT NOT NULL,
  entry_id BIGINT NOT NULL,
  lot_id BIGINT NOT NULL,
  amount BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, entry_id, lot_id)
);

CREATE TABLE point_balances (
  merchant_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  point_type_id BIGINT NOT NULL,
  balance BIGINT NOT NULL,
  debt BIGINT NOT NULL DEFAULT 0,
  earned_total BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, member_id, point_type_id)
);

CREATE TABLE rewards (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  point_type_id BIGINT NOT NULL,
  points BIGINT NOT NULL,
  stock BIGINT,
  per_member_limit BIGINT,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, point_type_id) REFERENCES point_types (merchant_id, id)
);

CREATE TABLE redemptions (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  point_type_id BIGINT NOT NULL,
  points BIGINT NOT NULL,
  reward_id BIGINT,
  order_id BIGINT,
  status TEXT NOT NULL,
  reserve_entry_id BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  branch_id BIGINT,
  staff_id BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE INDEX redemptions_open ON redemptions (merchant_id, status, expires_at);
CREATE INDEX redemptions_member ON redemptions (merchant_id, member_id, reward_id);
)sql";

}  // namespace regulars::store::schema
