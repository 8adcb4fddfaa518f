// MAX_PREPARED_STATEMENTS: a client may hold that many named statements (one more is refused
// with 53400 and nothing goes upstream), and one upstream connection keeps at most that many
// of pgro's statements, closing the least recently used first, without clients noticing.
#include <gtest/gtest.h>

#include <regex>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

// POOL_SIZE=1: every client shares one upstream backend, so pg_prepared_statements (a
// per-backend view) read through pgro shows what pgro keeps prepared there. The result
// cache is off so that every Execute reaches that backend.
Env limitEnv(int max_prepared) {
  return {{"MAX_PREPARED_STATEMENTS", std::to_string(max_prepared)},
          {"POOL_SIZE", "1"},
          {"CACHE_ENABLED", "false"}};
}

// Extended-protocol round trip (the bytes must end with Sync).
RawPgClient::Reply roundTrip(RawPgClient& client, const std::string& bytes) {
  client.send(bytes);
  return client.readReply();
}

// Binds the named statement with one text parameter, executes it and returns the one value
// of its one row, or a description of what came instead.
std::string runStatement(RawPgClient& client, const std::string& statement,
                         const std::string& param) {
  auto reply =
      roundTrip(client, wire::bind("", statement, {param}) + wire::execute("") + wire::sync());
  auto rows = dataRows(reply.messages);
  if (!succeeded(reply) || rows.size() != 1 || rows[0].size() != 1 || !rows[0][0]) {
    return "unexpected reply: " + describe(reply);
  }
  return *rows[0][0];
}

// pgro's statements on the one upstream backend.
int upstreamStatements(RawPgClient& client) {
  auto reply = client.query("SELECT count(*) FROM pg_prepared_statements");
  auto rows = dataRows(reply);
  if (rows.size() != 1 || !rows[0][0]) return -1;
  return std::stoi(*rows[0][0]);
}

