// fuzz-smoke: the libFuzzer property, run as a normal test over the security corpus and a
// few thousand seeded mutations of it (deterministic: the same strings every run).
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "policy/classifier.hpp"
#include "write_oracle.hpp"

namespace pgro::policy {
namespace {

const std::string kCorpusDir = PGRO_SECURITY_CORPUS_DIR;

std::vector<std::string> corpusTexts() {
  std::vector<std::string> texts;
  for (const char* file : {"/allow.sql", "/refuse.sql"}) {
    for (const auto& entry : testing::loadCorpus(kCorpusDir + file)) {
      texts.push_back(entry.sql);
    }
  }
  return texts;
}

// Checks the fuzz property on one string; returns false (with a failure) when violated.
bool holds(const std::string& sql) {
  const Verdict verdict = classify(sql);
  if (!verdict.allowed) {
    EXPECT_FALSE(verdict.sqlstate.empty()) << sql;
    EXPECT_FALSE(verdict.message.empty()) << sql;
    return true;
  }
  if (verdict.statement_count == 0) {
    return true;
  }
  const testing::OracleResult oracle = testing::findWriteNode(sql);
  EXPECT_TRUE(oracle.parsed) << "allowed but unparsable:\n" << sql;
  EXPECT_EQ(oracle.violation, "") << "allowed:\n" << sql;
  return oracle.parsed && oracle.violation.empty();
}

TEST(FuzzSmoke, OracleSeesTheWritesOfTheCorpus) {
  // The oracle is not vacuous: it flags the plain writes of refuse.sql on its own.
  int flagged = 0;
  for (const auto& entry : testing::loadCorpus(kCorpusDir + "/refuse.sql")) {
    if (entry.section.find("Plain writes") == std::string::npos) {
      continue;
    }
    const auto oracle = testing::findWriteNode(entry.sql);
    EXPECT_FALSE(oracle.violation.empty()) << entry.sql;
    flagged += oracle.violation.empty() ? 0 : 1;
  }
  EXPECT_GT(flagged, 50);
  EXPECT_EQ(testing::findWriteNode("SELECT pg_catalog.PG_READ_FILE('x')").violation,
            "call of pg_read_file");
  EXPECT_EQ(testing::findWriteNode("SELECT 'pg_read_file', \"InsertStmt\" FROM t").violation, "");
}

TEST(FuzzSmoke, CorpusEntriesHoldTheProperty) {
  for (const std::string& sql : corpusTexts()) {
    holds(sql);
  }
}

TEST(FuzzSmoke, SeededMutationsHoldTheProperty) {
  const std::vector<std::string> texts = corpusTexts();
  ASSERT_FALSE(texts.empty());
  static constexpr std::array<const char*, 40> kTokens = {
      ";",
      "(",
      ")",
      "'",
      "\"",
      "$$",
      "--",
      "/*",
      "*/",
      " INSERT INTO t VALUES (1)",
      " SELECT ",
      " INTO x",
      " FOR UPDATE",
      " WITH d AS (DELETE FROM t RETURNING 1) ",
      " RETURNING *",
      " pg_read_file('/x')",
      " lo_import('/x')",
      " nextval('s')",
      " set_config('role','x',false)",
      ".pg_read_file",
      " FROM pg_authid",
      " UNION SELECT ",
      " LATERAL ",
      " E'\\''",
      " U&\"pg_\\0061uthid\"",
      " COPY t TO '/f'",
      " EXPLAIN ANALYZE ",
      " PREPARE p AS ",
      " DECLARE c CURSOR FOR ",
      " BEGIN READ WRITE",
      " SET transaction_read_only = off",
      " ::regclass",
      " CASE WHEN ",
      " END",
      " ORDER BY ",
      " LIMIT ",
      ",",
      "*",
      " DO $x$ BEGIN END $x$",
      " CALL p()",
  };
  std::mt19937 rng(20240501);  // fixed seed: reproducible
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  constexpr int kMutations = 10000;
  int allowed = 0;
  for (int i = 0; i < kMutations; ++i) {
    std::string sql = texts[pick(texts.size())];
    const int steps = 1 + static_cast<int>(pick(4));
    for (int step = 0; step < steps; ++step) {
      const std::size_t at = sql.empty() ? 0 : pick(sql.size() + 1);
      switch (pick(6)) {
        case 0:  // insert a token
          sql.insert(at, kTokens[pick(kTokens.size())]);
          break;
        case 1:  // delete a range
          if (!sql.empty()) {
            sql.erase(std::min(at, sql.size() - 1), 1 + pick(16));
          }
          break;
        case 2:  // replace a byte: printable ASCII, or a high byte (non-UTF-8 clients)
          if (!sql.empty()) {
            sql[std::min(at, sql.size() - 1)] =
                static_cast<char>(pick(4) == 0 ? 0x80 + pick(128) : 32 + pick(95));
          }
          break;
        case 3:  // duplicate a range
          if (!sql.empty()) {
            const std::size_t from = pick(sql.size());
            sql.insert(at, sql.substr(from, 1 + pick(24)));
          }
          break;
        case 4: {  // splice with another entry
          const std::string& other = texts[pick(texts.size())];
          sql = sql.substr(0, at) + other.substr(pick(other.size() + 1));
          break;
        }
        default:  // append another statement
          sql += "; " + texts[pick(texts.size())];
          break;
      }
    }
    if (!holds(sql)) {
      ADD_FAILURE() << "mutation " << i << " broke the property";
      break;
    }
    if (classify(sql).allowed) {
      ++allowed;
    }
  }
  RecordProperty("mutations", kMutations);
  RecordProperty("allowed_mutations", allowed);
  EXPECT_GT(allowed, 100) << "mutations should exercise the allow path too";
}

}  // namespace
}  // namespace pgro::policy
