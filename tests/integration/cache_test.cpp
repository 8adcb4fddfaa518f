// Result cache through the real pgro against a real PostgreSQL: what is cached, what never
// is, coalescing, bounds. Upstream executions are counted in PostgreSQL's own statement log
// (log_statement=all), each test with markers of its own.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

int upstreamRuns(std::size_t mark, std::string_view marker) {
  return postgres().statementsRun(mark, marker);
}

std::string rawReply(RawPgClient& client, std::string_view sql) {
  client.send(wire::query(sql));
  return client.rawBytesUntilReadyForQuery();
}

int64_t resetCache(RawPgClient& client, std::string_view function) {
  auto reply = client.query("SELECT " + std::string(function) + "()");
  auto rows = dataRows(reply);
  EXPECT_EQ(rows.size(), 1u) << typeSequence(reply);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return -1;
  return std::stoll(*rows[0][0]);
}

TEST(CacheTest, HitIsByteIdenticalToTheMissAndSkipsUpstream) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string sql =
      "SELECT id, label, id * 1.5 AS n FROM (VALUES (1, 'a'), (2, NULL)) v(id, label) "
      "/* cache-hit-1 */";
  const std::string miss = rawReply(client, sql);
  const std::string hit = rawReply(client, sql);
  EXPECT_EQ(miss, hit);
  RawPgClient other = connectProxy(*pgro);  // another client with equal settings shares it
  EXPECT_EQ(rawReply(other, sql), miss);
  EXPECT_EQ(upstreamRuns(mark, "cache-hit-1"), 1);
}

TEST(CacheTest, ResetEmptiesTheCacheAndReportsTheCount) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 1 /* cache-reset-a */");
  client.query("SELECT 2 /* cache-reset-b */");
  EXPECT_EQ(resetCache(client, "rustproxy_cache_reset"), 2);
  client.query("SELECT 1 /* cache-reset-a */");
  EXPECT_EQ(upstreamRuns(mark, "cache-reset-a"), 2);
  auto reply = client.query("SELECT pgro_cache_reset()");
  ASSERT_FALSE(reply.empty());
  EXPECT_NE(reply[0].body.find("pgro_cache_reset"), std::string::npos);  // column name
  EXPECT_EQ(dataRows(reply).at(0).at(0), std::optional<std::string>("1"));
}

TEST(CacheTest, EntriesExpireAfterTheTtl) {
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "1"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 42 /* cache-ttl */");
  client.query("SELECT 42 /* cache-ttl */");
  EXPECT_EQ(upstreamRuns(mark, "cache-ttl"), 1);
  std::this_thread::sleep_for(1200ms);
  client.query("SELECT 42 /* cache-ttl */");
  EXPECT_EQ(upstreamRuns(mark, "cache-ttl"), 2);
}

TEST(CacheTest, FiftyConcurrentIdenticalMissesRunUpstreamOnce) {
  auto pgro = startPgro({{"POOL_SIZE", "4"}, {"MAX_CLIENT_CONNECTIONS", "200"}});
  std::vector<RawPgClient> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(connectProxy(*pgro));
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT count(*) FROM generate_series(1, 3000000) g /* cache-coalesce */";
  for (auto& c : clients) c.send(wire::query(sql));
  std::vector<std::string> replies;
  for (auto& c : clients) replies.push_back(c.rawBytesUntilReadyForQuery(60s));
  for (const auto& r : replies) EXPECT_EQ(r, replies.front());
  EXPECT_EQ(upstreamRuns(mark, "cache-coalesce"), 1);
}

