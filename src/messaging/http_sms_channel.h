#pragma once

// SMS through any HTTP gateway (local SMS providers, in-house gateways), described by settings
// instead of code. Every template is Mustache over the message:
//   {{to}} (E.164), {{text}}, {{dedup_key}} (DeliveryIdentity: the same on every retry),
//   {{message_id}}, and {{secrets.<name>}} for each string in the channel's secrets,
// so API keys live in the encrypted secrets, never in plain settings.
//
// Settings:
//   "url":      "https://gw.example/send?user={{secrets.user}}"  required; values URL-encoded
//   "method":   "POST"                  GET, POST or PUT (default POST; GET sends no body)
//   "headers":  {"Authorization": "Bearer {{secrets.api_key}}", ...}   values unescaped; a
//               rendered value with a line break is refused (no header injection)
//   "body":     "{\"to\":\"{{to}}\",\"text\":\"{{text}}\"}"             default empty
//   "body_escape": "json" | "form" | "none"  how {{…}} values are escaped in the body; default
//               from the Content-Type header: json for */json, form for
//               application/x-www-form-urlencoded, none otherwise. {{{…}}} is never escaped.
//   "success":  {"status": [200, 299],   the accepted status range (default 2xx)
//                "json_pointer": "/status", "equals": "ok",   optional: a JSON value that must
//                                                             equal this text
//                "regex": "^OK"}          optional: must match somewhere in the body
//   "provider_id": {"json_pointer": "/id"} | {"regex": "id=([0-9]+)"} | {"header": "X-Id"}
//               where the gateway's message id is (regex: group 1, or the whole match)
//   "error":    {"json_pointer": "/error"}  where the gateway's error text is (optional)
//   "idempotency_header": "Idempotency-Key"  the header carrying {{dedup_key}}; "" for none
//   "timeout_ms": 10000
//
// Outcome: a status outside the success range follows http_client.h (429/503 throttled with
// Retry-After, 5xx temporary, others permanent); a status inside it whose body fails the JSON
// or regex rule is permanent ("success rule: /status is \"fail\", expected \"ok\"").

#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeHttpSmsChannel(const ChannelConfig& c,
                                                    const Clock* clock = SystemClock::Default());

}  // namespace regulars::messaging
