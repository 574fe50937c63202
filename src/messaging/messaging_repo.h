#pragma once

// Rows of the messaging configuration: channels (provider settings, secrets sealed with
// SecretBox), templates and the per-merchant messaging settings. Thin SQL; validation of the
// contents lives with their owners (MakeChannel, ValidateTemplate, ParsePolicySettings).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "messaging/channel.h"
#include "messaging/policy.h"
#include "messaging/secrets.h"
#include "messaging/template.h"
#include "store/db.h"

namespace regulars::messaging {

struct ChannelRow {
  Id merchant_id = 0;
  Id id = 0;
  ChannelKind kind = ChannelKind::kLog;
  std::string name;
  nlohmann::json settings = nlohmann::json::object();
  std::optional<std::string> sealed_secrets;  // as stored
  bool active = true;
  Micros created_at = 0, updated_at = 0;
};

// Inserts a channel (id assigned when 0), sealing `secrets` when not empty. already_exists
// naming "name" for a duplicate name.
Result<ChannelRow> CreateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now);
Result<std::optional<ChannelRow>> GetChannel(store::Tx& tx, Id merchant_id, Id id);
// The channel with its id but without knowing the merchant (the sender's cache).
Result<std::optional<ChannelRow>> GetChannelById(store::Tx& tx, Id id);
Result<std::vector<ChannelRow>> ListChannels(store::Tx& tx, Id merchant_id);
// The config MakeChannel takes; failed_precondition naming "secrets" when they cannot be opened
// (no key given, or sealed under another key).
Result<ChannelConfig> ToConfig(const ChannelRow& row, const SecretBox* box);

Result<Template> CreateTemplate(store::Tx& tx, Id merchant_id, Template t, Micros now);
Result<std::optional<Template>> GetTemplate(store::Tx& tx, Id merchant_id, Id id);
Result<std::optional<Template>> GetTemplateByName(store::Tx& tx, Id merchant_id,
                                                  std::string_view name);

// messaging_settings.settings: {"policy": {...policy.h...}, "sms_price_minor": 150,
// "unsubscribe_base_url": "https://..."}; absent -> {}.
struct MessagingSettings {
  PolicySettings policy;
  std::string language = "zh-TW";  // the merchant's default
  int64_t sms_price_minor = 0;
  nlohmann::json raw = nlohmann::json::object();
};
Result<MessagingSettings> GetMessagingSettings(store::Tx& tx, Id merchant_id);
// The stored settings object as saved ({} when none or unreadable), without validating it.
Result<nlohmann::json> GetSettingsJson(store::Tx& tx, Id merchant_id);
Status PutMessagingSettings(store::Tx& tx, Id merchant_id, const nlohmann::json& settings,
                            Micros now);

}  // namespace regulars::messaging
