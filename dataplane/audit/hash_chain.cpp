#include "audit/hash_chain.hpp"

#include <openssl/evp.h>

#include <charconv>

namespace pgro::audit {

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::optional<ChainLink> chainLink(std::string_view line) {
  // The writer ends every chained line with exactly this tail.
  static constexpr std::string_view kPrev = ",\"prev\":\"";
  static constexpr std::string_view kSeq = ",\"seq\":";
  if (line.size() < kPrev.size() + 66 || line.substr(line.size() - 2) != "\"}") {
    return std::nullopt;
  }
  const std::size_t prev_at = line.size() - 2 - 64;
  if (line.substr(prev_at - kPrev.size(), kPrev.size()) != kPrev) return std::nullopt;
  ChainLink link;
  link.prev = std::string(line.substr(prev_at, 64));
  for (char c : link.prev) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  const std::string_view head = line.substr(0, prev_at - kPrev.size());
  const std::size_t seq_at = head.rfind(kSeq);
  if (seq_at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = head.substr(seq_at + kSeq.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), link.seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return link;
}

VerifyResult verifyChain(std::istream& in) {
  VerifyResult result;
  std::string line;
  std::string previous_hash;
  std::uint64_t previous_seq = 0;
  auto fail = [&](std::uint64_t at, std::string message) {
    result.ok = false;
    result.bad_line = at;
    result.message = std::move(message);
    return result;
  };
  while (std::getline(in, line)) {
    const std::uint64_t n = ++result.lines;
    const auto link = chainLink(line);
    if (!link) return fail(n, "line " + std::to_string(n) + " has no hash-chain link");
    if (n > 1) {
      if (link->seq != previous_seq + 1) {
        return fail(n, "line " + std::to_string(n) + " has seq " + std::to_string(link->seq) +
                           " after " + std::to_string(previous_seq) +
                           ": lines are missing before it");
      }
      if (link->prev != previous_hash) {
        // The line before does not hash to what this one recorded: it was changed.
        return fail(n - 1, "line " + std::to_string(n - 1) +
                               " does not match the hash recorded in line " + std::to_string(n) +
                               ": it was changed");
      }
    }
    previous_hash = sha256Hex(line);
    previous_seq = link->seq;
  }
  if (result.lines == 0) result.message = "empty file";
  return result;
}

}  // namespace pgro::audit
