// The query governor (issue 12): limits one login cannot lift, each checked against a real
// PostgreSQL, with the connection it concerns shown reusable afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <fstream>
#include <regex>
#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void expectSelectOne(RawPgClient& client, const std::string& who) {
  client.send(wire::query("SELECT 1"));
  RawPgClient::Reply r = client.readReply(10s);
  ASSERT_TRUE(succeeded(r)) << who << ": " << describe(r);
  auto rows = dataRows(r.messages);
  ASSERT_EQ(rows.size(), 1u) << who;
  EXPECT_EQ(rows[0][0].value_or(""), "1") << who;
}

// Functions whose bodies sleep, created directly on PostgreSQL (pgro judges bodies).
void createSleepyFunctions() {
  postgres().execDirect(R"sql(
    CREATE OR REPLACE FUNCTION gov_nap_sql(float8) RETURNS void LANGUAGE sql
      AS 'SELECT pg_catalog.pg_sleep($1)';
    CREATE OR REPLACE FUNCTION gov_nap_plpgsql(s float8) RETURNS int LANGUAGE plpgsql
      AS $$ BEGIN PERFORM pg_sleep_for(make_interval(secs => s)); RETURN 1; END $$;
  )sql");
}

const std::vector<std::string>& sleepSpellings() {
  static const std::vector<std::string> spellings = {
      "SELECT pg_sleep(0.01)",
      "SELECT pg_catalog.pg_sleep(0.01)",
      "SELECT \"pg_sleep\"(0.01)",
      "SELECT pg_catalog.\"pg_sleep_for\"('10 ms')",
      "SELECT * FROM pg_sleep(0.01)",
      "SELECT * FROM generate_series(1, 2) g, LATERAL pg_sleep_until(now()) s",
      "WITH s AS (SELECT pg_sleep(0.01)) SELECT * FROM s",
      "EXPLAIN ANALYZE SELECT pg_sleep(0.01)",
      "EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1 FROM pg_sleep(0.01)",
      "SELECT 1 WHERE EXISTS (SELECT pg_sleep(0.01))",
      "SELECT gov_nap_sql(0.01)",
      "SELECT * FROM gov_nap_plpgsql(0.01)",
  };
  return spellings;
}

TEST(GovernorTest, PgSleepIsRefusedInEverySpellingByDefault) {
  createSleepyFunctions();
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}});
  RawPgClient client = connectProxy(*pgro);
  for (const std::string& sql : sleepSpellings()) {
    client.send(wire::query(sql));
    RawPgClient::Reply r = client.readReply(10s);
    ASSERT_TRUE(r.ready) << sql << ": " << describe(r);
    auto error = firstError(r.messages);
    ASSERT_TRUE(error) << sql << " was not refused: " << describe(r);
    EXPECT_EQ(error->sqlstate(), "42501") << sql << ": " << error->describe();
    EXPECT_NE(error->message().find("pg_sleep"), std::string::npos) << error->describe();
  }
  // The extended protocol: the Parse is refused the same way.
  client.send(wire::parse("", "SELECT pg_catalog.pg_sleep($1)") + wire::bind("", "", {"0.01"}) +
              wire::execute("") + wire::sync());
  RawPgClient::Reply extended = client.readReply(10s);
  auto error = firstError(extended.messages);
  ASSERT_TRUE(error) << describe(extended);
  EXPECT_EQ(error->sqlstate(), "42501") << error->describe();
  expectSelectOne(client, "after the refusals");
  EXPECT_EQ(waitForActiveQuery("pg_sleep", 200ms), false) << "a sleep reached PostgreSQL";

  // Direct calls are counted by the governor (function bodies refuse the function itself).
  const double counted = metricValue(*pgro, "pgro_governor_pg_sleep_total{user=\"reader\"}");
  EXPECT_GE(counted, 10) << scrapeMetrics(*pgro);
  EXPECT_TRUE(pgro->waitForLog("ALLOW_PG_SLEEP", 5s));
}

TEST(GovernorTest, AllowPgSleepAllowsThem) {
  createSleepyFunctions();
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"ALLOW_PG_SLEEP", "true"}});
  RawPgClient client = connectProxy(*pgro);
  for (const std::string& sql : sleepSpellings()) {
    client.send(wire::query(sql));
    RawPgClient::Reply r = client.readReply(10s);
    EXPECT_TRUE(succeeded(r)) << sql << ": " << describe(r);
  }
}

// Backends (other than the asker) running a query that contains `fragment`.
int activeBackends(const std::string& fragment) {
  return postgres()
      .execDirect(
          "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> "
          "pg_backend_pid() AND position('" +
          fragment + "' in query) > 0")[0][0]
      .as<int>();
}

