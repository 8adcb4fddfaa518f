// MAX_RESULT_ROWS and MAX_RESULT_BYTES (issue 12): a result past them is cut, cancelled
// upstream, answered with one 54000, and its server connection serves the next client clean.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <fstream>
#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

std::size_t countType(const std::vector<Message>& messages, char type) {
  std::size_t n = 0;
  for (const Message& m : messages) n += m.type == type ? 1 : 0;
  return n;
}

// The reply of a capped statement: `rows` rows at most, exactly one error (54000 naming
// `limit`), then ReadyForQuery.
std::vector<std::vector<std::optional<std::string>>> expectCapped(const RawPgClient::Reply& r,
                                                                  const std::string& limit,
                                                                  const std::string& what) {
  EXPECT_TRUE(r.ready) << what << ": " << describe(r);
  EXPECT_EQ(countType(r.messages, 'E'), 1u) << what << ": " << describe(r);
  auto error = firstError(r.messages);
  EXPECT_TRUE(error) << what << ": " << describe(r);
  if (error) {
    EXPECT_EQ(error->sqlstate(), "54000") << what << ": " << error->describe();
    EXPECT_NE(error->message().find(limit), std::string::npos) << what << ": " << error->describe();
  }
  EXPECT_EQ(countType(r.messages, 'C'), 0u) << what << ": the result completed";
  const std::string types = typeSequence(r.messages);
  EXPECT_TRUE(types.size() >= 2 && types.substr(types.size() - 2) == "EZ") << what << ": " << types;
  return dataRows(r.messages);
}

// Backends other than ours whose last statement contains `fragment`, in `state`.
int backendsIn(const std::string& state, const std::string& fragment) {
  return postgres()
      .execDirect(
          "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
          "state = '" +
          state + "' AND position('" + fragment + "' in query) > 0")[0][0]
      .as<int>();
}

void expectRows(RawPgClient& client, const std::string& sql, int n, const std::string& who) {
  client.send(wire::query(sql));
  RawPgClient::Reply r = client.readReply(10s);
  ASSERT_TRUE(succeeded(r)) << who << ": " << describe(r);
  auto rows = dataRows(r.messages);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(n)) << who;
  for (int i = 0; i < n; ++i) ASSERT_EQ(rows[i][0].value_or(""), std::to_string(i + 1)) << who;
}

