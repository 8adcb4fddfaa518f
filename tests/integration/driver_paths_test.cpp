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
    // Even a write that slipped past pgro would meet a read-only transaction upstream.
    auto set = a.query("SET TRANSACTION READ WRITE");
    EXPECT_EQ(firstError(set), std::nullopt) << typeSequence(set);
    EXPECT_EQ(dataRows(a.query("SHOW transaction_read_only"))[0][0].value_or(""), "on");
    auto write = a.query("INSERT INTO typed_values DEFAULT VALUES");
    ASSERT_TRUE(firstError(write)) << typeSequence(write);
    EXPECT_EQ(firstError(write)->sqlstate(), "25006");
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

// The CommandComplete tags of a reply, in order.
std::vector<std::string> tagsOf(const std::vector<Message>& messages) {
  std::vector<std::string> tags;
  for (const Message& m : messages) {
    if (m.type == 'C') tags.emplace_back(m.body.c_str());
  }
  return tags;
}

// asyncpg's pool reset, sent on every release of a pooled connection.
TEST(DriverPathsTest, PoolResetQueriesAreAnswered) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  auto reset = a.query("SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;");
  ASSERT_EQ(firstError(reset), std::nullopt) << typeSequence(reset);
  EXPECT_EQ(tagsOf(reset),
            (std::vector<std::string>{"SELECT 1", "CLOSE CURSOR ALL", "UNLISTEN", "RESET"}));
  auto unlock = a.query("SELECT pg_advisory_unlock(1), pg_advisory_unlock_shared(2)");
  EXPECT_EQ(firstError(unlock), std::nullopt) << typeSequence(unlock);
  // Taking a lock stays refused.
  auto lock = a.query("SELECT pg_advisory_lock(1)");
  ASSERT_TRUE(firstError(lock));
  EXPECT_EQ(firstError(lock)->sqlstate(), "42501");
  auto listen = a.query("LISTEN channel_x");
  ASSERT_TRUE(firstError(listen));
  for (const char* discard : {"DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP"}) {
    auto reply = a.query(discard);
    ASSERT_EQ(firstError(reply), std::nullopt) << discard << ": " << typeSequence(reply);
    EXPECT_EQ(tagsOf(reply), std::vector<std::string>{discard});
  }
}

// psqlODBC in manual-commit mode drops a plan inside a multi-statement string.
TEST(DriverPathsTest, DeallocateInsideAMultiStatementQuery) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  const std::string plan = "_PLAN0x55d0c0ffee";
  for (RawPgClient* client : {&a, &b}) {
    ASSERT_TRUE(succeeded(
        roundTrip(*client, wire::parse(plan, "SELECT $1::int * 2", {23}) + wire::sync())));
  }
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  auto dropped =
      a.query("SAVEPOINT _per_query_svp_;DEALLOCATE \"" + plan + "\";RELEASE _per_query_svp_");
  ASSERT_EQ(firstError(dropped), std::nullopt) << typeSequence(dropped);
  EXPECT_EQ(tagsOf(dropped), (std::vector<std::string>{"SAVEPOINT", "DEALLOCATE", "RELEASE"}));
  EXPECT_EQ(typeSequence(dropped), "CCCZ");
  ASSERT_EQ(firstError(a.query("COMMIT")), std::nullopt);
  // The name is free again for A, and B's statement of the same name is untouched.
  auto again = roundTrip(a, wire::parse(plan, "SELECT $1::int * 3", {23}) +
                                wire::bind("", plan, {"5"}) + wire::execute("") + wire::sync());
  EXPECT_EQ(onlyValue(again), "15");
  EXPECT_EQ(onlyValue(roundTrip(b, wire::bind("", plan, {"5"}) + wire::execute("") + wire::sync())),
            "10");

  // After an error PostgreSQL runs nothing more of the string: the statement is kept.
  auto failed = a.query("SELECT 1/0; DEALLOCATE \"" + plan + "\"");
  ASSERT_TRUE(firstError(failed));
  EXPECT_EQ(firstError(failed)->sqlstate(), "22012");
  EXPECT_TRUE(tagsOf(failed).empty());
  EXPECT_EQ(onlyValue(roundTrip(a, wire::bind("", plan, {"2"}) + wire::execute("") + wire::sync())),
            "6");
  // Before the error it ran.
  auto first = a.query("DEALLOCATE \"" + plan + "\"; SELECT 1/0");
  ASSERT_TRUE(firstError(first));
  EXPECT_EQ(tagsOf(first), std::vector<std::string>{"DEALLOCATE"});
  EXPECT_EQ(
      sqlstateOf(roundTrip(a, wire::bind("", plan, {"2"}) + wire::execute("") + wire::sync())),
      "26000");
  // A name the client does not hold: PostgreSQL's error, before anything runs.
  auto unknown = a.query("SELECT 1; DEALLOCATE not_mine");
  ASSERT_TRUE(firstError(unknown));
  EXPECT_EQ(firstError(unknown)->sqlstate(), "26000");
  // DEALLOCATE ALL drops the client's names only.
  auto all = a.query("SELECT 7; DEALLOCATE ALL; SELECT 8");
  EXPECT_EQ(tagsOf(all), (std::vector<std::string>{"SELECT 1", "DEALLOCATE ALL", "SELECT 1"}));
  EXPECT_EQ(onlyValue(roundTrip(b, wire::bind("", plan, {"4"}) + wire::execute("") + wire::sync())),
            "8");
}

