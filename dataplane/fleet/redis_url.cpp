#include "fleet/redis_url.hpp"

#include <charconv>

namespace pgro::fleet {

namespace {

bool parseNumber(std::string_view text, long max, long& out) {
  if (text.empty()) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && out >= 0 && out <= max;
}

// %XX escapes, for passwords with '@', ':' or '/' in them.
std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto r = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (r.ec != std::errc() || r.ptr != text.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<RedisUrl> parseRedisUrl(std::string_view url, std::string& error) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    error = "must start with redis:// (rediss:// is not supported)";
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon));
    auto password = percentDecode(colon == std::string_view::npos ? std::string_view()
                                                                  : userinfo.substr(colon + 1));
    if (!user || !password) {
      error = "bad %-escape in the user or password";
      return std::nullopt;
    }
    if (colon == std::string_view::npos) {
      // redis://secret@host: the password alone, as redis-cli -u reads it.
      out.password = std::move(*user);
    } else {
      out.user = std::move(*user);
      out.password = std::move(*password);
    }
  }
  std::string_view hostport = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    long value = 0;
    if (!db.empty()) {
      if (!parseNumber(db, 1 << 20, value)) {
        error = "the database after / must be a number";
        return std::nullopt;
      }
      out.db = static_cast<int>(value);
    }
  }
  std::string_view host = hostport;
  if (hostport.starts_with('[')) {  // [::1]:6379
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed [ in the host";
      return std::nullopt;
    }
    host = hostport.substr(1, close - 1);
    hostport = hostport.substr(close + 1);
    if (!hostport.empty() && !hostport.starts_with(':')) {
      error = "expected :port after ]";
      return std::nullopt;
    }
    hostport = hostport.empty() ? std::string_view() : hostport.substr(1);
  } else if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    hostport = hostport.substr(colon + 1);
  } else {
    hostport = {};
  }
  if (!hostport.empty()) {
    long port = 0;
    if (!parseNumber(hostport, 65535, port) || port == 0) {
      error = "the port must be a number from 1 to 65535";
      return std::nullopt;
    }
    out.port = static_cast<uint16_t>(port);
  }
  if (host.empty()) {
    error = "no host";
    return std::nullopt;
  }
  out.host = std::string(host);
  return out;
}

}  // namespace pgro::fleet
