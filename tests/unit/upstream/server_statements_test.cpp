// The statements pgro keeps prepared on one upstream connection: at most the limit, the
// least recently used (prepared, bound or described) evicted first.
#include <gtest/gtest.h>

#include <set>

#include "upstream/server_statements.hpp"

namespace pgro::upstream {
namespace {

class PreparedStatementsTest : public ::testing::Test {
 protected:
  static ServerStatements make(std::size_t limit) { return ServerStatements(limit, "t"); }
  // Keys long enough to live on the heap and short enough for the small-string buffer:
  // the index holds views into the list's nodes, which must stay valid for both.
  static std::string key(int i) {
    return i % 2 == 0 ? "q" + std::to_string(i)
                      : "SELECT a long statement text beyond any small-string buffer " +
                            std::to_string(i) + std::string(1, '\0') + "types";
  }
};

TEST_F(PreparedStatementsTest, EvictsNothingBelowTheLimit) {
  auto conn = make(3);
  EXPECT_FALSE(conn.evict());
  EXPECT_EQ(conn.add(key(1)), "pgro_t_1");
  EXPECT_EQ(conn.add(key(2)), "pgro_t_2");
  EXPECT_FALSE(conn.evict());
  EXPECT_EQ(conn.size(), 2u);
  ASSERT_NE(conn.use(key(1)), nullptr);
  EXPECT_EQ(*conn.use(key(1)), "pgro_t_1");
  EXPECT_EQ(conn.use(key(3)), nullptr);
}

TEST_F(PreparedStatementsTest, EvictsTheLeastRecentlyUsed) {
  auto conn = make(3);
  for (int i = 1; i <= 3; ++i) conn.add(key(i));
  // Using the oldest makes the second the least recently used.
  ASSERT_NE(conn.use(key(1)), nullptr);
  auto evicted = conn.evict();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, key(2));
  EXPECT_EQ(evicted->name, "pgro_t_2");
  EXPECT_EQ(conn.use(key(2)), nullptr);
  EXPECT_FALSE(conn.evict());
  EXPECT_EQ(conn.add(key(4)), "pgro_t_4");
  evicted = conn.evict();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, key(3));
  EXPECT_FALSE(conn.evict());  // below the limit again
  EXPECT_EQ(conn.size(), 2u);
  EXPECT_EQ(*conn.use(key(1)), "pgro_t_1");
  EXPECT_EQ(*conn.use(key(4)), "pgro_t_4");
}

TEST_F(PreparedStatementsTest, RestoreAndForget) {
  auto conn = make(2);
  conn.add(key(1));
  conn.add(key(2));
  auto evicted = conn.evict();
  ASSERT_TRUE(evicted);
  conn.add(key(1) + "x");
  // The Close and the Parse were skipped: undone newest first.
  conn.forget(key(1) + "x");
  conn.restore(std::move(*evicted));
  EXPECT_EQ(conn.size(), 2u);
  EXPECT_EQ(*conn.use(key(1)), "pgro_t_1");
  // Restoring a key that is present replaces its name.
  conn.restore({key(2), "pgro_t_9"});
  EXPECT_EQ(conn.size(), 2u);
  EXPECT_EQ(*conn.use(key(2)), "pgro_t_9");
  conn.forget(key(2));
  conn.forget(key(2));
  EXPECT_EQ(conn.size(), 1u);
  EXPECT_EQ(conn.use(key(2)), nullptr);
}

TEST_F(PreparedStatementsTest, LimitBelowOneMeansOne) {
  auto conn = make(0);
  conn.add(key(1));
  auto evicted = conn.evict();
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
    if (conn.use(k) != nullptr) continue;
    while (auto evicted = conn.evict()) {
      ASSERT_EQ(conn.use(evicted->key), nullptr);
    }
    conn.add(k);
    ASSERT_LE(conn.size(), 16u);
  }
}

TEST_F(PreparedStatementsTest, NamesAreUnguessableIdentifiers) {
  std::set<std::string> prefixes;
  for (int i = 0; i < 100; ++i) {
    const std::string prefix = randomStatementPrefix();
    ASSERT_EQ(prefix.size(), 16u);
    EXPECT_EQ(prefix.find_first_not_of("0123456789abcdef"), std::string::npos) << prefix;
    prefixes.insert(prefix);
  }
  EXPECT_EQ(prefixes.size(), 100u);  // 64 random bits each: a repeat would mean no randomness
  ServerStatements a(4, randomStatementPrefix());
  ServerStatements b(4, randomStatementPrefix());
  const std::string& name = a.add(key(1));
  EXPECT_NE(name, b.add(key(1)));
  // Valid unquoted SQL identifiers: PREPARE/EXECUTE name them in rewritten statement text.
  EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos);
  EXPECT_LT(name.size(), 64u);
}

TEST_F(PreparedStatementsTest, UnnamedStatementOwner) {
  auto conn = make(2);
  EXPECT_EQ(conn.unnamed(), ServerStatements::UnnamedOwner{});
  conn.setUnnamed({.session = 7, .parse = 3});
  EXPECT_EQ(conn.unnamed(), (ServerStatements::UnnamedOwner{7, 3}));
  EXPECT_NE(conn.unnamed(), (ServerStatements::UnnamedOwner{7, 4}));
  EXPECT_NE(conn.unnamed(), (ServerStatements::UnnamedOwner{8, 3}));
}

}  // namespace
}  // namespace pgro::upstream
