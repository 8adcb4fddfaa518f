// Least privilege at the server (UPSTREAM_ROLE): every upstream session runs as a read-only
// role set in its startup packet, so PostgreSQL itself refuses what gets past pgro's policy.
// The upstream account is the superuser of the test server, as pgro's users run it. Some
// tests speak to PostgreSQL directly with the same startup option, to pin down the server
// behaviour pgro relies on (the role survives RESET ALL / DISCARD ALL, SET ROLE NONE does
// not) independently of pgro's classifier.
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

constexpr const char* kPlainUser = "pgro_plain";  // a login that is neither superuser nor reader
constexpr const char* kPlainPassword = "plain-login-secret-3";
// An operator's own role, named with a space and a backslash to exercise the escaping of
// the startup options (libpq conninfo for the catalog, the wire protocol for the pool).
constexpr const char* kOperatorRole = R"(pgro reader\x)";

// The first column of the last row of a simple query's reply, or its error.
struct Answer {
  std::optional<std::string> value;
  std::optional<ErrorFields> error;
  std::string describe() const {
    return error ? error->describe() : "value " + value.value_or("(null or no row)");
  }
};

Answer ask(RawPgClient& client, std::string_view sql) {
  const auto messages = client.query(sql, 20s);
  Answer answer;
  answer.error = firstError(messages);
  const auto rows = dataRows(messages);
  if (!answer.error && !rows.empty() && !rows.back().empty()) answer.value = rows.back()[0];
  return answer;
}

std::string currentUser(RawPgClient& client) {
  Answer a = ask(client, "SELECT current_user");
  EXPECT_FALSE(a.error) << a.describe();
  return a.value.value_or("");
}

// pgro marks the errors it sends itself with the routine field 'R' = "pgro".
bool refusedByPgro(const Answer& a) {
  return a.error && a.error->get('R') == "pgro";
}

// Startup options as pgro sends them with UPSTREAM_ROLE resolved to pg_read_all_data.
const RawPgClient::Params kReaderOptions = {
    {"options", "-c default_transaction_read_only=on -c role=pg_read_all_data"}};

RawPgClient connectDirectAsReader() {
  TempPostgres& pg = postgres();
  return RawPgClient::connect(pg.host(), pg.port(), pg.user(), pg.password(), pg.database(),
                              kReaderOptions);
}

// Roles are cluster-wide and survive between tests of one process: created once.
void ensureRoles() {
  postgres().execDirect(std::string(R"sql(
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgro_plain') THEN
        CREATE ROLE pgro_plain LOGIN PASSWORD ')sql") +
                        kPlainPassword + R"sql(';
      END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgro reader\x') THEN
        CREATE ROLE "pgro reader\x" NOLOGIN;
        GRANT pg_read_all_data, pg_read_all_settings TO "pgro reader\x";
      END IF;
    END $$;
    GRANT SELECT ON typed_values TO pgro_plain;
  )sql");
}

// The line of `log` that contains `needle`, or "".
std::string lineWith(const std::string& log, std::string_view needle) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return {};
}

TEST(UpstreamRoleTest, AutoRunsEverySessionAsPgReadAllDataAndSaysSo) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(currentUser(client), "pg_read_all_data");
  Answer session = ask(client, "SELECT session_user");
  EXPECT_EQ(session.value, postgres().user()) << session.describe();
  const std::string line = lineWith(pgro->log(), "Upstream role:");
  EXPECT_NE(line.find("pg_read_all_data"), std::string::npos) << pgro->log();
  EXPECT_NE(line.find("UPSTREAM_ROLE=auto"), std::string::npos) << line;
  EXPECT_EQ(lineWith(pgro->log(), "WARN"), "") << "no warning when the role is in effect";
  // Pooled connections too: four clients at once hold four upstream sessions.
  std::vector<RawPgClient> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(connectProxy(*pgro));
  for (auto& c : clients) c.send(wire::query("BEGIN; SELECT current_user"));
  for (auto& c : clients) {
    auto reply = c.readReply(20s);
    ASSERT_TRUE(succeeded(reply)) << describe(reply);
    EXPECT_EQ(dataRows(reply.messages).at(0).at(0), "pg_read_all_data");
  }
}

