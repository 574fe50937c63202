#include "http/json_fields.h"

#include <fmt/format.h>

#include "base/text.h"

namespace regulars::http {

Result<json> ParseBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  if (!IsValidUtf8(body)) return InvalidField("body", "is not valid UTF-8");
  try {
    json j = json::parse(body);
    if (!j.is_object()) return InvalidField("body", "must be a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    return InvalidField("body", fmt::format("malformed JSON at byte {}", e.byte));
  }
}

Result<Fields> Fields::Of(const json& object, std::initializer_list<std::string_view> allowed,
                          std::string prefix) {
  if (!object.is_object()) {
    std::string name = prefix.empty() ? "body" : prefix.substr(0, prefix.size() - 1);
    return InvalidField(name, "must be a JSON object");
  }
  for (const auto& [key, value] : object.items()) {
    bool ok = false;
    for (auto a : allowed) ok |= (a == key);
    if (!ok) return InvalidField(prefix + key, "unknown field");
  }
  return Fields(object, std::move(prefix));
}

const json* Fields::Get(std::string_view key) const {
  auto it = object_->find(std::string(key));
  return it == object_->end() ? nullptr : &*it;
}

bool Fields::Has(std::string_view key) const { return Get(key) != nullptr; }

std::unexpected<Error> Fields::TypeError(std::string_view key, std::string_view want) const {
  return InvalidField(Name(key), fmt::format("must be {}", want));
}

Result<std::optional<std::string>> Fields::String(std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return TypeError(key, "a string");
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<std::optional<std::string>>> Fields::NullableString(
    std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<std::optional<std::string>>{};
  if (v->is_null()) return std::optional<std::optional<std::string>>(std::optional<std::string>{});
  if (!v->is_string()) return TypeError(key, "a string or null");
  return std::optional<std::optional<std::string>>(v->get<std::string>());
}

Result<std::optional<bool>> Fields::Bool(std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<bool>{};
  if (!v->is_boolean()) return TypeError(key, "true or false");
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<int64_t>> Fields::Int(std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<int64_t>{};
  if (!v->is_number_integer()) return TypeError(key, "an integer");
  return std::optional<int64_t>(v->get<int64_t>());
}

Result<std::optional<Id>> Fields::IdValue(std::string_view key) const {
  const json* v = Get(key);
  if (!v || v->is_null()) return std::optional<Id>{};
  std::optional<Id> id;
  if (v->is_string())
    id = ParseId(v->get<std::string>());
  else if (v->is_number_integer() && v->get<int64_t>() > 0)
    id = v->get<int64_t>();
  else
    return TypeError(key, "an id string");
  if (!id) return InvalidField(Name(key), "is not a valid id");
  return id;
}

Result<std::optional<std::vector<std::string>>> Fields::StringList(std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<std::vector<std::string>>{};
  if (!v->is_array()) return TypeError(key, "an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string())
      return InvalidField(fmt::format("{}[{}]", Name(key), i), "must be a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<std::vector<Id>>> Fields::IdList(std::string_view key) const {
  const json* v = Get(key);
  if (!v) return std::optional<std::vector<Id>>{};
  if (!v->is_array()) return TypeError(key, "an array of ids");
  std::vector<Id> out;
  for (size_t i = 0; i < v->size(); ++i) {
    std::optional<Id> id;
    if ((*v)[i].is_string()) id = ParseId((*v)[i].get<std::string>());
    if (!id) return InvalidField(fmt::format("{}[{}]", Name(key), i), "is not a valid id");
    out.push_back(*id);
  }
  return std::optional<std::vector<Id>>(std::move(out));
}

Result<std::optional<json>> Fields::Object(std::string_view key) const {
  const json* v = Get(key);
  if (!v || v->is_null()) return std::optional<json>{};
  if (!v->is_object()) return TypeError(key, "an object");
  return std::optional<json>(*v);
}

}  // namespace regulars::http
