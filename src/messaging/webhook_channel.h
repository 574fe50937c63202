#pragma once

// A generic signed webhook: each message is POSTed as JSON to the merchant's URL.
//
//   POST {url}
//   Content-Type: application/json
//   Idempotency-Key: DeliveryIdentity(dedup_key)   (the same on every retry of one message)
//   X-Regulars-Signature: t=<unix seconds>,v1=<64 lower-case hex digits>
//   {"message_id": "…", "dedup_key": "<identity>", "to": "…", "subject": "…", "text": "…",
//    "html": "…"}
//
// Any 2xx is delivered; 429/503 throttle (Retry-After honoured), other 5xx and timeouts retry,
// other statuses fail for good (see http_client.h).
//
// Verifying a delivery (the receiver's recipe, like Stripe's):
//   1. Split the X-Regulars-Signature header on ',' into key=value pairs; take t and every v1.
//   2. Build the signed payload: the decimal t, a '.', then the raw request body, byte for byte
//      (before any JSON parsing).
//   3. Compute HMAC-SHA256 of it with the channel's signing secret, as lower-case hex.
//   4. Compare with each v1 in constant time; one match is enough (several v1 may be sent while
//      a secret is being rotated).
//   5. Reject a t more than 5 minutes away from your clock (replays), and use Idempotency-Key
//      to ignore a message you already processed.
// VerifyWebhookSignature below does exactly this.
//
// Settings: {"url": "https://…", "timeout_ms": 10000}
// Secrets:  {"signing_secret": "…"}

#include <cstdint>
#include <string>
#include <string_view>

#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeWebhookChannel(const ChannelConfig& c,
                                                    const Clock* clock = SystemClock::Default());

// The X-Regulars-Signature value for `body` sent at `unix_seconds`.
std::string SignWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body);

// The recipe above. permission_denied with the reason ("X-Regulars-Signature: timestamp is 412 s
// away from now (tolerance 300 s)") when the header is missing, malformed, stale or wrong.
Status VerifyWebhookSignature(std::string_view secret, std::string_view header,
                              std::string_view body, Micros now,
                              Micros tolerance = 300 * kMicrosPerSecond);

}  // namespace regulars::messaging