TEST(CacheTest, SettingsThatChangeResultsGetSeparateEntries) {
  TempPostgres& pg = postgres();
  pg.execDirect(
      "CREATE SCHEMA IF NOT EXISTS cs1; CREATE SCHEMA IF NOT EXISTS cs2;"
      "CREATE TABLE IF NOT EXISTS cs1.t (v text); CREATE TABLE IF NOT EXISTS cs2.t (v text);"
      "TRUNCATE cs1.t, cs2.t; INSERT INTO cs1.t VALUES ('one'); INSERT INTO cs2.t VALUES ('two')");
  auto pgro = startPgro();
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  a.query("SET search_path = cs1");
  b.query("SET search_path = cs2");
  EXPECT_EQ(dataRows(a.query("SELECT v FROM t /* cache-sp */")).at(0).at(0),
            std::optional<std::string>("one"));
  EXPECT_EQ(dataRows(b.query("SELECT v FROM t /* cache-sp */")).at(0).at(0),
            std::optional<std::string>("two"));
  EXPECT_EQ(upstreamRuns(mark, "cache-sp"), 2);

  a.query("SET TimeZone = 'UTC'");
  b.query("SET TimeZone = 'Asia/Tokyo'");
  const std::string tz = "SELECT '2020-01-01 00:00+00'::timestamptz::text /* cache-tz */";
  auto ra = dataRows(a.query(tz)).at(0).at(0);
  auto rb = dataRows(b.query(tz)).at(0).at(0);
  EXPECT_NE(ra, rb);
  EXPECT_EQ(upstreamRuns(mark, "cache-tz"), 2);

  // Every allowlisted setting is in the key unless known not to change results.
  struct Case {
    const char* set;
    const char* query;
  };
  const Case cases[] = {
      {"SET transform_null_equals = on", "SELECT count(*) FROM (SELECT 1 WHERE NULL = NULL) s"},
      {"SET array_nulls = off", "SELECT (('{NULL}'::text[])[1] IS NULL)::text"},
      {"SET quote_all_identifiers = on", "SELECT pg_catalog.quote_ident('abc')"},
      {"SET default_text_search_config = 'simple'", "SELECT to_tsvector('the cats')::text"},
      {"SET xmlbinary = hex", "SELECT xmlelement(name x, '\\x0102'::bytea)::text"},
  };
  for (const Case& c : cases) {
    RawPgClient plain = connectProxy(*pgro);
    RawPgClient changed = connectProxy(*pgro);
    ASSERT_EQ(firstError(changed.query(c.set)), std::nullopt) << c.set;
    auto first = dataRows(plain.query(c.query));
    auto second = dataRows(changed.query(c.query));
    ASSERT_EQ(first.size(), 1u) << c.query;
    ASSERT_EQ(second.size(), 1u) << c.query;
    EXPECT_NE(first[0][0], second[0][0]) << c.set << ": the cached answer of another setting";
  }
  // A neutral setting shares the entry.
  const std::size_t neutral_mark = postgres().logOffset();
  RawPgClient plain = connectProxy(*pgro);
  RawPgClient timed = connectProxy(*pgro);
  timed.query("SET statement_timeout = '55s'");
  plain.query("SELECT 41 + 1 /* cache-neutral */");
  timed.query("SELECT 41 + 1 /* cache-neutral */");
  EXPECT_EQ(upstreamRuns(neutral_mark, "cache-neutral"), 1);
}

TEST(CacheTest, ParametersOfTheQueryTextAreTheKey) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  EXPECT_EQ(dataRows(client.query("SELECT 1 + 1 /* cache-param */")).at(0).at(0),
            std::optional<std::string>("2"));
  EXPECT_EQ(dataRows(client.query("SELECT 1 + 2 /* cache-param */")).at(0).at(0),
            std::optional<std::string>("3"));
  EXPECT_EQ(upstreamRuns(mark, "cache-param"), 2);
}

TEST(CacheTest, VolatileFunctionsAndSnapshotTransactionsAreNeverCached) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  for (int i = 0; i < 2; ++i) {
    client.query("SELECT random() /* cache-random */");
    client.query("SELECT now() /* cache-now */");
    client.query("SELECT clock_timestamp() /* cache-clock */");
  }
  EXPECT_EQ(upstreamRuns(mark, "cache-random"), 2);
  EXPECT_EQ(upstreamRuns(mark, "cache-now"), 2);
  EXPECT_EQ(upstreamRuns(mark, "cache-clock"), 2);

  for (const char* level : {"REPEATABLE READ", "SERIALIZABLE"}) {
    client.query(std::string("BEGIN ISOLATION LEVEL ") + level);
    client.query("SELECT 7 /* cache-snapshot */");
    client.query("SELECT 7 /* cache-snapshot */");
    client.query("COMMIT");
  }
  EXPECT_EQ(upstreamRuns(mark, "cache-snapshot"), 4);
}