TEST(ResultLimitTest, RowCapCancelsUpstreamAndTheConnectionServesTheNextClient) {
  auto pgro =
      startPgro({{"CACHE_ENABLED", "false"}, {"POOL_SIZE", "1"}, {"MAX_RESULT_ROWS", "1000"}});
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);

  // A result far past the limit: the statement is still running when the cancel lands.
  // generate_series in the select list streams (in FROM it is materialized first).
  a.send(wire::query("SELECT generate_series(1, 500000000) /* cap-rows-a */"));
  auto rows = expectCapped(a.readReply(30s), "MAX_RESULT_ROWS (1000", "a long result");
  ASSERT_EQ(rows.size(), 1000u);
  EXPECT_EQ(rows.back()[0].value_or(""), "1000");
  EXPECT_EQ(backendsIn("active", "cap-rows-a"), 0) << "the backend still runs the statement";
  EXPECT_EQ(backendsIn("idle", "cap-rows-a"), 1) << "the backend is not back to idle";

  // B gets the one pooled connection, with its own rows and nothing of A's.
  expectRows(b, "SELECT g FROM generate_series(1, 700) g", 700, "client B after A's cap");
  expectRows(a, "SELECT g FROM generate_series(1, 1000) g", 1000, "client A at the limit");

  // Just past the limit: PostgreSQL has finished before the cancel arrives. The client
  // still gets one 54000, and the late cancel hits nothing that runs next.
  for (int i = 0; i < 10; ++i) {
    a.send(wire::query("SELECT g FROM generate_series(1, 1001) g"));
    auto cut = expectCapped(a.readReply(10s), "MAX_RESULT_ROWS", "one row past the limit");
    EXPECT_EQ(cut.size(), 1000u);
    expectRows(b, "SELECT g FROM generate_series(1, 3) g", 3, "client B right after");
    expectRows(a, "SELECT 1", 1, "client A right after");
  }

  // Several statements in one Query: the string stops at the cut one, as at an error.
  a.send(wire::query("SELECT g FROM generate_series(1, 2000) g; SELECT 'not run'"));
  RawPgClient::Reply multi = a.readReply(10s);
  expectCapped(multi, "MAX_RESULT_ROWS", "a multi-statement Query");
  EXPECT_EQ(describe(multi).find("not run"), std::string::npos) << describe(multi);

  // In a transaction block the cancel fails the block, as an error does.
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  a.send(wire::query("SELECT generate_series(1, 500000000) /* cap-rows-tx */"));
  RawPgClient::Reply tx = a.readReply(30s);
  expectCapped(tx, "MAX_RESULT_ROWS", "in a transaction");
  ASSERT_EQ(firstError(a.query("ROLLBACK")), std::nullopt);
  expectRows(b, "SELECT g FROM generate_series(1, 2) g", 2, "client B after A's rollback");

  // COPY TO STDOUT rows count too.
  a.send(wire::query("COPY (SELECT generate_series(1, 500000000)) TO STDOUT"));
  RawPgClient::Reply copy = a.readReply(30s);
  ASSERT_TRUE(copy.ready) << describe(copy);
  EXPECT_EQ(countType(copy.messages, 'd'), 1000u);
  auto copy_error = firstError(copy.messages);
  ASSERT_TRUE(copy_error);
  EXPECT_EQ(copy_error->sqlstate(), "54000") << copy_error->describe();
  expectRows(b, "SELECT 1", 1, "client B after the COPY");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_result_rows_total{user=\"reader\"}"), 14)
      << scrapeMetrics(*pgro);
  EXPECT_TRUE(pgro->waitForLog("governor: result_rows: user=reader", 5s));
}

TEST(ResultLimitTest, ByteCapOverTheExtendedProtocol) {
  auto pgro =
      startPgro({{"CACHE_ENABLED", "false"}, {"POOL_SIZE", "1"}, {"MAX_RESULT_BYTES", "100000"}});
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  a.send(wire::parse("", "SELECT repeat('x', $1::int), generate_series(1, 100000000) /* cap-b */") +
         wire::bind("", "", {"1000"}) + wire::describePortal("") + wire::execute("") +
         wire::sync());
  RawPgClient::Reply r = a.readReply(30s);
  auto rows = expectCapped(r, "MAX_RESULT_BYTES (100000", "extended protocol");
  // DataRows of 1 + 4 + 2 + 4 + 1000 bytes: 98 fit in 100000.
  EXPECT_EQ(rows.size(), 98u);
  EXPECT_EQ(typeSequence(r.messages).substr(0, 3), "12T") << typeSequence(r.messages);
  EXPECT_EQ(backendsIn("active", "cap-b"), 0);
  EXPECT_EQ(backendsIn("idle", "cap-b"), 1);

  // The next batch of the same client runs (pgro is not left skipping to a Sync).
  a.send(wire::parse("", "SELECT $1::int") + wire::bind("", "", {"7"}) + wire::execute("") +
         wire::sync());
  RawPgClient::Reply next = a.readReply(10s);
  ASSERT_TRUE(succeeded(next)) << describe(next);
  ASSERT_EQ(dataRows(next.messages).size(), 1u);
  EXPECT_EQ(dataRows(next.messages)[0][0].value_or(""), "7");

  // Execute with a row count: each Execute is its own result. 50 rows of ~1 kB fit.
  a.send(wire::parse("", "SELECT repeat('y', 1000) FROM generate_series(1, 300)") +
         wire::bind("", "") + wire::execute("", 50) + wire::execute("", 50) + wire::sync());
  RawPgClient::Reply portions = a.readReply(10s);
  ASSERT_TRUE(succeeded(portions)) << describe(portions);
  EXPECT_EQ(dataRows(portions.messages).size(), 100u);
  EXPECT_EQ(countType(portions.messages, 's'), 2u);

  // Other client, same pooled connection, just past the limit then under it.
  b.send(wire::parse("", "SELECT repeat('z', 1000) FROM generate_series(1, 100)") +
         wire::bind("", "") + wire::execute("") + wire::sync());
  expectCapped(b.readReply(10s), "MAX_RESULT_BYTES", "client B one row past");
  b.send(wire::parse("", "SELECT g FROM generate_series(1, 5) g") + wire::bind("", "") +
         wire::execute("") + wire::sync());
  RawPgClient::Reply fine = b.readReply(10s);
  ASSERT_TRUE(succeeded(fine)) << describe(fine);
  EXPECT_EQ(dataRows(fine.messages).size(), 5u);
  expectRows(a, "SELECT g FROM generate_series(1, 4) g", 4, "client A, simple protocol");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_result_bytes_total{user=\"reader\"}"), 2)
      << scrapeMetrics(*pgro);
}

