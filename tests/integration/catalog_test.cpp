// The function catalog fails closed (DESIGN.md section 3, layer 3): functions and extensions
// the admin creates after pgro started are judged like those present at startup, and names
// that exist nowhere are refused with 42883 by pgro itself. pgro's catalog look-ups are counted
// from its log ("function catalog look-up", "function catalog refreshed").
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

struct Answer {
  std::optional<std::string> value;  // first column of the last row
  std::optional<ErrorFields> error;
  std::string describe() const {
    return error ? error->describe() : "value " + value.value_or("(null or no row)");
  }
};

Answer ask(RawPgClient& client, std::string_view sql) {
  const auto messages = client.query(sql, 30s);
  Answer answer;
  answer.error = firstError(messages);
  const auto rows = dataRows(messages);
  if (!answer.error && !rows.empty() && !rows.back().empty()) answer.value = rows.back()[0];
  return answer;
}

// The same statement over the extended protocol (Parse/Bind/Execute/Sync, unnamed).
Answer askExtended(RawPgClient& client, std::string_view sql) {
  client.send(wire::parse("", sql) + wire::bind("", "") + wire::execute("") + wire::sync());
  const auto messages = client.readUntilReadyForQuery(30s);
  Answer answer;
  answer.error = firstError(messages);
  const auto rows = dataRows(messages);
  if (!answer.error && !rows.empty() && !rows.back().empty()) answer.value = rows.back()[0];
  return answer;
}

// pgro marks the errors it sends itself with the routine field 'R' = "pgro".
bool refusedByPgro(const Answer& a, std::string_view sqlstate) {
  return a.error && a.error->get('R') == "pgro" && a.error->sqlstate() == sqlstate;
}

std::size_t countOf(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string directValue(std::string_view sql) {
  return postgres().execDirect(sql)[0][0].c_str();
}

// What the tests create, dropped before and after each.
constexpr std::string_view kDropTestObjects = R"sql(
      DROP FUNCTION IF EXISTS cat_ret_w(), cat_atomic_w(int), cat_atomic_r(int), cat_ret(int, int)
        CASCADE;
      DROP FUNCTION IF EXISTS cat_w(), cat_r(int), cat_rows(), cat_o(int), cat_o(text) CASCADE;
      DROP FUNCTION IF EXISTS cat_op_w(int, int), cat_op_r(int, int) CASCADE;
      DROP EXTENSION IF EXISTS pg_surgery;
      DROP EXTENSION IF EXISTS pageinspect;
      DROP EXTENSION IF EXISTS tablefunc;
      DROP TABLE IF EXISTS cat_t;
)sql";

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    postgres().execDirect(kDropTestObjects);
    postgres().execDirect("CREATE TABLE cat_t (id int); INSERT INTO cat_t VALUES (10), (20)");
    pgro_ = startPgro({{"POOL_SIZE", "1"}});
  }
  void TearDown() override { postgres().execDirect(kDropTestObjects); }

  std::unique_ptr<PgroProcess> pgro_;
};

TEST_F(CatalogTest, WritingFunctionCreatedAfterStartIsRefused) {
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT count(*) FROM cat_t").value, "2");  // the catalog was loaded
  postgres().execDirect(
      "CREATE FUNCTION cat_w() RETURNS int LANGUAGE sql VOLATILE "
      "AS 'INSERT INTO cat_t VALUES (1) RETURNING 1'");

  const Answer simple = ask(a, "SELECT cat_w()");
  EXPECT_TRUE(refusedByPgro(simple, "42501")) << simple.describe();
  const Answer extended = askExtended(b, "SELECT public.cat_w() FROM cat_t");
  EXPECT_TRUE(refusedByPgro(extended, "42501")) << extended.describe();
  EXPECT_EQ(directValue("SELECT count(*) FROM cat_t"), "2");
  // Both sessions (one upstream connection between them) go on.
  EXPECT_EQ(ask(a, "SELECT 1").value, "1");
  EXPECT_EQ(ask(b, "SELECT 2").value, "2");
  EXPECT_EQ(countOf(pgro_->log(), "function catalog refreshed"), 1U) << pgro_->log();
}