TEST(CacheTest, ReadCommittedTransactionBlocksAreCached) {
  // psycopg2 and SQLAlchemy wrap every query in BEGIN ... COMMIT by default.
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  for (int i = 0; i < 3; ++i) {
    client.query("BEGIN");
    auto rows = dataRows(client.query("SELECT 99 /* cache-rc */"));
    EXPECT_EQ(rows.at(0).at(0), std::optional<std::string>("99"));
    client.query("COMMIT");
  }
  EXPECT_EQ(upstreamRuns(mark, "cache-rc"), 1);
}

TEST(CacheTest, SessionAndQueryOptOuts) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  client.query("SELECT 5 /* pgro:nocache */ /* cache-comment */");
  client.query("SELECT 5 /* pgro:nocache */ /* cache-comment */");
  EXPECT_EQ(upstreamRuns(mark, "cache-comment"), 2);
  auto set = client.query("SET pgro.cache = off");
  EXPECT_EQ(firstError(set), std::nullopt);
  client.query("SELECT 6 /* cache-optout */");
  client.query("SELECT 6 /* cache-optout */");
  EXPECT_EQ(upstreamRuns(mark, "cache-optout"), 2);
  EXPECT_FALSE(postgres().logContains("pgro.cache", mark)) << "pgro's own setting went upstream";
  client.query("SET pgro.cache = on");
  client.query("SELECT 6 /* cache-optout */");
  client.query("SELECT 6 /* cache-optout */");
  EXPECT_EQ(upstreamRuns(mark, "cache-optout"), 3);
}

TEST(CacheTest, AFloodOfDistinctQueriesStaysWithinMaxCacheEntries) {
  auto pgro = startPgro({{"MAX_CACHE_ENTRIES", "40"}});
  RawPgClient client = connectProxy(*pgro);
  for (int i = 0; i < 400; ++i) {
    client.query("SELECT " + std::to_string(i) + " /* cache-flood */");
  }
  const int64_t cleared = resetCache(client, "pgro_cache_reset");
  EXPECT_GT(cleared, 0);
  EXPECT_LE(cleared, 40);
}

// CACHE_MIN_COST_MS: a statement upstream answers faster than the minimum goes upstream every
// time; an aggregate that takes longer is cached, and its hit counts the time it saved.
TEST(CacheTest, MinCostKeepsCheapStatementsOutAndCostlyOnesIn) {
  auto pgro = startPgro({{"CACHE_MIN_COST_MS", "20"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string cheap = "SELECT 7 /* cache-min-cost-cheap */";
  const std::string costly =
      "SELECT sum(g) FROM generate_series(1, 3000000) g /* cache-min-cost-costly */";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dataRows(client.query(cheap)).size(), 1u);
    EXPECT_EQ(dataRows(client.query(costly)).size(), 1u);
  }
  EXPECT_EQ(upstreamRuns(mark, "cache-min-cost-cheap"), 3);
  EXPECT_EQ(upstreamRuns(mark, "cache-min-cost-costly"), 1);
  EXPECT_EQ(metricValue(*pgro, "pgro_cache_admissions_refused_total{reason=\"below_min_cost\"}"),
            3);
  // Two hits, each saving the fill's upstream time (over the 20 ms minimum).
  EXPECT_GE(metricValue(*pgro, "pgro_cache_saved_seconds_total"), 0.040);
}

long rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Replies pgro makes itself obey the same backpressure as forwarded ones: ~50 bytes of
// pipelined requests for a cached 1 MB result used to cost pgro 1 MB each while the client
// read nothing.
TEST(CacheTest, PipelinedHitsAClientDoesNotReadStayWithinTheBackpressureBound) {
  auto pgro = startPgro({{"MAX_CACHE_ENTRY_BYTES", "4194304"}});
  RawPgClient client = connectProxy(*pgro);
  const std::string sql = "SELECT repeat('x', 1000000) /* cache-pipelined */";
  const std::string one = rawReply(client, sql);
  ASSERT_GT(one.size(), 1000000u);
  const long before = rssKiB(pgro->pid());
  ASSERT_GT(before, 0);
  constexpr int kRequests = 200;  // 200 MB of replies
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += wire::query(sql);
  client.send(batch);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const long grown = rssKiB(pgro->pid()) - before;
  EXPECT_LT(grown, 48 * 1024) << "pgro buffered " << grown << " KiB for a client reading nothing";
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(client.rawBytesUntilReadyForQuery(), one) << "reply " << i;
  }
}

