#pragma once

// Channel secrets at rest (API tokens, SMTP passwords, signing secrets): sealed with libsodium's
// crypto_secretbox (XSalsa20-Poly1305, a fresh random nonce per seal) under one 32-byte server
// key, so a copy of the database alone reveals nothing.
//
// The key comes from REGULARS_SECRET_KEY (64 hex digits) when set, else from
// <data>/secret.key, which the first start writes once (64 hex digits and a newline, mode 0600,
// atomically, so two processes starting together agree on one key). Losing the key loses the
// secrets (they must be entered again); a changed key is reported, never a crash.
//
// Sealed text: "rgs1:<key id>:<base64 of nonce || MAC || ciphertext>", where the key id is 8 hex
// digits of a BLAKE2b hash of the key: enough to say "sealed under another key" precisely, far
// too little to learn anything about the key.

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace regulars::messaging {

class SecretBox {
 public:
  // A key given as 64 hex digits; `source` names where it came from in errors
  // ("REGULARS_SECRET_KEY: expected 64 hex digits (a 32-byte key), found 10 characters").
  static Result<SecretBox> FromHex(std::string_view hex, std::string_view source);

  // The server's key: `env_hex` (REGULARS_SECRET_KEY's value) when given and not empty, else
  // <data_dir>/secret.key, created (with data_dir) when absent. A key file that other users may
  // read is refused (failed_precondition naming the file and its mode).
  static Result<SecretBox> Load(const std::filesystem::path& data_dir,
                                std::optional<std::string> env_hex);
  // Load(data_dir, getenv("REGULARS_SECRET_KEY")).
  static Result<SecretBox> LoadFromEnvironment(const std::filesystem::path& data_dir);

  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  ~SecretBox();

  // Thread-safe (the object is immutable).
  std::string Seal(std::string_view plaintext) const;
  // failed_precondition when the text was sealed under another key or fails authentication
  // (altered, truncated); invalid_argument when it is not sealed text at all.
  Result<std::string> Open(std::string_view sealed) const;

  std::string SealJson(const nlohmann::json& secrets) const;
  Result<nlohmann::json> OpenJson(std::string_view sealed) const;

  const std::string& key_id() const { return key_id_; }
  // Where the key came from: "REGULARS_SECRET_KEY" or the key file's path.
  const std::string& source() const { return source_; }

 private:
  SecretBox() = default;

  std::array<unsigned char, 32> key_{};
  std::string key_id_;
  std::string source_;
};

}  // namespace regulars::messaging
