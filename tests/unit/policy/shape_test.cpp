// numericShape(): numeric literals as PostgreSQL's scanner reads them, and nothing else.
#include "policy/shape.hpp"

#include <gtest/gtest.h>

#include <string>

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
