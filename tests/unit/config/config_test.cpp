#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

namespace pgro::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The smallest environment that loads: required upstream settings plus one client login.
Environment minimal() {
  return {{"UPSTREAM_HOST", "db.internal"}, {"UPSTREAM_USER", "admin"},
          {"UPSTREAM_DATABASE", "prod"},    {"UPSTREAM_PASSWORD", "upstream-secret"},
          {"PROXY_USER", "reader"},         {"PROXY_PASSWORD", "reader-secret"}};
}

Environment with(Environment env, const std::string& key, const std::string& value) {
  env[key] = value;
  return env;
}

Environment without(Environment env, const std::string& key) {
  env.erase(key);
  return env;
}

// The ConfigError message load() throws; fails the test when it does not throw.
std::string loadError(const Environment& env, const std::vector<std::string>& args = {},
                      const Environment& dotenv = {}) {
  try {
    load(args, env, dotenv);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "load() accepted the configuration";
  return {};
}

const SettingInfo& info(const std::string& name) {
  for (const auto& s : settings()) {
    if (s.name == name) return s;
  }
  throw std::runtime_error("no setting " + name);
}

TEST(ConfigDefaults, MatchTheSeed) {
  const auto c = load({}, minimal(), {});
  EXPECT_EQ(c->upstream_port, 5432);
  EXPECT_EQ(c->listen_host, "0.0.0.0");
  EXPECT_EQ(c->listen_port, 5433);
  EXPECT_EQ(c->cache_ttl_seconds, 900);
  EXPECT_EQ(c->max_cache_entries, 10000u);
  EXPECT_EQ(c->pool_size, 5);
  EXPECT_EQ(c->log_level, "info");
}

TEST(ConfigDefaults, NewSettings) {
  const auto c = load({}, minimal(), {});
  EXPECT_EQ(c->upstream_connect_timeout_seconds, 10);
  EXPECT_EQ(c->query_timeout_seconds, 0);
  EXPECT_EQ(c->max_client_connections, 1000);
  EXPECT_EQ(c->max_message_bytes, 16777216u);
  EXPECT_EQ(c->client_idle_timeout_seconds, 0);
  EXPECT_EQ(c->auth, AuthMethod::ScramSha256);
  EXPECT_TRUE(c->cache_enabled);
  EXPECT_EQ(c->max_cache_bytes, 268435456u);
  EXPECT_EQ(c->max_cache_entry_bytes, 1048576u);
  EXPECT_EQ(c->pool_mode, PoolMode::Transaction);
  EXPECT_EQ(c->pool_timeout_seconds, 30);
  EXPECT_EQ(c->worker_threads, 0);
  EXPECT_EQ(c->shutdown_timeout_seconds, 30);
  EXPECT_EQ(c->log_format, LogFormat::Text);
  EXPECT_EQ(c->admin_listen, "127.0.0.1:50051");
  EXPECT_EQ(c->metrics_listen, "0.0.0.0:9433");
}

TEST(ConfigDefaults, SchemaShowsTheSeedDefaults) {
  EXPECT_EQ(info("UPSTREAM_PORT").default_text, "5432");
  EXPECT_EQ(info("LISTEN_HOST").default_text, "0.0.0.0");
  EXPECT_EQ(info("LISTEN_PORT").default_text, "5433");
  EXPECT_EQ(info("CACHE_TTL_SECONDS").default_text, "900");
  EXPECT_EQ(info("MAX_CACHE_ENTRIES").default_text, "10000");
  EXPECT_EQ(info("POOL_SIZE").default_text, "5");
  EXPECT_EQ(info("LOG_LEVEL").default_text, "info");
  EXPECT_EQ(info("LOG_LEVEL").alias, "RUST_LOG");
  EXPECT_EQ(info("AUTH").default_text, "scram-sha-256");
  EXPECT_TRUE(info("UPSTREAM_HOST").required);
  EXPECT_FALSE(info("UPSTREAM_PASSWORD").required);
}

TEST(ConfigSchema, FlagsAreLowerCaseNames) {
  EXPECT_EQ(info("LISTEN_PORT").flag, "--listen-port");
  EXPECT_EQ(info("UPSTREAM_CONNECT_TIMEOUT_SECONDS").flag, "--upstream-connect-timeout-seconds");
}

TEST(ConfigSchema, SecretsAreExactlyThePasswordsAndToken) {
  std::vector<std::string> secrets;
  for (const auto& s : settings()) {
    if (s.secret) secrets.push_back(s.name);
  }
  // CACHE_L2_URL: redis://:password@host carries the fleet cache's password.
  EXPECT_THAT(secrets, ::testing::UnorderedElementsAre("UPSTREAM_PASSWORD", "PROXY_PASSWORD",
                                                       "ADMIN_TOKEN", "CACHE_L2_URL"));
}

TEST(ConfigPrecedence, FlagsOverEnvironmentOverDotEnv) {
  const Environment dotenv = {
      {"POOL_SIZE", "7"}, {"CACHE_TTL_SECONDS", "60"}, {"LISTEN_PORT", "6000"}};
  const Environment env = with(minimal(), "POOL_SIZE", "8");
  const auto c = load({"--pool-size=9"}, with(env, "CACHE_TTL_SECONDS", "61"), dotenv);
  EXPECT_EQ(c->pool_size, 9);
  EXPECT_EQ(c->cache_ttl_seconds, 61);
  EXPECT_EQ(c->listen_port, 6000);
  EXPECT_EQ(load({}, env, dotenv)->pool_size, 8);
  EXPECT_EQ(load({}, minimal(), dotenv)->pool_size, 7);
}

TEST(ConfigPrecedence, FlagWithSeparateValue) {
  const auto c = load({"--pool-size", "11", "--listen-host", "127.0.0.1"}, minimal(), {});
  EXPECT_EQ(c->pool_size, 11);
  EXPECT_EQ(c->listen_host, "127.0.0.1");
}

TEST(ConfigPrecedence, EmptyValueCountsAsUnset) {
  const auto c = load({}, with(minimal(), "POOL_SIZE", ""), {{"POOL_SIZE", "7"}});
  EXPECT_EQ(c->pool_size, 7);
  EXPECT_EQ(load({}, with(minimal(), "LISTEN_HOST", ""), {})->listen_host, "0.0.0.0");
}

TEST(ConfigPrecedence, RequiredValuesMayComeFromDotEnv) {
  Environment dotenv = minimal();
  const auto c = load({}, {{"PATH", "/usr/bin"}}, dotenv);
  EXPECT_EQ(c->upstream_host, "db.internal");
}

TEST(ConfigPrecedence, UnknownVariablesAreIgnored) {
  const auto c = load({}, with(minimal(), "DATABASE_URL", "postgres://x"), {{"FOO", "bar"}});
  EXPECT_EQ(c->upstream_host, "db.internal");
}

TEST(ConfigLogLevel, RustLogIsAnAlias) {
  EXPECT_EQ(load({}, with(minimal(), "RUST_LOG", "debug"), {})->log_level, "debug");
  EXPECT_EQ(load({}, with(minimal(), "LOG_LEVEL", "warn"), {})->log_level, "warn");
  EXPECT_EQ(load({"--rust-log=trace"}, minimal(), {})->log_level, "trace");
  EXPECT_EQ(load({}, minimal(), {{"RUST_LOG", "error"}})->log_level, "error");
}

TEST(ConfigLogLevel, RustLogDirectiveLists) {
  auto level = [](const std::string& v) {
    return load({}, with(minimal(), "RUST_LOG", v), {})->log_level;
  };
  EXPECT_EQ(level("rust_pg_proxy=debug,info"), "debug");
  EXPECT_EQ(level("info,rust_pg_proxy=debug"), "debug");
  EXPECT_EQ(level("info,hyper=trace"), "info");  // other crates' targets do not matter
  EXPECT_EQ(level("tokio=debug"), "info");
  EXPECT_EQ(level("rust_pg_proxy::proxy=trace,warn"), "trace");
  EXPECT_EQ(level("pgro=warn"), "warn");
  EXPECT_EQ(level("rust_pg_proxy"), "trace");
  EXPECT_EQ(level("INFO"), "info");
  EXPECT_EQ(level("warning"), "warn");
  EXPECT_EQ(level("off"), "off");
  EXPECT_EQ(level("debug/some.*regex"), "debug");
  EXPECT_EQ(level(" debug , "), "debug");
}

TEST(ConfigLogLevel, CanonicalNameWinsInOneSourceHigherSourceWinsAcross) {
  Environment env = with(with(minimal(), "RUST_LOG", "trace"), "LOG_LEVEL", "warn");
  EXPECT_EQ(load({}, env, {})->log_level, "warn");
  EXPECT_EQ(load({}, with(minimal(), "RUST_LOG", "debug"), {{"LOG_LEVEL", "error"}})->log_level,
            "debug");
  EXPECT_EQ(load({"--log-level=error", "--rust-log=trace"}, minimal(), {})->log_level, "error");
}

TEST(ConfigLogLevel, BadLevelNamesTheVariableAsSpelled) {
  EXPECT_THAT(loadError(with(minimal(), "RUST_LOG", "loud")), HasSubstr("RUST_LOG"));
  EXPECT_THAT(loadError(with(minimal(), "LOG_LEVEL", "verbose")), HasSubstr("LOG_LEVEL"));
  EXPECT_THAT(loadError(with(minimal(), "RUST_LOG", "rust_pg_proxy=loud")), HasSubstr("RUST_LOG"));
}

TEST(ConfigValidation, RequiredUpstreamSettings) {
  for (const std::string name : {"UPSTREAM_HOST", "UPSTREAM_USER", "UPSTREAM_DATABASE"}) {
    EXPECT_THAT(loadError(without(minimal(), name)), HasSubstr(name));
  }
  EXPECT_NO_THROW(load({}, without(minimal(), "UPSTREAM_PASSWORD"), {}));
}

TEST(ConfigValidation, NumbersAreStrict) {
  for (const std::string bad :
       {"0", "65536", "54x", " 5432", "5432 ", "+5432", "-1", "0x10", "5e3", "5432.0"}) {
    EXPECT_THAT(loadError(with(minimal(), "UPSTREAM_PORT", bad)), HasSubstr("UPSTREAM_PORT"))
        << bad;
  }
  EXPECT_THAT(loadError(with(minimal(), "POOL_SIZE", "0")), HasSubstr("POOL_SIZE"));
  EXPECT_THAT(loadError(with(minimal(), "MAX_CACHE_BYTES", "-1")), HasSubstr("MAX_CACHE_BYTES"));
  EXPECT_THAT(loadError(with(minimal(), "MAX_CACHE_ENTRIES", "99999999999999999999999")),
              HasSubstr("MAX_CACHE_ENTRIES"));
  EXPECT_THAT(loadError(with(minimal(), "WORKER_THREADS", "-2")), HasSubstr("WORKER_THREADS"));
  EXPECT_THAT(loadError(with(minimal(), "CACHE_TTL_SECONDS", "15m")),
              HasSubstr("CACHE_TTL_SECONDS"));
  EXPECT_EQ(load({}, with(minimal(), "LISTEN_PORT", "0"), {})->listen_port, 0);
  EXPECT_EQ(load({}, with(minimal(), "MAX_CACHE_BYTES", "0"), {})->max_cache_bytes, 0u);
  EXPECT_EQ(
      load({}, with(minimal(), "MAX_CACHE_BYTES", "18446744073709551615"), {})->max_cache_bytes,
      18446744073709551615u);
}

TEST(ConfigValidation, ErrorsNameTheSource) {
  EXPECT_THAT(loadError(minimal(), {}, {{"POOL_SIZE", "x"}}), HasSubstr(".env"));
  EXPECT_THAT(loadError(minimal(), {"--pool-size=x"}), HasSubstr("--pool-size"));
  EXPECT_THAT(loadError(with(minimal(), "POOL_SIZE", "x")), HasSubstr("environment"));
}

TEST(ConfigValidation, Booleans) {
  for (const std::string yes : {"true", "on", "yes", "1", "TRUE", "On"}) {
    EXPECT_TRUE(load({}, with(minimal(), "CACHE_ENABLED", yes), {})->cache_enabled) << yes;
  }
  for (const std::string no : {"false", "off", "no", "0", "False"}) {
    EXPECT_FALSE(load({}, with(minimal(), "CACHE_ENABLED", no), {})->cache_enabled) << no;
  }
  EXPECT_THAT(loadError(with(minimal(), "CACHE_ENABLED", "maybe")), HasSubstr("CACHE_ENABLED"));
}

TEST(ConfigValidation, Enums) {
  EXPECT_EQ(load({}, with(minimal(), "POOL_MODE", "session"), {})->pool_mode, PoolMode::Session);
  EXPECT_EQ(load({}, with(minimal(), "LOG_FORMAT", "json"), {})->log_format, LogFormat::Json);
  EXPECT_THAT(loadError(with(minimal(), "POOL_MODE", "statement")), HasSubstr("POOL_MODE"));
  EXPECT_THAT(loadError(with(minimal(), "AUTH", "md5")), HasSubstr("AUTH"));
  EXPECT_THAT(loadError(with(minimal(), "LOG_FORMAT", "xml")), HasSubstr("LOG_FORMAT"));
}

TEST(ConfigValidation, UpstreamRole) {
  EXPECT_EQ(load({}, minimal(), {})->upstream_role, "auto");
  EXPECT_EQ(info("UPSTREAM_ROLE").default_text, "auto");
  EXPECT_FALSE(info("UPSTREAM_ROLE").reloadable);
  // The keywords in any case; a role name exactly as written (role names are case-sensitive).
  EXPECT_EQ(load({}, with(minimal(), "UPSTREAM_ROLE", "NONE"), {})->upstream_role, "none");
  EXPECT_EQ(load({}, with(minimal(), "UPSTREAM_ROLE", "Auto"), {})->upstream_role, "auto");
  EXPECT_EQ(load({}, with(minimal(), "UPSTREAM_ROLE", "Reader Role"), {})->upstream_role,
            "Reader Role");
  EXPECT_EQ(load({"--upstream-role=pg_read_all_data"}, minimal(), {})->upstream_role,
            "pg_read_all_data");
  EXPECT_EQ(load({}, minimal(), {{"UPSTREAM_ROLE", "pgro_reader"}})->upstream_role,
            "pgro_reader");  // .env works the same way
  EXPECT_THAT(loadError(with(minimal(), "UPSTREAM_ROLE", std::string(64, 'r'))),
              HasSubstr("UPSTREAM_ROLE: a role name has at most 63 bytes"));
  EXPECT_THAT(loadError(with(minimal(), "UPSTREAM_ROLE", "bad\nrole")),
              HasSubstr("UPSTREAM_ROLE: a role name cannot contain control characters"));
}

TEST(ConfigValidation, ReadOnlyFunctions) {
  EXPECT_TRUE(load({}, minimal(), {})->read_only_functions.empty());
  EXPECT_FALSE(info("READ_ONLY_FUNCTIONS").reloadable);
  const auto cfg = load({}, with(minimal(), "READ_ONLY_FUNCTIONS", " f ,My.G,, h"), {});
  EXPECT_EQ(cfg->read_only_functions, (std::vector<std::string>{"f", "my.g", "h"}));
  EXPECT_EQ(info("READ_ONLY_FUNCTIONS").default_text, "");
  EXPECT_THAT(loadError(with(minimal(), "READ_ONLY_FUNCTIONS", "a.b.c")),
              HasSubstr("READ_ONLY_FUNCTIONS: expected [schema.]name"));
  EXPECT_THAT(loadError(with(minimal(), "READ_ONLY_FUNCTIONS", "f, two words")),
              HasSubstr("READ_ONLY_FUNCTIONS"));
}

TEST(ConfigValidation, NoClientLoginSaysHowToSetOne) {
  const std::string msg = loadError(without(without(minimal(), "PROXY_USER"), "PROXY_PASSWORD"));
  EXPECT_THAT(msg, HasSubstr("PROXY_USER"));
  EXPECT_THAT(msg, HasSubstr("PROXY_PASSWORD"));
  EXPECT_THAT(msg, HasSubstr("USERS_FILE"));
  EXPECT_THAT(msg, HasSubstr("AUTH=trust"));
}

TEST(ConfigValidation, ProxyUserAndPasswordGoTogether) {
  EXPECT_THAT(loadError(without(minimal(), "PROXY_PASSWORD")), HasSubstr("PROXY_PASSWORD"));
  EXPECT_THAT(loadError(without(minimal(), "PROXY_USER")), HasSubstr("PROXY_USER"));
}

TEST(ConfigValidation, TrustOnlyOnLoopback) {
  Environment trust =
      with(without(without(minimal(), "PROXY_USER"), "PROXY_PASSWORD"), "AUTH", "trust");
  const std::string msg = loadError(trust);
  EXPECT_THAT(msg, HasSubstr("AUTH=trust"));
  EXPECT_THAT(msg, HasSubstr("LISTEN_HOST"));
  EXPECT_THAT(loadError(with(trust, "LISTEN_HOST", "10.0.0.5")), HasSubstr("LISTEN_HOST"));
  for (const std::string lo : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    EXPECT_EQ(load({}, with(trust, "LISTEN_HOST", lo), {})->auth, AuthMethod::Trust) << lo;
  }
}

TEST(ConfigValidation, ProxyUserMayEqualUpstreamUserButNotThePassword) {
  EXPECT_NO_THROW(load({}, with(minimal(), "PROXY_USER", "admin"), {}));
  const std::string msg = loadError(with(minimal(), "PROXY_PASSWORD", "upstream-secret"));
  EXPECT_THAT(msg, HasSubstr("PROXY_PASSWORD"));
  EXPECT_THAT(msg, HasSubstr("upstream password"));
  EXPECT_THAT(msg, Not(HasSubstr("upstream-secret")));
}

TEST(ConfigValidation, AdminListenBeyondLoopbackNeedsToken) {
  EXPECT_THAT(loadError(with(minimal(), "ADMIN_LISTEN", "0.0.0.0:50051")),
              HasSubstr("ADMIN_TOKEN"));
  EXPECT_THAT(loadError(with(minimal(), "ADMIN_LISTEN", "[::]:50051")), HasSubstr("ADMIN_LISTEN"));
  EXPECT_NO_THROW(
      load({}, with(with(minimal(), "ADMIN_LISTEN", "0.0.0.0:50051"), "ADMIN_TOKEN", "t0k"), {}));
  EXPECT_NO_THROW(load({}, with(minimal(), "ADMIN_LISTEN", "[::1]:50051"), {}));
  EXPECT_NO_THROW(load({}, with(minimal(), "ADMIN_LISTEN", "localhost:0"), {}));
}

TEST(ConfigValidation, HostPortValues) {
  for (const std::string bad : {"::1:50051", "localhost", "host:99999", ":9433", "[::1]9433",
                                "[nothost]:1", "a b:1", "host:"}) {
    EXPECT_THAT(loadError(with(minimal(), "METRICS_LISTEN", bad)), HasSubstr("METRICS_LISTEN"))
        << bad;
  }
  const HostPort v6 = parseHostPort("[::1]:9433", "X");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 9433);
  const HostPort v4 = parseHostPort("0.0.0.0:9433", "X");
  EXPECT_EQ(v4.host, "0.0.0.0");
  EXPECT_EQ(v4.port, 9433);
  EXPECT_EQ(parseHostPort("metrics.local:1", "X").host, "metrics.local");
}

