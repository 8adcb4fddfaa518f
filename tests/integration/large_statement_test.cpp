// Parsing never stalls other sessions (issue 13, section 5): statement texts of megabytes are
// classified on pgro's classification pool, not on the event loop, while other sessions'
// queries go on. No timing is asserted (tests/bench/large_statement_latency.py measures it);
// this checks that everything completes with the right answers, refusals included.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

// `SELECT count(*) FROM (VALUES (0), (1), ...) AS v(x) WHERE x % 7 = 0` of about `bytes`.
std::string largeSelect(std::size_t bytes, int& rows) {
  std::string sql = "SELECT count(*) FROM (VALUES (0)";
  rows = 1;
  while (sql.size() < bytes) {
    sql += ", (" + std::to_string(rows++) + ")";
  }
  sql += ") AS v(x) WHERE x % 7 = 0";
  return sql;
}

TEST(LargeStatement, OtherSessionsAnswerWhileMegabytesAreParsed) {
  auto pgro = startPgro({{"WORKER_THREADS", "1"}, {"POOL_SIZE", "2"}});
  RawPgClient big = connectProxy(*pgro);
  RawPgClient small = connectProxy(*pgro);
  int rows = 0;
  const std::string select = largeSelect(std::size_t{2} << 20, rows);
  const std::string expected = std::to_string((rows - 1) / 7 + 1);
  // A refused text of the same size: the write is found after the whole parse.
  const std::string refused = select + "; INSERT INTO typed_values (id) VALUES (-1)";

  std::atomic<bool> done{false};
  std::string big_failure;
  std::thread streamer([&] {
    for (int i = 0; i < 4 && big_failure.empty(); ++i) {
      const bool write = i % 2 == 1;
      const auto reply = big.query(write ? refused : select, 120s);
      const auto error = firstError(reply);
      const auto values = dataRows(reply);
      if (write) {
        if (!error || error->sqlstate() != "25006") big_failure = "write not refused";
      } else if (error || values.empty() || values.back()[0] != expected) {
        big_failure = error ? error->describe() : "wrong count";
      }
    }
    done = true;
  });
  int answered = 0;
  for (int i = 0; !done || answered < 20; ++i) {
    const auto reply = small.query("SELECT " + std::to_string(i) + " AS n", 60s);
    const auto values = dataRows(reply);
    ASSERT_FALSE(firstError(reply)) << firstError(reply)->describe();
    ASSERT_EQ(values.size(), 1U);
    EXPECT_EQ(values[0][0], std::to_string(i));
    ++answered;
  }
  streamer.join();
  EXPECT_TRUE(big_failure.empty()) << big_failure;
  EXPECT_GE(answered, 20);
  EXPECT_EQ(
      postgres().execDirect("SELECT count(*) FROM typed_values WHERE id = -1")[0][0].as<int>(), 0);
}

}  // namespace
}  // namespace pgro::it
