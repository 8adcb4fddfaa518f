// The statements pgro keeps prepared on one upstream connection: at most the limit, the
// least recently used (prepared, bound or described) evicted first.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "upstream/server_connection.hpp"

namespace pgro::upstream {
namespace {

class PreparedStatementsTest : public ::testing::Test {
 protected:
  // An open socket: moving a never-opened one trips GCC 12's -Wuninitialized at -O2 (asio
  // leaves its reactor slot unset until open).
  ServerConnection make(std::size_t limit) {
    return ServerConnection(asio::ip::tcp::socket(io_, asio::ip::tcp::v4()), limit);
  }
  // Keys long enough to live on the heap and short enough for the small-string buffer:
  // the index holds views into the list's nodes, which must stay valid for both.
  static std::string key(int i) {
    return i % 2 == 0 ? "q" + std::to_string(i)
                      : "SELECT a long statement text beyond any small-string buffer " +
                            std::to_string(i) + std::string(1, '\0') + "types";
  }

  asio::io_context io_;
};

TEST_F(PreparedStatementsTest, EvictsNothingBelowTheLimit) {
  auto conn = make(3);
  EXPECT_FALSE(conn.evictPrepared());
  EXPECT_EQ(conn.addPrepared(key(1)), "pgro_1");
  EXPECT_EQ(conn.addPrepared(key(2)), "pgro_2");
  EXPECT_FALSE(conn.evictPrepared());
  EXPECT_EQ(conn.preparedCount(), 2u);
  ASSERT_NE(conn.usePrepared(key(1)), nullptr);
  EXPECT_EQ(*conn.usePrepared(key(1)), "pgro_1");
  EXPECT_EQ(conn.usePrepared(key(3)), nullptr);
}

TEST_F(PreparedStatementsTest, EvictsTheLeastRecentlyUsed) {
  auto conn = make(3);
  for (int i = 1; i <= 3; ++i) conn.addPrepared(key(i));
  // Using the oldest makes the second the least recently used.
  ASSERT_NE(conn.usePrepared(key(1)), nullptr);
  auto evicted = conn.evictPrepared();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, key(2));
  EXPECT_EQ(evicted->name, "pgro_2");
  EXPECT_EQ(conn.usePrepared(key(2)), nullptr);
  EXPECT_FALSE(conn.evictPrepared());
  EXPECT_EQ(conn.addPrepared(key(4)), "pgro_4");
  evicted = conn.evictPrepared();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, key(3));
  EXPECT_FALSE(conn.evictPrepared());  // below the limit again
  EXPECT_EQ(conn.preparedCount(), 2u);
  EXPECT_EQ(*conn.usePrepared(key(1)), "pgro_1");
  EXPECT_EQ(*conn.usePrepared(key(4)), "pgro_4");
}

TEST_F(PreparedStatementsTest, RestoreAndForget) {
  auto conn = make(2);
  conn.addPrepared(key(1));
  conn.addPrepared(key(2));
  auto evicted = conn.evictPrepared();
  ASSERT_TRUE(evicted);
  conn.addPrepared(key(1) + "x");
  // The Close and the Parse were skipped: undone newest first.
  conn.forgetPrepared(key(1) + "x");
  conn.restorePrepared(std::move(*evicted));
  EXPECT_EQ(conn.preparedCount(), 2u);
  EXPECT_EQ(*conn.usePrepared(key(1)), "pgro_1");
  // Restoring a key that is present replaces its name.
  conn.restorePrepared({key(2), "pgro_9"});
  EXPECT_EQ(conn.preparedCount(), 2u);
  EXPECT_EQ(*conn.usePrepared(key(2)), "pgro_9");
  conn.forgetPrepared(key(2));
  conn.forgetPrepared(key(2));
  EXPECT_EQ(conn.preparedCount(), 1u);
  EXPECT_EQ(conn.usePrepared(key(2)), nullptr);
}

TEST_F(PreparedStatementsTest, LimitBelowOneMeansOne) {
  auto conn = make(0);
  conn.addPrepared(key(1));
  auto evicted = conn.evictPrepared();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, key(1));
}

TEST_F(PreparedStatementsTest, ManyUsesKeepTheIndexConsistent) {
  auto conn = make(16);
  uint32_t seed = 12345;  // seeded: the same sequence every run
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::string k = key(static_cast<int>(next() % 40));
    if (conn.usePrepared(k) != nullptr) continue;
    while (auto evicted = conn.evictPrepared()) {
      ASSERT_EQ(conn.usePrepared(evicted->key), nullptr);
    }
    conn.addPrepared(k);
    ASSERT_LE(conn.preparedCount(), 16u);
  }
}

}  // namespace
}  // namespace pgro::upstream