TEST(CacheTest, ErrorsAreNotCached) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  for (int i = 0; i < 2; ++i) {
    auto reply = client.query("SELECT 1 / 0 /* cache-error */");
    ASSERT_TRUE(firstError(reply));
    EXPECT_EQ(firstError(reply)->sqlstate(), "22012");
  }
  EXPECT_EQ(upstreamRuns(mark, "cache-error"), 2);
}

std::string extendedReply(RawPgClient& client, const std::string& batch) {
  client.send(batch);
  return client.rawBytesUntilReadyForQuery();
}

TEST(CacheTest, ExtendedProtocolHitsAreByteIdenticalTextAndBinary) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  RawPgClient direct = connectDirect();
  const std::size_t mark = postgres().logOffset();
  const std::string sql =
      "SELECT $1::int + 1 AS n, 'x'::text AS t, 1.5::numeric AS d /* cache-ext */";
  for (int16_t format : {0, 1}) {
    const std::string batch = wire::parse("", sql) +
                              wire::bind("", "", {std::string("41")}, {0}, {format}) +
                              wire::describePortal("") + wire::execute("") + wire::sync();
    const std::string expected = extendedReply(direct, batch);
    const std::string miss = extendedReply(client, batch);
    const std::string hit = extendedReply(client, batch);
    EXPECT_EQ(miss, expected) << "format " << format;
    EXPECT_EQ(hit, expected) << "format " << format;
  }
  // A different parameter value is a different entry.
  const std::string other = wire::parse("", sql) + wire::bind("", "", {std::string("1")}) +
                            wire::describePortal("") + wire::execute("") + wire::sync();
  EXPECT_NE(extendedReply(client, other), std::string());
  // One upstream execution per (parameters, result format); the direct runs are not via pgro
  // but land in the same log, so count pgro's: 2 formats + 1 other value + 2 direct runs.
  EXPECT_EQ(upstreamRuns(mark, "cache-ext"), 5);
}

TEST(CacheTest, NamedStatementsAreCachedAndStayUsable) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT $1::int * 2 AS doubled /* cache-named */";
  client.send(wire::parse("s1", sql) + wire::sync());
  ASSERT_TRUE(client.readReply().ready);
  const std::string run = wire::bind("", "s1", {std::string("21")}) + wire::describePortal("") +
                          wire::execute("") + wire::sync();
  const std::string first = extendedReply(client, run);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(extendedReply(client, run), first);
  EXPECT_NE(first.find("42"), std::string::npos);
  // A batch with an unnamed Parse answered from the cache, then a Bind of the unnamed
  // statement alone: the statement must exist upstream.
  const std::string unnamed = "SELECT 5 AS five /* cache-unnamed */";
  const std::string batch = wire::parse("", unnamed) + wire::bind("", "") +
                            wire::describePortal("") + wire::execute("") + wire::sync();
  const std::string miss = extendedReply(client, batch);
  EXPECT_EQ(extendedReply(client, batch), miss);  // from the cache
  client.send(wire::bind("", "") + wire::execute("") + wire::sync());
  auto reply = client.readReply();
  ASSERT_TRUE(reply.ready);
  EXPECT_EQ(firstError(reply.messages), std::nullopt) << describe(reply);
  EXPECT_EQ(typeSequence(reply.messages), "2DCZ");
  EXPECT_EQ(upstreamRuns(mark, "cache-named"), 1);
}

}  // namespace
}  // namespace pgro::it
