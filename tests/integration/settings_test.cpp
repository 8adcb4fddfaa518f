// Session settings under transaction pooling follow PostgreSQL's transaction semantics: a
// SET that was rolled back is not replayed on the next borrowed connection, a committed one
// is, and a SET earlier in a transaction never lets the cache answer under the old settings.
// POOL_SIZE=1 and a second client that changes the one connection force a re-sync, which
// is when a wrongly tracked value would show.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pgro_ = startPgro({{"POOL_SIZE", "1"}});
    a_ = std::make_unique<pqxx::connection>(pgro_->conninfo());
    b_ = std::make_unique<pqxx::connection>(pgro_->conninfo());
  }

  std::string run(pqxx::connection& c, const std::string& sql) {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec(sql);
    return r.empty() || r.columns() == 0 ? std::string() : r[0][0].as<std::string>();
  }
  // Client B takes the one upstream connection with a setting of its own, so client A's
  // next statement has to re-apply A's settings.
  void otherClientUsesTheConnection() { run(*b_, "SET statement_timeout = '9999ms'; SELECT 1"); }

  std::unique_ptr<PgroProcess> pgro_;
  std::unique_ptr<pqxx::connection> a_;
  std::unique_ptr<pqxx::connection> b_;
};

TEST_F(SettingsTest, RolledBackSetIsNotReplayed) {
  run(*a_, "BEGIN");
  run(*a_, "SET statement_timeout = '1234ms'");
  run(*a_, "ROLLBACK");
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "0");
}

TEST_F(SettingsTest, SetUndoneByAnErrorInItsImplicitTransactionIsNotReplayed) {
  EXPECT_THROW(run(*a_, "SET statement_timeout = '2222ms'; SELECT 1/0"), pqxx::sql_error);
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "0");
}

TEST_F(SettingsTest, CommittedSetIsReplayedAndSurvivesRollbackToSavepoint) {
  run(*a_, "BEGIN");
  run(*a_, "SET statement_timeout = '3333ms'");
  run(*a_, "SAVEPOINT s");
  EXPECT_THROW(run(*a_, "SELECT 1/0"), pqxx::sql_error);
  run(*a_, "ROLLBACK TO SAVEPOINT s");
  run(*a_, "COMMIT");
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "3333ms");
  EXPECT_EQ(run(*b_, "SHOW statement_timeout"), "9999ms");
}

TEST_F(SettingsTest, CommitOfAFailedTransactionRollsItsSetBack) {
  run(*a_, "BEGIN");
  run(*a_, "SET statement_timeout = '4444ms'");
  EXPECT_THROW(run(*a_, "SELECT 1/0"), pqxx::sql_error);
  run(*a_, "COMMIT");  // PostgreSQL answers ROLLBACK
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "0");
}

TEST_F(SettingsTest, SetLocalSearchPathIsNotAnsweredFromTheCache) {
  postgres().execDirect(
      "DROP SCHEMA IF EXISTS sp1 CASCADE; DROP SCHEMA IF EXISTS sp2 CASCADE; "
      "CREATE SCHEMA sp1; CREATE SCHEMA sp2; "
      "CREATE TABLE sp1.which AS SELECT 'one'::text AS v; "
      "CREATE TABLE sp2.which AS SELECT 'two'::text AS v");
  run(*a_, "SET search_path = sp1");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "one");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "one");  // now cached under search_path sp1
  run(*a_, "BEGIN");
  run(*a_, "SET LOCAL search_path = sp2");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "two");
  run(*a_, "COMMIT");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "one");
  // And a session SET in an open transaction, before the COMMIT that keeps it.
  run(*a_, "BEGIN");
  run(*a_, "SET search_path = sp2");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "two");
  run(*a_, "COMMIT");
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "two");
}

// The settings model follows what PostgreSQL did, not what the statements seemed to do: after
// a unit that may have changed settings pgro reads them back from the server. Each case below
// once left the model and the server apart, so the client lost its setting or the next
// borrower of the connection inherited it.
TEST_F(SettingsTest, SetRolledBackToASavepointIsNotReplayed) {
  run(*a_, "BEGIN");
  run(*a_, "SAVEPOINT s");
  run(*a_, "SET statement_timeout = '5555ms'");
  run(*a_, "ROLLBACK TO SAVEPOINT s");
  run(*a_, "COMMIT");
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "0");
}

TEST_F(SettingsTest, CommitInsideAStringKeepsItsSetAndTheNextClientDoesNot) {
  EXPECT_THROW(run(*a_, "BEGIN; SET statement_timeout = '6666ms'; COMMIT; SELECT 1/0"),
               pqxx::sql_error);
  pqxx::connection fresh(pgro_->conninfo());
  EXPECT_EQ(run(fresh, "SHOW statement_timeout"), "0");
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "6666ms");
}

TEST_F(SettingsTest, CommitAndChainKeepsTheSetBeforeIt) {
  run(*a_, "BEGIN");
  run(*a_, "SET statement_timeout = '7777ms'");
  run(*a_, "COMMIT AND CHAIN");
  run(*a_, "ROLLBACK");
  pqxx::connection fresh(pgro_->conninfo());
  EXPECT_EQ(run(fresh, "SHOW statement_timeout"), "0");
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "7777ms");
}