TEST(ConfigValidation, LoopbackHosts) {
  for (const std::string lo :
       {"127.0.0.1", "127.255.0.1", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(isLoopbackHost(lo)) << lo;
  }
  for (const std::string not_lo : {"0.0.0.0", "::", "10.1.2.3", "128.0.0.1", "example.com", "",
                                   "::ffff:10.0.0.1", "localhost.example.com"}) {
    EXPECT_FALSE(isLoopbackHost(not_lo)) << not_lo;
  }
}

TEST(ConfigValidation, Files) {
  EXPECT_THAT(loadError(with(minimal(), "USERS_FILE", "/nonexistent/users")),
              HasSubstr("USERS_FILE"));
  const auto path = std::filesystem::temp_directory_path() /
                    ("pgro_config_test_users_" + std::to_string(::getpid()));
  std::ofstream(path) << "reader:SCRAM-SHA-256$4096:c2FsdA==$a:b\n";
  Environment users = with(without(without(minimal(), "PROXY_USER"), "PROXY_PASSWORD"),
                           "USERS_FILE", path.string());
  EXPECT_EQ(load({}, users, {})->users_file, path.string());
  EXPECT_THAT(loadError(with(minimal(), "ADMIN_TLS_CERT_FILE", path.string())),
              HasSubstr("ADMIN_TLS_KEY_FILE"));
  EXPECT_THAT(loadError(with(minimal(), "ADMIN_TLS_KEY_FILE", path.string())),
              HasSubstr("ADMIN_TLS_CERT_FILE"));
  EXPECT_THAT(loadError(with(with(minimal(), "ADMIN_TLS_KEY_FILE", path.string()),
                             "ADMIN_TLS_CERT_FILE", "/nonexistent/cert.pem")),
              HasSubstr("ADMIN_TLS_CERT_FILE"));
  std::filesystem::remove(path);
}

TEST(ConfigValidation, TlsSettings) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("pgro_config_test_pem_" + std::to_string(::getpid()));
  std::ofstream(path) << "not checked here: OpenSSL reads it at startup\n";
  const std::string pem = path.string();
  EXPECT_THAT(loadError(with(minimal(), "TLS_CERT_FILE", pem)),
              HasSubstr("TLS_KEY_FILE is not: set both for client TLS"));
  EXPECT_THAT(loadError(with(with(minimal(), "TLS_CERT_FILE", "/nonexistent/cert.pem"),
                             "TLS_KEY_FILE", pem)),
              HasSubstr("TLS_CERT_FILE: cannot read"));
  EXPECT_THAT(loadError(with(minimal(), "CLIENT_TLS", "require")),
              HasSubstr("CLIENT_TLS=require needs TLS_CERT_FILE"));
  EXPECT_THAT(loadError(with(minimal(), "CLIENT_TLS", "sometimes")), HasSubstr("CLIENT_TLS"));
  const auto tls = load({},
                        with(with(with(minimal(), "TLS_CERT_FILE", pem), "TLS_KEY_FILE", pem),
                             "CLIENT_TLS", "REQUIRE"),
                        {});
  EXPECT_EQ(tls->client_tls, ClientTls::Require);

  EXPECT_EQ(load({}, minimal(), {})->upstream_sslmode, UpstreamSslMode::Prefer);  // as libpq
  EXPECT_THAT(loadError(with(minimal(), "UPSTREAM_SSLMODE", "verify-full")),
              HasSubstr("need UPSTREAM_SSLROOTCERT"));
  EXPECT_THAT(
      loadError(with(with(minimal(), "UPSTREAM_SSLMODE", "disable"), "UPSTREAM_SSLROOTCERT", pem)),
      HasSubstr("UPSTREAM_SSLMODE=disable"));
  EXPECT_THAT(loadError(with(minimal(), "UPSTREAM_SSLROOTCERT", "/nonexistent/ca.pem")),
              HasSubstr("UPSTREAM_SSLROOTCERT: cannot read"));
  EXPECT_EQ(
      load({},
           with(with(minimal(), "UPSTREAM_SSLMODE", "verify-ca"), "UPSTREAM_SSLROOTCERT", "system"),
           {})
          ->upstream_sslmode,
      UpstreamSslMode::VerifyCa);
  std::filesystem::remove(path);
}

