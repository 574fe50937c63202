#pragma once

// Migration 3: the prepaid wallet (儲值): bonus schemes, the append-only wallet ledger, and the
// materialised balance per member.
//
// Paid value (money the member handed over: a liability the merchant owes in goods) and bonus
// value (given away by a scheme: a promotion cost, not a liability) are kept apart on every entry
// and every balance, so the books can tell them apart. Invariants (checked by CheckWallets):
//   wallet_balances.paid_minor  = SUM(wallet_entries.paid_minor)  >= 0, same for bonus;
//   entry seq runs 1, 2, 3, ... per member and each entry's *_after = the previous one's + amount;
//   a charge is never refunded beyond what it took, per part.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kWallet = R"sql(
-- "Pay pay_minor, get bonus_minor": the best scheme in force applies to a top-up (schemes never
-- stack); with repeats = 1 the bonus is given once per full pay_minor (pay 2,000 get 200).
CREATE TABLE wallet_bonus_schemes (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  pay_minor BIGINT NOT NULL,
  bonus_minor BIGINT NOT NULL,
  repeats INTEGER NOT NULL DEFAULT 0,
  valid_from BIGINT,
  valid_to BIGINT,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id),
  CHECK (pay_minor > 0 AND bonus_minor > 0)
);

-- One row per member with a wallet. Every change takes this row's lock first (an UPDATE), so the
-- changes of one wallet are serialised on both databases; last_seq is the seq of the newest
-- entry and doubles as the compare-and-set token of the balance update.
CREATE TABLE wallet_balances (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  member_id BIGINT NOT NULL,
  paid_minor BIGINT NOT NULL DEFAULT 0,
  bonus_minor BIGINT NOT NULL DEFAULT 0,
  last_seq BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, member_id),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id),
  CHECK (paid_minor >= 0 AND bonus_minor >= 0)
);

-- The append-only wallet ledger. kind: top_up | charge | refund | adjust. paid_minor and
-- bonus_minor are signed changes (a charge is negative); *_after is the balance after it.
CREATE TABLE wallet_entries (
  merchant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  paid_minor BIGINT NOT NULL,
  bonus_minor BIGINT NOT NULL,
  paid_after BIGINT NOT NULL,
  bonus_after BIGINT NOT NULL,
  currency TEXT NOT NULL,
  scheme_id BIGINT,
  -- The order a charge paid for (the Regulars order id or the shop's own reference).
  order_id TEXT,
  -- A refund: the charge it gives back.
  related_entry_id BIGINT,
  payment_method TEXT,
  reason TEXT,
  branch_id BIGINT,
  staff_id BIGINT,
  actor TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id)
);
CREATE UNIQUE INDEX wallet_entries_member_seq ON wallet_entries (merchant_id, member_id, seq);
CREATE INDEX wallet_entries_related ON wallet_entries (merchant_id, related_entry_id);
CREATE INDEX wallet_entries_order ON wallet_entries (merchant_id, order_id);
CREATE INDEX wallet_entries_time ON wallet_entries (merchant_id, created_at);
)sql";

}  // namespace regulars::store::schema
