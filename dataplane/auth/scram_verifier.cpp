#include "auth/scram_verifier.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "auth/base64.hpp"
#include "auth/crypto.hpp"
#include "auth/saslprep.hpp"
#include "auth/scram_message.hpp"

namespace pgro::auth {
namespace {

constexpr std::string_view kPrefix = "SCRAM-SHA-256$";

bool decodeKey(std::string_view text, std::array<uint8_t, 32>& out) {
  const auto raw = base64Decode(text);
  if (!raw || raw->size() != out.size()) {
    return false;
  }
  std::copy(raw->begin(), raw->end(), out.begin());
  return true;
}

}  // namespace

std::optional<ScramVerifier> ScramVerifier::parse(std::string_view text) {
  if (!text.starts_with(kPrefix)) {
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());

  const size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view iter_salt = text.substr(0, dollar);
  const std::string_view keys = text.substr(dollar + 1);

  const size_t colon1 = iter_salt.find(':');
  const size_t colon2 = keys.find(':');
  if (colon1 == std::string_view::npos || colon2 == std::string_view::npos) {
    return std::nullopt;
  }

  ScramVerifier v;
  const std::string_view iter_text = iter_salt.substr(0, colon1);
  if (iter_text.empty() || !std::all_of(iter_text.begin(), iter_text.end(),
                                        [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto [end, ec] =
      std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), v.iterations);
  if (ec != std::errc() || end != iter_text.data() + iter_text.size() || v.iterations < 1) {
    return std::nullopt;
  }

  auto salt = base64Decode(iter_salt.substr(colon1 + 1));
  if (!salt || salt->empty()) {
    return std::nullopt;
  }
  v.salt = std::move(*salt);

  // decodeKey rejects a stray '$' or ':' inside a key: neither is in the base64 alphabet.
  if (!decodeKey(keys.substr(0, colon2), v.stored_key) ||
      !decodeKey(keys.substr(colon2 + 1), v.server_key)) {
    return std::nullopt;
  }
  return v;
}

std::string ScramVerifier::toString() const {
  std::string out(kPrefix);
  out.append(std::to_string(iterations));
  out.push_back(':');
  out.append(base64Encode(salt));
  out.push_back('$');
  out.append(base64Encode(stored_key));
  out.push_back(':');
  out.append(base64Encode(server_key));
  return out;
}

ScramVerifier ScramVerifier::fromPassword(std::string_view password, int iterations) {
  std::array<uint8_t, scram::kDefaultSaltLength> salt{};
  if (!randomBytes(salt)) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return fromPassword(password, asChars(salt), iterations);
}

ScramVerifier ScramVerifier::fromPassword(std::string_view password, std::string_view salt,
                                          int iterations) {
  if (iterations < 1) {
    throw std::invalid_argument("SCRAM iteration count must be at least 1");
  }
  if (salt.empty()) {
    throw std::invalid_argument("SCRAM salt must not be empty");
  }
  std::string prepared = saslprepPassword(password);
  Sha256Digest salted{};
  const bool ok = pbkdf2Sha256(prepared, salt, iterations, salted);
  secureWipe(prepared);
  if (!ok) {
    throw std::runtime_error("OpenSSL PBKDF2 failed");
  }
  const scram::Keys keys = scram::deriveKeys(salted);
  secureWipe(salted);
  ScramVerifier v;
  v.iterations = iterations;
  v.salt = std::string(salt);
  v.stored_key = keys.stored_key;
  v.server_key = keys.server_key;
  return v;
}

}  // namespace pgro::auth