TEST_F(CatalogTest, ReadOnlyFunctionCreatedAfterStartIsAllowed) {
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT 1").value, "1");
  postgres().execDirect(R"sql(
    CREATE FUNCTION cat_r(x int) RETURNS int LANGUAGE sql STABLE AS 'SELECT x * 2';
    CREATE FUNCTION cat_rows() RETURNS SETOF int LANGUAGE sql STABLE
      AS 'SELECT id FROM cat_t ORDER BY id';
  )sql");
  Answer r = ask(a, "SELECT cat_r(21)");
  EXPECT_EQ(r.value, "42") << r.describe();
  r = askExtended(b, "SELECT sum(x) FROM cat_rows() AS x");
  EXPECT_EQ(r.value, "30") << r.describe();
  r = ask(b, "SELECT string_agg(x::text, ',') FROM cat_rows() AS x");
  EXPECT_EQ(r.value, "10,20") << r.describe();
}

// SQL-standard bodies (BEGIN ATOMIC, RETURN; PostgreSQL 14+) created after start are judged by
// the statements PostgreSQL stored for them, not by their label: a BEGIN ATOMIC that inserts
// is refused although marked STABLE, a RETURN that calls a writer is refused, and readers of
// both kinds run. Two clients share the one upstream connection.
TEST_F(CatalogTest, SqlStandardBodiesCreatedAfterStartAreJudgedByWhatTheyDo) {
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT count(*) FROM cat_t").value, "2");  // the catalog was loaded
  postgres().execDirect(R"sql(
    CREATE FUNCTION cat_w() RETURNS int LANGUAGE sql VOLATILE
      AS 'INSERT INTO cat_t VALUES (1) RETURNING 1';
    CREATE FUNCTION cat_atomic_w(n int) RETURNS int LANGUAGE sql STABLE SECURITY DEFINER
      BEGIN ATOMIC INSERT INTO cat_t VALUES (n); SELECT 1; END;
    CREATE FUNCTION cat_ret_w() RETURNS int LANGUAGE sql STABLE RETURN cat_w();
    CREATE FUNCTION cat_atomic_r(n int) RETURNS bigint LANGUAGE sql STABLE
      BEGIN ATOMIC SELECT count(*) + n FROM cat_t; END;
    CREATE FUNCTION cat_ret(x int, y int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x * y + 1;
  )sql");

  Answer r = ask(a, "SELECT cat_atomic_w(5)");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  r = askExtended(b, "SELECT public.cat_atomic_w(id) FROM cat_t");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  r = ask(b, "SELECT cat_ret_w()");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  EXPECT_EQ(directValue("SELECT count(*) FROM cat_t"), "2");

  r = ask(a, "SELECT cat_atomic_r(10)");
  EXPECT_EQ(r.value, "12") << r.describe();
  r = askExtended(b, "SELECT cat_ret(6, 7)");
  EXPECT_EQ(r.value, "43") << r.describe();
}

// A function the admin replaces (CREATE OR REPLACE) or overloads after pgro judged it is
// judged again once the catalog check interval has passed: a reader turned writer is refused,
// and turned back it is allowed again. SECURITY DEFINER, owned by the superuser: the
// read-only upstream role would not stop its write, only pgro does.
TEST_F(CatalogTest, ReplacedOrOverloadedFunctionIsJudgedAgain) {
  pgro_ = startPgro({{"POOL_SIZE", "1"}, {"CATALOG_CHECK_INTERVAL_MS", "100"}});
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT 1").value, "1");
  postgres().execDirect(R"sql(
    CREATE FUNCTION cat_r(x int) RETURNS int LANGUAGE sql STABLE SECURITY DEFINER
      AS 'SELECT x * 2';
    CREATE FUNCTION cat_o(x int) RETURNS int LANGUAGE sql STABLE AS 'SELECT x + 1';
  )sql");
  Answer r = ask(a, "SELECT cat_r(21)");
  ASSERT_EQ(r.value, "42") << r.describe();
  r = askExtended(b, "SELECT cat_o(1)");
  ASSERT_EQ(r.value, "2") << r.describe();

  postgres().execDirect(R"sql(
    CREATE OR REPLACE FUNCTION cat_r(x int) RETURNS int LANGUAGE sql VOLATILE SECURITY DEFINER
      AS 'INSERT INTO cat_t VALUES (x) RETURNING x';
    CREATE FUNCTION cat_o(x text) RETURNS int LANGUAGE sql VOLATILE SECURITY DEFINER
      AS 'INSERT INTO cat_t VALUES (length(x)) RETURNING 1';
  )sql");
  std::this_thread::sleep_for(300ms);  // past the check interval
  r = ask(b, "SELECT cat_r(21)");      // a text its session has a verdict for already
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  r = askExtended(a, "SELECT cat_r(7)");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  r = ask(a, "SELECT cat_o('abc')");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  EXPECT_EQ(directValue("SELECT count(*) FROM cat_t"), "2") << "a write reached the table";
  EXPECT_GE(countOf(pgro_->log(), "pg_proc changed since it was read"), 1U) << pgro_->log();

  postgres().execDirect(R"sql(
    CREATE OR REPLACE FUNCTION cat_r(x int) RETURNS int LANGUAGE sql STABLE SECURITY DEFINER
      AS 'SELECT x * 3';
  )sql");
  std::this_thread::sleep_for(300ms);
  r = ask(b, "SELECT cat_r(21)");
  EXPECT_EQ(r.value, "63") << r.describe();
  EXPECT_EQ(ask(a, "SELECT 1").value, "1");
}

// An operator is a function call without the name: one the admin creates after pgro started
// on a writing SECURITY DEFINER function is refused in every spelling, one on a reader works.
TEST_F(CatalogTest, OperatorsAreJudgedByTheFunctionTheyCall) {
  pgro_ = startPgro({{"POOL_SIZE", "1"}, {"CATALOG_CHECK_INTERVAL_MS", "100"}});
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT 1").value, "1");
  postgres().execDirect(R"sql(
    CREATE FUNCTION cat_op_w(x int, y int) RETURNS boolean LANGUAGE sql VOLATILE
      SECURITY DEFINER AS 'INSERT INTO cat_t VALUES (x + y) RETURNING true';
    CREATE OPERATOR ### (FUNCTION = cat_op_w, LEFTARG = int, RIGHTARG = int);
    CREATE FUNCTION cat_op_r(x int, y int) RETURNS int LANGUAGE sql IMMUTABLE
      AS 'SELECT x * 10 + y';
    CREATE OPERATOR ##+ (FUNCTION = cat_op_r, LEFTARG = int, RIGHTARG = int);
  )sql");
  for (const char* sql : {
           "SELECT 1 ### 2",
           "SELECT 1 OPERATOR(public.###) 2",
           "SELECT id FROM cat_t WHERE id ### ANY (SELECT 1)",
           "SELECT id FROM cat_t WHERE NOT (id ### 5)",
       }) {
    Answer r = ask(a, sql);
    EXPECT_TRUE(refusedByPgro(r, "42501")) << sql << ": " << r.describe();
    r = askExtended(b, sql);
    EXPECT_TRUE(refusedByPgro(r, "42501")) << sql << ": " << r.describe();
  }
  EXPECT_EQ(directValue("SELECT count(*) FROM cat_t"), "2") << "a write reached the table";
  Answer r = ask(b, "SELECT 4 ##+ 2");
  EXPECT_EQ(r.value, "42") << r.describe();
  EXPECT_EQ(ask(a, "SELECT 1 + 1").value, "2");
}

// Within the interval the check runs once, however many statements call user functions.
TEST_F(CatalogTest, CatalogChecksAreSharedAndSpaced) {
  pgro_ = startPgro({{"POOL_SIZE", "2"}, {"CATALOG_CHECK_INTERVAL_MS", "60000"}});
  postgres().execDirect(
      "CREATE FUNCTION cat_r(x int) RETURNS int LANGUAGE sql STABLE "
      "AS 'SELECT x * 2'");
  RawPgClient a = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT cat_r(1)").value, "2");  // unknown at start: one look-up
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(ask(a, "SELECT cat_r(" + std::to_string(i) + ") + 0").value, std::to_string(i * 2));
  }
  EXPECT_EQ(countOf(pgro_->log(), "function catalog refreshed"), 1U) << pgro_->log();
}