TEST(DriverPathsTest, DiscardAllResetsOnlyTheClientsOwnState) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  for (RawPgClient* client : {&a, &b}) {
    ASSERT_TRUE(succeeded(
        roundTrip(*client, wire::parse("s1", "SELECT $1::int + 1", {23}) + wire::sync())));
  }
  ASSERT_EQ(firstError(a.query("SET search_path = pg_catalog")), std::nullopt);
  ASSERT_EQ(firstError(a.query("SET TimeZone = 'Asia/Kolkata'")), std::nullopt);
  auto inside = a.query("BEGIN; DISCARD ALL");
  ASSERT_TRUE(firstError(inside));
  EXPECT_EQ(firstError(inside)->sqlstate(), "25001");
  a.query("ROLLBACK");

  auto discarded = a.query("DISCARD ALL");
  ASSERT_EQ(firstError(discarded), std::nullopt) << typeSequence(discarded);
  EXPECT_EQ(tagsOf(discarded), std::vector<std::string>{"DISCARD ALL"});
  bool reported = false;
  for (const Message& m : discarded) {
    if (m.type == 'S' && m.body.rfind(std::string("TimeZone\0", 9), 0) == 0) reported = true;
  }
  EXPECT_TRUE(reported) << "ParameterStatus TimeZone after DISCARD ALL: "
                        << typeSequence(discarded);
  EXPECT_EQ(
      sqlstateOf(roundTrip(a, wire::bind("", "s1", {"1"}) + wire::execute("") + wire::sync())),
      "26000");
  auto path = dataRows(a.query("SHOW search_path"));
  ASSERT_EQ(path.size(), 1u);
  EXPECT_EQ(path[0][0].value_or(""), "\"$user\", public");
  EXPECT_EQ(onlyValue(roundTrip(b, wire::bind("", "s1", {"1"}) + wire::execute("") + wire::sync())),
            "2");
}

// pg_dump PREPAREs inside its one transaction. Under transaction pooling a statement
// prepared with SQL lasts until the connection goes back to the pool: pgro deallocates it
// there, so no other client can run it or trip over its name.
TEST(DriverPathsTest, SqlPrepareLastsUntilTheConnectionGoesBack) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  ASSERT_EQ(firstError(a.query("PREPARE p1 (int) AS SELECT 'a' || $1")), std::nullopt);
  auto rows = dataRows(a.query("EXECUTE p1(1)"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "a1");
  ASSERT_EQ(firstError(a.query("COMMIT")), std::nullopt);

  // B may use the same name; A's statement is gone, and never becomes B's.
  auto b_run = b.query("PREPARE p1 (int) AS SELECT 'b' || $1; EXECUTE p1(2)");
  ASSERT_EQ(firstError(b_run), std::nullopt) << typeSequence(b_run);
  ASSERT_EQ(dataRows(b_run).size(), 1u);
  EXPECT_EQ(dataRows(b_run)[0][0].value_or(""), "b2");
  auto a_again = a.query("EXECUTE p1(3)");
  ASSERT_TRUE(firstError(a_again)) << typeSequence(a_again);
  EXPECT_EQ(firstError(a_again)->sqlstate(), "26000");
  // Only pgro's own (protocol-level) statements may stay on the connection.
  auto sql_left = dataRows(a.query("SELECT count(*) FROM pg_prepared_statements WHERE from_sql"));
  ASSERT_EQ(sql_left.size(), 1u);
  EXPECT_EQ(sql_left[0][0].value_or(""), "0");
  // A client DEALLOCATE of its own SQL statement goes upstream, inside the string.
  auto dropped = a.query("PREPARE p2 AS SELECT 1; EXECUTE p2; DEALLOCATE p2; SELECT 2");
  ASSERT_EQ(firstError(dropped), std::nullopt) << typeSequence(dropped);
  EXPECT_EQ(tagsOf(dropped),
            (std::vector<std::string>{"PREPARE", "SELECT 1", "DEALLOCATE", "SELECT 1"}));
  // A failed PREPARE leaves nothing behind, and the client sees only its own error.
  auto failed = a.query("PREPARE p3 AS SELECT no_such_column_z");
  ASSERT_TRUE(firstError(failed));
  EXPECT_EQ(firstError(failed)->sqlstate(), "42703");
  auto next = a.query("SELECT 5");
  EXPECT_EQ(firstError(next), std::nullopt) << typeSequence(next);
  EXPECT_EQ(typeSequence(next), "TDCZ");
}

