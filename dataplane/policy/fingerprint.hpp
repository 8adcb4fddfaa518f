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
// stack pgro gives a parse (parser_stack.hpp).
std::optional<std::uint64_t> fingerprint(std::string_view sql);

// The fingerprint as the audit log prints it: 16 lowercase hex digits.
std::string fingerprintHex(std::uint64_t fingerprint);

namespace detail {
// On the calling thread's stack: for callers that run inside runWithParserStack already.
std::optional<std::uint64_t> fingerprintInPlace(const std::string& terminated);
}  // namespace detail

}  // namespace pgro::policy