TEST_F(CatalogTest, NonexistentFunctionIs42883FromPgro) {
  RawPgClient a = connectProxy(*pgro_);
  const Answer simple = ask(a, "SELECT no_such_fn()");
  ASSERT_TRUE(refusedByPgro(simple, "42883")) << simple.describe();
  EXPECT_NE(simple.error->message().find("no_such_fn"), std::string::npos);
  const Answer extended = askExtended(a, "SELECT s.no_such_fn(1)");
  EXPECT_TRUE(refusedByPgro(extended, "42883")) << extended.describe();
  EXPECT_EQ(ask(a, "SELECT 1").value, "1");
  EXPECT_TRUE(pgro_->running());
  // Columns and attribute notation are not function calls.
  EXPECT_EQ(ask(a, "SELECT (t).id FROM cat_t AS t ORDER BY 1 LIMIT 1").value, "10");
}

TEST_F(CatalogTest, ExtensionsCreatedAfterStartAreJudgedLikeTheOthers) {
  RawPgClient a = connectProxy(*pgro_);
  RawPgClient b = connectProxy(*pgro_);
  ASSERT_EQ(ask(a, "SELECT 1").value, "1");
  postgres().execDirect(
      "CREATE EXTENSION pg_surgery; CREATE EXTENSION pageinspect; CREATE EXTENSION tablefunc");
  Answer r = ask(a, "SELECT heap_force_kill('cat_t'::regclass, ARRAY['(0,1)']::tid[])");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  r = askExtended(b, "SELECT get_raw_page('pg_authid', 0)");
  EXPECT_TRUE(r.error && r.error->get('R') == "pgro") << r.describe();
  r = ask(b, "SELECT * FROM crosstab('SELECT 1, 2, 3') AS c(a int, b int)");
  EXPECT_TRUE(refusedByPgro(r, "42501")) << r.describe();
  EXPECT_EQ(directValue("SELECT count(*) FROM cat_t"), "2");
  EXPECT_EQ(ask(a, "SELECT count(*) FROM cat_t").value, "2");
}

