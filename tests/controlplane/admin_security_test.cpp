// Unit tests of the control plane's small safety helpers and of pgro-admin's option parsing
// and formatting (no network).
#include "controlplane/admin_security.hpp"

#include <gtest/gtest.h>

#include "cli_options.hpp"
#include "human_output.hpp"

namespace pgro::controlplane {
namespace {

TEST(BearerToken, MatchesExactlyWithCaseInsensitiveScheme) {
  EXPECT_TRUE(bearerMatches("Bearer abc", "abc"));
  EXPECT_TRUE(bearerMatches("bearer abc", "abc"));
  EXPECT_TRUE(bearerMatches("BEARER abc", "abc"));
  EXPECT_FALSE(bearerMatches("Bearer abd", "abc"));
  EXPECT_FALSE(bearerMatches("Bearer ab", "abc"));
  EXPECT_FALSE(bearerMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(bearerMatches("Bearer  abc", "abc"));
  EXPECT_FALSE(bearerMatches("Basic abc", "abc"));
  EXPECT_FALSE(bearerMatches("abc", "abc"));
  EXPECT_FALSE(bearerMatches("", "abc"));
  EXPECT_FALSE(bearerMatches("Bearer ", ""));  // an empty token never matches
}

TEST(AdminListen, TokenRequiredBeyondLoopback) {
  EXPECT_NO_THROW(requireTokenBeyondLoopback("127.0.0.1:50051", ""));
  EXPECT_NO_THROW(requireTokenBeyondLoopback("localhost:50051", ""));
  EXPECT_NO_THROW(requireTokenBeyondLoopback("[::1]:50051", ""));
  EXPECT_THROW(requireTokenBeyondLoopback("0.0.0.0:50051", ""), std::runtime_error);
  EXPECT_THROW(requireTokenBeyondLoopback("[::]:50051", ""), std::runtime_error);
  EXPECT_THROW(requireTokenBeyondLoopback("admin.example.com:50051", ""), std::runtime_error);
  EXPECT_NO_THROW(requireTokenBeyondLoopback("0.0.0.0:50051", "t"));
  EXPECT_THROW(requireTokenBeyondLoopback("nonsense", "t"), std::runtime_error);
  EXPECT_EQ(grpcAddress("[::1]:5"), "[::1]:5");
  EXPECT_EQ(grpcAddress("127.0.0.1:0"), "127.0.0.1:0");
}

TEST(Redaction, SecretNames) {
  EXPECT_TRUE(isSecretSetting("UPSTREAM_PASSWORD"));
  EXPECT_TRUE(isSecretSetting("ADMIN_TOKEN"));
  EXPECT_TRUE(isSecretSetting("some_secret"));
  EXPECT_FALSE(isSecretSetting("ADMIN_TLS_KEY_FILE"));
  EXPECT_FALSE(isSecretSetting("LISTEN_PORT"));
}

TEST(Utf8, InvalidSequencesReplaced) {
  EXPECT_EQ(validUtf8("plain"), "plain");
  EXPECT_EQ(validUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(validUtf8("caf\xe9"), "caf\xEF\xBF\xBD");
  EXPECT_EQ(validUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(validUtf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(validUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(validUtf8("\xf0\x9f\x98"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
}

TEST(Utf8, TruncateCountsCodePoints) {
  EXPECT_EQ(truncateUtf8("abcdef", 3), "abc");
  EXPECT_EQ(truncateUtf8("\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9");
  EXPECT_EQ(truncateUtf8("ab", 200), "ab");
}

}  // namespace
}  // namespace pgro::controlplane

namespace pgro::admincli {
namespace {

Options parseOk(const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env = {}) {
  auto r = parseArgs(args, env);
  if (auto* e = std::get_if<UsageError>(&r)) ADD_FAILURE() << e->message;
  return std::get<Options>(r);
}

TEST(CliOptions, DefaultsAndEnvironment) {
  auto o = parseOk({"stats"});
  EXPECT_EQ(o.addrs, std::vector<std::string>{"127.0.0.1:50051"});
  EXPECT_EQ(o.timeout, std::chrono::seconds(5));
  EXPECT_FALSE(o.json);
  o = parseOk({"stats"}, {{"PGRO_ADMIN_ADDR", "a:1,b:2"}, {"PGRO_ADMIN_TOKEN", "t"}});
  EXPECT_EQ(o.addrs, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(o.token, "t");
  o = parseOk({"--addr=x:9", "--token", "u", "stats"}, {{"PGRO_ADMIN_TOKEN", "t"}});
  EXPECT_EQ(o.addrs, std::vector<std::string>{"x:9"});
  EXPECT_EQ(o.token, "u");
}

TEST(CliOptions, CommandsAndFlagsAnywhere) {
  auto o = parseOk({"cache", "ttl", "60", "--json", "--timeout", "0.5"});
  EXPECT_EQ(o.command, Command::CacheTtl);
  EXPECT_EQ(o.ttl_seconds, 60);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(parseOk({"cache", "disable"}).command, Command::CacheDisable);
  EXPECT_EQ(parseOk({"--tls", "--ca", "c.pem", "reload"}).ca_file, "c.pem");
  EXPECT_EQ(parseOk({"--addr", "[::1]:50051", "config"}).addrs[0], "[::1]:50051");
}

TEST(CliOptions, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"cache"},
                                             {"cache", "ttl", "-1"},
                                             {"cache", "ttl", "1.5"},
                                             {"stats", "extra"},
                                             {"--addr"},
                                             {"--addr", ",", "stats"},
                                             {"--addr", "host", "stats"},
                                             {"--addr", "h:99999", "stats"},
                                             {"--json=yes", "stats"},
                                             {"--timeout", "x", "stats"}}) {
    EXPECT_TRUE(std::holds_alternative<UsageError>(parseArgs(args, {}))) << args.size();
  }
  EXPECT_TRUE(std::holds_alternative<ShowHelp>(parseArgs({"stats", "-h"}, {})));
}

TEST(HumanOutput, Formatting) {
  EXPECT_EQ(formatBytes(12), "12 B");
  EXPECT_EQ(formatBytes(1536), "1.5 KiB");
  EXPECT_EQ(formatBytes(256ull * 1024 * 1024), "256.0 MiB");
  EXPECT_EQ(formatDuration(42), "42s");
  EXPECT_EQ(formatDuration(3723.5), "1h02m");
  EXPECT_EQ(formatDuration(90061), "1d1h");
  const Json cfg = {{"settings", {{"A", "1"}, {"LONG_NAME", "2"}}}};
  EXPECT_EQ(renderHuman(Command::Config, cfg), "NAME       VALUE\nA          1\nLONG_NAME  2\n");
}

}  // namespace
}  // namespace pgro::admincli
