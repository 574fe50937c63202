#include "members/member.h"

#include <fmt/format.h>

#include <algorithm>

#include "accounts/account.h"
#include "base/phone.h"
#include "base/text.h"

namespace regulars::members {

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kSms:
      return "sms";
    case Channel::kEmail:
      return "email";
    case Channel::kLine:
      return "line";
  }
  return "sms";
}

std::optional<Channel> ParseChannel(std::string_view s) {
  if (s == "sms") return Channel::kSms;
  if (s == "email") return Channel::kEmail;
  if (s == "line") return Channel::kLine;
  return std::nullopt;
}

namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// A free-text field: trimmed; empty means cleared; bounded; valid UTF-8.
Result<std::optional<std::optional<std::string>>> CleanText(
    const std::optional<std::optional<std::string>>& in, const char* field, size_t max_bytes) {
  if (!in) return std::optional<std::optional<std::string>>{};
  if (!*in) return std::optional<std::optional<std::string>>{std::optional<std::string>{}};
  if (!IsValidUtf8(**in)) return InvalidField(field, "is not valid UTF-8");
  std::string t = Trim(**in);
  if (t.size() > max_bytes)
    return InvalidField(field, fmt::format("is longer than {} bytes", max_bytes));
  if (t.empty()) return std::optional<std::optional<std::string>>{std::optional<std::string>{}};
  return std::optional<std::optional<std::string>>{std::optional<std::string>{t}};
}

}  // namespace

Result<CleanInput> CleanMemberInput(const MemberInput& in, std::string_view phone_region,
                                    Micros now) {
  CleanInput out;
  if (in.phone) {
    RG_ASSIGN_OR_RETURN(Phone p, NormalizePhone(*in.phone, phone_region, "phone"));
    out.phone = p.e164;
  }
  RG_ASSIGN_OR_RETURN(out.name, CleanText(in.name, "name", 200));
  RG_ASSIGN_OR_RETURN(out.region, CleanText(in.region, "region", 100));
  RG_ASSIGN_OR_RETURN(out.city, CleanText(in.city, "city", 100));
  RG_ASSIGN_OR_RETURN(out.notes, CleanText(in.notes, "notes", 10'000));
  if (in.email) {
    if (*in.email && !Trim(**in.email).empty()) {
      RG_ASSIGN_OR_RETURN(std::string e, accounts::NormalizeEmail(**in.email, "email"));
      out.email = std::optional<std::string>(e);
    } else {
      out.email = std::optional<std::string>();
    }
  }
  if (in.gender) {
    if (*in.gender && !(*in.gender)->empty()) {
      const std::string& g = **in.gender;
      if (g != "female" && g != "male" && g != "other")
        return InvalidField("gender", "must be female, male or other");
      out.gender = std::optional<std::string>(g);
    } else {
      out.gender = std::optional<std::string>();
    }
  }
  if (in.language) {
    if (*in.language && !(*in.language)->empty()) {
      if (!accounts::IsSupportedLanguage(**in.language))
        return InvalidField("language", "must be zh-TW, zh-CN or en");
      out.language = *in.language;
    } else {
      out.language = std::optional<std::string>();
    }
  }
  if (in.birthday) {
    if (*in.birthday && !(*in.birthday)->empty()) {
      auto d = ParseDate(**in.birthday);
      if (!d) return InvalidField("birthday", "must be YYYY-MM-DD, or --MM-DD without a year");
      int64_t days_now = now / kMicrosPerDay;
      if (d->year != 0 && (DaysFromCivil(d->year, d->month, d->day) > days_now || d->year < 1900))
        return InvalidField("birthday", "must be between 1900 and today");
      out.birthday = std::optional<Date>(*d);
    } else {
      out.birthday = std::optional<Date>();
    }
  }
  if (in.tags) {
    if (in.tags->size() > 50) return InvalidField("tags", "at most 50 tags");
    std::vector<std::string> tags;
    for (size_t i = 0; i < in.tags->size(); ++i) {
      std::string field = fmt::format("tags[{}]", i);
      if (!IsValidUtf8((*in.tags)[i])) return InvalidField(field, "is not valid UTF-8");
      std::string t = Trim((*in.tags)[i]);
      if (t.empty()) return InvalidField(field, "is empty");
      if (t.size() > 64) return InvalidField(field, "is longer than 64 bytes");
      if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
    }
    out.tags = std::move(tags);
  }
  if (in.attributes_json) {
    if (in.attributes_json->size() > 16'384)
      return InvalidField("attributes", "is larger than 16 KiB");
    out.attributes_json = in.attributes_json;
  }
  return out;
}

std::vector<std::string> ApplyPatch(Member& m, const CleanInput& p) {
  std::vector<std::string> changed;
  auto set = [&](auto& field, const auto& value, const char* name) {
    if (value && field != *value) {
      field = *value;
      changed.emplace_back(name);
    }
  };
  set(m.phone, p.phone ? std::optional<std::optional<std::string>>(p.phone) : std::nullopt,
      "phone");
  set(m.name, p.name, "name");
  set(m.email, p.email, "email");
  set(m.birthday, p.birthday, "birthday");
  set(m.gender, p.gender, "gender");
  set(m.region, p.region, "region");
  set(m.city, p.city, "city");
  set(m.notes, p.notes, "notes");
  set(m.language, p.language, "language");
  set(m.tags, p.tags, "tags");
  set(m.attributes_json, p.attributes_json, "attributes");
  return changed;
}

std::string ReversedDigits(std::string_view phone) {
  std::string out;
  for (auto it = phone.rbegin(); it != phone.rend(); ++it)
    if (*it >= '0' && *it <= '9') out.push_back(*it);
  return out;
}

void MergeInto(Member& s, const Member& o) {
  auto fill = [](auto& field, const auto& other) {
    if (!field && other) field = other;
  };
  fill(s.name, o.name);
  fill(s.email, o.email);
  fill(s.birthday, o.birthday);
  fill(s.gender, o.gender);
  fill(s.region, o.region);
  fill(s.city, o.city);
  fill(s.language, o.language);
  fill(s.home_branch_id, o.home_branch_id);
  if (o.notes && !o.notes->empty()) s.notes = s.notes ? *s.notes + "\n" + *o.notes : *o.notes;
  for (const auto& t : o.tags)
    if (std::find(s.tags.begin(), s.tags.end(), t) == s.tags.end()) s.tags.push_back(t);
  for (size_t c = 0; c < s.consent.size(); ++c)
    if (o.consent[c] && (!s.consent[c] || o.consent[c]->changed_at > s.consent[c]->changed_at))
      s.consent[c] = o.consent[c];
  if (s.attributes_json == "{}") s.attributes_json = o.attributes_json;
}

void ErasePersonalData(Member& m, Micros now) {
  m.phone.reset();
  m.name.reset();
  m.email.reset();
  m.birthday.reset();
  m.gender.reset();
  m.region.reset();
  m.city.reset();
  m.notes.reset();
  m.language.reset();
  m.tags.clear();
  m.attributes_json = "{}";
  for (auto& c : m.consent) c.reset();
  m.erased_at = now;
  m.updated_at = now;
}

}  // namespace regulars::members