TEST(DriverPathsTest, SqlPrepareWorksUnderSessionPooling) {
  auto pgro = startPgro(sharedEnv("session"));
  RawPgClient a = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("PREPARE p1 (int) AS SELECT $1 * 10")), std::nullopt);
  auto rows = dataRows(a.query("EXECUTE p1(4)"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "40");
  auto dropped = a.query("SELECT 1; DEALLOCATE p1");
  EXPECT_EQ(tagsOf(dropped), (std::vector<std::string>{"SELECT 1", "DEALLOCATE"}));
  EXPECT_EQ(firstError(a.query("EXECUTE p1(4)"))->sqlstate(), "26000");
}

// PostgreSQL reports the encoding's own name whatever spelling the client used.
TEST(DriverPathsTest, ClientEncodingIsReportedByItsCanonicalName) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = RawPgClient::connect(pgro->host(), pgro->port(), pgro->user(), pgro->password(),
                                       pgro->database(), {{"client_encoding", "utf-8"}});
  EXPECT_EQ(a.startupResult().parameters.at("client_encoding"), "UTF8");
  auto shown = dataRows(a.query("SHOW client_encoding"));
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0][0].value_or(""), "UTF8");
}

// psqlODBC's UseDeclareFetch reads big results through a cursor WITH HOLD across
// transactions: the session keeps its connection until the cursor is closed, and at most
// half the pool is kept that way.
TEST(DriverPathsTest, CursorWithHoldKeepsTheConnectionUntilClosed) {
  auto pgro = startPgro({{"POOL_SIZE", "2"}, {"CACHE_ENABLED", "false"}});
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  RawPgClient c = connectProxy(*pgro);
  auto declared = a.query(
      "BEGIN; DECLARE big CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 10) g; COMMIT");
  ASSERT_EQ(firstError(declared), std::nullopt) << typeSequence(declared);
  // Others run meanwhile on the other connection.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dataRows(b.query("SELECT " + std::to_string(i))).size(), 1u);
    EXPECT_EQ(dataRows(c.query("SELECT " + std::to_string(i))).size(), 1u);
  }
  auto first = dataRows(a.query("FETCH 4 FROM big"));
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[3][0].value_or(""), "4");
  // A second session may not keep a connection too (POOL_SIZE=2: at most 1).
  auto refused = b.query("DECLARE other CURSOR WITH HOLD FOR SELECT 1");
  ASSERT_TRUE(firstError(refused));
  EXPECT_EQ(firstError(refused)->sqlstate(), "53400");
  auto rest = dataRows(a.query("FETCH ALL FROM big"));
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest[0][0].value_or(""), "5");
  ASSERT_EQ(firstError(a.query("CLOSE big")), std::nullopt);
  // Closed: the connection went back, and another session may hold one now.
  auto other =
      b.query("DECLARE other CURSOR WITH HOLD FOR SELECT 42; FETCH 1 FROM other; CLOSE other");
  ASSERT_EQ(firstError(other), std::nullopt) << typeSequence(other);
  ASSERT_EQ(dataRows(other).size(), 1u);
  EXPECT_EQ(dataRows(other)[0][0].value_or(""), "42");
  auto cursors = dataRows(c.query("SELECT count(*) FROM pg_cursors"));
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0][0].value_or(""), "0");
}