// Waits for `client`'s reply to a statement pgro must cancel at QUERY_TIMEOUT_SECONDS=1.
void expectCancelledByTimeout(RawPgClient& client, const std::string& what) {
  const auto start = Clock::now();
  RawPgClient::Reply r = client.readReply(20s);
  const double elapsed = secondsSince(start);
  ASSERT_TRUE(r.ready) << what << ": " << describe(r);
  auto error = firstError(r.messages);
  ASSERT_TRUE(error) << what << " was not cancelled: " << describe(r);
  EXPECT_EQ(error->sqlstate(), "57014") << what << ": " << error->describe();
  EXPECT_NE(error->message().find("QUERY_TIMEOUT_SECONDS"), std::string::npos)
      << what << ": " << error->describe();
  EXPECT_GE(elapsed, 0.5) << what;
  EXPECT_LE(elapsed, 8.0) << what << ": cancelled long after the limit";
}

TEST(GovernorTest, QueryTimeoutCancelsUpstreamAndTheClientCannotLiftIt) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"},
                         {"ALLOW_PG_SLEEP", "true"},
                         {"POOL_SIZE", "1"},
                         {"QUERY_TIMEOUT_SECONDS", "1"}});
  // A SET statement_timeout = 0 does not lift pgro's limit.
  RawPgClient a = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("SET statement_timeout = 0")), std::nullopt);
  a.send(wire::query("SELECT pg_sleep(30) /* gov-timeout-a */"));
  expectCancelledByTimeout(a, "pg_sleep after SET statement_timeout = 0");
  EXPECT_EQ(activeBackends("gov-timeout-a"), 0) << "the backend still runs the statement";
  expectSelectOne(a, "client A after its cancelled statement");

  // Nor does a startup -c statement_timeout=0; a slow query without pg_sleep is cancelled too.
  RawPgClient b = RawPgClient::connect(pgro->host(), pgro->port(), pgro->user(), pgro->password(),
                                       pgro->database(), {{"options", "-c statement_timeout=0"}});
  b.send(
      wire::query("SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b "
                  "/* gov-timeout-b */"));
  expectCancelledByTimeout(b, "cross join with startup statement_timeout=0");
  EXPECT_EQ(activeBackends("gov-timeout-b"), 0);

  // The extended protocol, inside a transaction block.
  ASSERT_EQ(firstError(b.query("BEGIN")), std::nullopt);
  b.send(wire::parse("", "SELECT pg_sleep($1::float8) /* gov-timeout-c */") +
         wire::bind("", "", {"30"}) + wire::execute("") + wire::sync());
  expectCancelledByTimeout(b, "extended-protocol pg_sleep in a transaction");
  EXPECT_EQ(activeBackends("gov-timeout-c"), 0);
  ASSERT_EQ(firstError(b.query("ROLLBACK")), std::nullopt);

  // The only pooled connection serves the next client, with nothing of A's or B's session.
  RawPgClient c = connectProxy(*pgro);
  expectSelectOne(c, "the next client on the pooled connection");
  auto timeout = dataRows(c.query("SHOW statement_timeout"));
  ASSERT_EQ(timeout.size(), 1u);
  EXPECT_EQ(timeout[0][0].value_or(""), "0") << "pgro no longer sets statement_timeout upstream";
  auto fast = dataRows(c.query("SELECT pg_sleep(0.1), 'done'"));
  ASSERT_EQ(fast.size(), 1u) << "a statement under the limit was cancelled";
  EXPECT_EQ(fast[0][1].value_or(""), "done");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_query_timeout_total{user=\"reader\"}"), 3)
      << scrapeMetrics(*pgro);
  EXPECT_TRUE(pgro->waitForLog("QUERY_TIMEOUT_SECONDS=1", 5s));
}

// Every message until pgro closes the connection; the FATAL among them.
std::optional<ErrorFields> fatalBeforeClose(RawPgClient& client,
                                            std::chrono::milliseconds timeout) {
  std::vector<Message> messages = client.readUntilClosed(timeout);
  return firstError(messages);
}

int idleInTransactionBackends() {
  return postgres()
      .execDirect(
          "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND "
          "pid <> pg_backend_pid()")[0][0]
      .as<int>();
}