TEST(ResultLimitTest, PerLoginLimitsAndTheCache) {
  const std::string path = makeTempDir("pgro-cap-users") + "/users";
  std::ofstream(path) << usersLine("alice", "alice-pass", "max_result_rows=10")
                      << usersLine("bob", "bob-pass");
  postgres().execDirect(
      "DROP TABLE IF EXISTS cap_grow; CREATE TABLE cap_grow (g int); "
      "INSERT INTO cap_grow SELECT generate_series(1, 5)");
  // A refresh (stale-while-revalidate) is due one second after an entry is stored.
  auto pgro = startPgro({{"USERS_FILE", path},
                         {"PROXY_USER", ""},
                         {"PROXY_PASSWORD", ""},
                         {"POOL_SIZE", "1"},
                         {"CACHE_TTL_SECONDS", "20"},
                         {"CACHE_SWR_PERCENT", "5"}});
  RawPgClient alice =
      RawPgClient::connect(pgro->host(), pgro->port(), "alice", "alice-pass", pgro->database());
  RawPgClient bob =
      RawPgClient::connect(pgro->host(), pgro->port(), "bob", "bob-pass", pgro->database());
  auto forwarded = [&] { return metricValue(*pgro, "pgro_queries_total{outcome=\"forwarded\"}"); };
  auto hits = [&] { return metricValue(*pgro, "pgro_queries_total{outcome=\"cache_hit\"}"); };

  // The global limit is off: bob gets all his rows; alice's own is 10.
  expectRows(bob, "SELECT g FROM generate_series(1, 50) g", 50, "bob without a limit");
  alice.send(wire::query("SELECT g FROM generate_series(1, 50) g"));
  EXPECT_EQ(expectCapped(alice.readReply(10s), "MAX_RESULT_ROWS (10 rows)", "alice").size(), 10u);

  // A cut result is never stored: each run goes upstream again.
  const std::string twenty = "SELECT g FROM generate_series(1, 20) g /* cap-alice */";
  for (int i = 0; i < 2; ++i) {
    const double before = forwarded();
    alice.send(wire::query(twenty));
    EXPECT_EQ(expectCapped(alice.readReply(10s), "MAX_RESULT_ROWS", "alice's miss").size(), 10u);
    EXPECT_EQ(forwarded(), before + 1) << "run " << i << " was answered from the cache";
  }

  // A cached result that grew past alice's limit (the background refresh stores what the
  // table holds now) is cut on its hit, without going upstream.
  const std::string grow = "SELECT g FROM cap_grow ORDER BY g";
  expectRows(alice, grow, 5, "alice, a miss");
  postgres().execDirect("INSERT INTO cap_grow SELECT generate_series(6, 50)");
  std::this_thread::sleep_for(1500ms);
  expectRows(alice, grow, 5, "alice, a hit that starts the refresh");
  std::this_thread::sleep_for(1000ms);
  const double forwarded_before = forwarded();
  const double hits_before = hits();
  alice.send(wire::query(grow));
  auto rows = expectCapped(alice.readReply(10s), "MAX_RESULT_ROWS (10 rows)", "alice's big hit");
  EXPECT_EQ(rows.size(), 10u);
  EXPECT_EQ(forwarded(), forwarded_before) << "alice's capped hit went upstream";
  EXPECT_EQ(hits(), hits_before + 1);
  expectRows(alice, "SELECT g FROM generate_series(1, 3) g", 3, "alice after the cut hit");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_result_rows_total{user=\"alice\"}"), 4)
      << scrapeMetrics(*pgro);
  EXPECT_EQ(metricValue(*pgro, "pgro_governor_result_rows_total{user=\"bob\"}"), -1);
  EXPECT_TRUE(pgro->waitForLog("cached result exceeds MAX_RESULT_ROWS", 5s));
}