TEST_F(CatalogTest, NonexistentNamesCostFewCatalogQueries) {
  RawPgClient a = connectProxy(*pgro_);
  for (int i = 0; i < 200; ++i) {
    const Answer r = ask(a, "SELECT cat_nope_" + std::to_string(i) + "()");
    ASSERT_TRUE(refusedByPgro(r, "42883")) << i << ": " << r.describe();
  }
  // Every name was asked about (one look-up per statement at most, never two at a time), and
  // none made pgro load the catalog again.
  std::string log = pgro_->log();
  const std::size_t lookups = countOf(log, "function catalog look-up:");
  EXPECT_GE(lookups, 1U);
  EXPECT_LE(lookups, 200U);
  EXPECT_EQ(countOf(log, "function catalog refreshed"), 0U);

  // Many sessions asking at once share look-ups.
  std::vector<RawPgClient> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(connectProxy(*pgro_));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].send(wire::query("SELECT cat_many_" + std::to_string(i) + "()"));
  }
  for (auto& client : clients) {
    const auto reply = client.readUntilReadyForQuery(30s);
    const auto error = firstError(reply);
    ASSERT_TRUE(error && error->sqlstate() == "42883");
  }
  log = pgro_->log();
  EXPECT_LT(countOf(log, "function catalog look-up:") - lookups, clients.size() / 2);
  EXPECT_EQ(ask(a, "SELECT 1").value, "1");
}

}  // namespace
}  // namespace pgro::it
