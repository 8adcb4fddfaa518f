// fuzz-smoke for the plpgsql body analysis: the libFuzzer property over hand-written bodies
// and seeded mutations of them (deterministic: the same strings every run).
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "plpgsql_property.hpp"

namespace pgro::testing {
namespace {

const std::vector<std::string> kBodies = {
    "BEGIN RETURN a + 1; END",
    "DECLARE n int := 0; BEGIN SELECT count(*) INTO n FROM t; RETURN n; END",
    "DECLARE r record; n int := 0; BEGIN FOR r IN SELECT * FROM t LOOP n := n + 1; END LOOP; "
    "RETURN n; END",
    "BEGIN IF a > 1 THEN RETURN lower('X')::int; ELSIF a < 0 THEN RETURN 0; END IF; RETURN 1; END",
    "BEGIN INSERT INTO t VALUES (a); RETURN 1; END",
    "BEGIN EXECUTE 'DELETE FROM t'; RETURN 1; END",
    "BEGIN PERFORM nextval('s'); RETURN 1; END",
    "DECLARE arr int[]; BEGIN arr[length('x')] := 1; RETURN arr[1]; END",
    "BEGIN CASE a WHEN 1 THEN RETURN 1; ELSE RETURN 2; END CASE; END",
    "BEGIN WHILE a > 0 LOOP a := a - 1; EXIT WHEN a = 3; END LOOP; RETURN a; END",
    "BEGIN BEGIN RETURN 1 / a; EXCEPTION WHEN division_by_zero THEN RETURN 0; END; END",
    "BEGIN RAISE NOTICE 'x %', (SELECT count(*) FROM t); RETURN 1; END",
    "BEGIN UPDATE t SET x = 1; DELETE FROM t; RETURN 1; END",
};

TEST(PlpgsqlFuzzSmoke, PropertyHoldsOnTheSeeds) {
  int read_only = 0;
  for (const std::string& body : kBodies) {
    EXPECT_EQ(plpgsqlPropertyViolation(body), "") << body;
  }
  // The seeds exercise both outcomes.
  for (const std::string& body : kBodies) {
    std::vector<policy::FunctionInfo> functions = {
        {.schema = "public", .name = "fz", .language = "plpgsql", .body = plpgsqlDefinition(body)}};
    for (const char* name : {"count", "lower", "length", "nextval"}) {
      functions.push_back({.schema = "pg_catalog", .name = name, .builtin = true});
    }
    read_only += policy::FunctionCatalog(functions).find("fz")->front().read_only ? 1 : 0;
  }
  EXPECT_GE(read_only, 5);
  EXPECT_LE(read_only, static_cast<int>(kBodies.size()) - 4);
}

TEST(PlpgsqlFuzzSmoke, SeededMutationsHoldTheProperty) {
  static constexpr std::array<const char*, 16> kTokens = {
      ";",
      " INSERT INTO t VALUES (1);",
      " x := ",
      " PERFORM ",
      " EXECUTE ",
      "'",
      "$$",
      " RETURN ",
      " LOOP ",
      " END LOOP;",
      " IF true THEN ",
      " END IF;",
      " nextval('s')",
      " WITH d AS (DELETE FROM t RETURNING 1) SELECT 1",
      " := ",
      " FOR r IN "};
  // Whole statements, inserted after a `;` so that many mutants still compile.
  static constexpr std::array<const char*, 10> kStatements = {
      " PERFORM 1;",
      " RAISE NOTICE 'n %', a;",
      " PERFORM count(*) FROM t;",
      " IF a > 0 THEN PERFORM lower('x'); END IF;",
      " INSERT INTO t VALUES (1);",
      " PERFORM nextval('s');",
      " EXECUTE 'SELECT 1';",
      " PERFORM (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1);",
      " PERFORM pg_read_file('/etc/passwd');",
      " UPDATE t SET x = 1;",
  };
  std::mt19937 rng(20261207);  // fixed seed: reproducible
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  constexpr int kMutations = 2000;
  int read_only = 0;
  for (int i = 0; i < kMutations; ++i) {
    std::string body = kBodies[pick(kBodies.size())];
    const int steps = 1 + static_cast<int>(pick(3));
    for (int step = 0; step < steps; ++step) {
      const std::size_t at = body.empty() ? 0 : pick(body.size() + 1);
      switch (pick(5)) {
        case 0:
        case 1: {
          const std::size_t semicolon = body.find(';', at);
          if (semicolon != std::string::npos) {
            body.insert(semicolon + 1, kStatements[pick(kStatements.size())]);
          }
          break;
        }
        case 2:
          body.insert(at, kTokens[pick(kTokens.size())]);
          break;
        case 3:
          if (!body.empty()) body.erase(std::min(at, body.size() - 1), 1 + pick(8));
          break;
        default: {
          const std::string& other = kBodies[pick(kBodies.size())];
          body = body.substr(0, at) + other.substr(pick(other.size() + 1));
          break;
        }
      }
    }
    bool judged_read_only = false;
    const std::string violation = plpgsqlPropertyViolation(body, &judged_read_only);
    if (!violation.empty()) {
      ADD_FAILURE() << "mutation " << i << ": " << violation << "\n" << body;
      break;
    }
    read_only += judged_read_only ? 1 : 0;
  }
  RecordProperty("read_only_mutations", read_only);
  EXPECT_GT(read_only, 30) << "mutations should exercise the read-only path too";
}

}  // namespace
}  // namespace pgro::testing