// MAX_WORK_MEM & co. (default 64MB): a client cannot raise work_mem-class settings past
// them by any route.
TEST(SettingCeilingTest, WorkMemCannotBeRaisedPastTheCeiling) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"MAX_HASH_MEM_MULTIPLIER", "4"}});
  RawPgClient client = connectProxy(*pgro);
  auto expectRefused = [&](const std::string& sql, const std::string& ceiling) {
    auto error = firstError(client.query(sql));
    ASSERT_TRUE(error) << sql << " was allowed";
    EXPECT_EQ(error->sqlstate(), "42501") << sql << ": " << error->describe();
    EXPECT_NE(error->message().find(ceiling), std::string::npos) << error->describe();
  };
  expectRefused("SET work_mem = '1GB'", "MAX_WORK_MEM (64MB)");
  expectRefused("SET work_mem = 65537", "MAX_WORK_MEM");
  expectRefused("SET LOCAL work_mem = '2GB'", "MAX_WORK_MEM");
  expectRefused("SELECT set_config('work_mem', '2GB', false)", "MAX_WORK_MEM");
  expectRefused("SET work_mem = '64 megabytes'", "cannot read");
  expectRefused("SET maintenance_work_mem = '2GB'", "MAX_MAINTENANCE_WORK_MEM (256MB)");
  expectRefused("SET hash_mem_multiplier = 8", "MAX_HASH_MEM_MULTIPLIER (4)");
  auto show = [&](const std::string& name) {
    auto rows = dataRows(client.query("SHOW " + name));
    return rows.size() == 1 ? rows[0][0].value_or("") : std::string("?");
  };
  EXPECT_EQ(show("work_mem"), "4MB") << "a refused SET changed work_mem";
  // At or under the ceiling: allowed, and PostgreSQL applies it.
  ASSERT_EQ(firstError(client.query("SET work_mem = '64MB'")), std::nullopt);
  EXPECT_EQ(show("work_mem"), "64MB");
  ASSERT_EQ(firstError(client.query("SELECT set_config('hash_mem_multiplier', '3', false)")),
            std::nullopt);
  EXPECT_EQ(show("hash_mem_multiplier"), "3");
  ASSERT_EQ(firstError(client.query("RESET work_mem")), std::nullopt);
  EXPECT_EQ(show("work_mem"), "4MB");

  // At login: `options=-c work_mem=...` and a work_mem startup parameter.
  for (const RawPgClient::Params& params :
       std::vector<RawPgClient::Params>{{{"options", "-c work_mem=1GB"}},
                                        {{"options", "-c work_mem=64MB -c work_mem=2GB"}},
                                        {{"work_mem", "2GB"}},
                                        {{"options", "--work_mem=1TB"}}}) {
    RawPgClient refused(pgro->host(), pgro->port());
    StartupResult r = refused.startup(pgro->user(), pgro->password(), pgro->database(), params);
    EXPECT_FALSE(r.ok) << params.begin()->second;
    ASSERT_TRUE(r.error) << params.begin()->second;
    EXPECT_EQ(r.error->sqlstate(), "42501") << r.error->describe();
    EXPECT_NE(r.error->message().find("work_mem"), std::string::npos) << r.error->describe();
  }
  RawPgClient allowed =
      RawPgClient::connect(pgro->host(), pgro->port(), pgro->user(), pgro->password(),
                           pgro->database(), {{"options", "-c work_mem=16MB"}});
  auto rows = dataRows(allowed.query("SHOW work_mem"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "16MB");
}

}  // namespace
}  // namespace pgro::it