TEST(GovernorTest, IdleTransactionTimeoutFreesThePooledConnectionForTheNextClient) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"},
                         {"POOL_SIZE", "1"},
                         {"POOL_TIMEOUT_SECONDS", "20"},
                         {"IDLE_TRANSACTION_TIMEOUT_SECONDS", "1"}});
  RawPgClient a = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  ASSERT_EQ(a.query("SELECT 1").back().body, "T") << "client A is not in a transaction";
  // B waits for the only server connection, which A holds and does not use.
  RawPgClient b = connectProxy(*pgro);
  const auto start = Clock::now();
  b.send(wire::query("SELECT 1"));
  auto fatal = fatalBeforeClose(a, 10s);
  ASSERT_TRUE(fatal) << "client A was closed without an error";
  EXPECT_EQ(fatal->sqlstate(), "25P03") << fatal->describe();
  EXPECT_EQ(fatal->severity(), "FATAL") << fatal->describe();
  EXPECT_NE(fatal->message().find("IDLE_TRANSACTION_TIMEOUT_SECONDS"), std::string::npos);
  RawPgClient::Reply served = b.readReply(10s);
  EXPECT_TRUE(succeeded(served)) << "client B was not served after A's timeout: "
                                 << describe(served);
  EXPECT_LE(secondsSince(start), 6.0);
  EXPECT_EQ(idleInTransactionBackends(), 0) << "A's transaction is still open upstream";

  // The same for a client that stops after an extended-protocol Flush without Sync.
  RawPgClient d = connectProxy(*pgro);
  d.send(wire::parse("", "SELECT 42") + wire::bind("", "") + wire::execute("") + wire::flush());
  auto flushed = fatalBeforeClose(d, 10s);
  ASSERT_TRUE(flushed) << "the unsynced client was closed without an error";
  EXPECT_EQ(flushed->sqlstate(), "25P03") << flushed->describe();
  expectSelectOne(b, "client B after the unsynced client's timeout");

  // A client that keeps working inside its transaction is not disconnected.
  ASSERT_EQ(firstError(b.query("BEGIN")), std::nullopt);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(500ms);
    expectSelectOne(b, "a busy transaction");
  }
  ASSERT_EQ(firstError(b.query("COMMIT")), std::nullopt);
  // Idle outside a transaction is not this limit's business (CLIENT_IDLE_TIMEOUT_SECONDS=0).
  std::this_thread::sleep_for(1500ms);
  expectSelectOne(b, "client B idle outside a transaction");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_idle_transaction_timeout_total{user=\"reader\"}"), 2)
      << scrapeMetrics(*pgro);
  EXPECT_TRUE(pgro->waitForLog("IDLE_TRANSACTION_TIMEOUT_SECONDS=1", 5s));
}

TEST(GovernorTest, ClientIdleTimeoutClosesIdleClients) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"CLIENT_IDLE_TIMEOUT_SECONDS", "1"}});
  RawPgClient idle = connectProxy(*pgro);
  RawPgClient busy = connectProxy(*pgro);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(400ms);
    expectSelectOne(busy, "a client that keeps sending");
  }
  auto fatal = fatalBeforeClose(idle, 10s);
  ASSERT_TRUE(fatal) << "the idle client was closed without an error";
  EXPECT_EQ(fatal->sqlstate(), "57P05") << fatal->describe();
  EXPECT_NE(fatal->message().find("CLIENT_IDLE_TIMEOUT_SECONDS"), std::string::npos);
  EXPECT_GE(secondsSince(start), 0.9);
  EXPECT_EQ(metricValue(*pgro, "pgro_governor_client_idle_timeout_total{user=\"reader\"}"), 1)
      << scrapeMetrics(*pgro);
}

RawPgClient connectAs(const PgroProcess& pgro, const std::string& user,
                      const std::string& password) {
  return RawPgClient::connect(pgro.host(), pgro.port(), user, password, pgro.database());
}

