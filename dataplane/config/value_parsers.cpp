#include "config/value_parsers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "config/config.hpp"

namespace pgro::config {
namespace detail {
namespace {

// Plain level names, least to most verbose.
constexpr std::array<std::string_view, 6> kLevels = {"off",  "error", "warn",
                                                     "info", "debug", "trace"};

// Index in kLevels, or -1. "warning" is accepted for "warn".
int levelIndex(std::string_view word) {
  const std::string w = lower(word);
  if (w == "warning") {
    return 2;
  }
  for (std::size_t i = 0; i < kLevels.size(); ++i) {
    if (w == kLevels[i]) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// env_logger targets that mean "this program": the seed's crate name and ours, with or
// without a module path ("rust_pg_proxy::proxy").
bool isOwnTarget(std::string_view target) {
  for (std::string_view own : {std::string_view("pgro"), std::string_view("rust_pg_proxy")}) {
    if (target == own) {
      return true;
    }
    if (target.size() > own.size() + 1 && target.substr(0, own.size()) == own &&
        target.substr(own.size(), 2) == "::") {
      return true;
    }
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

ValueError unknownLevel(std::string_view word) {
  return ValueError("unknown log level \"" + std::string(word) +
                    "\" (expected trace, debug, info, warn, error or off)");
}

}  // namespace

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool parseBool(std::string_view text) {
  const std::string w = lower(text);
  if (w == "true" || w == "on" || w == "yes" || w == "1") {
    return true;
  }
  if (w == "false" || w == "off" || w == "no" || w == "0") {
    return false;
  }
  throw ValueError("expected true/false, on/off, yes/no or 1/0, got \"" + std::string(text) + "\"");
}

std::string normalizeLogLevel(std::string_view text) {
  // env_logger syntax: comma-separated directives, optionally followed by "/regex".
  std::string_view spec = text.substr(0, text.find('/'));
  int best = -1;
  bool any = false;
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view directive = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (directive.empty()) {
      continue;
    }
    any = true;
    const std::size_t eq = directive.find('=');
    if (eq == std::string_view::npos) {
      const int level = levelIndex(directive);
      if (level >= 0) {
        best = std::max(best, level);
      } else if (isOwnTarget(directive)) {
        best = std::max(best, 5);  // a bare target enables everything for it
      } else {
        throw unknownLevel(directive);
      }
      continue;
    }
    const std::string_view target = trim(directive.substr(0, eq));
    const std::string_view word = trim(directive.substr(eq + 1));
    const int level = levelIndex(word);
    if (target.empty() || level < 0) {
      throw unknownLevel(directive);
    }
    if (isOwnTarget(target)) {
      best = std::max(best, level);
    }
  }
  if (!any) {
    throw ValueError("empty log level");
  }
  return std::string(kLevels[static_cast<std::size_t>(best < 0 ? 3 : best)]);
}

}  // namespace detail

bool isLoopbackHost(const std::string& host_in) {
  std::string_view host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string h = detail::lower(host);
  if (h == "localhost" || h == "localhost.") {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) {
      return true;
    }
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

HostPort parseHostPort(const std::string& value, const std::string& name) {
  auto fail = [&](const std::string& why) {
    return ConfigError(name + ": " + why + ", got \"" + value + "\"");
  };
  std::string host;
  std::string_view port_text;
  if (!value.empty() && value.front() == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      throw fail("expected [ipv6-address]:port");
    }
    host = value.substr(1, close - 1);
    port_text = std::string_view(value).substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) {
      throw fail("not an IPv6 address in brackets");
    }
  } else {
    const std::size_t colon = value.rfind(':');
    if (colon == std::string::npos) {
      throw fail("expected host:port");
    }
    host = value.substr(0, colon);
    port_text = std::string_view(value).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      throw fail("put an IPv6 address in brackets, e.g. [::1]:9433");
    }
  }
  if (host.empty()) {
    throw fail("expected host:port with a host (e.g. 0.0.0.0 for all interfaces)");
  }
  if (std::any_of(host.begin(), host.end(),
                  [](unsigned char c) { return std::isspace(c) || c == '/' || c == '@'; })) {
    throw fail("not a host name or address");
  }
  try {
    return HostPort{host, detail::parseNumber<uint16_t>(port_text, 0, 65535)};
  } catch (const detail::ValueError&) {
    throw fail("expected host:port with a port in 0..65535");
  }
}

}  // namespace pgro::config
