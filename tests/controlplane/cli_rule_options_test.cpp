// pgro-admin's `cache rule add|list|remove` options (parseArgs only; the commands run end to
// end in tests/integration/cache_rules_test.cpp).
#include <gtest/gtest.h>

#include "cli_options.hpp"

namespace pgro::admincli {
namespace {

ParseResult parse(std::vector<std::string> args) {
  return parseArgs(args, {});
}

std::string usage(std::vector<std::string> args) {
  const auto result = parse(std::move(args));
  const auto* error = std::get_if<UsageError>(&result);
  return error != nullptr ? error->message : "";
}

TEST(AdminCliRules, AddTakesTheShapeAndSettings) {
  const auto result = parse({"cache", "rule", "add", "--query", "SELECT 1", "--ttl", "500ms",
                             "--swr", "50", "--stale", "5m", "--sample=SELECT $1"});
  const auto* o = std::get_if<Options>(&result);
  ASSERT_NE(o, nullptr) << usage({"cache", "rule", "add"});
  EXPECT_EQ(o->command, Command::CacheRuleAdd);
  EXPECT_EQ(o->rule.query, "SELECT 1");
  EXPECT_EQ(o->rule.ttl_ms, 500);
  EXPECT_EQ(o->rule.swr_percent, 50);
  EXPECT_EQ(o->rule.stale_seconds, 300);
  EXPECT_EQ(o->rule.sample, "SELECT $1");
  EXPECT_FALSE(o->rule.nocache);

  const auto nocache = parse({"cache", "rule", "add", "--fingerprint", "00ab", "--nocache"});
  ASSERT_TRUE(std::holds_alternative<Options>(nocache));
  EXPECT_TRUE(std::get<Options>(nocache).rule.nocache);
  EXPECT_EQ(std::get<Options>(nocache).rule.fingerprint, "00ab");
  EXPECT_EQ(std::get<Options>(parse({"cache", "rule", "add", "--query", "SELECT 1", "--ttl", "2m"}))
                .rule.ttl_ms,
            120000);
}

TEST(AdminCliRules, ListAndRemove) {
  EXPECT_EQ(std::get<Options>(parse({"cache", "rule", "list"})).command, Command::CacheRuleList);
  const auto removed = parse({"cache", "rule", "remove", "5ab1e9c2c4f2d1e0"});
  ASSERT_TRUE(std::holds_alternative<Options>(removed));
  EXPECT_EQ(std::get<Options>(removed).command, Command::CacheRuleRemove);
  EXPECT_EQ(std::get<Options>(removed).rule.fingerprint, "5ab1e9c2c4f2d1e0");
}

TEST(AdminCliRules, UsageErrors) {
  EXPECT_NE(usage({"cache", "rule", "add", "--ttl", "1s"}).find("--query SQL or --fingerprint"),
            std::string::npos);
  EXPECT_NE(
      usage({"cache", "rule", "add", "--query", "SELECT 1", "--fingerprint", "ab", "--ttl", "1s"})
          .find("one of them"),
      std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "add", "--query", "SELECT 1"}).find("at least one of"),
            std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "add", "--query", "x", "--ttl", "soon"}).find("--ttl"),
            std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "add", "--query", "x", "--ttl", "0s"}).find("--ttl"),
            std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "add", "--query", "x", "--swr", "100"}).find("--swr"),
            std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "add", "--query", "x", "--stale", "1500ms"}).find("--stale"),
            std::string::npos);
  EXPECT_NE(usage({"stats", "--ttl", "1s"}).find("options of `cache rule add`"), std::string::npos);
  EXPECT_NE(usage({"cache", "rule", "remove"}).find("unknown command"), std::string::npos);
}

}  // namespace
}  // namespace pgro::admincli
