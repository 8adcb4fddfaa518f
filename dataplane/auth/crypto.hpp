#pragma once

// Thin wrappers over OpenSSL's libcrypto, so no OpenSSL header leaves pgro_auth.
// Internal to pgro_auth (the other auth headers build on it); other modules should not need it.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgro::auth {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::span<const uint8_t> data);
Sha256Digest hmacSha256(std::span<const uint8_t> key, std::string_view message);

// PBKDF2-HMAC-SHA-256 with a 32-byte output: SCRAM's Hi(password, salt, i) (RFC 5802 2.2).
// Returns false only if OpenSSL fails.
[[nodiscard]] bool pbkdf2Sha256(std::string_view password, std::string_view salt, int iterations,
                                Sha256Digest& out);

// Fills `out` from OpenSSL's CSPRNG; false if it fails (never use the bytes then).
[[nodiscard]] bool randomBytes(std::span<uint8_t> out);

// Constant-time equality for equal-length secrets (CRYPTO_memcmp).
bool constantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Overwrites a secret before its memory is released (OPENSSL_cleanse: not optimised away).
void secureWipe(std::string& secret);
void secureWipe(std::span<uint8_t> secret);

// MD5 as lowercase hex (32 characters); empty if MD5 is unavailable (FIPS-only provider).
std::string md5Hex(std::string_view data);

inline std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view asChars(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace pgro::auth
