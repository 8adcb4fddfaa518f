// SIGTERM: stop accepting, let running transactions finish up to SHUTDOWN_TIMEOUT_SECONDS,
// then end the remaining sessions with 57P01 and exit 0 (DESIGN.md section 7).
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

using Clock = std::chrono::steady_clock;

// After SIGTERM a new client must not get a working session: either the TCP connect is
// refused, or the login ends without ReadyForQuery.
bool newClientRefused(const PgroProcess& pgro) {
  try {
    RawPgClient client(pgro.host(), pgro.port());
    StartupResult r = client.startup(pgro.user(), pgro.password(), pgro.database(), {}, 5s);
    return !r.ok;
  } catch (const std::exception&) {
    return true;  // connect refused, or closed during startup
  }
}

TEST(ShutdownTest, SigtermLetsARunningTransactionFinish) {
  auto pgro = startPgro({{"SHUTDOWN_TIMEOUT_SECONDS", "20"}});
  RawPgClient client = connectProxy(*pgro);
  ASSERT_EQ(firstError(client.query("BEGIN")), std::nullopt);
  auto first = client.query("SELECT 1");
  ASSERT_EQ(first.back().body, "T");

  pgro->sendSignal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(newClientRefused(*pgro)) << "pgro accepted a new session after SIGTERM";
  EXPECT_TRUE(pgro->running()) << "pgro exited with a transaction still open";

  auto second = client.query("SELECT 2");
  EXPECT_EQ(firstError(second), std::nullopt);
  auto rows = dataRows(second);
  ASSERT_EQ(rows.size(), 1u) << typeSequence(second);
  EXPECT_EQ(rows[0][0].value_or(""), "2");
  RawPgClient::Reply commit;
  client.send(wire::query("COMMIT"));
  commit = client.readReply(10s);
  EXPECT_TRUE(succeeded(commit)) << describe(commit);

  auto code = pgro->waitExit(10s);
  ASSERT_TRUE(code.has_value()) << "pgro still running after the last transaction ended";
  EXPECT_EQ(*code, 0);
}

TEST(ShutdownTest, IdleInTransactionIsEndedWith57P01AfterTimeout) {
  auto pgro = startPgro({{"SHUTDOWN_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(*pgro);
  ASSERT_EQ(firstError(client.query("BEGIN")), std::nullopt);
  ASSERT_EQ(client.query("SELECT 1").back().body, "T");

  auto start = Clock::now();
  pgro->sendSignal(SIGTERM);
  std::vector<Message> got;
  ASSERT_NO_THROW(got = client.readUntilClosed(10s)) << "session not ended after the timeout";
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto error = firstError(got);
  ASSERT_TRUE(error) << "closed without ErrorResponse: [" << typeSequence(got) << "]";
  EXPECT_EQ(error->sqlstate(), "57P01") << error->describe();
  EXPECT_GE(elapsed, 1.5) << "ended before SHUTDOWN_TIMEOUT_SECONDS";

  auto code = pgro->waitExit(10s);
  ASSERT_TRUE(code.has_value()) << "pgro still running";
  EXPECT_EQ(*code, 0);
  // The upstream transaction was rolled back, not left open (the backend may take a moment
  // to notice its connection closed).
  int open = -1;
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;
       std::this_thread::sleep_for(100ms)) {
    open =
        postgres()
            .execDirect(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")[0]
                                                                                                [0]
            .as<int>();
    if (open == 0) break;
  }
  EXPECT_EQ(open, 0);
}

TEST(ShutdownTest, IdleClientsAreClosedAndPgroExitsPromptly) {
  auto pgro = startPgro({{"SHUTDOWN_TIMEOUT_SECONDS", "20"}});
  RawPgClient idle = connectProxy(*pgro);
  ASSERT_EQ(firstError(idle.query("SELECT 1")), std::nullopt);
  auto start = Clock::now();
  pgro->sendSignal(SIGTERM);
  auto code = pgro->waitExit(10s);
  ASSERT_TRUE(code.has_value()) << "an idle client kept pgro alive";
  EXPECT_EQ(*code, 0);
  EXPECT_LE(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
}

}  // namespace
}  // namespace pgro::it
