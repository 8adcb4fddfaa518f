#include "auth/md5.hpp"

#include "auth/crypto.hpp"

namespace pgro::auth {

std::string md5Verifier(std::string_view user, std::string_view password) {
  std::string input;
  input.reserve(password.size() + user.size());
  input.append(password).append(user);
  std::string hex = md5Hex(input);
  if (hex.empty()) {
    return {};
  }
  return "md5" + hex;
}

std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::span<const uint8_t, 4> salt) {
  std::string inner = md5Verifier(user, password);
  if (inner.empty()) {
    return {};
  }
  // The outer digest covers the inner hex digest without its "md5" prefix, then the salt.
  std::string outer_input = inner.substr(3);
  outer_input.append(asChars(salt));
  std::string hex = md5Hex(outer_input);
  if (hex.empty()) {
    return {};
  }
  return "md5" + hex;
}

}  // namespace pgro::auth