// What heap_force_kill, get_raw_page, pg_read_file, SHOW primary_conninfo and pg_file_settings
// do under the role, through pgro and directly: refused both ways, and nothing happened. The
// extensions are created after pgro started, so pgro's function catalog does not know them
// and PostgreSQL is the layer that refuses.
TEST(UpstreamRoleTest, SuperuserOnlyFunctionsAndSettingsAreRefused) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}});
  postgres().execDirect(
      "CREATE EXTENSION IF NOT EXISTS pg_surgery; CREATE EXTENSION IF NOT EXISTS pageinspect; "
      "DROP TABLE IF EXISTS role_victim; CREATE TABLE role_victim (id int); "
      "INSERT INTO role_victim VALUES (1)");
  const std::vector<std::string> attacks = {
      "SELECT heap_force_kill('role_victim'::regclass, ARRAY['(0,1)'::tid])",
      "SELECT length(get_raw_page('pg_authid', 0))",
      "SELECT pg_read_file('/etc/hostname')",
      "SELECT pg_catalog.pg_read_file('PG_VERSION')",
      "SHOW primary_conninfo",
      "SELECT count(*) FROM pg_file_settings",
  };
  RawPgClient proxied = connectProxy(*pgro);
  RawPgClient direct = connectDirectAsReader();
  for (const auto& sql : attacks) {
    Answer through_pgro = ask(proxied, sql);
    EXPECT_TRUE(through_pgro.error) << "through pgro: " << sql << ": " << through_pgro.describe();
    Answer at_server = ask(direct, sql);
    ASSERT_TRUE(at_server.error) << "directly under the role: " << sql << ": "
                                 << at_server.describe();
    EXPECT_EQ(at_server.error->sqlstate(), "42501") << sql << ": " << at_server.describe();
    if (through_pgro.error && !refusedByPgro(through_pgro)) {
      // pgro let it through: PostgreSQL refused it with the same error as directly.
      EXPECT_EQ(through_pgro.error->sqlstate(), "42501") << sql << ": " << through_pgro.describe();
    }
  }
  EXPECT_EQ(postgres().execDirect("SELECT count(*) FROM role_victim")[0][0].as<int>(), 1)
      << "heap_force_kill destroyed the row";
  // The same function as the account itself really works: the refusal above is the role's.
  RawPgClient admin = connectDirect();
  EXPECT_FALSE(ask(admin, "SELECT length(get_raw_page('pg_authid', 0))").error);
}

// The server layer on its own: a write that got past the classifier (BEGIN READ WRITE, or the
// session's read-only default switched off) is refused by PostgreSQL under the role.
TEST(UpstreamRoleTest, WritesThatPassTheClassifierAreRefusedByTheServer) {
  postgres().execDirect("DROP TABLE IF EXISTS role_target; CREATE TABLE role_target (id int)");
  RawPgClient direct = connectDirectAsReader();
  Answer insert = ask(direct, "BEGIN READ WRITE; INSERT INTO role_target VALUES (1); COMMIT");
  ASSERT_TRUE(insert.error) << insert.describe();
  EXPECT_EQ(insert.error->sqlstate(), "42501") << insert.describe();
  EXPECT_NE(insert.error->message().find("permission denied for table role_target"),
            std::string::npos)
      << insert.describe();
  ask(direct, "ROLLBACK");
  EXPECT_FALSE(
      ask(direct, "SELECT set_config('default_transaction_read_only', 'off', false)").error);
  for (const char* write : {"INSERT INTO role_target VALUES (2)", "DELETE FROM role_target",
                            "CREATE TABLE role_created (id int)", "TRUNCATE role_target"}) {
    Answer a = ask(direct, write);
    ASSERT_TRUE(a.error) << write;
    EXPECT_EQ(a.error->sqlstate(), "42501") << write << ": " << a.describe();
  }
  EXPECT_EQ(postgres().execDirect("SELECT count(*) FROM role_target")[0][0].as<int>(), 0);
  EXPECT_EQ(postgres().execDirect("SELECT to_regclass('role_created') IS NULL")[0][0].as<bool>(),
            true);
}

