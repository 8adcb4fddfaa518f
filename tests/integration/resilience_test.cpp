// Failure handling: pool exhaustion, an unreachable or dying upstream, malformed client
// input, cancel requests, and refused protocol features. Every case checks that other
// clients and the pgro process are unaffected.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A client that has run a query successfully, then `SELECT 1` works again.
void expectWorks(RawPgClient& client, const std::string& who) {
  RawPgClient::Reply r;
  client.send(wire::query("SELECT 1"));
  r = client.readReply(10s);
  EXPECT_TRUE(succeeded(r)) << who << ": " << describe(r);
  auto rows = dataRows(r.messages);
  ASSERT_EQ(rows.size(), 1u) << who;
  EXPECT_EQ(rows[0][0].value_or(""), "1") << who;
}

TEST(PoolTest, ExhaustedPoolFailsClearlyAfterTimeoutAndRecovers) {
  auto pgro =
      startPgro({{"POOL_SIZE", "1"}, {"POOL_TIMEOUT_SECONDS", "2"}, {"CACHE_ENABLED", "false"}});
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  ASSERT_EQ(firstError(a.query("BEGIN")), std::nullopt);
  auto in_tx = a.query("SELECT 1");
  ASSERT_EQ(in_tx.back().body, "T") << "client A is not inside a transaction";

  auto start = Clock::now();
  b.send(wire::query("SELECT 1"));
  RawPgClient::Reply waited = b.readReply(15s);
  double elapsed = secondsSince(start);
  auto error = firstError(waited.messages);
  ASSERT_TRUE(error) << "client B was not refused while the only server connection was held: "
                     << describe(waited);
  static const std::set<std::string> expected = {"53300", "53400", "08006", "08001", "57014"};
  EXPECT_TRUE(expected.count(error->sqlstate())) << error->describe();
  std::string text = lower(error->message() + " " + error->detail() + " " + error->hint());
  EXPECT_TRUE(text.find("pool") != std::string::npos || text.find("timeout") != std::string::npos ||
              text.find("timed out") != std::string::npos)
      << error->describe();
  EXPECT_GE(elapsed, 1.5) << "refused before POOL_TIMEOUT_SECONDS";
  EXPECT_LE(elapsed, 8.0) << "refused long after POOL_TIMEOUT_SECONDS";

  auto commit = a.query("COMMIT");
  EXPECT_EQ(firstError(commit), std::nullopt);
  // B goes on if its session survived the refusal, else a new connection works.
  if (waited.ready) {
    expectWorks(b, "client B after A committed");
  } else {
    RawPgClient b2 = connectProxy(*pgro);
    expectWorks(b2, "a new client after A committed");
  }
  expectWorks(a, "client A after commit");
}

TEST(UpstreamTest, UnreachableUpstreamAtStartupExitsWithOneClearLine) {
  Env env = pgroBaseEnv(postgres());
  uint16_t closed_port = freeLoopbackPort();  // nothing listens there
  env["UPSTREAM_PORT"] = std::to_string(closed_port);
  auto start = Clock::now();
  CommandResult r = runPgro(pgroBinary(), env, {}, 30s);
  double elapsed = secondsSince(start);
  EXPECT_FALSE(r.timed_out) << "pgro kept running with an unreachable upstream";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_LE(elapsed, 15.0);
  std::istringstream lines(r.out + "\n" + r.err);
  std::string line;
  bool clear_line = false;
  while (std::getline(lines, line)) {
    std::string l = lower(line);
    if (l.find("upstream") != std::string::npos &&
        (l.find("connect") != std::string::npos || l.find("refused") != std::string::npos ||
         l.find("unreachable") != std::string::npos ||
         l.find(std::to_string(closed_port)) != std::string::npos)) {
      clear_line = true;
    }
  }
  EXPECT_TRUE(clear_line) << "no line names the upstream failure:\n" << r.describe();
  EXPECT_EQ((r.out + r.err).find(postgres().password()), std::string::npos);
}

