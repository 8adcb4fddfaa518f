#include "controlplane/admin_security.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "config/config.hpp"
#include "config/json_text.hpp"

namespace pgro::controlplane {

bool bearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (token.empty() || header.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  }
  const std::string_view given = header.substr(kScheme.size());
  // Walk the expected token whatever `given` holds, so the time depends on the token's
  // length only, never on how much of it the caller guessed right.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(token[i]));
  }
  return diff == 0;
}

void requireTokenBeyondLoopback(const std::string& listen, const std::string& token) {
  config::HostPort hp;
  try {
    hp = config::parseHostPort(listen, "ADMIN_LISTEN");
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
  if (!config::isLoopbackHost(hp.host) && token.empty()) {
    throw std::runtime_error("ADMIN_LISTEN " + listen +
                             " is not a loopback address: set ADMIN_TOKEN to expose the admin "
                             "API beyond this machine");
  }
}

std::string grpcAddress(const std::string& listen) {
  const config::HostPort hp = config::parseHostPort(listen, "ADMIN_LISTEN");
  if (hp.host.find(':') != std::string::npos) {
    return "[" + hp.host + "]:" + std::to_string(hp.port);
  }
  return hp.host + ":" + std::to_string(hp.port);
}

bool isSecretSetting(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper.find("PASSWORD") != std::string::npos || upper.find("TOKEN") != std::string::npos ||
         upper.find("SECRET") != std::string::npos;
}

std::string validUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = config::utf8SequenceLength(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string truncateUtf8(std::string_view text, std::size_t max_chars) {
  std::size_t i = 0;
  for (std::size_t chars = 0; i < text.size() && chars < max_chars; ++chars) {
    const std::size_t n = config::utf8SequenceLength(text, i);
    i += n == 0 ? 1 : n;
  }
  return std::string(text.substr(0, i));
}

}  // namespace pgro::controlplane