TEST(ConfigValidation, Flags) {
  EXPECT_THAT(loadError(minimal(), {"--no-such-thing=1"}), HasSubstr("--no-such-thing"));
  EXPECT_THAT(loadError(minimal(), {"--help"}), HasSubstr("--help"));
  EXPECT_THAT(loadError(minimal(), {"stray"}), HasSubstr("stray"));
  EXPECT_THAT(loadError(minimal(), {"--pool-size"}), HasSubstr("--pool-size"));
  EXPECT_THAT(loadError(minimal(), {"--UPSTREAM_HOST=x"}), HasSubstr("--UPSTREAM_HOST"));
}

TEST(ConfigValidation, ErrorsAreOneLine) {
  const std::vector<std::string> messages = {
      loadError(without(minimal(), "UPSTREAM_HOST")),
      loadError(with(minimal(), "UPSTREAM_PORT", "x")),
      loadError(without(without(minimal(), "PROXY_USER"), "PROXY_PASSWORD")),
      loadError(with(minimal(), "ADMIN_LISTEN", "0.0.0.0:1")),
      loadError(minimal(), {"--nope"}),
  };
  for (const auto& m : messages) {
    EXPECT_FALSE(m.empty());
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(ConfigHelp, ListsEverySettingWithItsFlagAndDefault) {
  const std::string help = helpText();
  ASSERT_GE(settings().size(), 33u);
  for (const auto& s : settings()) {
    EXPECT_THAT(help, HasSubstr(s.name));
    EXPECT_THAT(help, HasSubstr(s.flag));
    if (!s.default_text.empty()) {
      EXPECT_THAT(help, HasSubstr("; default " + s.default_text));
    }
  }
  EXPECT_THAT(help, HasSubstr("RUST_LOG"));
  EXPECT_THAT(help, HasSubstr("pgro passwd USER"));
}

TEST(ConfigHelp, MarkdownListsEverySetting) {
  const std::string md = markdownReference();
  for (const auto& s : settings()) EXPECT_THAT(md, HasSubstr("`" + s.name + "`"));
  EXPECT_THAT(md, HasSubstr("| `LISTEN_PORT` | `5433` |"));
  EXPECT_THAT(md, HasSubstr("| `UPSTREAM_HOST` | **required** |"));
}

TEST(ConfigHelp, ReadmeReferenceIsUpToDate) {
  std::ifstream in(std::string(PGRO_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string readme = buffer.str();
  const std::string begin = "<!-- BEGIN config reference: pgro --help-markdown -->\n";
  const std::string end = "<!-- END config reference -->";
  const auto b = readme.find(begin);
  const auto e = readme.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  // A blank line ends the last table before the END marker.
  EXPECT_EQ(readme.substr(b + begin.size(), e - b - begin.size()), markdownReference() + "\n")
      << "regenerate README's table with `pgro --help-markdown`";
}

TEST(ConfigDescribe, EverySettingSecretsRedacted) {
  Environment env = with(minimal(), "ADMIN_TOKEN", "tok-123");
  const auto lines = describe(*load({}, env, {}));
  ASSERT_EQ(lines.size(), settings().size());
  std::map<std::string, std::string> values(lines.begin(), lines.end());
  EXPECT_EQ(values["UPSTREAM_PASSWORD"], "***");
  EXPECT_EQ(values["PROXY_PASSWORD"], "***");
  EXPECT_EQ(values["ADMIN_TOKEN"], "***");
  EXPECT_EQ(values["UPSTREAM_HOST"], "db.internal");
  EXPECT_EQ(values["LISTEN_PORT"], "5433");
  EXPECT_EQ(values["POOL_MODE"], "transaction");
  EXPECT_EQ(values["CACHE_ENABLED"], "true");
  for (const auto& [name, value] : lines) {
    EXPECT_THAT(value, Not(HasSubstr("secret")));
    EXPECT_THAT(value, Not(HasSubstr("tok-123")));
  }
  const auto unset = describe(*load({}, without(minimal(), "UPSTREAM_PASSWORD"), {}));
  std::map<std::string, std::string> unset_values(unset.begin(), unset.end());
  EXPECT_EQ(unset_values["UPSTREAM_PASSWORD"], "");
}

TEST(ConfigReload, DiffNamesEveryChangeAndWhetherItIsReloadable) {
  const auto a = load({}, minimal(), {});
  Environment env = with(with(minimal(), "POOL_SIZE", "9"), "CACHE_TTL_SECONDS", "5");
  env = with(with(env, "UPSTREAM_PASSWORD", "rotated"), "PROXY_PASSWORD", "new-reader-secret");
  const auto b = load({}, with(env, "LOG_LEVEL", "warn"), {});
  const auto changes = diff(*a, *b);
  std::map<std::string, SettingChange> by_name;
  for (const auto& c : changes) by_name[c.name] = c;
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_FALSE(by_name["POOL_SIZE"].reloadable);
  EXPECT_EQ(by_name["POOL_SIZE"].from, "5");
  EXPECT_EQ(by_name["POOL_SIZE"].to, "9");
  EXPECT_TRUE(by_name["CACHE_TTL_SECONDS"].reloadable);
  EXPECT_EQ(by_name["CACHE_TTL_SECONDS"].to, "5");
  EXPECT_TRUE(by_name["LOG_LEVEL"].reloadable);
  EXPECT_EQ(by_name["LOG_LEVEL"].from, "info");
  EXPECT_EQ(by_name["LOG_LEVEL"].to, "warn");
  // Secrets: reported as changed, never shown.
  EXPECT_FALSE(by_name["UPSTREAM_PASSWORD"].reloadable);
  EXPECT_TRUE(by_name["PROXY_PASSWORD"].reloadable);
  for (const auto& c : changes) {
    EXPECT_THAT(c.from + c.to, Not(HasSubstr("secret"))) << c.name;
    EXPECT_THAT(c.from + c.to, Not(HasSubstr("rotated"))) << c.name;
  }
  EXPECT_EQ(by_name["PROXY_PASSWORD"].to, "***");
  EXPECT_TRUE(diff(*a, *a).empty());
}

TEST(ConfigReload, WhatIsReloadable) {
  for (const char* name : {"PROXY_USER", "PROXY_PASSWORD", "USERS_FILE", "CACHE_ENABLED",
                           "CACHE_TTL_SECONDS", "LOG_LEVEL", "TLS_CERT_FILE", "TLS_KEY_FILE",
                           "CACHE_STALE_IF_ERROR_SECONDS", "CACHE_SWR_PERCENT"}) {
    EXPECT_TRUE(info(name).reloadable) << name;
  }
  for (const char* name :
       {"UPSTREAM_HOST", "UPSTREAM_PASSWORD", "LISTEN_PORT", "POOL_SIZE", "POOL_MODE", "CLIENT_TLS",
        "AUTH", "MAX_CACHE_ENTRIES", "ADMIN_TOKEN", "CACHE_REFRESH_CONCURRENCY"}) {
    EXPECT_FALSE(info(name).reloadable) << name;
  }
}

TEST(ConfigReload, WithReloadableTakesOnlyReloadableSettings) {
  const auto running = load({}, minimal(), {});
  Environment env = with(with(minimal(), "POOL_SIZE", "9"), "CACHE_ENABLED", "false");
  env = with(with(env, "PROXY_USER", "analyst"), "LOG_LEVEL", "debug");
  const auto next = load({}, with(env, "UPSTREAM_HOST", "elsewhere"), {});
  const auto merged = withReloadable(*running, *next);
  EXPECT_FALSE(merged->cache_enabled);
  EXPECT_EQ(merged->proxy_user, "analyst");
  EXPECT_EQ(merged->log_level, "debug");
  EXPECT_EQ(merged->pool_size, 5);                  // kept: needs a restart
  EXPECT_EQ(merged->upstream_host, "db.internal");  // kept
  EXPECT_EQ(diff(*merged, *next).size(), 2u);       // exactly the two kept ones differ
  for (const auto& c : diff(*merged, *next)) EXPECT_FALSE(c.reloadable) << c.name;
}

TEST(ConfigReload, WithReloadableChecksTheResultAsAWhole) {
  // The new PROXY_PASSWORD equals the running UPSTREAM_PASSWORD (the new one, which a reload
  // does not apply, differs): refused, as load() would refuse it.
  const auto running = load({}, minimal(), {});
  Environment env = with(minimal(), "UPSTREAM_PASSWORD", "rotated");
  const auto next = load({}, with(env, "PROXY_PASSWORD", "upstream-secret"), {});
  try {
    withReloadable(*running, *next);
    ADD_FAILURE() << "accepted PROXY_PASSWORD equal to the running UPSTREAM_PASSWORD";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("PROXY_PASSWORD"));
  }
}

}  // namespace
}  // namespace pgro::config
