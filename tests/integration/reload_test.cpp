// SIGHUP against the real pgro: the configuration is read again (.env in pgro's working
// directory; the environment of a running process cannot change), reloadable settings take
// effect, a changed non-reloadable one is logged and kept, a broken .env changes nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <thread>

#include "integration_common.hpp"
#include "support/libpq_conn.hpp"
#include "support/test_certs.hpp"

namespace pgro::it {
namespace {

std::string dotenvText(const Env& values) {
  std::string text;
  for (const auto& [name, value] : values) text += name + "=" + value + "\n";
  return text;
}

// pgro with the `dotenv` settings in .env, not in its environment (which would beat .env).
std::unique_ptr<PgroProcess> startWithDotEnv(const Env& dotenv) {
  PgroOptions options;
  options.binary = pgroBinary();
  options.env = pgroBaseEnv(postgres());
  for (const auto& [name, value] : dotenv) options.env.erase(name);
  options.dotenv = dotenvText(dotenv);
  return std::make_unique<PgroProcess>(std::move(options));
}

// Writes .env, sends SIGHUP and waits until the reload logged its outcome; returns the log
// lines written since the signal.
std::string reload(PgroProcess& pgro, const Env& dotenv) {
  pgro.writeDotEnv(dotenvText(dotenv));
  const std::size_t before = pgro.log().size();
  pgro.sendSignal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string since = pgro.log().substr(before);
    if (since.find("reloaded:") != std::string::npos ||
        since.find("reload failed") != std::string::npos) {
      return since;
    }
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "no reload outcome in the log";
  return pgro.log().substr(before);
}

int upstreamRuns(std::size_t mark, std::string_view marker) {
  return postgres().statementsRun(mark, marker);
}

TEST(ReloadTest, CacheEnabledFalseTakesEffect) {
  auto pgro = startWithDotEnv({{"CACHE_ENABLED", "true"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 1 /* reload-cache */");
  client.query("SELECT 1 /* reload-cache */");
  EXPECT_EQ(upstreamRuns(mark, "reload-cache"), 1);  // cached

  const std::string log = reload(*pgro, {{"CACHE_ENABLED", "false"}});
  EXPECT_NE(log.find("reload: CACHE_ENABLED changed from \"true\" to \"false\""), std::string::npos)
      << log;
  client.query("SELECT 1 /* reload-cache */");
  client.query("SELECT 1 /* reload-cache */");
  EXPECT_EQ(upstreamRuns(mark, "reload-cache"), 3);  // both reached upstream
}

TEST(ReloadTest, CacheMinCostTakesEffect) {
  auto pgro = startWithDotEnv({{"CACHE_MIN_COST_MS", "0"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 1 /* reload-min-cost-a */");
  client.query("SELECT 1 /* reload-min-cost-a */");
  EXPECT_EQ(upstreamRuns(mark, "reload-min-cost-a"), 1);  // cached

  const std::string log =
      reload(*pgro, {{"CACHE_MIN_COST_MS", "60000"}, {"CACHE_ADMISSION", "frequency"}});
  EXPECT_NE(log.find("reload: CACHE_MIN_COST_MS changed from \"0\" to \"60000\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("reload: CACHE_ADMISSION changed from \"cost\" to \"frequency\""),
            std::string::npos)
      << log;
  client.query("SELECT 1 /* reload-min-cost-b */");
  client.query("SELECT 1 /* reload-min-cost-b */");
  EXPECT_EQ(upstreamRuns(mark, "reload-min-cost-b"), 2);  // under a minute: not cached
}

TEST(ReloadTest, ProxyPasswordChangeRefusesTheOldOne) {
  auto pgro = startWithDotEnv({{"PROXY_PASSWORD", kProxyPassword}});
  ASSERT_TRUE(connectProxy(*pgro).startupResult().ok);

  const std::string log = reload(*pgro, {{"PROXY_PASSWORD", "rotated-reader-pass"}});
  EXPECT_NE(log.find("reload: PROXY_PASSWORD changed from \"***\" to \"***\""), std::string::npos)
      << log;
  EXPECT_EQ(pgro->log().find("rotated-reader-pass"), std::string::npos);  // never logged

  RawPgClient old_login(pgro->host(), pgro->port());
  StartupResult refused = old_login.startup(pgro->user(), kProxyPassword, pgro->database());
  ASSERT_FALSE(refused.ok);
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->sqlstate(), "28P01") << refused.error->describe();

  RawPgClient new_login(pgro->host(), pgro->port());
  StartupResult accepted = new_login.startup(pgro->user(), "rotated-reader-pass", pgro->database());
  EXPECT_TRUE(accepted.ok) << (accepted.error ? accepted.error->describe() : "");
}

TEST(ReloadTest, LogLevelChangeTakesEffect) {
  auto pgro = startWithDotEnv({{"LOG_LEVEL", "info"}});
  RawPgClient client = connectProxy(*pgro);
  client.query("SELECT 1 /* reload-quiet-query */");

  const std::string log = reload(*pgro, {{"LOG_LEVEL", "debug"}});
  EXPECT_NE(log.find("reload: LOG_LEVEL changed from \"info\" to \"debug\""), std::string::npos)
      << log;
  client.query("SELECT 1 /* reload-loud-query */");
  EXPECT_TRUE(pgro->waitForLog("reload-loud-query", 5s));                // query text at debug
  EXPECT_EQ(pgro->log().find("reload-quiet-query"), std::string::npos);  // not at info
}

TEST(ReloadTest, NonReloadableChangeIsLoggedAndKept) {
  auto pgro = startWithDotEnv({{"POOL_SIZE", "4"}, {"CACHE_TTL_SECONDS", "900"}});
  const std::string log = reload(*pgro, {{"POOL_SIZE", "7"}, {"CACHE_TTL_SECONDS", "60"}});
  EXPECT_NE(log.find("POOL_SIZE changed to \"7\" but needs a restart: keeping \"4\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("reload: CACHE_TTL_SECONDS changed from \"900\" to \"60\""), std::string::npos)
      << log;
  EXPECT_NE(log.find("1 setting(s) changed, 1 need a restart"), std::string::npos) << log;
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(dataRows(client.query("SELECT 1")).size(), 1u);
}

TEST(ReloadTest, UnparsableDotEnvChangesNothing) {
  auto pgro = startWithDotEnv({{"CACHE_ENABLED", "true"}});
  // Line 2 is no KEY=VALUE line: the whole file is refused, line 1 included.
  const std::string log = reload(*pgro, {{"CACHE_ENABLED", "false"}, {"not a setting", ""}});
  EXPECT_NE(log.find("reload failed, nothing changed: configuration error: .env:2: malformed"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("reload: CACHE_ENABLED changed"), std::string::npos) << log;

  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 1 /* reload-broken-env */");
  client.query("SELECT 1 /* reload-broken-env */");
  EXPECT_EQ(upstreamRuns(mark, "reload-broken-env"), 1);  // the cache is still on
}

TEST(ReloadTest, ClientTlsCertificateAddedByReload) {
  auto pgro = startWithDotEnv({{"CLIENT_TLS", "allow"}});
  {
    RawPgClient c(pgro->host(), pgro->port());
    c.send(wire::sslRequest());
    std::string answer;
    (void)c.readBytes(1, answer, 5s);
    EXPECT_EQ(answer, "N");
  }
  const TestCerts& certs = sharedTestCerts();
  const std::string log = reload(*pgro, {{"CLIENT_TLS", "allow"},
                                         {"TLS_CERT_FILE", certs.server_cert},
                                         {"TLS_KEY_FILE", certs.server_key}});
  EXPECT_NE(log.find("reload: TLS_CERT_FILE changed"), std::string::npos) << log;
  LibpqConn tls("host=127.0.0.1 port=" + std::to_string(pgro->port()) + " user=" + pgro->user() +
                " password=" + pgro->password() + " dbname=" + pgro->database() +
                " connect_timeout=10 sslmode=require");
  ASSERT_TRUE(tls.ok()) << tls.error();
  EXPECT_TRUE(tls.sslInUse());
}

}  // namespace
}  // namespace pgro::it
