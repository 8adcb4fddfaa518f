// Stale-if-error and stale-while-revalidate through the real pgro against a real PostgreSQL.
// Stale-if-error tests stop PostgreSQL, so they run against one of their own, never the
// process-wide instance other tests share. Upstream executions are counted in PostgreSQL's
// statement log (log_statement=all), with markers of each test's own.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

// The NoticeResponses of a reply, parsed.
std::vector<ErrorFields> notices(const std::vector<Message>& reply) {
  std::vector<ErrorFields> out;
  for (const auto& m : reply) {
    if (m.type == 'N') {
      if (auto fields = parseErrorFields(m.body)) out.push_back(*fields);
    }
  }
  return out;
}

// Ended with ReadyForQuery, no ErrorResponse.
bool ok(const std::vector<Message>& reply) {
  return !reply.empty() && reply.back().type == 'Z' && !firstError(reply).has_value();
}

std::string show(const std::vector<Message>& reply) {
  const auto error = firstError(reply);
  return typeSequence(reply) + (error ? " " + error->describe() : "");
}

std::optional<std::string> firstValue(const std::vector<Message>& reply) {
  auto rows = dataRows(reply);
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

// pgro in front of a PostgreSQL of the test's own, which the test may stop.
struct OwnUpstream {
  explicit OwnUpstream(const Env& overrides) : pg(), pgro(pgroBinary(), pg, overrides) {}
  TempPostgres pg;
  PgroProcess pgro;
};

TEST(CacheStaleTest, ExpiredEntryIsServedWithNoticeWhileUpstreamIsDown) {
  OwnUpstream up({{"CACHE_TTL_SECONDS", "1"},
                  {"CACHE_STALE_IF_ERROR_SECONDS", "60"},
                  {"POOL_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(up.pgro);
  const std::string sql = "SELECT 'kept' AS v /* stale-served */";
  auto first = client.query(sql);
  ASSERT_TRUE(ok(first)) << show(first);
  EXPECT_TRUE(notices(first).empty());
  ASSERT_EQ(firstValue(first), std::optional<std::string>("kept"));
  RawPgClient tokyo = connectProxy(up.pgro);
  ASSERT_TRUE(ok(tokyo.query("SET TimeZone = 'Asia/Tokyo'")));
  ASSERT_TRUE(ok(tokyo.query("SELECT 1")));  // the SET's unit over, the connection released

  up.pg.stop();
  std::this_thread::sleep_for(1500ms);  // past the TTL, and past the pool's idle probe

  auto stale = client.query(sql);
  ASSERT_TRUE(ok(stale)) << show(stale);
  EXPECT_EQ(firstValue(stale), std::optional<std::string>("kept"));
  const auto said = notices(stale);
  ASSERT_EQ(said.size(), 1u) << typeSequence(stale);
  EXPECT_EQ(said[0].severity(), "NOTICE");
  EXPECT_NE(said[0].message().find("cached result 1 s old"), std::string::npos)
      << said[0].message();
  // The same rows as when it was fresh, after the NOTICE.
  EXPECT_EQ(wireOf(stale, "TDC"), wireOf(first, "TDC"));
  EXPECT_TRUE(up.pgro.waitForLog("stale-if-error", 5s)) << up.pgro.log();

  // Another client with the same settings shares the entry.
  RawPgClient other = connectProxy(up.pgro);
  EXPECT_EQ(firstValue(other.query(sql)), std::optional<std::string>("kept"));

  // Never cached: the usual error.
  auto never = client.query("SELECT 'never' /* stale-never */");
  const auto error = firstError(never);
  ASSERT_TRUE(error.has_value()) << show(never);
  EXPECT_EQ(error->sqlstate().substr(0, 2), "08") << error->describe();

  // Different settings: a different key, never served the other settings' entry.
  EXPECT_TRUE(firstError(tokyo.query(sql)).has_value());
}

// The upstream goes away while a cacheable Query runs (its backend terminated: 57P01, as at
// a fast shutdown) before any of its reply was sent: the Query is answered from its expired
// entry with the NOTICE, the session goes on, and the broken connection is never lent again.
// POOL_SIZE=1: the other client's statements run on the connection that replaces it.
TEST(CacheStaleTest, UpstreamGoneMidQueryIsAnsweredStale) {
  OwnUpstream up(
      {{"CACHE_TTL_SECONDS", "1"}, {"CACHE_STALE_IF_ERROR_SECONDS", "60"}, {"POOL_SIZE", "1"}});
  RawPgClient a = connectProxy(up.pgro);
  RawPgClient b = connectProxy(up.pgro);
  // Slow enough to be terminated while it runs (about a second or more).
  const std::string sql =
      "SELECT count(*) FROM generate_series(1, 30000000) AS g /* stale-mid-query */";
  auto first = a.query(sql, 60s);
  ASSERT_TRUE(ok(first)) << show(first);
  ASSERT_EQ(firstValue(first), std::optional<std::string>("30000000"));
  std::this_thread::sleep_for(1200ms);  // past the TTL

  a.send(wire::query(sql));
  std::string pid;
  for (int i = 0; i < 200 && pid.empty(); ++i) {
    const auto rows = up.pg.execDirect(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%stale-mid-query%' AND pid <> pg_backend_pid()");
    if (!rows.empty()) pid = rows[0][0].c_str();
    if (pid.empty()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(pid.empty()) << "the query never showed as running";
  up.pg.execDirect("SELECT pg_terminate_backend(" + pid + ")");

  const auto stale = a.readUntilReadyForQuery(30s);
  ASSERT_TRUE(ok(stale)) << show(stale);
  EXPECT_EQ(firstValue(stale), std::optional<std::string>("30000000"));
  const auto said = notices(stale);
  ASSERT_EQ(said.size(), 1u) << typeSequence(stale);
  EXPECT_NE(said[0].message().find("answered from a cached result"), std::string::npos)
      << said[0].message();
  EXPECT_EQ(wireOf(stale, "TDC"), wireOf(first, "TDC"));
  EXPECT_TRUE(up.pgro.waitForLog("stale-if-error", 5s)) << up.pgro.log();

  // Both sessions go on, on a new connection (the terminated one is gone).
  auto next_b = b.query("SELECT pg_backend_pid()::text <> '" + pid + "' AS fresh");
  ASSERT_TRUE(ok(next_b)) << show(next_b);
  EXPECT_EQ(firstValue(next_b), std::optional<std::string>("t"));
  auto next_a = a.query("SELECT 'a again'");
  ASSERT_TRUE(ok(next_a)) << show(next_a);
  EXPECT_EQ(firstValue(next_a), std::optional<std::string>("a again"));
}

// Without a stale entry the client sees the server's error, as before.
TEST(CacheStaleTest, UpstreamGoneMidQueryWithoutAnEntryIsAnError) {
  OwnUpstream up({{"CACHE_STALE_IF_ERROR_SECONDS", "60"}, {"POOL_SIZE", "1"}});
  RawPgClient a = connectProxy(up.pgro);
  a.send(
      wire::query("SELECT count(*) FROM generate_series(1, 30000000) AS g /* stale-mid-never */"));
  std::string pid;
  for (int i = 0; i < 200 && pid.empty(); ++i) {
    const auto rows = up.pg.execDirect(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%stale-mid-never%' AND pid <> pg_backend_pid()");
    if (!rows.empty()) pid = rows[0][0].c_str();
    if (pid.empty()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(pid.empty()) << "the query never showed as running";
  up.pg.execDirect("SELECT pg_terminate_backend(" + pid + ")");
  const auto reply = a.readUntilClosed(10s);
  const auto error = firstError(reply);
  ASSERT_TRUE(error.has_value()) << show(reply);
  EXPECT_EQ(error->sqlstate(), "57P01") << error->describe();
}

TEST(CacheStaleTest, NothingStaleIsServedAfterReset) {
  OwnUpstream up({{"CACHE_TTL_SECONDS", "1"},
                  {"CACHE_STALE_IF_ERROR_SECONDS", "60"},
                  {"POOL_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(up.pgro);
  const std::string sql = "SELECT 'gone' AS v /* stale-reset */";
  ASSERT_TRUE(ok(client.query(sql)));
  up.pg.stop();
  std::this_thread::sleep_for(1500ms);
  auto stale = client.query(sql);
  ASSERT_TRUE(ok(stale)) << show(stale);  // the entry is there...
  auto reset = client.query("SELECT pgro_cache_reset()");
  ASSERT_TRUE(ok(reset)) << show(reset);
  EXPECT_EQ(firstValue(reset), std::optional<std::string>("1"));
  auto after = client.query(sql);  // ...and gone with the reset
  EXPECT_TRUE(firstError(after).has_value()) << show(after);
}

TEST(CacheStaleTest, ExpiredEntryIsNotServedWithoutWindow) {
  OwnUpstream up({{"CACHE_TTL_SECONDS", "1"}, {"POOL_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(up.pgro);
  const std::string sql = "SELECT 'off' AS v /* stale-off */";
  ASSERT_TRUE(ok(client.query(sql)));
  up.pg.stop();
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(firstError(client.query(sql)).has_value());
}

TEST(CacheStaleTest, ExtendedProtocolBatchIsServedStale) {
  OwnUpstream up({{"CACHE_TTL_SECONDS", "1"},
                  {"CACHE_STALE_IF_ERROR_SECONDS", "60"},
                  {"POOL_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(up.pgro);
  const std::string sql = "SELECT 'batch' AS v /* stale-batch */";
  auto run = [&] {
    client.send(wire::parse("", sql) + wire::bind("", "") + wire::describePortal("") +
                wire::execute("") + wire::sync());
    return client.readUntilReadyForQuery();
  };
  auto first = run();
  ASSERT_TRUE(ok(first)) << show(first);
  up.pg.stop();
  std::this_thread::sleep_for(1500ms);
  auto stale = run();
  ASSERT_TRUE(ok(stale)) << show(stale);
  EXPECT_EQ(notices(stale).size(), 1u) << typeSequence(stale);
  EXPECT_EQ(wireOf(stale, "12TDC"), wireOf(first, "12TDC"));
}

// Sends `sql` on every client at once and returns each client's first value.
std::vector<std::optional<std::string>> queryAll(std::vector<RawPgClient>& clients,
                                                 const std::string& sql) {
  for (auto& c : clients) c.send(wire::query(sql));
  std::vector<std::optional<std::string>> values;
  for (auto& c : clients) values.push_back(firstValue(c.readUntilReadyForQuery(30s)));
  return values;
}

// Polls with fresh clients until `sql` answers `value` through pgro, or the timeout.
bool waitForValue(const PgroProcess& pgro, const std::string& sql, const std::string& value,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    RawPgClient c = connectProxy(pgro);
    if (firstValue(c.query(sql)) == std::optional<std::string>(value)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(CacheStaleTest, RefreshRunsOnceUnderFiftyClientsAndOldValueIsServedUntilItLands) {
  TempPostgres& pg = postgres();
  pg.execDirect(
      "DROP TABLE IF EXISTS swr_t; CREATE TABLE swr_t (v int); INSERT INTO swr_t VALUES (1)");
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "6"},
                         {"CACHE_SWR_PERCENT", "25"},
                         {"POOL_SIZE", "4"},
                         {"MAX_CLIENT_CONNECTIONS", "200"}});
  std::vector<RawPgClient> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(connectProxy(*pgro));
  const std::string sql = "SELECT v FROM swr_t /* swr-refresh */";
  const std::size_t mark = pg.logOffset();
  EXPECT_EQ(firstValue(clients[0].query(sql)), std::optional<std::string>("1"));
  EXPECT_EQ(pg.statementsRun(mark, "swr-refresh"), 1);

  // The new value is committed only when the test says so: the refresh waits on the lock.
  RawPgClient writer = connectDirect();
  ASSERT_FALSE(firstError(
      writer.query("BEGIN; LOCK TABLE swr_t IN ACCESS EXCLUSIVE MODE; UPDATE swr_t SET v = 2")));

  std::this_thread::sleep_for(1700ms);  // past 25 % of the TTL, well before it expires
  const std::size_t due = pg.logOffset();
  for (const auto& v : queryAll(clients, sql)) EXPECT_EQ(v, std::optional<std::string>("1"));
  ASSERT_TRUE(pg.waitForLog("swr-refresh", due, 5s));  // the refresh, blocked by the lock
  // Meanwhile hits are still answered, with the old value.
  for (int round = 0; round < 3; ++round) {
    for (const auto& v : queryAll(clients, sql)) EXPECT_EQ(v, std::optional<std::string>("1"));
  }
  EXPECT_EQ(pg.statementsRun(mark, "swr-refresh"), 2);

  ASSERT_FALSE(firstError(writer.query("COMMIT")));
  EXPECT_TRUE(waitForValue(*pgro, sql, "2", 5s));
  for (const auto& v : queryAll(clients, sql)) EXPECT_EQ(v, std::optional<std::string>("2"));
  EXPECT_EQ(pg.statementsRun(mark, "swr-refresh"), 2);  // one refresh for all of them
}

TEST(CacheStaleTest, RefreshHoldingTheOnlyConnectionLeavesHitsServed) {
  // POOL_SIZE=1: the refresh takes the one connection; the other client's hits need none.
  TempPostgres& pg = postgres();
  pg.execDirect(
      "DROP TABLE IF EXISTS swr_one; CREATE TABLE swr_one (v int); INSERT INTO swr_one VALUES (1)");
  auto pgro =
      startPgro({{"CACHE_TTL_SECONDS", "6"}, {"CACHE_SWR_PERCENT", "25"}, {"POOL_SIZE", "1"}});
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  const std::string sql = "SELECT v FROM swr_one /* swr-pool-one */";
  const std::size_t mark = pg.logOffset();
  EXPECT_EQ(firstValue(a.query(sql)), std::optional<std::string>("1"));
  RawPgClient writer = connectDirect();
  ASSERT_FALSE(firstError(writer.query(
      "BEGIN; LOCK TABLE swr_one IN ACCESS EXCLUSIVE MODE; UPDATE swr_one SET v = 2")));
  std::this_thread::sleep_for(1700ms);
  const std::size_t due = pg.logOffset();
  EXPECT_EQ(firstValue(a.query(sql)), std::optional<std::string>("1"));  // starts the refresh
  ASSERT_TRUE(pg.waitForLog("swr-pool-one", due, 5s));                   // blocked by the lock
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(firstValue(b.query(sql, 2s)), std::optional<std::string>("1"));
  }
  ASSERT_FALSE(firstError(writer.query("COMMIT")));
  EXPECT_TRUE(waitForValue(*pgro, sql, "2", 5s));
  EXPECT_EQ(pg.statementsRun(mark, "swr-pool-one"), 2);
}

TEST(CacheStaleTest, RefreshUsesTheSettingsOfTheKey) {
  // Two clients with different TimeZone settings have two entries; each refresh runs under
  // its own entry's setting, so neither entry ever holds the other's answer.
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "4"}, {"CACHE_SWR_PERCENT", "25"}});
  RawPgClient utc = connectProxy(*pgro);
  RawPgClient tokyo = connectProxy(*pgro);
  ASSERT_FALSE(firstError(utc.query("SET TimeZone = 'UTC'")));
  ASSERT_FALSE(firstError(tokyo.query("SET TimeZone = 'Asia/Tokyo'")));
  const std::string sql = "SELECT '2020-01-01 00:00+00'::timestamptz::text /* swr-tz */";
  const std::size_t mark = postgres().logOffset();
  const auto at_utc = firstValue(utc.query(sql));
  const auto at_tokyo = firstValue(tokyo.query(sql));
  ASSERT_NE(at_utc, at_tokyo);
  auto waitForRuns = [&](int runs) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (postgres().statementsRun(mark, "swr-tz") < runs &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    return postgres().statementsRun(mark, "swr-tz");
  };
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(firstValue(utc.query(sql)), at_utc);  // starts the UTC entry's refresh
  EXPECT_EQ(waitForRuns(3), 3);
  std::this_thread::sleep_for(200ms);                 // landed (CACHE_REFRESH_CONCURRENCY=1)
  EXPECT_EQ(firstValue(tokyo.query(sql)), at_tokyo);  // and the Tokyo entry's
  EXPECT_EQ(waitForRuns(4), 4);
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(firstValue(utc.query(sql)), at_utc);
    EXPECT_EQ(firstValue(tokyo.query(sql)), at_tokyo);
  }
  EXPECT_EQ(postgres().statementsRun(mark, "swr-tz"), 4);
}

}  // namespace
}  // namespace pgro::it