TEST(PreparedLimitTest, ClientBeyondLimitIsRefusedUntilItClosesSome) {
  auto pgro = startPgro(limitEnv(3));
  RawPgClient client = connectProxy(*pgro);
  for (int i = 1; i <= 3; ++i) {
    const std::string name = "s" + std::to_string(i);
    auto reply = roundTrip(
        client, wire::parse(name, "SELECT $1::int4 + " + std::to_string(i), {23}) + wire::sync());
    ASSERT_TRUE(succeeded(reply)) << name << ": " << describe(reply);
    EXPECT_EQ(typeSequence(reply.messages), "1Z");
  }

  // The fourth: refused by pgro, the rest of the batch skipped to Sync, nothing upstream.
  const std::size_t log_start = postgres().logOffset();
  auto refused =
      roundTrip(client, wire::parse("s4", "SELECT $1::int4 + 4 AS fourth_marker", {23}) +
                            wire::bind("", "s4", {"1"}) + wire::execute("") + wire::sync());
  ASSERT_TRUE(refused.ready) << describe(refused);
  EXPECT_EQ(typeSequence(refused.messages), "EZ");
  auto error = firstError(refused.messages);
  ASSERT_TRUE(error) << describe(refused);
  EXPECT_EQ(error->sqlstate(), "53400") << error->describe();
  EXPECT_EQ(error->severity(), "ERROR");
  EXPECT_NE(error->message().find("MAX_PREPARED_STATEMENTS=3"), std::string::npos)
      << error->describe();

  // The session goes on; the refused statement does not exist and never reached the server.
  auto after = client.query("SELECT 42");
  ASSERT_EQ(dataRows(after).size(), 1u) << typeSequence(after);
  EXPECT_EQ(dataRows(after)[0][0].value_or(""), "42");
  EXPECT_EQ(upstreamStatements(client), 3);
  EXPECT_EQ(postgres().serverLogSince(log_start).find("fourth_marker"), std::string::npos);
  auto missing = roundTrip(client, wire::bind("", "s4", {"1"}) + wire::execute("") + wire::sync());
  ASSERT_TRUE(firstError(missing.messages)) << describe(missing);
  EXPECT_EQ(firstError(missing.messages)->sqlstate(), "26000");

  // A name the client holds already is PostgreSQL's duplicate error, not the limit.
  auto duplicate = roundTrip(client, wire::parse("s2", "SELECT 2") + wire::sync());
  ASSERT_TRUE(firstError(duplicate.messages)) << describe(duplicate);
  EXPECT_EQ(firstError(duplicate.messages)->sqlstate(), "42P05");

  // Close frees a slot.
  auto closed = roundTrip(client, wire::closeStatement("s1") + wire::sync());
  EXPECT_EQ(typeSequence(closed.messages), "3Z") << describe(closed);
  auto fourth = roundTrip(
      client, wire::parse("s4", "SELECT $1::int4 + 4 AS fourth_marker", {23}) + wire::sync());
  EXPECT_TRUE(succeeded(fourth)) << describe(fourth);
  // So does DEALLOCATE.
  auto full = roundTrip(client, wire::parse("s5", "SELECT $1::int4 + 5", {23}) + wire::sync());
  ASSERT_TRUE(firstError(full.messages)) << describe(full);
  EXPECT_EQ(firstError(full.messages)->sqlstate(), "53400");
  auto deallocated = client.query("DEALLOCATE s2");
  EXPECT_EQ(firstError(deallocated), std::nullopt) << typeSequence(deallocated);
  auto fifth = roundTrip(client, wire::parse("s5", "SELECT $1::int4 + 5", {23}) + wire::sync());
  EXPECT_TRUE(succeeded(fifth)) << describe(fifth);

  // What the client holds still runs, with the right results.
  EXPECT_EQ(runStatement(client, "s3", "10"), "13");
  EXPECT_EQ(runStatement(client, "s4", "10"), "14");
  EXPECT_EQ(runStatement(client, "s5", "10"), "15");
  for (const char* gone : {"s1", "s2"}) {
    auto reply = roundTrip(client, wire::bind("", gone, {"1"}) + wire::execute("") + wire::sync());
    ASSERT_TRUE(firstError(reply.messages)) << gone << ": " << describe(reply);
    EXPECT_EQ(firstError(reply.messages)->sqlstate(), "26000") << gone;
  }
}

TEST(PreparedLimitTest, UpstreamConnectionClosesLeastRecentlyUsedStatements) {
  auto pgro = startPgro(limitEnv(2));
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  // Four distinct statements, two per client, on one upstream connection that keeps two.
  struct Statement {
    RawPgClient* client;
    std::string name;
    int factor;
  };
  std::vector<Statement> statements = {
      {&a, "a1", 10}, {&a, "a2", 20}, {&b, "b1", 30}, {&b, "b2", 40}};
  for (const auto& s : statements) {
    auto reply = roundTrip(
        *s.client,
        wire::parse(s.name, "SELECT $1::int4 * " + std::to_string(s.factor) + " AS " + s.name,
                    {23}) +
            wire::sync());
    ASSERT_TRUE(succeeded(reply)) << s.name << ": " << describe(reply);
    EXPECT_LE(upstreamStatements(a), 2) << "after preparing " << s.name;
  }
  for (int round = 1; round <= 3; ++round) {
    for (const auto& s : statements) {
      EXPECT_EQ(runStatement(*s.client, s.name, std::to_string(round)),
                std::to_string(round * s.factor))
          << s.name << " round " << round;
      EXPECT_LE(upstreamStatements(b), 2) << "after running " << s.name;
    }
  }
  // One pipeline that prepares statements again on the way, with Describe and Bind.
  std::string pipeline;
  for (const char* name : {"a1", "a2", "a1"}) {
    pipeline += wire::describeStatement(name) + wire::bind("", name, {"7"}) + wire::execute("");
  }
  pipeline += wire::sync();
  auto reply = roundTrip(a, pipeline);
  ASSERT_TRUE(succeeded(reply)) << describe(reply);
  EXPECT_EQ(typeSequence(reply.messages), "tT2DCtT2DCtT2DCZ");
  auto rows = dataRows(reply.messages);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0].value_or(""), "70");
  EXPECT_EQ(rows[1][0].value_or(""), "140");
  EXPECT_EQ(rows[2][0].value_or(""), "70");
  EXPECT_LE(upstreamStatements(a), 2);
  // Every statement the server ran was one of pgro's (pgro_N), never a client's name.
  const std::string log = postgres().serverLog();
  EXPECT_NE(log.find("execute pgro_"), std::string::npos);
  EXPECT_EQ(log.find("execute a1"), std::string::npos);
}