TEST(GovernorTest, PerLoginConnectionAndActiveQueryLimitsFromUsersFile) {
  const std::string path = makeTempDir("pgro-gov-users") + "/users";
  const std::string bob = usersLine("bob", "bob-pass");
  std::ofstream(path) << "# governor test\n"
                      << usersLine("alice", "alice-pass",
                                   "max_user_connections=3\tMAX_USER_ACTIVE_QUERIES=1")
                      << bob;
  auto pgro = startPgro({{"CACHE_ENABLED", "false"},
                         {"USERS_FILE", path},
                         {"PROXY_USER", ""},
                         {"PROXY_PASSWORD", ""},
                         {"POOL_SIZE", "3"},
                         {"POOL_TIMEOUT_SECONDS", "3"},
                         {"MAX_USER_CONNECTIONS", "2"}});
  // alice may have 3 connections (her override), the fourth is refused with 53300.
  std::vector<RawPgClient> alice;
  for (int i = 0; i < 3; ++i) alice.push_back(connectAs(*pgro, "alice", "alice-pass"));
  RawPgClient extra(pgro->host(), pgro->port());
  StartupResult refused = extra.startup("alice", "alice-pass", pgro->database());
  ASSERT_FALSE(refused.ok);
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->sqlstate(), "53300") << refused.error->describe();
  EXPECT_NE(refused.error->message().find("too many connections"), std::string::npos);
  // bob gets the global MAX_USER_CONNECTIONS=2.
  RawPgClient bob1 = connectAs(*pgro, "bob", "bob-pass");
  RawPgClient bob2 = connectAs(*pgro, "bob", "bob-pass");
  RawPgClient bob3(pgro->host(), pgro->port());
  StartupResult bob_refused = bob3.startup("bob", "bob-pass", pgro->database());
  ASSERT_FALSE(bob_refused.ok);
  EXPECT_EQ(bob_refused.error->sqlstate(), "53300");
  // A closed connection frees its place.
  bob2.close();
  std::this_thread::sleep_for(200ms);
  RawPgClient bob4 = connectAs(*pgro, "bob", "bob-pass");
  expectSelectOne(bob4, "bob after one of his connections closed");

  // alice holds her one active connection in a transaction: her second client waits for
  // it, bob is not kept out of the pool by her.
  ASSERT_EQ(firstError(alice[0].query("BEGIN")), std::nullopt);
  expectSelectOne(alice[0], "alice's transaction");
  alice[1].send(wire::query("SELECT 'alice-2'"));
  expectSelectOne(bob1, "bob while alice holds her limit");
  expectSelectOne(bob4, "bob's other connection");
  RawPgClient::Reply waiting = alice[1].readReply(500ms);
  EXPECT_TRUE(waiting.timed_out) << "alice's second client was served past her limit: "
                                 << describe(waiting);
  ASSERT_EQ(firstError(alice[0].query("COMMIT")), std::nullopt);
  RawPgClient::Reply served = alice[1].readReply(5s);
  EXPECT_TRUE(succeeded(served)) << describe(served);
  // Past POOL_TIMEOUT_SECONDS the waiting client gets 53300 naming the limit.
  ASSERT_EQ(firstError(alice[0].query("BEGIN")), std::nullopt);
  expectSelectOne(alice[0], "alice's second transaction");
  alice[2].send(wire::query("SELECT 'alice-3'"));
  RawPgClient::Reply timed_out = alice[2].readReply(10s);
  auto error = firstError(timed_out.messages);
  ASSERT_TRUE(error) << describe(timed_out);
  EXPECT_EQ(error->sqlstate(), "53300") << error->describe();
  EXPECT_NE(error->message().find("MAX_USER_ACTIVE_QUERIES"), std::string::npos);
  ASSERT_EQ(firstError(alice[0].query("COMMIT")), std::nullopt);
  expectSelectOne(alice[2], "alice's third client after the commit");

  EXPECT_EQ(metricValue(*pgro, "pgro_governor_user_connections_total{user=\"alice\"}"), 1);
  EXPECT_EQ(metricValue(*pgro, "pgro_governor_user_connections_total{user=\"bob\"}"), 1);
  // At least the two waits above (a BEGIN right after a reply may wait an instant for the
  // slot that reply's connection is about to give back).
  EXPECT_GE(metricValue(*pgro, "pgro_governor_user_active_queries_total{user=\"alice\"}"), 2)
      << scrapeMetrics(*pgro);
  EXPECT_EQ(metricValue(*pgro, "pgro_governor_user_active_queries_total{user=\"bob\"}"), -1)
      << "bob never waited for his own limit";

  // SIGHUP reads the overrides again; a bad field is refused with its line number and
  // changes nothing.
  std::ofstream(path) << usersLine("alice", "alice-pass", "max_user_connections=nine") << bob;
  const std::size_t before = pgro->log().size();
  pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(pgro->waitForLog("reload failed", 10s));
  EXPECT_NE(pgro->log().substr(before).find("line 1: user \"alice\": max_user_connections"),
            std::string::npos)
      << pgro->log().substr(before);
  std::ofstream(path) << usersLine("alice", "alice-pass", "max_user_connections=4") << bob;
  pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(pgro->waitForLog("reloaded:", 10s));
  RawPgClient fourth = connectAs(*pgro, "alice", "alice-pass");
  expectSelectOne(fourth, "alice's fourth connection after the reload");
}

}  // namespace
}  // namespace pgro::it
