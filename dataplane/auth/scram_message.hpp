#pragma once

// Pieces shared by the SCRAM server and client (RFC 5802 sections 3 and 5.1). Internal to
// pgro_auth.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/crypto.hpp"

namespace pgro::auth::scram {

// SCRAM attribute "a=value". Values never contain ',' (RFC 5802 5.1: user names escape it as
// "=2C", nonces and base64 exclude it), so a message splits on ','.
struct Attribute {
  char name;
  std::string_view value;
};

// Splits "a=1,b=2" into attributes; nullopt if a part is not ALPHA '=' value.
std::optional<std::vector<Attribute>> parseAttributes(std::string_view text);

// RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII except ','.
bool isPrintable(std::string_view nonce);

// RFC 5802 saslname: ',' -> "=2C", '=' -> "=3D".
std::string escapeSaslName(std::string_view name);

// 18 random bytes in base64 (24 characters), as PostgreSQL and libpq make their nonces.
std::optional<std::string> randomNonce();

// Keys derived from SaltedPassword = Hi(Normalize(password), salt, i).
struct Keys {
  Sha256Digest client_key;
  Sha256Digest stored_key;
  Sha256Digest server_key;
};
Keys deriveKeys(const Sha256Digest& salted_password);

// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage), and the other way round.
Sha256Digest xorDigests(const Sha256Digest& a, const Sha256Digest& b);

inline constexpr char kMechanism[] = "SCRAM-SHA-256";
inline constexpr int kDefaultIterations = 4096;   // PostgreSQL's scram_iterations default
inline constexpr size_t kDefaultSaltLength = 16;  // PostgreSQL's SCRAM_DEFAULT_SALT_LEN
inline constexpr size_t kRawNonceLength = 18;     // PostgreSQL's SCRAM_RAW_NONCE_LEN

}  // namespace pgro::auth::scram
