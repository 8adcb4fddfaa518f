// AUDIT_HASH_CHAIN: every line ends with `"seq":N,"prev":"<hex>"}`, the SHA-256 of the line
// before it (its bytes without the newline). Editing or deleting a line breaks the chain at
// the next one; `pgro audit verify FILE` finds the first break. The first line of a file
// cannot be checked against the file before it (a rotated log), and the last line has no
// successor to vouch for it: keep the hash of the last line elsewhere to protect the end.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::audit {

// 64 lowercase hex digits.
std::string sha256Hex(std::string_view data);

// The hash a chain starts from: 64 zeros.
inline const std::string kChainStart(64, '0');

// What a line's tail says: its sequence number and the hash of the line before it.
struct ChainLink {
  std::uint64_t seq = 0;
  std::string prev;
};
std::optional<ChainLink> chainLink(std::string_view line);

struct VerifyResult {
  bool ok = true;
  std::uint64_t lines = 0;     // lines read
  std::uint64_t bad_line = 0;  // 1-based: the first line that fails (0 when ok)
  std::string message;
};

// Checks every line of `in`: each carries a link, sequence numbers go up by one, and each
// `prev` is the hash of the line before it.
VerifyResult verifyChain(std::istream& in);

}  // namespace pgro::audit
