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

constexpr std::string_view kTemplateColumns =
    "id, name, medium, purpose, variants, created_at, updated_at";

Result<TemplateRow> TemplateFromRow(const store::Row& r) {
  TemplateRow row;
  row.t.id = r.Int(0);
  row.t.name = r.Str(1);
  row.t.medium = ParseMedium(r.Str(2)).value_or(Medium::kEmail);
  row.t.purpose = ParsePurpose(r.Str(3)).value_or(Purpose::kTransactional);
  auto j = nlohmann::json::parse(r.Str(4), nullptr, false);
  RG_ASSIGN_OR_RETURN(row.t.variants, ParseVariants(j));
  row.created_at = r.Int(5);
  row.updated_at = r.Int(6);
  return row;
}

Result<std::vector<TemplateRow>> Templates(store::Tx& tx, std::string where,
                                           std::vector<store::Value> params) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query(fmt::format("SELECT {} FROM message_templates WHERE {}", kTemplateColumns, where),
               params));
  std::vector<TemplateRow> out;
  for (const auto& r : rows) {
    RG_ASSIGN_OR_RETURN(TemplateRow t, TemplateFromRow(r));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<TemplateRow>> OneTemplate(store::Tx& tx, std::string where,
                                               std::vector<store::Value> params) {
  RG_ASSIGN_OR_RETURN(auto rows, Templates(tx, std::move(where), std::move(params)));
  if (rows.empty()) return std::optional<TemplateRow>{};
  return std::optional<TemplateRow>(std::move(rows[0]));
}

// A duplicate name as the callers' field error; other errors unchanged.
Status NameTaken(const Result<int64_t>& r, std::string_view what) {
  if (!r && r.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, fmt::format("name: another {} has this name", what), "name");
  if (!r) return std::unexpected(r.error());
  return {};
}

// `secrets` sealed for the secrets column; none when empty.
Result<std::optional<std::string>> Seal(const SecretBox* box, const nlohmann::json& secrets) {
  if (!secrets.is_object() || secrets.empty()) return std::optional<std::string>();
  if (!box) return Fail(Code::kFailedPrecondition, "secrets: no secret key configured", "secrets");
  return std::optional<std::string>(box->SealJson(secrets));
}

}  // namespace

Result<ChannelRow> CreateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now) {
  if (row.name.empty()) return InvalidField("name", "required");
  if (!row.settings.is_object()) return InvalidField("settings", "must be an object");
  if (row.id == 0) row.id = NewId();
  row.created_at = row.updated_at = now;
  RG_ASSIGN_OR_RETURN(row.sealed_secrets, Seal(box, secrets));
  RG_TRY(NameTaken(
      tx.Exec("INSERT INTO message_channels (merchant_id, id, kind, name, settings, secrets, "
              "active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              {row.merchant_id, row.id, std::string(ChannelKindName(row.kind)), row.name,
               row.settings.dump(), store::Opt(row.sealed_secrets), int64_t{row.active ? 1 : 0},
               now, now}),
      "channel"));
  return row;
}

Result<ChannelRow> UpdateChannel(store::Tx& tx, const SecretBox* box, ChannelRow row,
                                 const nlohmann::json& secrets, Micros now) {
  if (row.name.empty()) return InvalidField("name", "required");
  if (!row.settings.is_object()) return InvalidField("settings", "must be an object");
  row.updated_at = now;
  RG_ASSIGN_OR_RETURN(row.sealed_secrets, Seal(box, secrets));
  RG_TRY(NameTaken(
      tx.Exec("UPDATE message_channels SET name = ?, settings = ?, secrets = ?, active = ?, "
              "updated_at = ? WHERE merchant_id = ? AND id = ?",
              {row.name, row.settings.dump(), store::Opt(row.sealed_secrets),
               int64_t{row.active ? 1 : 0}, now, row.merchant_id, row.id}),
      "channel"));
  return row;
}

Result<std::optional<ChannelRow>> GetChannel(store::Tx& tx, Id merchant_id, Id id) {
  return OneChannel(tx, "merchant_id = ? AND id = ?", {merchant_id, id});
}

