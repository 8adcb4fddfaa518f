#pragma once

// Standard base64 (RFC 4648 section 4, '+' and '/', '=' padding), as SCRAM and PostgreSQL's
// verifiers use it.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgro::auth {

std::string base64Encode(std::span<const uint8_t> bytes);
std::string base64Encode(std::string_view bytes);

// Strict: the length must be a multiple of 4, padding only at the end, no whitespace or
// characters outside the alphabet (unused bits of the last group are not checked, like
// PostgreSQL). Returns the raw bytes, or nullopt on any bad input.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace pgro::auth
