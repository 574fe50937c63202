#pragma once

// Reads a JSON request body into typed values with precise errors: which field, and why
// ("name: must be a string", "nmae: unknown field", "body: malformed JSON at byte 17").

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"

namespace regulars::http {

using nlohmann::json;

// Parses a request body. Empty bodies are `{}`. Anything but a JSON object is invalid_argument.
Result<json> ParseBody(std::string_view body);

// A view of one JSON object that rejects unknown keys and checks types.
class Fields {
 public:
  // invalid_argument "<key>: unknown field" for any key not in `allowed`.
  static Result<Fields> Of(const json& object, std::initializer_list<std::string_view> allowed,
                           std::string prefix = "");

  bool Has(std::string_view key) const;
  // Absent -> nullopt. null is rejected for non-nullable fields.
  Result<std::optional<std::string>> String(std::string_view key) const;
  // Absent -> nullopt; null -> optional holding nullopt.
  Result<std::optional<std::optional<std::string>>> NullableString(std::string_view key) const;
  Result<std::optional<bool>> Bool(std::string_view key) const;
  Result<std::optional<int64_t>> Int(std::string_view key) const;
  // Ids are strings on the wire ("123"); integers are accepted too.
  Result<std::optional<Id>> IdValue(std::string_view key) const;
  Result<std::optional<std::vector<std::string>>> StringList(std::string_view key) const;
  Result<std::optional<std::vector<Id>>> IdList(std::string_view key) const;
  // A nested object, or nullopt when absent.
  Result<std::optional<json>> Object(std::string_view key) const;

  std::string Name(std::string_view key) const { return prefix_ + std::string(key); }

 private:
  Fields(const json& o, std::string prefix) : object_(&o), prefix_(std::move(prefix)) {}
  const json* Get(std::string_view key) const;
  std::unexpected<Error> TypeError(std::string_view key, std::string_view want) const;

  const json* object_;
  std::string prefix_;
};

}  // namespace regulars::http
