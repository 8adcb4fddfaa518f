// Volatility labels are not trusted (DESIGN.md section 3, layer 3): extension and user
// functions are judged by what they are. The upstream account is the test server's
// superuser and UPSTREAM_ROLE is auto (pg_read_all_data), so a SECURITY DEFINER function
// that writes would write if pgro let it through: the table is checked directly.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

struct Answer {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::optional<ErrorFields> error;
  std::string describe() const {
    return error ? error->describe() : std::to_string(rows.size()) + " row(s)";
  }
};

Answer ask(RawPgClient& client, std::string_view sql) {
  const auto messages = client.query(sql, 20s);
  Answer answer;
  answer.error = firstError(messages);
  for (const auto& row : dataRows(messages)) {
    answer.rows.emplace_back(row.begin(), row.end());
  }
  return answer;
}

// Refused by pgro itself (routine 'R' = "pgro"), with 42501 and the function's name.
void expectRefusedByPgro(RawPgClient& client, std::string_view sql, std::string_view function) {
  const Answer a = ask(client, sql);
  ASSERT_TRUE(a.error) << sql << ": " << a.describe();
  EXPECT_EQ(a.error->sqlstate(), "42501") << a.describe();
  EXPECT_EQ(a.error->get('R'), "pgro") << a.describe();
  EXPECT_NE(a.error->message().find(function), std::string::npos) << a.describe();
}

long auditRows() {
  return postgres().execDirect("SELECT count(*) FROM fn_audit")[0][0].as<long>();
}

// Created by the admin before pgro starts.
void createFunctions() {
  postgres().execDirect(R"sql(
    CREATE TABLE IF NOT EXISTS fn_audit (id int);
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE OR REPLACE FUNCTION fn_sneaky() RETURNS int LANGUAGE plpgsql IMMUTABLE
      SECURITY DEFINER AS $$ BEGIN INSERT INTO fn_audit VALUES (1); RETURN 1; END $$;
    CREATE OR REPLACE FUNCTION fn_sneaky_sql() RETURNS int LANGUAGE sql STABLE
      SECURITY DEFINER AS 'INSERT INTO fn_audit VALUES (2) RETURNING id';
    CREATE OR REPLACE FUNCTION fn_calls_sneaky() RETURNS int LANGUAGE sql IMMUTABLE
      AS 'SELECT fn_sneaky()';
    CREATE OR REPLACE FUNCTION fn_reader(n int) RETURNS SETOF int LANGUAGE plpgsql VOLATILE
      AS $$ DECLARE total int := 0; BEGIN
        FOR i IN 1..n LOOP total := total + i; END LOOP;
        RETURN QUERY SELECT g * total FROM pg_catalog.generate_series(1, n) AS g;
      END $$;
    CREATE OR REPLACE FUNCTION fn_c_len(text) RETURNS int LANGUAGE internal IMMUTABLE
      AS 'textlen';
    -- SQL-standard bodies (PostgreSQL 14+): stored parsed, read back with pg_get_functiondef.
    CREATE OR REPLACE FUNCTION fn_atomic_reader(n int) RETURNS int LANGUAGE sql STABLE
      BEGIN ATOMIC SELECT count(*)::int + n FROM fn_audit WHERE id < 0; END;
    CREATE OR REPLACE FUNCTION fn_return_reader(a int, b int) RETURNS int LANGUAGE sql
      IMMUTABLE RETURN a * b + 1;
    CREATE OR REPLACE FUNCTION fn_out_next(n int, OUT a int, OUT b text) RETURNS SETOF record
      LANGUAGE plpgsql STABLE AS $$ BEGIN
        FOR i IN 1..n LOOP a := i; b := 'x' || i; RETURN NEXT; END LOOP;
      END $$;
    CREATE OR REPLACE FUNCTION fn_atomic_writer(n int) RETURNS int LANGUAGE sql STABLE
      SECURITY DEFINER BEGIN ATOMIC INSERT INTO fn_audit VALUES (n); SELECT 1; END;
  )sql");
}

class FunctionJudgement : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { createFunctions(); }
};

TEST_F(FunctionJudgement, WritersAreRefusedWhateverTheirLabel) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const long before = auditRows();
  expectRefusedByPgro(client, "SELECT fn_sneaky()", "fn_sneaky");
  expectRefusedByPgro(client, "SELECT public.fn_sneaky_sql()", "fn_sneaky_sql");
  expectRefusedByPgro(client, "SELECT fn_calls_sneaky()", "fn_calls_sneaky");
  EXPECT_EQ(auditRows(), before);
  // The session goes on.
  const Answer ok = ask(client, "SELECT 1");
  EXPECT_FALSE(ok.error) << ok.describe();
}

