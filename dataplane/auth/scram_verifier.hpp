#pragma once

// A SCRAM-SHA-256 verifier ("secret") in PostgreSQL's pg_authid.rolpassword format:
//   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
// It lets a server check a password without knowing it (RFC 5802 section 3).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::auth {

struct ScramVerifier {
  int iterations = 0;
  std::string salt;  // raw bytes
  std::array<uint8_t, 32> stored_key{};
  std::array<uint8_t, 32> server_key{};

  // nullopt unless the text is a well-formed verifier: iterations 1..INT_MAX, a non-empty
  // salt, 32-byte keys, strict base64.
  static std::optional<ScramVerifier> parse(std::string_view text);

  std::string toString() const;

  // The password goes through saslprepPassword() first (see saslprep.hpp), like
  // PostgreSQL's CREATE ROLE ... PASSWORD; for ASCII passwords the result is byte for byte
  // what PostgreSQL stores for the same salt and iterations. For startup and tooling, not the
  // per-connection path: throws std::invalid_argument if iterations < 1 or the salt is empty,
  // std::runtime_error if OpenSSL fails (random generator or PBKDF2).
  static ScramVerifier fromPassword(std::string_view password, int iterations = 4096);
  static ScramVerifier fromPassword(std::string_view password, std::string_view salt,
                                    int iterations);

  bool operator==(const ScramVerifier&) const = default;
};

}  // namespace pgro::auth
