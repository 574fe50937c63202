#pragma once

// SMS through Twilio's Messages API:
//   POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json
//   HTTP Basic (account_sid : auth_token, or api_key_sid : api_key_secret)
//   form fields To, From | MessagingServiceSid, Body, StatusCallback
// 201 answers carry the message "sid" (the provider_id that status callbacks name); errors carry
// {"code", "message", "more_info", "status"}; 429 (code 20429) carries Retry-After.
//
// Settings: {"account_sid": "AC" + 32 hex, "from": "+1..." | "messaging_service_sid": "MG...",
//            "status_callback": "https://.../inbound/twilio/status" (optional),
//            "base_url": "https://api.twilio.com" (default; tests point it at the fake),
//            "timeout_ms": 10000}
// Secrets:  {"auth_token": "..."} or {"api_key_sid": "SK...", "api_key_secret": "..."}
//
// Twilio's Messages API has no idempotency key, so a retry after a crash between Twilio's 201
// and the outbox's `sent` commit can send twice; the outbox keeps that window small.

#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeTwilioChannel(const ChannelConfig& c,
                                                   const Clock* clock = SystemClock::Default());

}  // namespace regulars::messaging
