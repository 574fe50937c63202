#pragma once

// LINE Messaging API push:
//   POST {base_url}/v2/bot/message/push
//   Authorization: Bearer {channel access token}
//   X-Line-Retry-Key: LineRetryKey(dedup_key)  (LINE's own idempotency key)
//   {"to": "U…", "messages": [{"type": "text", "text": "…"}]}
// 200 answers carry {"sentMessages": [{"id", "quoteToken"}]}; errors {"message", "details":
// [{"message", "property"}]}. A 409 means LINE already accepted a request with this retry key
// (a retry after a lost answer or a crash): the message was sent, and counts as kSent.
//
// Settings: {"base_url": "https://api.line.me" (default; tests point it at the fake),
//            "timeout_ms": 10000}
// Secrets:  {"channel_access_token": "…", "channel_secret": "…" (verifies webhooks, see
//            receipts.h; optional here)}

#include <string>
#include <string_view>

#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeLineChannel(const ChannelConfig& c,
                                                 const Clock* clock = SystemClock::Default());

// The X-Line-Retry-Key for a dedup key: DeliveryIdentity's 128 bits written as a UUID
// (8-4-4-4-12 lower-case hex) with the RFC 9562 version 8 ("custom") and variant bits set, so
// the same logical message always carries the same key and different ones never share it.
std::string LineRetryKey(std::string_view dedup_key);

}  // namespace regulars::messaging
