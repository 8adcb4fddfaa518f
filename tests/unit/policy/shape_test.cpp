// numericShape(): numeric literals as PostgreSQL's scanner reads them, and nothing else.
#include "policy/shape.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../security/corpus.hpp"
#include "policy/classifier.hpp"

namespace pgro::policy {
namespace {

using namespace std::string_literals;

TEST(NumericShape, ReplacesEachNumericLiteralWithANul) {
  EXPECT_EQ(numericShape("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"),
            "SELECT abalance FROM pgbench_accounts WHERE aid = \0;"s);
  EXPECT_EQ(numericShape("SELECT 1.5, .5, 1e3, 2.e-4, 99999999999999999999 LIMIT 10"),
            "SELECT \0, \0, \0, \0, \0 LIMIT \0"s);
  EXPECT_EQ(numericShape("SELECT -7"), "SELECT -\0"s);  // the sign is an operator
  EXPECT_EQ(numericShape("SELECT x FROM t ORDER BY 1"), "SELECT x FROM t ORDER BY \0"s);
}

TEST(NumericShape, DigitsOutsideNumericLiteralsStay) {
  // Strings, quoted and bare identifiers, comments, parameters, dollar quotes, E'' escapes.
  EXPECT_EQ(numericShape("SELECT 'a1', \"b2\", c3, $1 /* 4 */ -- 5\n FROM t6"), std::nullopt);
  EXPECT_EQ(numericShape("SELECT $$ 7 $$, $q8$ 9 $q8$, E'\\x31', B'101', X'1F', U&'\\0031'"),
            std::nullopt);
  EXPECT_EQ(numericShape("SELECT 'it''s 10'"), std::nullopt);
  EXPECT_EQ(numericShape("SELECT md5('x'), int4pl(1, 2)"), "SELECT md5('x'), int4pl(\0, \0)"s);
}

TEST(NumericShape, NoShapeWithoutNumbersOrForBadInput) {
  EXPECT_EQ(numericShape("SELECT name FROM t"), std::nullopt);
  EXPECT_EQ(numericShape("SELECT 'unterminated 1"), std::nullopt);  // does not scan
  EXPECT_EQ(numericShape("SELECT 1\0;"s), std::nullopt);
  EXPECT_EQ(numericShape("SELECT " + std::string(9000, ' ') + "1"), std::nullopt);  // too long
}

TEST(NumericShape, SameShapeMeansOnlyNumbersDiffer) {
  EXPECT_EQ(numericShape("SELECT * FROM t WHERE id = 1"),
            numericShape("SELECT * FROM t WHERE id = 123456789012"));
  EXPECT_NE(numericShape("SELECT * FROM t WHERE id = 1"),
            numericShape("SELECT * FROM t WHERE id = -1"));
  EXPECT_NE(numericShape("SELECT 1.5"), numericShape("SELECT 1 .5"));
}

// The small scanner must find exactly what PostgreSQL's finds whenever it answers: a
// number it misreads would let two different statements share one verdict.
TEST(NumericShape, PlainScannerAgreesWithPostgresOnTrickyTexts) {
  const std::vector<std::string> texts = {
      "SELECT 1",
      "SELECT 1.",
      "SELECT .5",
      "SELECT 1.e5",
      "SELECT 1e+5, 2E-3",
      "SELECT t.5",
      "SELECT 1..2",
      "SELECT 1.5.3",
      "SELECT 1e",
      "SELECT 1e+",
      "SELECT 1abc",
      "SELECT 0x1F",
      "SELECT 1_000",
      "SELECT $1, $12",
      "SELECT $1a",
      "SELECT $$1$$",
      "SELECT $a$ 1 $a$",
      "SELECT 'a''1'",
      "SELECT 'a\\' || 1 || '2'",
      "SELECT E'\\' 1 '",
      "SELECT e'1'",
      "SELECT U&'1'",
      "SELECT u&\"1\"",
      "SELECT N'1'",
      "SELECT B'1', X'1'",
      "SELECT \"a\"\"1\"",
      "SELECT \"\" 1",
      "SELECT 1 -- 2\n, 3",
      "SELECT 1 --2\r3",
      "SELECT /* 1 /* 2 */ 3 */ 4",
      "SELECT /* 1 */ 2 /* 3",
      "SELECT 1+--2\n3",
      "SELECT 1/*2*/3",
      "SELECT 1*/2",
      "SELECT -1",
      "SELECT +1.5",
      "SELECT a1, _2, a$3",
      "SELECT 'x'\n'1'",
      "SELECT 1::int",
      "SELECT x[1:2]",
      "SELECT 1 FROM t WHERE a <> 2 AND b >= 3.0 OR c !~ '4'",
      "SELECT \xc3\xa9 1",
      "SELECT 1\v2",
      "SELECT 'é1', 2",
      "SELECT 1 \\ 2",
      "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
      "select count(*) from t where ts > now() - interval '5 minutes' limit 100 offset 20",
  };
  for (const auto& text : texts) EXPECT_TRUE(plainNumericShapeAgrees(text)) << text;
}

TEST(NumericShape, PlainScannerAgreesWithPostgresOnRandomTexts) {
  // Texts built from the pieces where scanners disagree: quotes, prefixes, comment marks,
  // dots, exponents, dollars, backslashes, digits next to letters.
  const std::vector<std::string> pieces = {
      "1",  "23", ".",  "..", "e",  "E",        "+",       "-",     "--",  "/*", "*/", "*",
      "/",  "'",  "''", "\"", "$",  "$1",       "$$",      "a",     "x1",  "_",  "&",  "U&",
      "E'", "\\", " ",  "\n", "\r", "\t",       "(",       ")",     ",",   ";",  ":",  "::",
      "[",  "]",  "<>", "=",  "!",  "\xc3\xa9", "SELECT ", "FROM ", "0.5",
  };
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int answered = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string text;
    const int count = 1 + static_cast<int>(next() % 12);
    for (int k = 0; k < count; ++k) text += pieces[next() % pieces.size()];
    std::vector<std::string> unused;
    ASSERT_TRUE(plainNumericShapeAgrees(text)) << "text: " << text;
    if (numericShape(text)) ++answered;
  }
  EXPECT_GT(answered, 1000);  // the generator reaches texts with numbers, not only bail-outs
}

TEST(NumericShape, PlainScannerAgreesWithPostgresOnTheCorpus) {
  for (const char* file : {"allow.sql", "refuse.sql", "isolation.sql"}) {
    const auto entries = testing::loadCorpus(std::string(PGRO_SECURITY_CORPUS_DIR) + "/" + file);
    ASSERT_FALSE(entries.empty()) << file;
    for (const auto& entry : entries) {
      EXPECT_TRUE(plainNumericShapeAgrees(entry.sql)) << file << ":" << entry.line;
    }
  }
}

TEST(ShapeSafe, OnlyPlainAllowedSelectsThatSetNothing) {
  EXPECT_TRUE(classify("SELECT abalance FROM pgbench_accounts WHERE aid = 1").shape_safe);
  EXPECT_TRUE(classify("SELECT now() - interval '1 day' * 3").shape_safe);  // not cacheable
  EXPECT_FALSE(classify("SELECT set_config('statement_timeout', '5', false)").shape_safe);
  EXPECT_FALSE(classify("SET statement_timeout = 5").shape_safe);
  EXPECT_FALSE(classify("EXPLAIN (ANALYZE 0) SELECT 1").shape_safe);
  EXPECT_FALSE(classify("SELECT 1; SELECT 2").shape_safe);
  EXPECT_FALSE(classify("DELETE FROM t WHERE id = 1").shape_safe);
  EXPECT_FALSE(classify("SELECT pg_terminate_backend(4242)").shape_safe);
  EXPECT_FALSE(classify("SELECT rustproxy_cache_reset()").shape_safe);
  EXPECT_FALSE(classify("DECLARE c CURSOR FOR SELECT 1").shape_safe);
}

}  // namespace
}  // namespace pgro::policy
