// The security corpus (tests/security) replayed through the real pgro against a real
// PostgreSQL: every refuse.sql entry is refused by pgro and none reaches the server (its
// statement log stays empty), every allow.sql entry is let through (PostgreSQL may still
// answer with its own error, e.g. EXECUTE without PREPARE; pgro must not refuse it).
#include <gtest/gtest.h>

#include "../security/corpus.hpp"
#include "integration_common.hpp"

namespace pgro::it {
namespace {

using pgro::testing::loadCorpus;

// pgro marks the errors it sends itself with the routine field 'R' = "pgro".
bool refusedByPgro(const RawPgClient::Reply& reply) {
  auto error = firstError(reply.messages);
  return error && error->get('R') == "pgro";
}

TEST(CorpusReplayTest, EveryRefuseEntryIsRefusedAndNeverReachesPostgres) {
  const auto entries = loadCorpus(std::string(PGRO_SECURITY_CORPUS_DIR) + "/refuse.sql");
  ASSERT_GE(entries.size(), 250u);
  auto pgro = startPgro({{"POOL_SIZE", "2"}});
  const std::size_t mark = postgres().logOffset();
  int refused = 0;
  for (const auto& entry : entries) {
    RawPgClient client = connectProxy(*pgro);
    client.send(wire::query(entry.sql));
    auto reply = client.readReply(10s);
    if (refusedByPgro(reply)) {
      ++refused;
    } else {
      ADD_FAILURE() << "refuse.sql:" << entry.line << " not refused by pgro: " << entry.sql
                    << "\n  " << describe(reply);
    }
  }
  EXPECT_EQ(refused, static_cast<int>(entries.size()));
  // Nothing was executed upstream: not one statement in PostgreSQL's log (log_statement=all).
  const std::string log = postgres().serverLogSince(mark);
  EXPECT_EQ(log.find("LOG:  statement:"), std::string::npos)
      << "a refused statement reached PostgreSQL:\n"
      << log.substr(log.find("LOG:  statement:"), 400);
}

// Both pool modes: the session answers some allowed statements itself (DEALLOCATE, DISCARD)
// differently in each.
class CorpusAllowReplay : public ::testing::TestWithParam<const char*> {};

TEST_P(CorpusAllowReplay, EveryAllowEntryIsLetThrough) {
  const auto entries = loadCorpus(std::string(PGRO_SECURITY_CORPUS_DIR) + "/allow.sql");
  ASSERT_GE(entries.size(), 200u);
  auto pgro = startPgro({{"POOL_SIZE", "2"}, {"POOL_MODE", GetParam()}});
  int passed = 0;
  for (const auto& entry : entries) {
    RawPgClient client = connectProxy(*pgro);
    client.send(wire::query(entry.sql));
    auto reply = client.readReply(20s);
    if (!reply.ready) {
      ADD_FAILURE() << "allow.sql:" << entry.line << " got no ReadyForQuery: " << entry.sql;
    } else if (refusedByPgro(reply)) {
      ADD_FAILURE() << "allow.sql:" << entry.line << " refused by pgro: " << entry.sql << "\n  "
                    << describe(reply);
    } else {
      ++passed;
    }
  }
  EXPECT_EQ(passed, static_cast<int>(entries.size()));
}

INSTANTIATE_TEST_SUITE_P(CorpusReplayTest, CorpusAllowReplay,
                         ::testing::Values("transaction", "session"));

}  // namespace
}  // namespace pgro::it
