#pragma once

// Migration 1: merchants, people, members, the event log, idempotency keys.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kFoundation = R"sql(
CREATE TABLE merchants (
  merchant_id BIGINT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  region TEXT NOT NULL,
  currency TEXT NOT NULL,
  timezone TEXT NOT NULL,
  language TEXT NOT NULL,
  last_event_seq BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE branches (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  code TEXT,
  address TEXT,
  phone TEXT,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX branches_code ON branches (merchant_id, code);

CREATE TABLE staff (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX staff_email ON staff (merchant_id, email);
-- Login finds a person by email before the merchant is known.
CREATE INDEX staff_login ON staff (email);

CREATE TABLE staff_branches (
  merchant_id BIGINT NOT NULL,
  staff_id BIGINT NOT NULL,
  branch_id BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, staff_id, branch_id),
  FOREIGN KEY (merchant_id, staff_id) REFERENCES staff (merchant_id, id),
  FOREIGN KEY (merchant_id, branch_id) REFERENCES branches (merchant_id, id)
);

CREATE TABLE sessions (
  merchant_id BIGINT NOT NULL,
  token_hash TEXT NOT NULL,
  staff_id BIGINT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, token_hash),
  FOREIGN KEY (merchant_id, staff_id) REFERENCES staff (merchant_id, id)
);

CREATE TABLE api_keys (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  last_used_at BIGINT,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (merchant_id, key_hash);

CREATE TABLE members (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  phone TEXT,
  phone_rev TEXT,
  name TEXT,
  name_fold TEXT,
  email TEXT,
  email_fold TEXT,
  birthday TEXT,
  birth_month INTEGER,
  birth_day INTEGER,
  gender TEXT,
  region TEXT,
  city TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  attributes TEXT NOT NULL DEFAULT '{}',
  notes TEXT,
  language TEXT,
  referral_code TEXT NOT NULL,
  home_branch_id BIGINT,
  created_by_staff_id BIGINT,
  merged_into BIGINT,
  erased_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX members_phone ON members (merchant_id, phone);
CREATE UNIQUE INDEX members_referral_code ON members (merchant_id, referral_code);
CREATE INDEX members_phone_rev ON members (merchant_id, phone_rev);
CREATE INDEX members_name ON members (merchant_id, name_fold);
CREATE INDEX members_email ON members (merchant_id, email_fold);
CREATE INDEX members_birthday ON members (merchant_id, birth_month, birth_day);

-- Other ways to recognise a member: an e-mail, a store's customer id, a card code.
CREATE TABLE member_identities (
  merchant_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  member_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, kind, value),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id)
);
CREATE INDEX member_identities_member ON member_identities (merchant_id, member_id);

-- The current marketing consent per channel; every change is also a consent_changed event.
CREATE TABLE member_consents (
  merchant_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  channel TEXT NOT NULL,
  granted INTEGER NOT NULL,
  changed_at BIGINT NOT NULL,
  source TEXT NOT NULL,
  branch_id BIGINT,
  staff_id BIGINT,
  PRIMARY KEY (merchant_id, member_id, channel),
  FOREIGN KEY (merchant_id, member_id) REFERENCES members (merchant_id, id)
);

-- The domain event log. `seq` counts per merchant (merchants.last_event_seq is bumped in the
-- same transaction), so a reader never sees a later event commit before an earlier one.
CREATE TABLE events (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  seq BIGINT NOT NULL,
  id BIGINT NOT NULL,
  type TEXT NOT NULL,
  member_id BIGINT,
  occurred_at BIGINT NOT NULL,
  actor TEXT,
  data TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (merchant_id, seq)
);
CREATE INDEX events_member ON events (merchant_id, member_id, seq);

CREATE TABLE event_cursors (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  consumer TEXT NOT NULL,
  last_seq BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, consumer)
);

CREATE TABLE idempotency_keys (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, key)
);
)sql";

}  // namespace regulars::store::schema
