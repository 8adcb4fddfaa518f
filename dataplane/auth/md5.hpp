#pragma once

// PostgreSQL's MD5 password scheme (protocol docs, "AuthenticationMD5Password"; pg_authid).
// MD5 is weak; pgro uses it only towards upstream servers that still ask for it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgro::auth {

// "md5" + hex(md5(password + user)): what pg_authid.rolpassword holds for an MD5 role.
// Empty string if MD5 is unavailable in this OpenSSL (FIPS-only provider).
std::string md5Verifier(std::string_view user, std::string_view password);

// The PasswordMessage answer to AuthenticationMD5Password with the given 4-byte salt:
// "md5" + hex(md5(hex(md5(password + user)) + salt)). Empty string if MD5 is unavailable.
std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::span<const uint8_t, 4> salt);

}  // namespace pgro::auth