// The reset paths return to the startup role (so a client that could send them would stay
// read-only); SET ROLE NONE and set_config('role') do not, which is why pgro refuses them.
TEST(UpstreamRoleTest, TheStartupRoleSurvivesResetsButNotSetRole) {
  RawPgClient direct = connectDirectAsReader();
  for (const char* reset : {"RESET ALL", "RESET ROLE", "DISCARD ALL", "RESET SESSION AUTHORIZATION",
                            "SET SESSION AUTHORIZATION DEFAULT"}) {
    Answer a = ask(direct, reset);
    EXPECT_FALSE(a.error) << reset << ": " << a.describe();
    EXPECT_EQ(currentUser(direct), "pg_read_all_data") << "after " << reset;
  }
  EXPECT_FALSE(ask(direct, "SET ROLE NONE").error);
  EXPECT_EQ(currentUser(direct), postgres().user()) << "SET ROLE NONE restores the superuser";
  EXPECT_FALSE(ask(direct, "RESET ROLE").error);
  EXPECT_EQ(currentUser(direct), "pg_read_all_data");
  EXPECT_FALSE(ask(direct, "SELECT set_config('role', 'none', false)").error);
  EXPECT_EQ(currentUser(direct), postgres().user()) << "set_config('role') escapes it too";
}

TEST(UpstreamRoleTest, EveryWayOfChangingTheRoleIsRefusedByPgro) {
  auto pgro = startPgro({{"POOL_SIZE", "1"}});
  RawPgClient client = connectProxy(*pgro);
  const std::string admin = postgres().user();
  const std::vector<std::string> changes = {
      "SET ROLE NONE",
      "SET ROLE " + admin,
      "SET role = 'none'",
      "SET \"ROLE\" TO none",
      "SET SESSION ROLE NONE",
      "RESET ROLE",
      "SET role TO DEFAULT",
      "SET SESSION AUTHORIZATION " + admin,
      "SET SESSION AUTHORIZATION DEFAULT",
      "RESET SESSION AUTHORIZATION",
      "SELECT set_config('role', 'none', false)",
      "SELECT set_config('ROLE', 'none', true)",
      "SELECT pg_catalog.set_config('role', '" + admin + "', false)",
      "SELECT set_config('session_authorization', '" + admin + "', false)",
      "SELECT 1 FROM (SELECT set_config('role', 'none', false)) AS s",
      "DO $$ BEGIN PERFORM set_config('role', 'none', false); END $$",
      "SELECT 1; SET ROLE NONE",
  };
  for (const auto& sql : changes) {
    Answer a = ask(client, sql);
    EXPECT_TRUE(refusedByPgro(a)) << sql << ": " << a.describe();
    EXPECT_EQ(currentUser(client), "pg_read_all_data") << "after " << sql;
  }
  // Inside a transaction block: SET LOCAL ROLE is refused and the block is failed.
  EXPECT_FALSE(ask(client, "BEGIN").error);
  EXPECT_TRUE(refusedByPgro(ask(client, "SET LOCAL ROLE NONE")));
  ask(client, "ROLLBACK");
  EXPECT_EQ(currentUser(client), "pg_read_all_data");
  // The extended protocol goes through the same rules.
  client.send(wire::parse("", "SET ROLE NONE") + wire::bind("", "") + wire::execute("") +
              wire::sync());
  auto reply = client.readReply(10s);
  ASSERT_TRUE(reply.ready) << describe(reply);
  EXPECT_TRUE(firstError(reply.messages)) << describe(reply);
  EXPECT_EQ(currentUser(client), "pg_read_all_data");
  // RESET ALL is allowed: role is not among the settings it resets. DISCARD ALL, refused or
  // run, leaves the startup role in place too.
  EXPECT_FALSE(ask(client, "RESET ALL").error);
  EXPECT_EQ(currentUser(client), "pg_read_all_data");
  Answer discard = ask(client, "DISCARD ALL");
  EXPECT_EQ(currentUser(client), "pg_read_all_data") << "after DISCARD ALL: " << discard.describe();

  // At login: startup parameters and options name settings like SET does.
  const std::vector<RawPgClient::Params> startups = {
      {{"options", "-c role=" + admin}},
      {{"options", "-crole=none"}},
      {{"options", "--role=" + admin}},
      {{"options", "-c session_authorization=" + admin}},
      {{"role", admin}},
      {{"session_authorization", admin}},
  };
  for (const auto& extra : startups) {
    RawPgClient c(pgro->host(), pgro->port());
    StartupResult r = c.startup(pgro->user(), pgro->password(), pgro->database(), extra);
    EXPECT_FALSE(r.ok) << extra.front().first << "=" << extra.front().second;
    ASSERT_TRUE(r.error) << extra.front().first << "=" << extra.front().second;
    EXPECT_EQ(r.error->sqlstate(), "42501") << r.error->describe();
  }
}

