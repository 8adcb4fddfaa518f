// What real drivers send, through pgro: lib/pq's statements across Syncs and its BEGIN READ
// WRITE, pool reset queries, DEALLOCATE inside multi-statement strings. Most tests share one
// upstream connection between two clients (POOL_SIZE=1, transaction pooling): each client
// must see only its own statements, portals and results, whatever the other ran in between.
#include <gtest/gtest.h>

#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

Env sharedEnv(const char* pool_mode = "transaction") {
  return {{"POOL_SIZE", "1"}, {"POOL_MODE", pool_mode}, {"CACHE_ENABLED", "false"}};
}

RawPgClient::Reply roundTrip(RawPgClient& client, const std::string& bytes) {
  client.send(bytes);
  return client.readReply();
}

// The one value of the one row of `reply`, or a description of what came instead.
std::string onlyValue(const RawPgClient::Reply& reply) {
  auto rows = dataRows(reply.messages);
  if (!succeeded(reply) || rows.size() != 1 || rows[0].size() != 1 || !rows[0][0]) {
    return "unexpected reply: " + describe(reply);
  }
  return *rows[0][0];
}

std::string sqlstateOf(const RawPgClient::Reply& reply) {
  auto error = firstError(reply.messages);
  return error ? error->sqlstate() : "no error: " + describe(reply);
}

// lib/pq's way to run a query with arguments: Parse "" + Describe S "" + Sync, then
// Bind "" + Execute + Sync. Between the two round trips the connection goes back to the pool.
TEST(DriverPathsTest, UnnamedStatementSurvivesAnotherClientBetweenSyncs) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);

  auto described = roundTrip(a, wire::parse("", "SELECT 'a:' || $1::text AS v", {25}) +
                                    wire::describeStatement("") + wire::sync());
  ASSERT_EQ(typeSequence(described.messages), "1tTZ") << describe(described);
  // B replaces the connection's unnamed statement with its own.
  auto b_parse = roundTrip(
      b, wire::parse("", "SELECT 'b:' || $1::text || ':' || $1::text AS v", {25}) + wire::sync());
  ASSERT_TRUE(succeeded(b_parse)) << describe(b_parse);

  EXPECT_EQ(onlyValue(roundTrip(a, wire::bind("", "", {"1"}) + wire::execute("") + wire::sync())),
            "a:1");
  EXPECT_EQ(onlyValue(roundTrip(b, wire::bind("", "", {"2"}) + wire::execute("") + wire::sync())),
            "b:2:2");
  // A Describe of the statement after another client's Parse describes the client's own.
  auto again = roundTrip(a, wire::describeStatement("") + wire::sync());
  ASSERT_EQ(typeSequence(again.messages), "tTZ") << describe(again);
  EXPECT_EQ(onlyValue(roundTrip(a, wire::bind("", "", {"3"}) + wire::execute("") + wire::sync())),
            "a:3");
  // A simple Query destroys the client's unnamed statement, as in PostgreSQL, and nothing of
  // another client's takes its place.
  ASSERT_EQ(dataRows(a.query("SELECT 1")).size(), 1u);
  EXPECT_EQ(sqlstateOf(roundTrip(a, wire::bind("", "", {"4"}) + wire::execute("") + wire::sync())),
            "26000");
  EXPECT_EQ(onlyValue(roundTrip(b, wire::bind("", "", {"5"}) + wire::execute("") + wire::sync())),
            "b:5:5");
  // Closing it does the same.
  ASSERT_TRUE(succeeded(roundTrip(b, wire::closeStatement("") + wire::sync())));
  EXPECT_EQ(sqlstateOf(roundTrip(b, wire::bind("", "", {"6"}) + wire::execute("") + wire::sync())),
            "26000");
}

TEST(DriverPathsTest, FailedUnnamedParseNeverRunsAnotherClientsStatement) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  ASSERT_TRUE(succeeded(roundTrip(b, wire::parse("", "SELECT 'b-secret'::text") + wire::sync())));
  auto bad = roundTrip(a, wire::parse("", "SELECT no_such_column_xyz") + wire::sync());
  EXPECT_EQ(sqlstateOf(bad), "42703");
  ASSERT_TRUE(succeeded(roundTrip(b, wire::parse("", "SELECT 'b-secret'::text") + wire::sync())));
  // The connection holds B's unnamed statement; A has none.
  auto run = roundTrip(a, wire::bind("", "") + wire::execute("") + wire::sync());
  EXPECT_EQ(sqlstateOf(run), "26000");
  EXPECT_EQ(describe(run).find("b-secret"), std::string::npos) << describe(run);
}

// A portal lives until its transaction ends: after a Sync outside a transaction block it is
// gone, whichever client used the connection in between.
TEST(DriverPathsTest, PortalAfterSyncIsGoneNotAnotherClients) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  auto bound =
      roundTrip(a, wire::parse("", "SELECT 'a-portal'::text") + wire::bind("", "") + wire::sync());
  ASSERT_TRUE(succeeded(bound)) << describe(bound);
  // B leaves an unnamed portal half-read inside its own transaction, then ends it.
  ASSERT_TRUE(succeeded(roundTrip(b, wire::query("BEGIN"))));
  auto b_portal =
      roundTrip(b, wire::parse("", "SELECT 'b-portal'::text FROM generate_series(1, 3)") +
                       wire::bind("", "") + wire::execute("", 1) + wire::sync());
  ASSERT_TRUE(succeeded(b_portal)) << describe(b_portal);
  ASSERT_TRUE(succeeded(roundTrip(b, wire::query("COMMIT"))));

  auto executed = roundTrip(a, wire::execute("") + wire::sync());
  EXPECT_EQ(sqlstateOf(executed), "34000");
  EXPECT_EQ(describe(executed).find("b-portal"), std::string::npos) << describe(executed);
  auto described = roundTrip(a, wire::describePortal("") + wire::sync());
  EXPECT_EQ(sqlstateOf(described), "34000");
}

