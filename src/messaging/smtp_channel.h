#pragma once

// E-mail over SMTP with libcurl. Settings (secrets: {"password": ".."}):
//   host (required), port (default 587; 465 for security "tls"; 25 for "none"),
//   security: "starttls" (required; default) | "starttls_optional" | "tls" (implicit) | "none",
//   from (required, "Name <addr@x>" or "addr@x"), username, timeout_ms (default 30000),
//   verify_tls (default true), helo (the name sent in EHLO; default curl's).
// Outcomes: a 2xx end of DATA -> sent (provider id: the Message-ID); a 4xx reply, a network
// error, a timeout or STARTTLS missing when required -> temporary; a 5xx reply -> permanent.

#include <string>

#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeSmtpChannel(const ChannelConfig& c);

// The message as sent: headers (From, To, Subject as RFC 2047 UTF-8 words when not ASCII, Date,
// Message-ID "<DeliveryIdentity(dedup_key)@regulars>", MIME-Version, the envelope's own headers)
// and a multipart/alternative text+html body (text/plain alone without html), each part UTF-8 in
// base64. CR/LF are removed from header values. `date` is an RFC 5322 date.
std::string BuildMime(const Envelope& e, const std::string& from, const std::string& date);

// "<identity@regulars>" for an envelope.
std::string SmtpMessageId(const Envelope& e);

}  // namespace regulars::messaging