TEST(UpstreamRoleTest, OtherSessionsQueryTextsAreHidden) {
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}, {"ALLOW_PG_SLEEP", "true"}});
  RawPgClient busy = connectDirect();
  const int32_t pid = busy.startupResult().backend_pid.value();
  busy.send(wire::query("SELECT pg_sleep(30) /* role-test-secret-text */"));
  ASSERT_TRUE(waitForActiveQuery("role-test-secret-text", 10s));
  RawPgClient client = connectProxy(*pgro);
  Answer seen =
      ask(client, "SELECT query FROM pg_stat_activity WHERE pid = " + std::to_string(pid));
  EXPECT_EQ(seen.value, "<insufficient privilege>") << seen.describe();
  busy.cancelSelf();
  busy.readReply(10s);
}

TEST(UpstreamRoleTest, TablesCreatedAfterStartAreReadable) {
  auto pgro = startPgro();
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(currentUser(client), "pg_read_all_data");
  postgres().execDirect(
      "DROP SCHEMA IF EXISTS late CASCADE; CREATE SCHEMA late; "
      "CREATE TABLE late.news (id int, t text); INSERT INTO late.news VALUES (7, 'fresh')");
  Answer a = ask(client, "SELECT t FROM late.news WHERE id = 7");
  EXPECT_EQ(a.value, "fresh") << a.describe();
}

// pg_read_all_data has no BYPASSRLS (a superuser bypasses row-level security): clients now
// see what the policies allow, and row_security=off (pg_dump's default) is an error.
TEST(UpstreamRoleTest, RowLevelSecurityAppliesToClients) {
  postgres().execDirect(
      "DROP TABLE IF EXISTS rls_rows; CREATE TABLE rls_rows (id int, team text); "
      "INSERT INTO rls_rows VALUES (1, 'red'), (2, 'blue'); "
      "ALTER TABLE rls_rows ENABLE ROW LEVEL SECURITY; "
      "CREATE POLICY red_only ON rls_rows FOR SELECT USING (team = 'red')");
  EXPECT_EQ(postgres().execDirect("SELECT count(*) FROM rls_rows")[0][0].as<int>(), 2);
  auto pgro = startPgro({{"CACHE_ENABLED", "false"}});
  RawPgClient client = connectProxy(*pgro);
  Answer visible = ask(client, "SELECT count(*) FROM rls_rows");
  EXPECT_EQ(visible.value, "1") << visible.describe();
  Answer off = ask(client, "SET row_security = off; SELECT count(*) FROM rls_rows");
  ASSERT_TRUE(off.error) << off.describe();
  EXPECT_NE(off.error->message().find("row-level security"), std::string::npos) << off.describe();
}