TEST(UpstreamTest, BackendKilledMidQueryFailsThatClientOnly) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"ALLOW_PG_SLEEP", "true"}});
  RawPgClient bystander = connectProxy(*pgro);
  expectWorks(bystander, "bystander before");
  RawPgClient victim = connectProxy(*pgro);
  victim.send(wire::query("SELECT pg_sleep(30)"));
  ASSERT_TRUE(waitForActiveQuery("pg_sleep(30)", 10s)) << "the query never reached PostgreSQL";
  auto killed = postgres().execDirect(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()");
  ASSERT_EQ(killed.size(), 1u);

  auto start = Clock::now();
  RawPgClient::Reply r = victim.readReply(10s);
  EXPECT_LE(secondsSince(start), 10.0);
  ASSERT_FALSE(r.timed_out) << "client hangs after its backend was killed: " << describe(r);
  auto error = firstError(r.messages);
  ASSERT_TRUE(error) << "no ErrorResponse: " << describe(r);
  EXPECT_TRUE(error->sqlstate() == "57P01" || error->sqlstate() == "08006") << error->describe();

  RawPgClient fresh = connectProxy(*pgro);
  expectWorks(fresh, "a new client after the kill");
  expectWorks(bystander, "bystander after");
  EXPECT_TRUE(pgro->running());
}

struct MalformedCase {
  const char* name;
  std::string bytes;
  // PostgreSQL itself answers some violations with ERROR and goes on (a Query without its
  // terminating zero byte: "invalid string in message"); pgro may do either.
  bool may_continue = false;
};

// Test names and ctest listings show the case name, not the bytes.
void PrintTo(const MalformedCase& c, std::ostream* os) {
  *os << c.name;
}

class MalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, OffendingClientGets08P01AndIsClosedOthersContinue) {
  auto pgro = startPgro({{"MAX_MESSAGE_BYTES", "1024"}});
  RawPgClient before = connectProxy(*pgro);
  expectWorks(before, "client connected before");

  RawPgClient bad = connectProxy(*pgro);
  (void)bad.trySend(GetParam().bytes);
  RawPgClient::Reply got = bad.readReply(10s);
  if (got.ready && GetParam().may_continue) {
    expectWorks(bad, "the offending client, which pgro let go on");
  } else {
    if (got.ready) {
      EXPECT_FALSE(got.ready) << "session went on after a protocol violation: " << describe(got);
    } else if (!got.closed) {
      ADD_FAILURE() << "the offending connection stays open: " << describe(got);
    }
  }
  auto error = firstError(got.messages);
  ASSERT_TRUE(error) << "no ErrorResponse: " << describe(got);
  EXPECT_EQ(error->sqlstate(), "08P01") << error->describe();

  EXPECT_TRUE(pgro->running()) << "pgro died on malformed input";
  expectWorks(before, "client connected before");
  RawPgClient after = connectProxy(*pgro);
  expectWorks(after, "client connected after");
}

std::string oversized() {
  std::string body(5000, 'x');
  return wire::messageWithLength('Q', 5004, body);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, MalformedTest,
    ::testing::Values(
        MalformedCase{"QueryLengthThree", wire::messageWithLength('Q', 3, "")},
        MalformedCase{"LengthOverMaxMessageBytes", oversized()},
        MalformedCase{"HugeLengthHeaderOnly", wire::messageWithLength('Q', 0x7ffffff0, "SEL")},
        MalformedCase{"UnknownMessageType", wire::message('z', "abc")},
        MalformedCase{"QueryWithoutTerminator", wire::message('Q', "SELECT 1"), true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CancelTest, CancelWithProxyKeyStopsTheQuery) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"ALLOW_PG_SLEEP", "true"}});
  RawPgClient client = connectProxy(*pgro);
  client.send(wire::query("SELECT pg_sleep(10)"));
  ASSERT_TRUE(waitForActiveQuery("pg_sleep(10)", 10s));
  auto start = Clock::now();
  client.cancelSelf();
  RawPgClient::Reply r = client.readReply(8s);
  double elapsed = secondsSince(start);
  auto error = firstError(r.messages);
  ASSERT_TRUE(error) << describe(r);
  EXPECT_EQ(error->sqlstate(), "57014") << error->describe();
  EXPECT_LE(elapsed, 3.0);
  EXPECT_TRUE(r.ready) << describe(r);
  expectWorks(client, "the cancelled client");
}