Result<ChannelRow> RequireChannel(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(auto c, GetChannel(tx, merchant_id, id));
  if (!c) return Fail(Code::kNotFound, "channel not found");
  return std::move(*c);
}

Result<std::optional<ChannelRow>> GetChannelById(store::Tx& tx, Id id) {
  return OneChannel(tx, "id = ?", {id});
}

Result<ChannelRow> RequireChannelById(store::Tx& tx, Id id) {
  RG_ASSIGN_OR_RETURN(auto c, GetChannelById(tx, id));
  if (!c) return Fail(Code::kNotFound, "channel not found");
  return std::move(*c);
}

Result<std::vector<ChannelRow>> ListChannels(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM message_channels WHERE merchant_id = "
                                           "? ORDER BY id",
                                           kChannelColumns),
                               {merchant_id}));
  std::vector<ChannelRow> out;
  for (const auto& r : rows) out.push_back(ChannelFromRow(r));
  return out;
}

Result<std::optional<Id>> FirstChannel(store::Tx& tx, Id merchant_id, Medium medium) {
  RG_ASSIGN_OR_RETURN(auto rows, ListChannels(tx, merchant_id));
  for (const auto& c : rows)
    if (c.active && c.kind != ChannelKind::kLog && MediumOf(c.kind) == medium)
      return std::optional<Id>(c.id);
  for (const auto& c : rows)
    if (c.active && c.kind == ChannelKind::kLog) return std::optional<Id>(c.id);
  return std::optional<Id>();
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

Result<TemplateRow> CreateTemplate(store::Tx& tx, Id merchant_id, Template t, Micros now) {
  if (t.name.empty()) return InvalidField("name", "required");
  RG_TRY(ValidateTemplate(t));
  if (t.id == 0) t.id = NewId();
  RG_TRY(NameTaken(
      tx.Exec("INSERT INTO message_templates (merchant_id, id, name, medium, purpose, variants, "
              "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              {merchant_id, t.id, t.name, std::string(MediumName(t.medium)),
               std::string(PurposeName(t.purpose)), VariantsToJson(t.variants).dump(), now, now}),
      "template"));
  return TemplateRow{std::move(t), now, now};
}

Result<TemplateRow> UpdateTemplate(store::Tx& tx, Id merchant_id, const Template& t, Micros now) {
  if (t.name.empty()) return InvalidField("name", "required");
  RG_TRY(ValidateTemplate(t));
  RG_TRY(NameTaken(tx.Exec("UPDATE message_templates SET name = ?, purpose = ?, variants = ?, "
                           "updated_at = ? WHERE merchant_id = ? AND id = ?",
                           {t.name, std::string(PurposeName(t.purpose)),
                            VariantsToJson(t.variants).dump(), now, merchant_id, t.id}),
                   "template"));
  return RequireTemplate(tx, merchant_id, t.id);
}

Result<std::optional<TemplateRow>> GetTemplate(store::Tx& tx, Id merchant_id, Id id) {
  return OneTemplate(tx, "merchant_id = ? AND id = ?", {merchant_id, id});
}

Result<TemplateRow> RequireTemplate(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(auto t, GetTemplate(tx, merchant_id, id));
  if (!t) return Fail(Code::kNotFound, "template not found");
  return std::move(*t);
}

Result<std::optional<TemplateRow>> GetTemplateByName(store::Tx& tx, Id merchant_id,
                                                     std::string_view name) {
  return OneTemplate(tx, "merchant_id = ? AND name = ?", {merchant_id, std::string(name)});
}

Result<std::vector<TemplateRow>> ListTemplates(store::Tx& tx, Id merchant_id) {
  return Templates(tx, "merchant_id = ? ORDER BY id", {merchant_id});
}

Result<std::optional<Id>> FindMemberByLineUserId(store::Tx& tx, Id merchant_id,
                                                 std::string_view user_id) {
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query("SELECT member_id FROM member_identities WHERE merchant_id = ? AND "
                               "kind = 'line' AND value = ?",
                               {merchant_id, std::string(user_id)}));
  if (rows.empty()) return std::optional<Id>{};
  return std::optional<Id>(rows[0].Int(0));
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
