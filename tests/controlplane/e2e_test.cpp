// The real pgro (in front of a PostgreSQL the test starts) driven by pgro-admin and scraped
// over HTTP: the control plane wired to the data plane end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "controlplane_fixture.hpp"
#include "support/pgro_process.hpp"
#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"

namespace pgro::test {
namespace {

using Json = nlohmann::json;

uint16_t portOf(const std::string& host_port) {
  return static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

CommandResult admin(const PgroProcess& pgro, std::vector<std::string> args,
                    const std::string& token = {}) {
  args.insert(args.begin(), {PGRO_ADMIN_BINARY, "--addr", pgro.env().at("ADMIN_LISTEN")});
  return runCommand(args, {{"PGRO_ADMIN_TOKEN", token}, {"PGRO_ADMIN_ADDR", ""}},
                    std::chrono::seconds(30));
}

CommandResult psql(const PgroProcess& pgro, const std::string& sql) {
  return runCommand({"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql}, pgro.libpqEnv(),
                    std::chrono::seconds(30));
}

// The HTTP endpoint may come up a moment after the client listener.
HttpReply getWhenUp(uint16_t port, const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      return httpGet(port, path);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

TEST(ControlPlaneE2E, AdminCliMetricsAndProbes) {
  PgroProcess pgro(PGRO_BINARY, TempPostgres::shared());
  const uint16_t metrics_port = portOf(pgro.env().at("METRICS_LISTEN"));
  EXPECT_EQ(getWhenUp(metrics_port, "/healthz").status, 200);
  EXPECT_EQ(getWhenUp(metrics_port, "/readyz").status, 200);

  ASSERT_EQ(psql(pgro, "SELECT 1").exit_code, 0) << pgro.log();
  ASSERT_EQ(psql(pgro, "SELECT 1").exit_code, 0);
  EXPECT_NE(psql(pgro, "CREATE TABLE e2e_nope(a int)").exit_code, 0);

  const auto stats = admin(pgro, {"--json", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.describe() << pgro.log();
  const Json s = Json::parse(stats.out);
  EXPECT_EQ(s["version"], PGRO_VERSION);
  EXPECT_GE(s["queries"]["forwarded"].get<uint64_t>() + s["queries"]["cache_hits"].get<uint64_t>(),
            1u);
  EXPECT_GE(s["queries"]["refused"].get<uint64_t>(), 1u);
  EXPECT_TRUE(s["upstream"]["up"].get<bool>());
  EXPECT_GE(s["clients"]["total"].get<uint64_t>(), 3u);

  const auto cfg = admin(pgro, {"--json", "config"});
  ASSERT_EQ(cfg.exit_code, 0) << cfg.describe();
  const Json c = Json::parse(cfg.out)["settings"];
  EXPECT_EQ(c["LISTEN_PORT"], std::to_string(pgro.port()));
  EXPECT_EQ(c["PROXY_PASSWORD"], "***");
  EXPECT_EQ(cfg.out.find(pgro.password()), std::string::npos);

  EXPECT_EQ(admin(pgro, {"sessions"}).exit_code, 0);
  EXPECT_EQ(admin(pgro, {"cache", "ttl", "60"}).exit_code, 0);
  EXPECT_EQ(Json::parse(admin(pgro, {"--json", "cache", "stats"}).out)["ttl_seconds"], 60);
  EXPECT_EQ(admin(pgro, {"cache", "ttl", "0"}).exit_code, 2);
  EXPECT_EQ(admin(pgro, {"cache", "reset"}).exit_code, 0);

  const auto m = getWhenUp(metrics_port, "/metrics");
  ASSERT_EQ(m.status, 200);
  SpawnOptions o{.argv = {"promtool", "check", "metrics"}, .inherit_env = true};
  const auto lint = runCommand(o, std::chrono::seconds(60), m.body);
  EXPECT_EQ(lint.exit_code, 0) << lint.describe();
  EXPECT_NE(m.body.find("pgro_build_info{version=\"" PGRO_VERSION "\"} 1\n"), std::string::npos);
  const auto names = sampleNames(m.body);
  for (const auto& name : dashboardMetricNames()) {
    EXPECT_TRUE(names.count(name)) << name << " (dashboard) missing from pgro's /metrics";
  }
}

int upstreamRuns(const TempPostgres& pg, std::size_t mark, const std::string& marker) {
  return pg.statementsRun(mark, marker);
}

// Each cache lookup is counted once: hit (a stored entry), coalesced (another client's
// in-flight query) or miss (went upstream). A coalesced follower used to count as a miss of
// the result cache and as a hit of the session.
TEST(ControlPlaneE2E, CacheCountersCountEachLookupOnce) {
  TempPostgres& pg = TempPostgres::shared();
  PgroProcess pgro(PGRO_BINARY, pg, {{"POOL_SIZE", "2"}});
  const std::size_t mark = pg.logOffset();
  const std::string sql = "SELECT count(*) FROM generate_series(1, 6000000) /* e2e-count */";
  std::vector<std::thread> clients;
  std::vector<int> codes(6, -1);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    clients.emplace_back([&, i] { codes[i] = psql(pgro, sql).exit_code; });
  }
  for (auto& t : clients) t.join();
  for (int code : codes) ASSERT_EQ(code, 0) << pgro.log();
  ASSERT_EQ(psql(pgro, sql).exit_code, 0);  // one plain hit after the entry is stored

  const auto stats = admin(pgro, {"--json", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.describe();
  const Json c = Json::parse(stats.out)["cache"];
  const auto hits = c["hits"].get<uint64_t>();
  const auto misses = c["misses"].get<uint64_t>();
  const auto coalesced = c["coalesced"].get<uint64_t>();
  EXPECT_GE(coalesced, 1u) << "the six concurrent misses did not overlap: " << stats.out;
  EXPECT_GE(hits, 1u) << stats.out;
  EXPECT_EQ(hits + misses + coalesced, 7u) << stats.out;
  EXPECT_EQ(static_cast<int>(misses), upstreamRuns(pg, mark, "e2e-count")) << stats.out;
  EXPECT_DOUBLE_EQ(c["hit_ratio"].get<double>(), static_cast<double>(hits + coalesced) / 7.0);
  EXPECT_EQ(Json::parse(stats.out)["queries"]["cache_hits"].get<uint64_t>(), hits + coalesced);
}

TEST(ControlPlaneE2E, RpcsChangeTheRunningProxy) {
  TempPostgres& pg = TempPostgres::shared();
  PgroProcess pgro(PGRO_BINARY, pg, {{"ALLOW_PG_SLEEP", "true"}});
  getWhenUp(portOf(pgro.env().at("METRICS_LISTEN")), "/healthz");
  const std::size_t mark = pg.logOffset();

  // ResetCache returns the entries it cleared, and the next run goes upstream again.
  ASSERT_EQ(psql(pgro, "SELECT 1 /* e2e-reset */").exit_code, 0) << pgro.log();
  ASSERT_EQ(psql(pgro, "SELECT 1 /* e2e-reset */").exit_code, 0);
  EXPECT_EQ(upstreamRuns(pg, mark, "e2e-reset"), 1);
  const auto reset = admin(pgro, {"--json", "cache", "reset"});
  ASSERT_EQ(reset.exit_code, 0) << reset.describe();
  EXPECT_EQ(Json::parse(reset.out)["entries_cleared"], 1);
  ASSERT_EQ(psql(pgro, "SELECT 1 /* e2e-reset */").exit_code, 0);
  EXPECT_EQ(upstreamRuns(pg, mark, "e2e-reset"), 2);

  // SetCacheEnabled(false) stops caching; enabling it again caches again.
  ASSERT_EQ(admin(pgro, {"cache", "disable"}).exit_code, 0);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(psql(pgro, "SELECT 2 /* e2e-disabled */").exit_code, 0);
  EXPECT_EQ(upstreamRuns(pg, mark, "e2e-disabled"), 2);
  ASSERT_EQ(admin(pgro, {"cache", "enable"}).exit_code, 0);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(psql(pgro, "SELECT 2 /* e2e-disabled */").exit_code, 0);
  EXPECT_EQ(upstreamRuns(pg, mark, "e2e-disabled"), 3);

  // SetCacheTtl applies to entries stored from then on.
  ASSERT_EQ(admin(pgro, {"cache", "ttl", "1"}).exit_code, 0);
  ASSERT_EQ(psql(pgro, "SELECT 3 /* e2e-ttl */").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  ASSERT_EQ(psql(pgro, "SELECT 3 /* e2e-ttl */").exit_code, 0);
  EXPECT_EQ(upstreamRuns(pg, mark, "e2e-ttl"), 2);

  // ListSessions shows a connected psql with its application_name and current statement.
  SpawnOptions o{.argv = {"psql", "-XAtq", "-c", "SELECT pg_sleep(3) /* e2e-session */"},
                 .env = pgro.libpqEnv()};
  o.env["PGAPPNAME"] = "e2e-psql";
  std::thread sleeper([&] { (void)runCommand(o, std::chrono::seconds(30)); });
  bool listed = false;
  std::string last_listing;
  for (int i = 0; i < 40 && !listed; ++i) {
    const auto sessions = admin(pgro, {"--json", "sessions"});
    ASSERT_EQ(sessions.exit_code, 0) << sessions.describe();
    if (sessions.out.find("e2e") != std::string::npos || last_listing.empty()) {
      last_listing = sessions.out;
    }
    const Json listing = Json::parse(sessions.out);  // the loop must not range over a temporary
    for (const auto& s : listing["sessions"]) {
      if (s["application_name"] == "e2e-psql" &&
          s["query"].get<std::string>().find("e2e-session") != std::string::npos) {
        listed = true;
        EXPECT_EQ(s["user"], pgro.user());
      }
    }
    if (!listed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  sleeper.join();
  EXPECT_TRUE(listed) << "the running psql was not listed by pgro-admin sessions:\n"
                      << last_listing;

  // ReloadPolicy reloads the function catalog: a function created after startup is
  // judged by its body afterwards (it assigns a transaction id, whatever its label).
  pg.execDirect(
      "CREATE OR REPLACE FUNCTION e2e_write_later() RETURNS bigint LANGUAGE sql IMMUTABLE "
      "AS 'SELECT pg_catalog.txid_current()'");
  const auto reload = admin(pgro, {"--json", "reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.describe();
  EXPECT_TRUE(Json::parse(reload.out)["ok"].get<bool>()) << reload.out;
  const auto refused = psql(pgro, "SELECT e2e_write_later()");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("e2e_write_later"), std::string::npos) << refused.describe();
}

TEST(ControlPlaneE2E, ReloadAppliesDotEnvAndGetConfigShowsIt) {
  PgroOptions options;
  options.binary = PGRO_BINARY;
  options.env = pgroBaseEnv(TempPostgres::shared());
  options.env.erase("CACHE_TTL_SECONDS");
  options.env.erase("WORKER_THREADS");
  options.dotenv = "CACHE_TTL_SECONDS=900\nWORKER_THREADS=2\n";
  PgroProcess pgro(std::move(options));
  pgro.writeDotEnv("CACHE_TTL_SECONDS=60\nWORKER_THREADS=3\n");
  const auto reload = admin(pgro, {"--json", "reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.describe() << pgro.log();
  const Json r = Json::parse(reload.out);
  EXPECT_TRUE(r["ok"].get<bool>()) << reload.out;
  EXPECT_NE(reload.out.find("1 setting(s) changed, 1 need a restart"), std::string::npos)
      << reload.out;
  EXPECT_EQ(Json::parse(admin(pgro, {"--json", "cache", "stats"}).out)["ttl_seconds"], 60);
  const Json c = Json::parse(admin(pgro, {"--json", "config"}).out)["settings"];
  EXPECT_EQ(c["CACHE_TTL_SECONDS"], "60");
  EXPECT_EQ(c["WORKER_THREADS"], "2");  // needs a restart: the running value

  pgro.writeDotEnv("CACHE_TTL_SECONDS=sixty\n");
  const auto broken = admin(pgro, {"--json", "reload"});
  EXPECT_NE(broken.exit_code, 0) << broken.describe();
  EXPECT_NE((broken.out + broken.err).find("CACHE_TTL_SECONDS"), std::string::npos)
      << broken.describe();
  EXPECT_EQ(Json::parse(admin(pgro, {"--json", "cache", "stats"}).out)["ttl_seconds"], 60);
}

TEST(ControlPlaneE2E, TokenRequiredWhenSet) {
  PgroProcess pgro(PGRO_BINARY, TempPostgres::shared(), {{"ADMIN_TOKEN", "e2e-token-123"}});
  getWhenUp(portOf(pgro.env().at("METRICS_LISTEN")), "/healthz");
  EXPECT_EQ(admin(pgro, {"stats"}).exit_code, 4);
  EXPECT_EQ(admin(pgro, {"stats"}, "wrong").exit_code, 4);
  EXPECT_EQ(admin(pgro, {"stats"}, "e2e-token-123").exit_code, 0);
}

TEST(ControlPlaneE2E, AdminPortInUseStopsStartup) {
  auto& pg = TempPostgres::shared();
  PgroProcess first(PGRO_BINARY, pg);
  Env env = pgroBaseEnv(pg);
  env["ADMIN_LISTEN"] = first.env().at("ADMIN_LISTEN");
  const auto r = runPgro(PGRO_BINARY, env, {}, std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE((r.out + r.err).find("ADMIN_LISTEN"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace pgro::test