TEST(CancelTest, CancelWithWrongKeyDoesNothing) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"ALLOW_PG_SLEEP", "true"}});
  RawPgClient client = connectProxy(*pgro);
  RawPgClient other = connectProxy(*pgro);
  const StartupResult& keys = client.startupResult();
  ASSERT_TRUE(keys.backend_pid && keys.backend_key);
  client.send(wire::query("SELECT pg_sleep(1.5)"));
  ASSERT_TRUE(waitForActiveQuery("pg_sleep(1.5)", 10s));
  std::mt19937 rng(12345);
  // The right pid with a wrong key, random pairs, and the other session's pid with this
  // session's key.
  client.sendCancel(*keys.backend_pid, *keys.backend_key ^ 0x5a5a5a5a);
  for (int i = 0; i < 5; ++i) {
    client.sendCancel(static_cast<int32_t>(rng()), static_cast<int32_t>(rng()));
  }
  client.sendCancel(*other.startupResult().backend_pid, *keys.backend_key);
  RawPgClient::Reply r = client.readReply(10s);
  EXPECT_TRUE(succeeded(r)) << "the query was disturbed: " << describe(r);
  expectWorks(other, "the other session");
  EXPECT_TRUE(pgro->running());
}

TEST(RefusedFeatureTest, FunctionCallIsRefusedAndSessionGoesOn) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  client.send(wire::functionCall(2026 /* pg_backend_pid */, {}));
  RawPgClient::Reply r = client.readReply(10s);
  ASSERT_TRUE(r.ready) << describe(r);
  auto error = firstError(r.messages);
  ASSERT_TRUE(error) << describe(r);
  EXPECT_EQ(error->sqlstate(), "0A000") << error->describe();
  EXPECT_EQ(typeSequence(r.messages), "EZ");
  expectWorks(client, "after FunctionCall");
}

TEST(RefusedFeatureTest, CopyFromStdinIsRefusedAndSessionGoesOn) {
  TempPostgres& pg = postgres();
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  std::size_t mark = pg.logOffset();
  client.send(wire::query("COPY copy_target FROM STDIN"));
  RawPgClient::Reply r = client.readReply(10s);
  if (!r.messages.empty() && r.messages.back().type == 'G') {
    // CopyInResponse: the proxy let COPY FROM through. End it cleanly, then fail.
    client.send(wire::copyFail("test ends the COPY"));
    (void)client.readReply(10s);
    FAIL() << "COPY FROM STDIN was started through pgro";
  }
  ASSERT_TRUE(r.ready) << describe(r);
  auto error = firstError(r.messages);
  ASSERT_TRUE(error) << describe(r);
  EXPECT_EQ(pg.execDirect("SELECT count(*) FROM copy_target")[0][0].as<int>(), 0);
  EXPECT_FALSE(pg.logContains("COPY copy_target FROM STDIN", mark))
      << "the refused statement reached PostgreSQL";
  expectWorks(client, "after COPY FROM STDIN");
  // COPY TO STDOUT (a read) still works.
  auto out = client.query("COPY (SELECT id FROM typed_values ORDER BY id) TO STDOUT");
  EXPECT_EQ(firstError(out), std::nullopt);
  EXPECT_EQ(typeSequence(out), "HdddddcCZ");
}

}  // namespace
}  // namespace pgro::it
