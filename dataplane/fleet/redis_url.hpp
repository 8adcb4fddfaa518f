// CACHE_L2_URL: redis://[[user]:password@]host[:port][/db], the form redis-cli and most
// clients accept. No TLS (rediss://): hiredis 0.14 has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::fleet {

struct RedisUrl {
  std::string host;
  uint16_t port = 6379;
  std::string user;      // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  int db = 0;
};

// nullopt, with `error` set, when `url` is not of the form above.
std::optional<RedisUrl> parseRedisUrl(std::string_view url, std::string& error);

}  // namespace pgro::fleet