// Twenty clients run lib/pq's two round trips at once over two upstream connections; every
// row is checked against what its client asked for.
TEST(DriverPathsTest, ConcurrentTwoRoundTripQueriesGetTheirOwnRows) {
  auto pgro = startPgro({{"POOL_SIZE", "2"}, {"CACHE_ENABLED", "false"}});
  constexpr int kClients = 20;
  constexpr int kRounds = 25;
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        RawPgClient client = connectProxy(*pgro);
        for (int i = 0; i < kRounds && failures[c].empty(); ++i) {
          // Each client's own text, so a statement run for the wrong client shows.
          const std::string sql = "SELECT " + std::to_string(c) +
                                  " AS client, g, $1::int AS arg FROM generate_series(1, " +
                                  std::to_string(1 + c % 4) + ") g";
          auto prepared = roundTrip(
              client, wire::parse("", sql, {23}) + wire::describeStatement("") + wire::sync());
          if (!succeeded(prepared)) {
            failures[c] = "parse: " + describe(prepared);
            break;
          }
          auto ran = roundTrip(
              client, wire::bind("", "", {std::to_string(i)}) + wire::execute("") + wire::sync());
          auto rows = dataRows(ran.messages);
          if (!succeeded(ran) || rows.size() != static_cast<std::size_t>(1 + c % 4)) {
            failures[c] = "round " + std::to_string(i) + ": " + describe(ran);
            break;
          }
          for (std::size_t r = 0; r < rows.size(); ++r) {
            if (rows[r].size() != 3 || rows[r][0].value_or("") != std::to_string(c) ||
                rows[r][1].value_or("") != std::to_string(r + 1) ||
                rows[r][2].value_or("") != std::to_string(i)) {
              failures[c] =
                  "round " + std::to_string(i) + " row " + std::to_string(r) + ": " + describe(ran);
              break;
            }
          }
        }
      } catch (const std::exception& e) {
        failures[c] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
}

TEST(DriverPathsTest, UnnamedStatementInSessionMode) {
  auto pgro = startPgro(sharedEnv("session"));
  RawPgClient a = connectProxy(*pgro);
  ASSERT_TRUE(
      succeeded(roundTrip(a, wire::parse("", "SELECT 'a:' || $1::text", {25}) + wire::sync())));
  EXPECT_EQ(onlyValue(roundTrip(a, wire::bind("", "", {"1"}) + wire::execute("") + wire::sync())),
            "a:1");
  EXPECT_EQ(onlyValue(roundTrip(a, wire::bind("", "", {"2"}) + wire::execute("") + wire::sync())),
            "a:2");
}

// lib/pq's db.Begin() sends BEGIN READ WRITE: accepted, and the transaction stays read-only.
TEST(DriverPathsTest, BeginReadWriteOpensAReadOnlyTransaction) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  for (const char* begin :
       {"BEGIN READ WRITE", "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE"}) {
    auto begun = a.query(begin);
    ASSERT_EQ(firstError(begun), std::nullopt) << begin << ": " << typeSequence(begun);
    EXPECT_EQ(typeSequence(begun), "CZ");
    auto mode = dataRows(a.query("SHOW transaction_read_only"));
    ASSERT_EQ(mode.size(), 1u);
    EXPECT_EQ(mode[0][0].value_or(""), "on") << begin;
    auto write = a.query("INSERT INTO typed_values DEFAULT VALUES");
    ASSERT_TRUE(firstError(write)) << typeSequence(write);
    EXPECT_EQ(firstError(write)->sqlstate(), "25006");
    // Even one that slipped past pgro would meet a read-only transaction upstream.
    auto set = a.query("SET TRANSACTION READ WRITE");
    EXPECT_EQ(firstError(set), std::nullopt) << typeSequence(set);
    EXPECT_EQ(dataRows(a.query("SHOW transaction_read_only"))[0][0].value_or(""), "on");
    EXPECT_EQ(firstError(a.query("ROLLBACK")), std::nullopt);
  }
  // Over the extended protocol too, and error positions still point into the client's text.
  auto parsed = roundTrip(a, wire::parse("", "BEGIN READ WRITE") + wire::bind("", "") +
                                 wire::execute("") + wire::sync());
  ASSERT_TRUE(succeeded(parsed)) << describe(parsed);
  auto bad = a.query("SELECT no_such_column_q");
  ASSERT_TRUE(firstError(bad));
  EXPECT_EQ(firstError(a.query("ROLLBACK")), std::nullopt);
  auto positioned = a.query("BEGIN READ WRITE; SELECT no_such_column_q");
  ASSERT_TRUE(firstError(positioned));
  EXPECT_EQ(firstError(positioned)->position(), "26") << firstError(positioned)->describe();
  a.query("ROLLBACK");
  // As a session default it stays refused.
  auto session = a.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE");
  ASSERT_TRUE(firstError(session));
  EXPECT_EQ(firstError(session)->sqlstate(), "42501");
}

}  // namespace
}  // namespace pgro::it
