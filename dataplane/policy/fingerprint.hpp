// libpg_query's fingerprint of a statement text: the same value for texts that differ only in
// constants, comments and whitespace (pg_query_fingerprint). Query-shape statistics group
// statements by it, and the audit log prints it (as 16 hex digits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::policy {

// nullopt when the text does not parse, holds a NUL byte, or nests too deep to parse on any
// stack pgro gives a parse (parser_stack.hpp); `error`, when given, then says which (the
// parser's message for a syntax error).
std::optional<std::uint64_t> fingerprint(std::string_view sql, std::string* error = nullptr);

// The fingerprint as libpg_query and the audit log print it: 16 lowercase hex digits; and
// back (1 to 16 hex digits, any case), nullopt for anything else.
std::string fingerprintHex(std::uint64_t fingerprint);
std::optional<std::uint64_t> parseFingerprint(std::string_view text);

namespace detail {
// On the calling thread's stack: for callers that run inside runWithParserStack already.
std::optional<std::uint64_t> fingerprintInPlace(const std::string& terminated);
}  // namespace detail

}  // namespace pgro::policy
