#include "http/render.h"

#include "base/phone.h"

namespace regulars::http {

using nlohmann::json;

namespace {

template <class T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
json IdOrNull(const std::optional<Id>& v) { return v ? json(IdToString(*v)) : json(nullptr); }

}  // namespace

json IdsJson(const std::vector<Id>& ids) {
  json out = json::array();
  for (Id id : ids) out.push_back(IdToString(id));
  return out;
}

json ToJson(const accounts::Merchant& m) {
  return {{"id", IdToString(m.id)},
          {"name", m.name},
          {"region", m.region},
          {"currency", m.currency},
          {"timezone", m.timezone},
          {"language", m.language},
          {"created_at", FormatRfc3339(m.created_at)}};
}

json ToJson(const accounts::Staff& s) {
  return {{"id", IdToString(s.id)},
          {"name", s.name},
          {"email", s.email},
          {"role", accounts::RoleName(s.role)},
          {"branch_ids", IdsJson(s.branch_ids)},
          {"active", s.active},
          {"created_at", FormatRfc3339(s.created_at)},
          {"updated_at", FormatRfc3339(s.updated_at)}};
}

json ToJson(const accounts::ApiKey& k) {
  return {{"id", IdToString(k.id)},
          {"name", k.name},
          {"role", accounts::RoleName(k.role)},
          {"created_at", FormatRfc3339(k.created_at)},
          {"revoked_at", k.revoked_at ? json(FormatRfc3339(*k.revoked_at)) : json(nullptr)}};
}

json ToJson(const commerce::Branch& b) {
  return {{"id", IdToString(b.id)},
          {"name", b.name},
          {"code", OrNull(b.code)},
          {"address", OrNull(b.address)},
          {"phone", OrNull(b.phone)},
          {"active", b.active},
          {"created_at", FormatRfc3339(b.created_at)},
          {"updated_at", FormatRfc3339(b.updated_at)}};
}

json ToJson(const members::Member& m) {
  json consent = json::object();
  for (members::Channel ch : members::kChannels) {
    const auto& c = m.consent[static_cast<size_t>(ch)];
    consent[std::string(members::ChannelName(ch))] =
        c ? json{{"granted", c->granted},
                 {"changed_at", FormatRfc3339(c->changed_at)},
                 {"source", c->source},
                 {"branch_id", IdOrNull(c->branch_id)},
                 {"staff_id", IdOrNull(c->staff_id)}}
          : json(nullptr);
  }
  json attributes = json::parse(m.attributes_json, nullptr, false);
  if (!attributes.is_object()) attributes = json::object();
  return {{"id", IdToString(m.id)},
          {"phone", OrNull(m.phone)},
          {"phone_display", m.phone ? json(DisplayPhone(*m.phone)) : json(nullptr)},
          {"name", OrNull(m.name)},
          {"email", OrNull(m.email)},
          {"birthday", m.birthday ? json(FormatDate(*m.birthday)) : json(nullptr)},
          {"gender", OrNull(m.gender)},
          {"region", OrNull(m.region)},
          {"city", OrNull(m.city)},
          {"tags", m.tags},
          {"attributes", attributes},
          {"notes", OrNull(m.notes)},
          {"language", OrNull(m.language)},
          {"consent", consent},
          {"referral_code", m.referral_code},
          {"home_branch_id", IdOrNull(m.home_branch_id)},
          {"erased", m.erased_at.has_value()},
          {"merged_into", IdOrNull(m.merged_into)},
          {"created_at", FormatRfc3339(m.created_at)},
          {"updated_at", FormatRfc3339(m.updated_at)}};
}

json ToJson(const events::Event& e) {
  json data = json::parse(e.data, nullptr, false);
  if (data.is_discarded()) data = json::object();
  // A one-line English summary; the console translates by `type` and `data`.
  std::string summary = e.type;
  if (e.type == "member_created")
    summary = "Joined";
  else if (e.type == "member_updated")
    summary = "Profile updated";
  else if (e.type == "consent_changed")
    summary = std::string(data.value("granted", false) ? "Agreed to " : "Withdrew from ") +
              data.value("channel", "") + " marketing";
  else if (e.type == "member_merged")
    summary = "Merged with another member";
  else if (e.type == "member_erased")
    summary = "Personal data erased";
  return {{"id", IdToString(e.id)},
          {"seq", e.seq},
          {"type", e.type},
          {"occurred_at", FormatRfc3339(e.occurred_at)},
          {"actor", e.actor},
          {"summary", summary},
          {"data", data}};
}

}  // namespace regulars::http
