#include "messaging/messaging_repo.h"

#include <fmt/format.h>

namespace regulars::messaging {
namespace {

constexpr std::string_view kChannelColumns =
    "merchant_id, id, kind, name, settings, secrets, active, created_at, updated_at";

ChannelRow ChannelFromRow(const store::Row& r) {
  ChannelRow c;
  c.merchant_id = r.Int(0);
  c.id = r.Int(1);
  c.kind = ParseChannelKind(r.Str(2)).value_or(ChannelKind::kLog);
  c.name = r.Str(3);
  c.settings = nlohmann::json::parse(r.Str(4), nullptr, false);
  if (c.settings.is_discarded()) c.settings = nlohmann::json::object();
  c.sealed_secrets = r.OptStr(5);
  c.active = r.Bool(6);
  c.created_at = r.Int(7);
  c.updated_at = r.Int(8);
  return c;
}

Result<std::optional<ChannelRow>> OneChannel(store::Tx& tx, std::string where,
                                             std::vector<store::Value> params) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query(fmt::format("SELECT {} FROM message_channels WHERE {}", kChannelColumns, where),
               params));
  if (rows.empty()) return std::optional<ChannelRow>{};
  return ChannelFromRow(rows[0]);
}

Result<Template> TemplateFromRow(const store::Row& r) {
  Template t;
  t.id = r.Int(0);
  t.name = r.Str(1);
  t.medium = ParseMedium(r.Str(2)).value_or(Medium::kEmail);
  t.purpose = ParsePurpose(r.Str(3)).value_or(Purpose::kTransactional);
  auto j = nlohmann::json::parse(r.Str(4), nullptr, false);
  RG_ASSIGN_OR_RETURN(t.variants, ParseVariants(j));
  return t;
}

Result<std::optional<Template>> OneTemplate(store::Tx& tx, std::string where,
                                            std::vector<store::Value> params) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query("SELECT id, name, medium, purpose, variants FROM message_templates WHERE " + where,
               params));
  if (rows.empty()) return std::optional<Template>{};
  RG_ASSIGN_OR_RETURN(Template t, TemplateFromRow(rows[0]));
  return t;
}

}  // namespace

Result<ChannelRow> CreateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now) {
  if (row.name.empty()) return InvalidField("name", "required");
  if (!row.settings.is_object()) return InvalidField("settings", "must be an object");
  if (row.id == 0) row.id = NewId();
  row.created_at = row.updated_at = now;
  row.sealed_secrets.reset();
  if (secrets.is_object() && !secrets.empty()) {
    if (!box)
      return Fail(Code::kFailedPrecondition, "secrets: no secret key configured", "secrets");
    row.sealed_secrets = box->SealJson(secrets);
  }
  auto r = tx.Exec(
      "INSERT INTO message_channels (merchant_id, id, kind, name, settings, secrets, active, "
      "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {row.merchant_id, row.id, std::string(ChannelKindName(row.kind)), row.name,
       row.settings.dump(), store::Opt(row.sealed_secrets), int64_t{row.active ? 1 : 0}, now, now});
  if (!r && r.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, "name: a channel with this name exists", "name");
  if (!r) return std::unexpected(r.error());
  return row;
}

Result<std::optional<ChannelRow>> GetChannel(store::Tx& tx, Id merchant_id, Id id) {
  return OneChannel(tx, "merchant_id = ? AND id = ?", {merchant_id, id});
}

Result<std::optional<ChannelRow>> GetChannelById(store::Tx& tx, Id id) {
  return OneChannel(tx, "id = ?", {id});
}

Result<std::vector<ChannelRow>> ListChannels(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM message_channels WHERE merchant_id = "
                                           "? ORDER BY name",
                                           kChannelColumns),
                               {merchant_id}));
  std::vector<ChannelRow> out;
  for (const auto& r : rows) out.push_back(ChannelFromRow(r));
  return out;
}

