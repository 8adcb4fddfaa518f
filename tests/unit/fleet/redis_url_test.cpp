#include "fleet/redis_url.hpp"

#include <gtest/gtest.h>

namespace pgro::fleet {
namespace {

RedisUrl parse(std::string_view text) {
  std::string error;
  auto url = parseRedisUrl(text, error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(RedisUrl{});
}

bool refused(std::string_view text) {
  std::string error;
  const bool bad = !parseRedisUrl(text, error).has_value();
  EXPECT_TRUE(!bad || !error.empty());
  return bad;
}

TEST(RedisUrlTest, HostAloneTakesTheDefaults) {
  const auto url = parse("redis://cache.internal");
  EXPECT_EQ(url.host, "cache.internal");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_TRUE(url.user.empty());
  EXPECT_TRUE(url.password.empty());
}

TEST(RedisUrlTest, PasswordUserPortAndDatabase) {
  auto url = parse("redis://:s3cret@10.0.0.5:6380/2");
  EXPECT_EQ(url.host, "10.0.0.5");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_TRUE(url.user.empty());
  EXPECT_EQ(url.db, 2);

  url = parse("redis://pgro:pa%40ss%2Fw@host:1/");
  EXPECT_EQ(url.user, "pgro");
  EXPECT_EQ(url.password, "pa@ss/w");
  EXPECT_EQ(url.port, 1);
  EXPECT_EQ(url.db, 0);

  url = parse("redis://justpassword@host");  // as redis-cli -u reads it
  EXPECT_EQ(url.password, "justpassword");
  EXPECT_TRUE(url.user.empty());

  url = parse("redis://[::1]:7000");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 7000);
}

TEST(RedisUrlTest, MalformedUrlsAreRefused) {
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("cache:6379"));
  EXPECT_TRUE(refused("rediss://host"));
  EXPECT_TRUE(refused("redis://"));
  EXPECT_TRUE(refused("redis://host:0"));
  EXPECT_TRUE(refused("redis://host:70000"));
  EXPECT_TRUE(refused("redis://host:port"));
  EXPECT_TRUE(refused("redis://host/db"));
  EXPECT_TRUE(refused("redis://:%4@host"));
  EXPECT_TRUE(refused("redis://[::1"));
}

}  // namespace
}  // namespace pgro::fleet
