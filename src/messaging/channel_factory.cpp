#include <array>

#include "base/crypto.h"
#include "messaging/channel.h"
#include "messaging/http_sms_channel.h"
#include "messaging/line_channel.h"
#include "messaging/log_channel.h"
#include "messaging/smtp_channel.h"
#include "messaging/twilio_channel.h"
#include "messaging/webhook_channel.h"

namespace regulars::messaging {
namespace {

constexpr std::array<std::pair<ChannelKind, std::string_view>, 6> kKindNames = {{
    {ChannelKind::kSmtp, "smtp"},
    {ChannelKind::kTwilio, "twilio"},
    {ChannelKind::kHttpSms, "http_sms"},
    {ChannelKind::kLine, "line"},
    {ChannelKind::kWebhook, "webhook"},
    {ChannelKind::kLog, "log"},
}};
constexpr std::array<std::pair<Medium, std::string_view>, 4> kMediumNames = {{
    {Medium::kEmail, "email"},
    {Medium::kSms, "sms"},
    {Medium::kLine, "line"},
    {Medium::kWebhook, "webhook"},
}};

}  // namespace

std::string_view ChannelKindName(ChannelKind k) {
  for (const auto& [kind, name] : kKindNames)
    if (kind == k) return name;
  return "log";
}

std::optional<ChannelKind> ParseChannelKind(std::string_view s) {
  for (const auto& [kind, name] : kKindNames)
    if (name == s) return kind;
  return std::nullopt;
}

std::string_view MediumName(Medium m) {
  for (const auto& [medium, name] : kMediumNames)
    if (medium == m) return name;
  return "email";
}

std::optional<Medium> ParseMedium(std::string_view s) {
  for (const auto& [medium, name] : kMediumNames)
    if (name == s) return medium;
  return std::nullopt;
}

Medium MediumOf(ChannelKind k) {
  switch (k) {
    case ChannelKind::kSmtp:
      return Medium::kEmail;
    case ChannelKind::kTwilio:
    case ChannelKind::kHttpSms:
      return Medium::kSms;
    case ChannelKind::kLine:
      return Medium::kLine;
    case ChannelKind::kWebhook:
      return Medium::kWebhook;
    case ChannelKind::kLog:
      return Medium::kEmail;
  }
  return Medium::kEmail;
}

std::string DeliveryIdentity(std::string_view dedup_key) {
  return Sha256Hex(dedup_key).substr(0, 32);
}

Result<std::unique_ptr<Channel>> MakeChannel(const ChannelConfig& c) {
  if (!c.settings.is_object()) return InvalidField("settings", "must be an object");
  if (!c.secrets.is_object()) return InvalidField("secrets", "must be an object");
  switch (c.kind) {
    case ChannelKind::kLog:
      return MakeLogChannel(c);
    case ChannelKind::kSmtp:
      return MakeSmtpChannel(c);
    // Adapters register here, one line each:
    //   case ChannelKind::kTwilio: return MakeTwilioChannel(c);
    case ChannelKind::kTwilio:
      return MakeTwilioChannel(c);
    case ChannelKind::kHttpSms:
      return MakeHttpSmsChannel(c);
    case ChannelKind::kLine:
      return MakeLineChannel(c);
    case ChannelKind::kWebhook:
      return MakeWebhookChannel(c);
    default:
      break;
  }
  return InvalidField(
      "kind", std::string("no adapter for channel kind ") + std::string(ChannelKindName(c.kind)));
}

}  // namespace regulars::messaging
