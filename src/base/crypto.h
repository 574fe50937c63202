#pragma once

// Password hashing (Argon2id), random tokens and keyed hashes, all from libsodium.

#include <string>
#include <string_view>

#include "base/error.h"

namespace regulars {

// Argon2id with libsodium's "interactive" limits, as an encoded string that carries its own
// parameters and salt. Thread-safe.
Result<std::string> HashPassword(std::string_view password);
// Constant-time check of `password` against an encoded hash from HashPassword.
bool VerifyPassword(std::string_view password, std::string_view encoded_hash);

// `bytes` random bytes, URL-safe base64 without padding.
std::string RandomToken(size_t bytes = 32);

// SHA-256 as lowercase hex. Used to store tokens and API keys, which are high-entropy, so a fast
// hash is enough (passwords use Argon2id).
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256 as URL-safe base64 without padding.
std::string HmacSha256(std::string_view key, std::string_view data);

bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace regulars
