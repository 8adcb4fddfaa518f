// The fleet cache (CACHE_L2_URL) through two real pgro processes sharing a real
// redis-server the test starts (free port, requirepass), in front of a real PostgreSQL.
// Upstream executions are counted in PostgreSQL's statement log (log_statement=all), by
// markers of each test's own.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

constexpr const char* kRedisPassword = "fleet-secret";

// redis-server on a free loopback port, no persistence, AUTH required; killed at the end.
class TempRedis {
 public:
  TempRedis() : dir_(makeTempDir("pgro-redis")) { start(freeLoopbackPort()); }
  ~TempRedis() { kill(); }
  TempRedis(const TempRedis&) = delete;
  TempRedis& operator=(const TempRedis&) = delete;

  void start(uint16_t port) {
    port_ = port;
    SpawnOptions options;
    options.argv = {"redis-server",
                    "--port",
                    std::to_string(port_),
                    "--bind",
                    "127.0.0.1",
                    "--requirepass",
                    kRedisPassword,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    dir_};
    options.inherit_env = true;
    options.output_file = dir_ + "/redis.log";
    pid_ = spawnProcess(options);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!canConnect("127.0.0.1", port_)) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("redis-server did not start: " + readFile(dir_ + "/redis.log"));
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  void kill() {
    killAndReap(pid_);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }
  std::string url(const std::string& password = kRedisPassword) const {
    return "redis://:" + password + "@127.0.0.1:" + std::to_string(port_);
  }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Ended with ReadyForQuery, no ErrorResponse.
bool ok(const std::vector<Message>& reply) {
  return !reply.empty() && reply.back().type == 'Z' && !firstError(reply).has_value();
}

std::string show(const std::vector<Message>& reply) {
  const auto error = firstError(reply);
  return typeSequence(reply) + (error ? " " + error->describe() : "");
}

int upstreamRuns(std::size_t mark, std::string_view marker) {
  return postgres().statementsRun(mark, marker);
}

std::string rawReply(RawPgClient& client, std::string_view sql) {
  client.send(wire::query(sql));
  return client.rawBytesUntilReadyForQuery();
}

std::unique_ptr<PgroProcess> startReplica(const TempRedis& redis, const Env& more = {}) {
  Env env = {{"CACHE_L2_URL", redis.url()}, {"CACHE_L2_TIMEOUT_MS", "200"}};
  for (const auto& [k, v] : more) env[k] = v;
  auto pgro = startPgro(env);
  // Connected and the generation read: L2 is in use.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metricValue(*pgro, "pgro_cache_l2_up") != 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(metricValue(*pgro, "pgro_cache_l2_up"), 1) << pgro->log();
  std::this_thread::sleep_for(50ms);  // the generation's GET follows the handshake
  return pgro;
}

// Polls a metric until it reaches `at_least`; the time it took, or nullopt at the deadline.
std::optional<std::chrono::milliseconds> waitForMetric(const PgroProcess& pgro,
                                                       const std::string& sample, double at_least,
                                                       std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < timeout) {
    if (metricValue(pgro, sample) >= at_least) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

TEST(FleetCacheTest, SecondReplicaAnswersFromL2AndUpstreamRunsOnce) {
  TempRedis redis;
  auto a = startReplica(redis);
  auto b = startReplica(redis);
  RawPgClient ca = connectProxy(*a);
  RawPgClient cb = connectProxy(*b);
  const std::size_t mark = postgres().logOffset();
  const std::string sql =
      "SELECT id, label FROM (VALUES (1, 'x'), (2, NULL)) v(id, label) /* fleet-share */";
  const std::string first = rawReply(ca, sql);
  const std::string second = rawReply(cb, sql);
  EXPECT_EQ(first, second);
  EXPECT_EQ(rawReply(cb, sql), first);  // now from B's own cache
  EXPECT_EQ(upstreamRuns(mark, "fleet-share"), 1);
  EXPECT_EQ(metricValue(*b, "pgro_cache_l2_hits_total"), 1);
  EXPECT_GE(metricValue(*a, "pgro_cache_l2_writes_total"), 1);
  EXPECT_EQ(metricValue(*a, "pgro_cache_l2_errors_total"), 0);

  // The extended protocol (Parse/Bind/Execute with a parameter) shares entries too.
  const std::string ext = "SELECT $1::int + 1 AS n /* fleet-share-ext */";
  auto extended = [&](RawPgClient& c, const std::string& value) {
    c.send(wire::parse("", ext) + wire::bind("", "", {value}) + wire::describePortal("") +
           wire::execute("") + wire::sync());
    return c.rawBytesUntilReadyForQuery();
  };
  const std::string e1 = extended(ca, "41");
  EXPECT_EQ(extended(cb, "41"), e1);
  EXPECT_NE(extended(cb, "1"), e1);  // another parameter: another key
  EXPECT_EQ(upstreamRuns(mark, "fleet-share-ext"), 2);
}

TEST(FleetCacheTest, ResetOnOneReplicaClearsBoth) {
  TempRedis redis;
  auto a = startReplica(redis);
  auto b = startReplica(redis);
  RawPgClient ca = connectProxy(*a);
  RawPgClient cb = connectProxy(*b);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT 7 AS n /* fleet-reset */";
  rawReply(ca, sql);
  rawReply(cb, sql);  // from L2, now in B's own cache too
  ASSERT_EQ(upstreamRuns(mark, "fleet-reset"), 1);

  auto reply = ca.query("SELECT pgro_cache_reset()");
  ASSERT_TRUE(ok(reply)) << show(reply);
  // B reads the generation every second: it clears its own cache within that.
  const auto seen = waitForMetric(*b, "pgro_cache_l2_resets_total", 1, 3s);
  ASSERT_TRUE(seen.has_value()) << b->log();
  EXPECT_LT(seen->count(), 1500);
  rawReply(cb, sql);  // B: its own cache and L2 are empty: upstream
  EXPECT_EQ(upstreamRuns(mark, "fleet-reset"), 2);
  rawReply(ca, sql);  // A: its own cache empty, B's new result in L2
  EXPECT_EQ(upstreamRuns(mark, "fleet-reset"), 2);
  EXPECT_EQ(metricValue(*a, "pgro_cache_l2_hits_total"), 1);
}

TEST(FleetCacheTest, AdminResetOnOneReplicaClearsBoth) {
  TempRedis redis;
  auto a = startReplica(redis);
  auto b = startReplica(redis);
  RawPgClient ca = connectProxy(*a);
  RawPgClient cb = connectProxy(*b);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT 8 AS n /* fleet-admin-reset */";
  rawReply(ca, sql);
  rawReply(cb, sql);
  ASSERT_EQ(upstreamRuns(mark, "fleet-admin-reset"), 1);
  const auto reset =
      runCommand({PGRO_ADMIN_BINARY, "--addr", a->env().at("ADMIN_LISTEN"), "cache", "reset"},
                 {{"PGRO_ADMIN_TOKEN", ""}, {"PGRO_ADMIN_ADDR", ""}}, 30s);
  ASSERT_EQ(reset.exit_code, 0) << reset.describe();
  ASSERT_TRUE(waitForMetric(*b, "pgro_cache_l2_resets_total", 1, 3s).has_value()) << b->log();
  rawReply(cb, sql);
  rawReply(ca, sql);
  EXPECT_EQ(upstreamRuns(mark, "fleet-admin-reset"), 2);
}

TEST(FleetCacheTest, ReplicasMissingTogetherRunTheQueryOnce) {
  TempRedis redis;
  auto a = startReplica(redis);
  auto b = startReplica(redis);
  RawPgClient ca = connectProxy(*a);
  RawPgClient cb = connectProxy(*b);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT count(*) FROM generate_series(1, 2000000) g /* fleet-lease */";
  ca.send(wire::query(sql));
  std::this_thread::sleep_for(30ms);  // A takes the lease first
  cb.send(wire::query(sql));
  const std::string ra = ca.rawBytesUntilReadyForQuery(30s);
  const std::string rb = cb.rawBytesUntilReadyForQuery(30s);
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(upstreamRuns(mark, "fleet-lease"), 1);
  EXPECT_EQ(metricValue(*b, "pgro_cache_l2_lease_waits_total"), 1);
  EXPECT_EQ(metricValue(*b, "pgro_cache_l2_lease_filled_total"), 1);
}

TEST(FleetCacheTest, RedisKilledMidRunQueriesStillAnswered) {
  auto redis = std::make_unique<TempRedis>();
  auto a = startReplica(*redis);
  RawPgClient ca = connectProxy(*a);
  const std::size_t mark = postgres().logOffset();
  ASSERT_TRUE(ok(ca.query("SELECT 1 AS n /* fleet-kill-a */")));
  const uint16_t port = redis->port();
  redis->kill();
  // Cached locally: still a hit; new queries go upstream; no error reaches the client.
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto hit = ca.query("SELECT 1 AS n /* fleet-kill-a */");
    auto miss = ca.query("SELECT " + std::to_string(i) + " AS n /* fleet-kill-b */");
    EXPECT_TRUE(ok(hit)) << show(hit);
    EXPECT_TRUE(ok(miss)) << show(miss);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  }
  EXPECT_EQ(upstreamRuns(mark, "fleet-kill-a"), 1);
  EXPECT_EQ(upstreamRuns(mark, "fleet-kill-b"), 3);
  EXPECT_TRUE(waitForMetric(*a, "pgro_cache_l2_errors_total", 1, 3s).has_value());
  EXPECT_EQ(metricValue(*a, "pgro_cache_l2_up"), 0);
  EXPECT_TRUE(a->waitForLog("fleet cache (CACHE_L2_URL)", 2s));

  // Back on the same port: pgro connects again (backoff at most 5 s) and uses it.
  redis->start(port);
  EXPECT_TRUE(waitForMetric(*a, "pgro_cache_l2_up", 1, 8s).has_value()) << a->log();
  std::this_thread::sleep_for(100ms);
  ca.query("SELECT 2 AS n /* fleet-kill-c */");
  EXPECT_TRUE(waitForMetric(*a, "pgro_cache_l2_writes_total", 1, 2s).has_value());
}

TEST(FleetCacheTest, WrongPasswordLeavesTheLocalCacheWorking) {
  TempRedis redis;
  auto pgro = startPgro({{"CACHE_L2_URL", redis.url("not-the-password")}});
  RawPgClient c = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  EXPECT_TRUE(ok(c.query("SELECT 3 AS n /* fleet-auth */")));
  EXPECT_TRUE(ok(c.query("SELECT 3 AS n /* fleet-auth */")));
  EXPECT_EQ(upstreamRuns(mark, "fleet-auth"), 1);
  EXPECT_TRUE(pgro->waitForLog("AUTH failed", 3s)) << pgro->log();
  EXPECT_EQ(metricValue(*pgro, "pgro_cache_l2_up"), 0);
  EXPECT_GE(metricValue(*pgro, "pgro_cache_l2_errors_total"), 1);
}

TEST(FleetCacheTest, SettingsThatChangeResultsAreNotSharedAcrossReplicas) {
  TempRedis redis;
  TempPostgres& pg = postgres();
  pg.execDirect(
      "CREATE SCHEMA IF NOT EXISTS fl1; CREATE SCHEMA IF NOT EXISTS fl2;"
      "CREATE TABLE IF NOT EXISTS fl1.t (v text); CREATE TABLE IF NOT EXISTS fl2.t (v text);"
      "TRUNCATE fl1.t, fl2.t; INSERT INTO fl1.t VALUES ('one'); INSERT INTO fl2.t VALUES ('two')");
  auto a = startReplica(redis);
  auto b = startReplica(redis);
  RawPgClient ca = connectProxy(*a);
  RawPgClient cb = connectProxy(*b);
  const std::size_t mark = postgres().logOffset();
  ca.query("SET search_path = fl1");
  cb.query("SET search_path = fl2");
  EXPECT_EQ(dataRows(ca.query("SELECT v FROM t /* fleet-sp */")).at(0).at(0),
            std::optional<std::string>("one"));
  EXPECT_EQ(dataRows(cb.query("SELECT v FROM t /* fleet-sp */")).at(0).at(0),
            std::optional<std::string>("two"));
  EXPECT_EQ(upstreamRuns(mark, "fleet-sp"), 2);

  ca.query("SET TimeZone = 'UTC'");
  cb.query("SET TimeZone = 'Asia/Tokyo'");
  const std::string tz = "SELECT '2020-01-01 00:00+00'::timestamptz::text /* fleet-tz */";
  EXPECT_NE(dataRows(ca.query(tz)).at(0).at(0), dataRows(cb.query(tz)).at(0).at(0));
  EXPECT_EQ(upstreamRuns(mark, "fleet-tz"), 2);
  // Equal settings on the other replica: shared.
  cb.query("SET search_path = fl1");
  cb.query("SET TimeZone = 'UTC'");
  EXPECT_EQ(dataRows(cb.query(tz)).at(0).at(0),
            std::optional<std::string>("2020-01-01 00:00:00+00"));
  EXPECT_EQ(upstreamRuns(mark, "fleet-tz"), 2);
}

}  // namespace
}  // namespace pgro::it
