#pragma once

// Migration 10: messaging — channels (provider configs, secrets sealed by messaging/secrets.h),
// templates (per-language variants), per-merchant messaging settings (quiet hours, caps, SMS
// price), the outbox (one row per logical message, leased by sender workers) and suppressions.

#include <string_view>

namespace regulars::store::schema {

inline constexpr std::string_view kMessaging = R"sql(
CREATE TABLE message_channels (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  kind TEXT NOT NULL,            -- smtp | twilio | http_sms | line | webhook | log
  name TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  secrets TEXT,                  -- sealed JSON (messaging/secrets.h), NULL when none
  active INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX message_channels_name ON message_channels (merchant_id, name);

CREATE TABLE message_templates (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  name TEXT NOT NULL,
  medium TEXT NOT NULL,          -- email | sms | line | webhook
  purpose TEXT NOT NULL,         -- marketing | transactional
  variants TEXT NOT NULL,        -- {"zh-TW": {"subject": .., "text": .., "html": ..}, ...}
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX message_templates_name ON message_templates (merchant_id, name);

-- One row per merchant; absent means the defaults (messaging/policy.h).
CREATE TABLE messaging_settings (
  merchant_id BIGINT NOT NULL PRIMARY KEY REFERENCES merchants (merchant_id),
  settings TEXT NOT NULL DEFAULT '{}',
  updated_at BIGINT NOT NULL
);

-- status: queued | sending | sent | delivered | failed | deferred | skipped | suppressed.
-- A worker owns a 'sending' row until lease_until; an expired lease may be claimed again.
CREATE TABLE outbox (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  id BIGINT NOT NULL,
  dedup_key TEXT NOT NULL,
  member_id BIGINT,
  channel_id BIGINT NOT NULL,
  medium TEXT NOT NULL,
  purpose TEXT NOT NULL,
  template_id BIGINT,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  body_text TEXT NOT NULL DEFAULT '',
  body_html TEXT NOT NULL DEFAULT '',
  headers TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  provider_id TEXT,
  last_error TEXT,
  cost_minor BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  sent_at BIGINT,
  delivered_at BIGINT,
  PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX outbox_dedup ON outbox (merchant_id, dedup_key);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lease ON outbox (status, lease_until);
CREATE INDEX outbox_provider ON outbox (channel_id, provider_id);
CREATE INDEX outbox_member_sent ON outbox (merchant_id, member_id, medium, sent_at);

-- Addresses that must not receive (some) messages: hard bounces (everything), unsubscribes and
-- complaints (marketing).
CREATE TABLE message_suppressions (
  merchant_id BIGINT NOT NULL REFERENCES merchants (merchant_id),
  medium TEXT NOT NULL,
  address TEXT NOT NULL,
  reason TEXT NOT NULL,          -- bounced | unsubscribed | complaint
  member_id BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, medium, address)
);
)sql";

}  // namespace regulars::store::schema
