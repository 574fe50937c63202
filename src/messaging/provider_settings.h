#pragma once

// Reading a channel row's settings / secrets JSON for the provider adapters, with errors that
// name the key ("settings.account_sid: required", "secrets.auth_token: must be a string").
// Header-only: small, and shared by twilio_channel, line_channel, http_sms_channel and
// webhook_channel.

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/time.h"

namespace regulars::messaging::provider {

inline std::string FieldName(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}

// Every key of `obj` must be one of `known`, so a misspelt setting is an error, not ignored.
inline Status RejectUnknown(const nlohmann::json& obj, std::string_view section,
                            std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (std::string_view n : known) ok = ok || n == k;
    if (!ok) return InvalidField(FieldName(section, k), "unknown setting");
  }
  return {};
}

inline Result<std::optional<std::string>> OptionalString(const nlohmann::json& obj,
                                                         std::string_view section,
                                                         std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return InvalidField(FieldName(section, key), "must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

inline Result<std::string> RequiredString(const nlohmann::json& obj, std::string_view section,
                                          std::string_view key) {
  RG_ASSIGN_OR_RETURN(auto v, OptionalString(obj, section, key));
  if (!v || v->empty()) return InvalidField(FieldName(section, key), "required");
  return *v;
}

// "timeout_ms": whole-request limit, 100..120000, default 10000 (10 s: long enough for a slow
// provider, short enough that a stuck one does not hold a sender worker for long).
inline Result<Micros> Timeout(const nlohmann::json& settings) {
  auto it = settings.find("timeout_ms");
  if (it == settings.end() || it->is_null()) return 10 * kMicrosPerSecond;
  if (!it->is_number_integer()) return InvalidField("settings.timeout_ms", "must be an integer");
  int64_t ms = it->get<int64_t>();
  if (ms < 100 || ms > 120000)
    return InvalidField("settings.timeout_ms", "must be between 100 and 120000");
  return ms * 1000;
}

// An http(s) URL setting, or `fallback` when absent. A base URL (`strip_slash`) loses its
// trailing '/' so paths can be appended.
inline Result<std::string> UrlSetting(const nlohmann::json& settings, std::string_view key,
                                      std::string_view fallback, bool strip_slash = true) {
  RG_ASSIGN_OR_RETURN(auto v, OptionalString(settings, "settings", key));
  std::string url = v ? *v : std::string(fallback);
  if (url.empty()) return InvalidField(FieldName("settings", key), "required");
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return InvalidField(FieldName("settings", key), "must start with http:// or https://");
  if (url.find_first_of(" \r\n\t") != std::string::npos)
    return InvalidField(FieldName("settings", key), "must not contain spaces or line breaks");
  while (strip_slash && url.ends_with('/')) url.pop_back();
  return url;
}

}  // namespace regulars::messaging::provider
