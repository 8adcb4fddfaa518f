// Settings that may hold credentials. PostgreSQL 15 hides primary_conninfo from a role
// without pg_read_all_settings, but not restore_command, archive_command or the custom
// settings of extensions and applications: every role, pg_read_all_data included, reads them
// with SHOW, current_setting() and pg_settings. pgro refuses those reads itself, for settings
// the admin sets after pgro started too, and the refused statements never reach PostgreSQL.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

constexpr const char* kRestoreSecret = "wal-pw-5f1c";
constexpr const char* kTokenSecret = "tok-9a27e";

// pgro marks the errors it sends itself with the routine field 'R' = "pgro".
using Messages = std::vector<Message>;

bool refusedByPgro(const Messages& reply) {
  auto error = firstError(reply);
  return error && error->get('R') == "pgro" && error->get('C') == "42501";
}

bool mentions(const Messages& reply, std::string_view secret) {
  for (const auto& row : dataRows(reply)) {
    for (const auto& field : row) {
      if (field && field->find(secret) != std::string::npos) return true;
    }
  }
  auto error = firstError(reply);
  return error && error->describe().find(secret) != std::string::npos;
}

bool succeeded(const Messages& reply) {
  return !firstError(reply) && !reply.empty();
}

std::string describe(const Messages& reply) {
  auto error = firstError(reply);
  return error ? error->describe() : std::to_string(dataRows(reply).size()) + " rows";
}

class SecretSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    postgres().execDirect(std::string("ALTER SYSTEM SET restore_command = 'scp -o pass=") +
                          kRestoreSecret + " backup:/wal/%f %p'");
    postgres().execDirect("SELECT pg_reload_conf()");
  }
  void TearDown() override {
    postgres().execDirect("ALTER SYSTEM RESET restore_command");
    postgres().execDirect("ALTER DATABASE \"" + postgres().database() + "\" RESET myapp.api_token");
    postgres().execDirect("SELECT pg_reload_conf()");
  }

  // Waits until a fresh session sees `sql`'s answer contain `secret` (reload is async).
  static bool serverShows(std::string_view sql, std::string_view secret) {
    for (int i = 0; i < 100; ++i) {
      RawPgClient direct = RawPgClient::connect(
          postgres().host(), postgres().port(), postgres().user(), postgres().password(),
          postgres().database(),
          {{"options", "-c default_transaction_read_only=on -c role=pg_read_all_data"}});
      if (mentions(direct.query(sql, 10s), secret)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
};

TEST_F(SecretSettingsTest, ValuesThatMayHoldCredentialsAreRefusedTwoClientsOneConnection) {
  auto pgro = startPgro({{"POOL_SIZE", "1"}, {"UPSTREAM_ROLE", "auto"}});
  // Set after pgro started (a custom setting cannot be set with ALTER SYSTEM in 15).
  postgres().execDirect("ALTER DATABASE \"" + postgres().database() + "\" SET myapp.api_token = '" +
                        kTokenSecret + "'");
  RawPgClient a = connectProxy(*pgro);
  RawPgClient b = connectProxy(*pgro);
  // The server itself shows both to the read-only role pgro runs as: pgro must not.
  ASSERT_TRUE(serverShows("SHOW restore_command", kRestoreSecret));
  ASSERT_TRUE(serverShows("SHOW myapp.api_token", kTokenSecret));

  const std::size_t mark = postgres().logOffset();
  const std::vector<std::string> refused = {
      "SHOW restore_command",
      "SHOW myapp.api_token",
      "SHOW ALL",
      "SELECT current_setting('restore_command')",
      "SELECT current_setting('MYAPP.API_TOKEN', true)",
      "SELECT name, setting FROM pg_settings",
      "SELECT string_agg(setting, ',') FROM pg_catalog.pg_settings WHERE name LIKE '%command'",
      "SELECT name FROM pg_settings WHERE setting LIKE '%" + std::string(kRestoreSecret) + "%'",
      "SELECT to_json(s) FROM pg_settings s",
      "SELECT setting::int FROM pg_settings WHERE name = 'restore_command'",
      "SELECT s.name, current_setting(s.name) FROM pg_settings s WHERE s.source <> 'default'",
      "SELECT * FROM pg_show_all_settings()",
  };
  for (std::size_t i = 0; i < refused.size(); ++i) {
    RawPgClient& client = i % 2 == 0 ? a : b;
    auto reply = client.query(refused[i], 10s);
    EXPECT_TRUE(refusedByPgro(reply)) << refused[i] << ": " << describe(reply);
    EXPECT_FALSE(mentions(reply, kRestoreSecret)) << refused[i];
    EXPECT_FALSE(mentions(reply, kTokenSecret)) << refused[i];
  }
  const std::string log = postgres().serverLogSince(mark);
  EXPECT_EQ(log.find("LOG:  statement:"), std::string::npos)
      << "a refused read reached PostgreSQL:\n"
      << log.substr(0, 600);

  // Named, non-secret settings stay readable, psql's \dconfig with one name included.
  auto work_mem = b.query("SELECT setting FROM pg_settings WHERE name = 'work_mem'", 10s);
  ASSERT_TRUE(succeeded(work_mem)) << describe(work_mem);
  EXPECT_EQ(dataRows(work_mem).size(), 1u);
  EXPECT_TRUE(succeeded(a.query("SHOW work_mem", 10s)));
  auto dconfig = a.query(
      "SELECT s.name AS \"Parameter\", pg_catalog.current_setting(s.name) AS \"Value\" "
      "FROM pg_catalog.pg_settings s WHERE s.name OPERATOR(pg_catalog.~) '^(work_mem)$' "
      "COLLATE pg_catalog.default ORDER BY 1",
      10s);
  ASSERT_TRUE(succeeded(dconfig)) << describe(dconfig);
  ASSERT_EQ(dataRows(dconfig).size(), 1u);
  EXPECT_EQ(dataRows(dconfig)[0][0].value_or(""), "work_mem");
  // Names are not secrets: the list of *_command settings is readable.
  auto names = b.query("SELECT name FROM pg_settings WHERE name LIKE '%command' ORDER BY 1", 10s);
  ASSERT_TRUE(succeeded(names)) << describe(names);
  EXPECT_GE(dataRows(names).size(), 4u);
  EXPECT_FALSE(mentions(names, kRestoreSecret));
}

}  // namespace
}  // namespace pgro::it