TEST_F(FunctionJudgement, BeginAtomicAndReturnBodiesAreJudgedByWhatTheyDo) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const long before = auditRows();
  Answer a = ask(client, "SELECT fn_atomic_reader(5), fn_return_reader(6, 7)");
  ASSERT_FALSE(a.error) << a.describe();
  ASSERT_EQ(a.rows.size(), 1U);
  EXPECT_EQ(a.rows[0][0], "5");
  EXPECT_EQ(a.rows[0][1], "43");
  expectRefusedByPgro(client, "SELECT fn_atomic_writer(9)", "fn_atomic_writer");
  a = ask(client, "SELECT fn_atomic_writer(9)");
  ASSERT_TRUE(a.error);
  EXPECT_NE(a.error->message().find("INSERT"), std::string::npos)  // read, not just refused
      << a.describe();
  EXPECT_EQ(auditRows(), before);
}

TEST_F(FunctionJudgement, BareReturnNextWithOutParametersWorks) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  Answer a = ask(client, "SELECT a, b FROM fn_out_next(2) ORDER BY a");
  ASSERT_FALSE(a.error) << a.describe();
  ASSERT_EQ(a.rows.size(), 2U);
  EXPECT_EQ(a.rows[1][0], "2");
  EXPECT_EQ(a.rows[1][1], "x2");
}

TEST_F(FunctionJudgement, ReadOnlyVolatileFunctionsWork) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const Answer a = ask(client, "SELECT * FROM fn_reader(3)");
  ASSERT_FALSE(a.error) << a.describe();
  ASSERT_EQ(a.rows.size(), 3U);
  EXPECT_EQ(a.rows[0][0], "6");
  EXPECT_EQ(a.rows[1][0], "12");
  EXPECT_EQ(a.rows[2][0], "18");
}

TEST_F(FunctionJudgement, ReviewedExtensionFunctionsWork) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  const Answer a =
      ask(client, "SELECT similarity('word', 'words') > 0.5, 'word' % 'words', show_trgm('ab')");
  ASSERT_FALSE(a.error) << a.describe();
  ASSERT_EQ(a.rows.size(), 1U);
  EXPECT_EQ(a.rows[0][0], "t");
  EXPECT_EQ(a.rows[0][1], "t");
  // pg_trgm's set_limit changes a session setting: not on the reviewed list.
  expectRefusedByPgro(client, "SELECT set_limit(0.1)", "set_limit");
}

TEST_F(FunctionJudgement, UnreviewedOtherLanguageFunctionsNeedTheOperator) {
  {
    auto pgro = startPgro();
    RawPgClient client = connectProxy(*pgro);
    expectRefusedByPgro(client, "SELECT fn_c_len('abc')", "fn_c_len");
  }
  auto pgro = startPgro({{"READ_ONLY_FUNCTIONS", "public.fn_c_len, other.thing"}});
  RawPgClient client = connectProxy(*pgro);
  const Answer a = ask(client, "SELECT fn_c_len('abc')");
  ASSERT_FALSE(a.error) << a.describe();
  EXPECT_EQ(a.rows.at(0).at(0), "3");
}

TEST_F(FunctionJudgement, FunctionsCreatedAfterStartAreJudgedOnReload) {
  auto pgro = startPgro();
  postgres().execDirect(R"sql(
    CREATE OR REPLACE FUNCTION fn_later_writer() RETURNS int LANGUAGE plpgsql IMMUTABLE
      SECURITY DEFINER AS $$ BEGIN DELETE FROM fn_audit; RETURN 1; END $$;
    CREATE OR REPLACE FUNCTION fn_later_reader() RETURNS bigint LANGUAGE plpgsql VOLATILE
      AS $$ BEGIN RETURN (SELECT count(*) FROM fn_audit); END $$;
    INSERT INTO fn_audit VALUES (42);
  )sql");
  pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(pgro->waitForLog("reloaded", 20s)) << pgro->log();
  RawPgClient client = connectProxy(*pgro);
  const long before = auditRows();
  expectRefusedByPgro(client, "SELECT fn_later_writer()", "fn_later_writer");
  EXPECT_EQ(auditRows(), before);
  const Answer a = ask(client, "SELECT fn_later_reader()");
  ASSERT_FALSE(a.error) << a.describe();
  EXPECT_EQ(a.rows.at(0).at(0), std::to_string(before));
}

}  // namespace
}  // namespace pgro::it
