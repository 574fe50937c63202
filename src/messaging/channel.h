#pragma once

// The provider side of messaging: one rendered message (Envelope) handed to one configured
// channel (Channel), and what the provider answered (SendOutcome). Adapters (SMTP, Twilio,
// generic HTTP SMS, LINE, webhook, log) implement Channel; the sender (sender.h) builds them with
// MakeChannel from a channel row and never knows which provider it talks to.

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::messaging {

enum class ChannelKind { kSmtp, kTwilio, kHttpSms, kLine, kWebhook, kLog };
enum class Medium { kEmail, kSms, kLine, kWebhook };  // what a template is written for

// Wire names: "smtp", "twilio", "http_sms", "line", "webhook", "log".
std::string_view ChannelKindName(ChannelKind k);
std::optional<ChannelKind> ParseChannelKind(std::string_view s);
// Wire names: "email", "sms", "line", "webhook".
std::string_view MediumName(Medium m);
std::optional<Medium> ParseMedium(std::string_view s);
// The medium a channel kind delivers (kSmtp -> kEmail, kTwilio/kHttpSms -> kSms, ...; kLog ->
// kEmail, since the log channel stands in for any medium in development).
Medium MediumOf(ChannelKind k);

struct Envelope {  // one rendered message, ready for a provider
  Id message_id = 0;
  std::string dedup_key;  // stable per logical message ("<merchant_id>/<key>"); adapters pass
                          // DeliveryIdentity(dedup_key) on where the provider has a place for
                          // it (Message-ID, Idempotency-Key header)
  std::string to;         // e-mail address, E.164 phone, LINE user id, webhook: member id
  std::string subject;    // e-mail only
  std::string text;       // SMS / LINE / plain-text e-mail part
  std::string html;       // e-mail only, may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. List-Unsubscribe
};

struct SendOutcome {
  enum class Kind { kSent, kTemporary, kThrottled, kPermanent } kind = Kind::kSent;
  std::string provider_id;            // provider's message id, for receipts
  std::string error;                  // human-readable, from the provider's answer
  std::optional<Micros> retry_after;  // from Retry-After on kThrottled / kTemporary (a duration)
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual ChannelKind kind() const = 0;
  // Delivers one message; never throws; blocks at most the adapter's timeout.
  virtual SendOutcome Send(const Envelope& e) = 0;

  // Optional two-phase delivery, for providers that take a message in steps of which only the
  // last can make them accept it (SMTP with PIPELINING: the envelope, then the body). BeginSend
  // starts `e` and returns true, or returns false having done nothing (call Send instead; the
  // default). After a true BeginSend the caller's next call on the channel must be FinishSend
  // with the same envelope, which completes it and returns what Send would have returned. Between
  // the two the caller may do other work while the provider answers (the sender commits the
  // previous message's `sent`): until FinishSend the provider cannot have accepted `e`.
  virtual bool BeginSend(const Envelope& /*e*/) { return false; }
  virtual SendOutcome FinishSend(const Envelope& e) { return Send(e); }
};

// Config of one channel row: non-secret JSON + decrypted secret JSON.
struct ChannelConfig {
  Id id = 0;
  ChannelKind kind = ChannelKind::kLog;
  std::string name;
  nlohmann::json settings = nlohmann::json::object();
  nlohmann::json secrets = nlohmann::json::object();
};

// Factory (channel_factory.cpp; each adapter registers there with one line): a Channel for a
// config, or invalid_argument naming the setting ("settings.host: required").
Result<std::unique_ptr<Channel>> MakeChannel(const ChannelConfig& c);

// A stable provider-visible identity for an Envelope's dedup_key (which the sender fills as
// "<merchant_id>/<dedup key>", unique across merchants): the first 32 hex digits of its SHA-256.
// SMTP sends "Message-ID: <identity@regulars>", HTTP adapters send it as Idempotency-Key, so a
// retry after a crash is recognisable as the same message.
std::string DeliveryIdentity(std::string_view dedup_key);

}  // namespace regulars::messaging