TEST(PreparedLimitTest, EvictionSkippedAfterAnErrorKeepsTheStatement) {
  // An error early in a pipeline makes the server skip the Close pgro injected to make room:
  // that statement is still prepared upstream, and pgro must go on counting it.
  auto pgro = startPgro(limitEnv(2));
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  for (const char* name : {"s1", "s2"}) {
    auto reply = roundTrip(
        a, wire::parse(name, std::string("SELECT $1::int4 + 1 AS ") + name, {23}) + wire::sync());
    ASSERT_TRUE(succeeded(reply)) << describe(reply);
  }
  // b's statement evicts s1 upstream.
  auto t1 = roundTrip(b, wire::parse("t1", "SELECT $1::int4 + 2 AS t1", {23}) + wire::sync());
  ASSERT_TRUE(succeeded(t1)) << describe(t1);
  // Preparing s1 again would evict s2, but 1/0 fails at Bind first (folded while planning):
  // the Close, the Parse and the rest are skipped.
  auto failed =
      roundTrip(a, wire::parse("", "SELECT 1/0") + wire::bind("", "") + wire::execute("") +
                       wire::bind("", "s1", {"1"}) + wire::execute("") + wire::sync());
  ASSERT_TRUE(failed.ready) << describe(failed);
  ASSERT_TRUE(firstError(failed.messages)) << describe(failed);
  EXPECT_EQ(firstError(failed.messages)->sqlstate(), "22012");
  EXPECT_LE(upstreamStatements(a), 2);
  for (int round = 1; round <= 2; ++round) {
    EXPECT_EQ(runStatement(a, "s2", "10"), "11");
    EXPECT_EQ(runStatement(a, "s1", "20"), "21");
    EXPECT_EQ(runStatement(b, "t1", "30"), "32");
    EXPECT_LE(upstreamStatements(a), 2) << "round " << round;
  }
}

TEST(PreparedLimitTest, PgbenchPreparedModeWithSmallLimit) {
  postgres().initPgbench(1);  // directly: pgbench -i writes
  // pgbench -S -M prepared holds one named statement per client; four clients share two
  // upstream connections.
  auto pgro = startPgro({{"MAX_PREPARED_STATEMENTS", "1"}, {"POOL_SIZE", "2"}});
  CommandResult run =
      runCommand({"pgbench", "-n", "-S", "-M", "prepared", "-c", "4", "-j", "2", "-T", "3"},
                 pgro->libpqEnv(), 60s);
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  std::smatch m;
  static const std::regex failed_re(R"(number of failed transactions: ([0-9]+))");
  static const std::regex processed_re(R"(number of transactions actually processed: ([0-9]+))");
  ASSERT_TRUE(std::regex_search(run.out, m, failed_re)) << run.out;
  EXPECT_EQ(std::stol(m[1]), 0) << run.out;
  ASSERT_TRUE(std::regex_search(run.out, m, processed_re)) << run.out;
  EXPECT_GT(std::stol(m[1]), 0) << run.out;
}

}  // namespace
}  // namespace pgro::it
