#include "auth/scram_message.hpp"

#include <algorithm>
#include <array>

#include "auth/base64.hpp"

namespace pgro::auth::scram {

std::optional<std::vector<Attribute>> parseAttributes(std::string_view text) {
  std::vector<Attribute> out;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    if (part.size() < 2 || part[1] != '=') {
      return std::nullopt;
    }
    const char name = part[0];
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) {
      return std::nullopt;
    }
    out.push_back(Attribute{name, part.substr(2)});
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool isPrintable(std::string_view nonce) {
  return std::all_of(nonce.begin(), nonce.end(),
                     [](char c) { return c >= 0x21 && c <= 0x7E && c != ','; });
}

std::string escapeSaslName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out.append("=2C");
    } else if (c == '=') {
      out.append("=3D");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> randomNonce() {
  std::array<uint8_t, kRawNonceLength> raw{};
  if (!randomBytes(raw)) {
    return std::nullopt;
  }
  return base64Encode(raw);
}

Keys deriveKeys(const Sha256Digest& salted_password) {
  Keys keys{};
  keys.client_key = hmacSha256(salted_password, "Client Key");
  keys.stored_key = sha256(keys.client_key);
  keys.server_key = hmacSha256(salted_password, "Server Key");
  return keys;
}

Sha256Digest xorDigests(const Sha256Digest& a, const Sha256Digest& b) {
  Sha256Digest out{};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = a[i] ^ b[i];
  }
  return out;
}

}  // namespace pgro::auth::scram