TEST_F(SettingsTest, ParsedSetThatNeverRunsChangesNothing) {
  a_->prepare("never_run", "SET statement_timeout = '8888ms'");
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "0");
}

TEST_F(SettingsTest, PreparedSetExecutedAgainWinsOverALaterSet) {
  a_->prepare("set_1111", "SET statement_timeout = '1111ms'");
  {
    pqxx::nontransaction tx(*a_);
    tx.exec_prepared("set_1111");
  }
  run(*a_, "SET statement_timeout = '2222ms'");
  {
    pqxx::nontransaction tx(*a_);
    tx.exec_prepared("set_1111");
  }
  otherClientUsesTheConnection();
  EXPECT_EQ(run(*a_, "SHOW statement_timeout"), "1111ms");
  pqxx::connection fresh(pgro_->conninfo());
  EXPECT_EQ(run(fresh, "SHOW statement_timeout"), "0");
}

// The cache key is built from the settings: a search_path the server undid must not pick
// another client's cached answer, nor keep this one's.
TEST_F(SettingsTest, CacheKeyFollowsTheServersSearchPath) {
  postgres().execDirect(
      "DROP SCHEMA IF EXISTS kp1 CASCADE; DROP SCHEMA IF EXISTS kp2 CASCADE; "
      "CREATE SCHEMA kp1; CREATE SCHEMA kp2; "
      "CREATE TABLE kp1.which AS SELECT 'one'::text AS v; "
      "CREATE TABLE kp2.which AS SELECT 'two'::text AS v");
  run(*b_, "SET search_path = kp2");
  EXPECT_EQ(run(*b_, "SELECT v FROM which"), "two");  // cached under kp2
  run(*a_, "SET search_path = kp1");
  run(*a_, "BEGIN");
  run(*a_, "SAVEPOINT s");
  run(*a_, "SET search_path = kp2");
  run(*a_, "ROLLBACK TO SAVEPOINT s");
  run(*a_, "COMMIT");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "one");
  EXPECT_EQ(run(*a_, "SELECT v FROM which"), "one");
  EXPECT_EQ(run(*a_, "SHOW search_path"), "kp1");
}

// A startup value PostgreSQL cannot apply ends the login, as PostgreSQL does, instead of
// failing every statement of the session later (each one then discarded a server connection).
TEST(StartupSettingsTest, ValueThatPostgresRejectsIsRefusedAtLogin) {
  auto pgro = startPgro({{"POOL_SIZE", "1"}});
  RawPgClient refused(pgro->host(), pgro->port());
  const StartupResult r = refused.startup(pgro->user(), pgro->password(), pgro->database(),
                                          {{"TimeZone", "Mars/Phobos"}});
  ASSERT_FALSE(r.ok);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->severity(), "FATAL");
  EXPECT_EQ(r.error->sqlstate(), "22023") << r.error->describe();
  EXPECT_NE(r.error->message().find("TimeZone"), std::string::npos) << r.error->describe();

  // The check left the one pool connection as it was: a client with a valid value of its own
  // and one with none each see theirs.
  RawPgClient paris =
      RawPgClient::connect(pgro->host(), pgro->port(), pgro->user(), pgro->password(),
                           pgro->database(), {{"TimeZone", "Europe/Paris"}});
  RawPgClient plain = connectProxy(*pgro);
  auto rows = dataRows(paris.query("SELECT current_setting('TimeZone')"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "Europe/Paris");
  rows = dataRows(plain.query("SELECT current_setting('TimeZone')"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0][0].value_or(""), "Europe/Paris");
  EXPECT_NE(rows[0][0].value_or(""), "Mars/Phobos");
}

// Settings travel to the upstream as Bind parameters, never inside SQL text: with an upstream
// database where standard_conforming_strings is off, a backslash used to end pgro's quoted
// literal early and the rest of a client's startup value ran as SQL.
TEST(SettingsReplayTest, StartupValuesCannotInjectSqlIntoTheReplay) {
  {
    RawPgClient admin = connectDirect();
    admin.query("DROP DATABASE IF EXISTS scs_off");
    ASSERT_EQ(firstError(admin.query("CREATE DATABASE scs_off")), std::nullopt);
    ASSERT_EQ(
        firstError(admin.query("ALTER DATABASE scs_off SET standard_conforming_strings = off")),
        std::nullopt);
  }
  auto pgro = startPgro({{"POOL_SIZE", "1"}, {"UPSTREAM_DATABASE", "scs_off"}});
  // Under 64 bytes: PostgreSQL truncates application_name to NAMEDATALEN - 1.
  const std::string value = "a\\', 'x', false), set_config('work_mem','77kB',false)--";
  RawPgClient a = RawPgClient::connect(pgro->host(), pgro->port(), pgro->user(), pgro->password(),
                                       "scs_off", {{"application_name", value}});
  auto shown =
      dataRows(a.query("SELECT current_setting('application_name'), "
                       "current_setting('work_mem'), "
                       "current_setting('standard_conforming_strings')"));
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0][0].value_or(""), value);
  EXPECT_EQ(shown[0][1].value_or(""), "4MB") << "SQL from the startup value ran upstream";
  EXPECT_EQ(shown[0][2].value_or(""), "off");
}

}  // namespace
}  // namespace pgro::it