TEST(DriverPathsTest, CursorWithHoldInSessionMode) {
  auto pgro = startPgro(sharedEnv("session"));
  RawPgClient a = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("BEGIN; DECLARE h CURSOR WITH HOLD FOR SELECT 7; COMMIT")),
            std::nullopt);
  auto rows = dataRows(a.query("FETCH 1 FROM h"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "7");
}

// A client's setseed() must not make the next borrower's random() predictable.
TEST(DriverPathsTest, SetseedDoesNotReachTheNextClient) {
  RawPgClient direct = connectDirect();
  direct.query("SELECT setseed(0.5)");
  const auto predicted = dataRows(direct.query("SELECT random()::text")).at(0).at(0);
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  for (const char* seed :
       {"SELECT setseed(0.5)", "SELECT (0.5).setseed", "SELECT 1 FROM pg_catalog.setseed(0.5)"}) {
    ASSERT_EQ(firstError(a.query(seed)), std::nullopt) << seed;
    auto next = dataRows(b.query("SELECT random()::text"));
    ASSERT_EQ(next.size(), 1u);
    EXPECT_NE(next[0][0], predicted) << seed << ": B's random() followed A's seed";
  }
  // The client itself still gets what it asked for within its own transaction.
  auto own = dataRows(a.query("SELECT setseed(0.5); SELECT random()::text"));
  ASSERT_EQ(own.size(), 2u);
  EXPECT_EQ(own[1][0], predicted);
}

// psycopg2 (SQLAlchemy's postgresql_readonly) leaves read-only mode with SET
// default_transaction_read_only TO DEFAULT: the default is pgro's, so it stays on.
TEST(DriverPathsTest, ResettingDefaultReadOnlyKeepsItOn) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  for (const char* reset :
       {"SET default_transaction_read_only TO DEFAULT", "RESET default_transaction_read_only"}) {
    auto reply = a.query(reset);
    ASSERT_EQ(firstError(reply), std::nullopt) << reset << ": " << typeSequence(reply);
    auto shown =
        dataRows(a.query("SELECT current_setting('default_transaction_read_only'), "
                         "current_setting('transaction_read_only')"));
    ASSERT_EQ(shown.size(), 1u);
    EXPECT_EQ(shown[0][0].value_or(""), "on") << reset;
    EXPECT_EQ(shown[0][1].value_or(""), "on") << reset;
  }
  auto refused = a.query("RESET transaction_read_only");
  ASSERT_TRUE(firstError(refused));
  EXPECT_EQ(firstError(refused)->sqlstate(), "42501");
}

// A statement pgro refuses inside a transaction block fails the transaction, as any error
// does in PostgreSQL: 25P02 until ROLLBACK, and COMMIT rolls back.
TEST(DriverPathsTest, RefusedStatementFailsItsTransaction) {
  auto pgro = startPgro(sharedEnv());
  RawPgClient a = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  a.send(wire::query("INSERT INTO typed_values DEFAULT VALUES"));
  auto refused = a.readReply();
  ASSERT_TRUE(firstError(refused.messages));
  EXPECT_EQ(firstError(refused.messages)->sqlstate(), "25006");
  ASSERT_FALSE(refused.messages.empty());
  EXPECT_EQ(refused.messages.back().body, "E") << "ReadyForQuery status";
  auto next = a.query("SELECT 1");
  ASSERT_TRUE(firstError(next));
  EXPECT_EQ(firstError(next)->sqlstate(), "25P02");
  EXPECT_EQ(tagsOf(a.query("COMMIT")), std::vector<std::string>{"ROLLBACK"});

  // Over the extended protocol too.
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  auto parsed = roundTrip(a, wire::parse("", "DELETE FROM typed_values") + wire::bind("", "") +
                                 wire::execute("") + wire::sync());
  EXPECT_EQ(sqlstateOf(parsed), "25006");
  ASSERT_FALSE(parsed.messages.empty());
  EXPECT_EQ(parsed.messages.back().body, "E");
  EXPECT_EQ(firstError(a.query("SELECT 1"))->sqlstate(), "25P02");
  EXPECT_EQ(tagsOf(a.query("ROLLBACK")), std::vector<std::string>{"ROLLBACK"});
  // Outside a transaction nothing lingers.
  EXPECT_TRUE(firstError(a.query("DELETE FROM typed_values")));
  EXPECT_EQ(firstError(a.query("SELECT 1")), std::nullopt);
}

}  // namespace
}  // namespace pgro::it