TEST(UpstreamRoleTest, NoneKeepsTheAccountsOwnPrivileges) {
  auto pgro = startPgro({{"UPSTREAM_ROLE", "none"}});
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(currentUser(client), postgres().user());
  postgres().execDirect(
      "DROP TABLE IF EXISTS rls_none; CREATE TABLE rls_none (id int); "
      "INSERT INTO rls_none VALUES (1), (2); ALTER TABLE rls_none ENABLE ROW LEVEL SECURITY");
  Answer all_rows = ask(client, "SELECT count(*) FROM rls_none");
  EXPECT_EQ(all_rows.value, "2") << "the superuser bypasses RLS: " << all_rows.describe();
  Answer setting = ask(client, "SHOW data_directory");
  EXPECT_FALSE(setting.error) << setting.describe();
  const std::string line = lineWith(pgro->log(), "Upstream role:");
  EXPECT_NE(line.find("none"), std::string::npos) << pgro->log();
  EXPECT_EQ(lineWith(pgro->log(), "WARN"), "");
}

TEST(UpstreamRoleTest, NamedRoleIsUsedEvenWithSpacesAndBackslashes) {
  ensureRoles();
  auto pgro = startPgro({{"UPSTREAM_ROLE", kOperatorRole}, {"POOL_SIZE", "2"}});
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(currentUser(client), kOperatorRole);
  // The operator's role adds pg_read_all_settings: SHOW data_directory works again...
  Answer setting = ask(client, "SHOW data_directory");
  EXPECT_FALSE(setting.error) << setting.describe();
  EXPECT_NE(setting.value.value_or("").find("/data"), std::string::npos) << setting.describe();
  // ...and superuser-only functions are still refused by PostgreSQL.
  Answer file = ask(client, "SELECT count(*) FROM pg_file_settings");
  EXPECT_TRUE(file.error) << file.describe();
  EXPECT_NE(lineWith(pgro->log(), "Upstream role:").find(kOperatorRole), std::string::npos)
      << pgro->log();
}

TEST(UpstreamRoleTest, UnknownRoleStopsStartupWithOneClearLine) {
  Env env = pgroBaseEnv(postgres());
  env["UPSTREAM_ROLE"] = "no_such_reader";
  CommandResult r = runPgro(pgroBinary(), env, {}, 30s);
  EXPECT_FALSE(r.timed_out) << "pgro started with a role that does not exist";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const std::string line = lineWith(r.out + "\n" + r.err, "UPSTREAM_ROLE");
  EXPECT_NE(line.find("\"no_such_reader\" does not exist"), std::string::npos) << r.describe();
}

TEST(UpstreamRoleTest, RoleTheAccountMayNotUseStopsStartup) {
  ensureRoles();
  Env env = pgroBaseEnv(postgres());
  env["UPSTREAM_USER"] = kPlainUser;
  env["UPSTREAM_PASSWORD"] = kPlainPassword;
  env["UPSTREAM_ROLE"] = "pg_read_all_data";
  CommandResult r = runPgro(pgroBinary(), env, {}, 30s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const std::string line = lineWith(r.out + "\n" + r.err, "UPSTREAM_ROLE");
  EXPECT_NE(line.find("may not SET ROLE \"pg_read_all_data\""), std::string::npos) << r.describe();
}

TEST(UpstreamRoleTest, AutoWithAnAccountThatCannotUseTheRoleWarnsAndWorks) {
  ensureRoles();
  auto pgro = startPgro({{"UPSTREAM_USER", kPlainUser}, {"UPSTREAM_PASSWORD", kPlainPassword}});
  const std::string warning = lineWith(pgro->log(), "cannot use pg_read_all_data");
  EXPECT_NE(warning.find("WARN"), std::string::npos) << pgro->log();
  EXPECT_NE(warning.find("not enforce read-only"), std::string::npos) << warning;
  EXPECT_NE(warning.find("GRANT pg_read_all_data TO \"pgro_plain\""), std::string::npos) << warning;
  RawPgClient client = connectProxy(*pgro);
  EXPECT_EQ(currentUser(client), kPlainUser);
  Answer read = ask(client, "SELECT count(*) FROM typed_values");
  EXPECT_EQ(read.value, "5") << read.describe();
}

}  // namespace
}  // namespace pgro::it