Result<ChannelConfig> ToConfig(const ChannelRow& row, const SecretBox* box) {
  ChannelConfig c;
  c.id = row.id;
  c.kind = row.kind;
  c.name = row.name;
  c.settings = row.settings;
  if (row.sealed_secrets) {
    if (!box)
      return Fail(Code::kFailedPrecondition, "secrets: no secret key configured", "secrets");
    auto opened = box->OpenJson(*row.sealed_secrets);
    if (!opened) {
      Error e = opened.error();
      e.field = "secrets";
      return std::unexpected(std::move(e));
    }
    c.secrets = std::move(*opened);
  }
  return c;
}

Result<Template> CreateTemplate(store::Tx& tx, Id merchant_id, Template t, Micros now) {
  if (t.name.empty()) return InvalidField("name", "required");
  RG_TRY(ValidateTemplate(t));
  if (t.id == 0) t.id = NewId();
  auto r = tx.Exec(
      "INSERT INTO message_templates (merchant_id, id, name, medium, purpose, variants, "
      "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {merchant_id, t.id, t.name, std::string(MediumName(t.medium)),
       std::string(PurposeName(t.purpose)), VariantsToJson(t.variants).dump(), now, now});
  if (!r && r.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, "name: a template with this name exists", "name");
  if (!r) return std::unexpected(r.error());
  return t;
}

Result<std::optional<Template>> GetTemplate(store::Tx& tx, Id merchant_id, Id id) {
  return OneTemplate(tx, "merchant_id = ? AND id = ?", {merchant_id, id});
}

Result<std::optional<Template>> GetTemplateByName(store::Tx& tx, Id merchant_id,
                                                  std::string_view name) {
  return OneTemplate(tx, "merchant_id = ? AND name = ?", {merchant_id, std::string(name)});
}

Result<nlohmann::json> GetSettingsJson(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query("SELECT settings FROM messaging_settings WHERE merchant_id = ?", {merchant_id}));
  if (rows.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(rows[0].Str(0), nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Result<MessagingSettings> GetMessagingSettings(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      store::Rows m,
      tx.Query("SELECT timezone, language FROM merchants WHERE merchant_id = ?", {merchant_id}));
  if (m.empty()) return Fail(Code::kNotFound, "merchant not found", "merchant_id");
  MessagingSettings s;
  s.language = m[0].Str(1);
  RG_ASSIGN_OR_RETURN(s.raw, GetSettingsJson(tx, merchant_id));
  RG_ASSIGN_OR_RETURN(
      s.policy, ParsePolicySettings(s.raw.value("policy", nlohmann::json::object()), m[0].Str(0)));
  if (auto it = s.raw.find("sms_price_minor"); it != s.raw.end() && it->is_number_integer())
    s.sms_price_minor = it->get<int64_t>();
  return s;
}

Status PutMessagingSettings(store::Tx& tx, Id merchant_id, const nlohmann::json& settings,
                            Micros now) {
  if (!settings.is_object()) return InvalidField("settings", "must be an object");
  RG_ASSIGN_OR_RETURN(
      store::Rows m,
      tx.Query("SELECT timezone FROM merchants WHERE merchant_id = ?", {merchant_id}));
  if (m.empty()) return Fail(Code::kNotFound, "merchant not found", "merchant_id");
  auto policy =
      ParsePolicySettings(settings.value("policy", nlohmann::json::object()), m[0].Str(0));
  if (!policy) {
    Error e = policy.error();
    e.field = "policy." + e.field;
    e.message = "policy." + e.message;
    return std::unexpected(std::move(e));
  }
  if (auto it = settings.find("sms_price_minor");
      it != settings.end() && (!it->is_number_integer() || it->get<int64_t>() < 0))
    return InvalidField("sms_price_minor", "must be a non-negative integer");
  RG_TRY(
      tx.Exec("INSERT INTO messaging_settings (merchant_id, settings, updated_at) VALUES (?, ?, ?) "
              "ON CONFLICT (merchant_id) DO UPDATE SET settings = excluded.settings, "
              "updated_at = excluded.updated_at",
              {merchant_id, settings.dump(), now}));
  return {};
}

}  // namespace regulars::messaging
