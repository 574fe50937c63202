#pragma once

// Rows of the messaging configuration: channels (provider settings, secrets sealed with
// SecretBox), templates and the per-merchant messaging settings. The one place their SQL lives:
// the routes, the sender and the transactional messages all read and write through here. Thin
// SQL; validation of the contents lives with their owners (MakeChannel, ValidateTemplate,
// ParsePolicySettings).

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

// Inserts a channel (id assigned when 0), sealing `secrets` when not empty (failed_precondition
// naming "secrets" without a box). invalid_argument naming "name" when empty, "settings" when
// not an object; already_exists "name: another channel has this name".
Result<ChannelRow> CreateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now);
// Writes name, settings, active and the secrets (sealed when not empty, none when empty) of
// channel row.id of row.merchant_id; kind and created_at stay. Errors as CreateChannel.
Result<ChannelRow> UpdateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now);
Result<std::optional<ChannelRow>> GetChannel(store::Tx& tx, Id merchant_id, Id id);
// The channel, or not_found "channel not found".
Result<ChannelRow> RequireChannel(store::Tx& tx, Id merchant_id, Id id);
// The channel with its id but without knowing the merchant (the sender's cache; provider
// callbacks, which name a channel by its id alone: ids are unique across merchants).
Result<std::optional<ChannelRow>> GetChannelById(store::Tx& tx, Id id);
// GetChannelById, or not_found "channel not found".
Result<ChannelRow> RequireChannelById(store::Tx& tx, Id id);
// Oldest first.
Result<std::vector<ChannelRow>> ListChannels(store::Tx& tx, Id merchant_id);
// The oldest active channel that delivers `medium`; a log channel only when no real one is set
// up; nullopt when neither.
Result<std::optional<Id>> FirstChannel(store::Tx& tx, Id merchant_id, Medium medium);
// The config MakeChannel takes; failed_precondition naming "secrets" when they cannot be opened
// (no key given, or sealed under another key).
Result<ChannelConfig> ToConfig(const ChannelRow& row, const SecretBox* box);

struct TemplateRow {
  Template t;
  Micros created_at = 0, updated_at = 0;
};
// Inserts a template (id assigned when 0) after ValidateTemplate; invalid_argument naming "name"
// when empty; already_exists "name: another template has this name".
Result<TemplateRow> CreateTemplate(store::Tx& tx, Id merchant_id, Template t, Micros now);
// Writes name, purpose and variants of template t.id (the medium stays); errors as
// CreateTemplate, not_found "template not found".
Result<TemplateRow> UpdateTemplate(store::Tx& tx, Id merchant_id, const Template& t, Micros now);
Result<std::optional<TemplateRow>> GetTemplate(store::Tx& tx, Id merchant_id, Id id);
// The template, or not_found "template not found".
Result<TemplateRow> RequireTemplate(store::Tx& tx, Id merchant_id, Id id);
Result<std::optional<TemplateRow>> GetTemplateByName(store::Tx& tx, Id merchant_id,
                                                     std::string_view name);
// Oldest first.
Result<std::vector<TemplateRow>> ListTemplates(store::Tx& tx, Id merchant_id);

// The member whose LINE identity (member_identities kind "line", the LINE user id a LINE
// channel sends to) is `user_id`, or nullopt.
Result<std::optional<Id>> FindMemberByLineUserId(store::Tx& tx, Id merchant_id,
                                                 std::string_view user_id);

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
