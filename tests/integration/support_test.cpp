// The test support library against PostgreSQL directly (no pgro): if these fail, the
// integration suite's verdicts on pgro mean nothing.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "support/libpq_conn.hpp"
#include "support/pg_messages.hpp"
#include "support/raw_pg_client.hpp"
#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"
#include "support/test_certs.hpp"

namespace pgro::test {
namespace {

using namespace std::chrono_literals;

TEST(SupportTest, RunCommandCollectsOutputExitCodeAndDeadline) {
  CommandResult ok = runCommand({"sh", "-c", "echo out; echo err >&2; exit 3"}, {{"X", "1"}}, 10s);
  EXPECT_EQ(ok.exit_code, 3);
  EXPECT_EQ(ok.out, "out\n");
  EXPECT_EQ(ok.err, "err\n");
  EXPECT_FALSE(ok.timed_out);

  CommandResult env = runCommand({"sh", "-c", "printf %s \"$PGRO_T\""}, {{"PGRO_T", "v"}}, 10s);
  EXPECT_EQ(env.out, "v");

  auto start = std::chrono::steady_clock::now();
  CommandResult slow = runCommand({"sleep", "30"}, {}, 300ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  SpawnOptions clean;
  clean.argv = {"/usr/bin/env"};
  clean.env = {{"ONLY", "this"}};
  CommandResult only = runCommand(clean, 10s);
  EXPECT_EQ(only.out, "ONLY=this\n");
}

TEST(SupportTest, TempPostgresLogsStatementsAndRunsSql) {
  TempPostgres& pg = TempPostgres::shared();
  std::size_t mark = pg.logOffset();
  EXPECT_EQ(pg.execDirect("SELECT 40 + 2 AS marker_query")[0][0].as<int>(), 42);
  EXPECT_TRUE(pg.waitForLog("SELECT 40 + 2 AS marker_query", mark, 5s)) << pg.serverLogSince(mark);
  EXPECT_FALSE(pg.logContains("never-sent-statement", mark));
  EXPECT_EQ(pg.execDirect("SHOW fsync")[0][0].as<std::string>(), "off");
  EXPECT_EQ(pg.execDirect("SHOW shared_preload_libraries")[0][0].as<std::string>(),
            "pg_stat_statements");
  CommandResult psql = runCommand({"psql", "-X", "-A", "-t", "-c", "SELECT 7"}, pg.libpqEnv());
  EXPECT_EQ(psql.out, "7\n") << psql.describe();
}

TEST(SupportTest, RawClientScramQueryErrorAndExtendedProtocol) {
  TempPostgres& pg = TempPostgres::shared();
  RawPgClient c = RawPgClient::connect(pg.host(), pg.port(), pg.user(), pg.password(),
                                       pg.database(), {{"application_name", "support-test"}});
  EXPECT_EQ(c.startupResult().auth_method, "SCRAM-SHA-256");
  EXPECT_EQ(c.startupResult().parameters.at("application_name"), "support-test");
  ASSERT_TRUE(c.startupResult().backend_pid.has_value());

  auto rows = dataRows(c.query("SELECT 1, NULL::text, 'x'"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], std::nullopt);

  auto error = firstError(c.query("SELECT 'abc'::int"));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->sqlstate(), "22P02");
  EXPECT_EQ(error->severity(), "ERROR");
  EXPECT_EQ(error->position(), "8");

  c.send(wire::parse("s", "SELECT $1::int * 2", {23}) + wire::bind("", "s", {"21"}) +
         wire::describePortal("") + wire::execute("") + wire::sync());
  auto ext = c.readUntilReadyForQuery();
  EXPECT_EQ(typeSequence(ext), "12TDCZ");
  EXPECT_EQ(dataRows(ext).at(0).at(0), "42");

  StartupResult bad = RawPgClient(pg.host(), pg.port()).startup(pg.user(), "wrong", "postgres");
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(bad.error->sqlstate(), "28P01");
  EXPECT_FALSE(bad.ok);
}

TEST(SupportTest, RawClientCancelAndMalformedInputDirect) {
  TempPostgres& pg = TempPostgres::shared();
  RawPgClient c =
      RawPgClient::connect(pg.host(), pg.port(), pg.user(), pg.password(), pg.database());
  c.send(wire::query("SELECT pg_sleep(10)"));
  std::this_thread::sleep_for(300ms);
  c.cancelSelf();
  auto error = firstError(c.readUntilReadyForQuery(5s));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->sqlstate(), "57014");

  c.send(wire::message('z', "abc"));
  auto closed = c.readUntilClosed(5s);
  auto fatal = firstError(closed);
  ASSERT_TRUE(fatal);
  EXPECT_EQ(fatal->sqlstate(), "08P01");
  EXPECT_EQ(fatal->severity(), "FATAL");
}

TEST(SupportTest, RawClientMd5AndCleartextAuthentication) {
  TempPostgresOptions options;
  options.extra_hba = {"host all md5_user 127.0.0.1/32 md5",
                       "host all clear_user 127.0.0.1/32 password"};
  TempPostgres pg(options);
  pg.execDirect(
      "SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD 'md5-pw'; "
      "RESET password_encryption; CREATE ROLE clear_user LOGIN PASSWORD 'clear-pw'");
  RawPgClient md5 = RawPgClient::connect(pg.host(), pg.port(), "md5_user", "md5-pw", "postgres");
  EXPECT_EQ(md5.startupResult().auth_method, "md5");
  RawPgClient clear =
      RawPgClient::connect(pg.host(), pg.port(), "clear_user", "clear-pw", "postgres");
  EXPECT_EQ(clear.startupResult().auth_method, "cleartext");
  EXPECT_EQ(dataRows(clear.query("SELECT current_user")).at(0).at(0), "clear_user");
  pg.stop();
  EXPECT_FALSE(pg.running());
}

// What the TLS suite (tls_test.cpp) relies on, checked against PostgreSQL itself: the
// certificates verify as intended with libpq, and a server with ssl = on and a hostnossl
// reject rule takes TLS only.
TEST(SupportTest, TestCertsAndPostgresWithTls) {
  const TestCerts& certs = sharedTestCerts();
  for (const auto* key : {&certs.ca_key, &certs.server_key, &certs.server_ip_key}) {
    struct stat st {};
    ASSERT_EQ(::stat(key->c_str(), &st), 0) << *key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << *key;
  }
  CommandResult verified =
      runCommand({"openssl", "verify", "-CAfile", certs.ca_cert, certs.server_cert});
  EXPECT_EQ(verified.exit_code, 0) << verified.describe();
  CommandResult other =
      runCommand({"openssl", "verify", "-CAfile", certs.other_ca_cert, certs.server_cert});
  EXPECT_NE(other.exit_code, 0) << other.describe();
  CommandResult ip_san = runCommand({"openssl", "verify", "-CAfile", certs.ca_cert, "-verify_ip",
                                     "127.0.0.1", certs.server_ip_cert});
  EXPECT_EQ(ip_san.exit_code, 0) << ip_san.describe();
  CommandResult dns_only = runCommand({"openssl", "verify", "-CAfile", certs.ca_cert, "-verify_ip",
                                       "127.0.0.1", certs.server_cert});
  EXPECT_NE(dns_only.exit_code, 0) << dns_only.describe();

  TempPostgresOptions options;
  options.ssl_cert_file = certs.server_cert;
  options.ssl_key_file = certs.server_key;
  options.extra_hba = {"hostnossl all all 0.0.0.0/0 reject"};
  TempPostgres pg(options);
  const std::string base = "port=" + std::to_string(pg.port()) + " user=" + pg.user() +
                           " password=" + pg.password() + " dbname=postgres connect_timeout=5 ";

  LibpqConn full(base + "host=localhost sslmode=verify-full sslrootcert=" + certs.ca_cert);
  ASSERT_TRUE(full.ok()) << full.error();
  EXPECT_TRUE(full.sslInUse());
  EXPECT_TRUE(full.sslAttribute("protocol").rfind("TLSv1.", 0) == 0)
      << full.sslAttribute("protocol");
  auto ssl = full.exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(ssl.ok) << ssl.error;
  EXPECT_EQ(ssl.rows.at(0).at(0), "t");

  LibpqConn by_ip(base + "host=127.0.0.1 sslmode=verify-full sslrootcert=" + certs.ca_cert);
  EXPECT_FALSE(by_ip.ok()) << "the DNS-only certificate matched 127.0.0.1";
  EXPECT_NE(by_ip.error().find("does not match host name"), std::string::npos) << by_ip.error();

  LibpqConn ca_only(base + "host=127.0.0.1 sslmode=verify-ca sslrootcert=" + certs.ca_cert);
  EXPECT_TRUE(ca_only.ok()) << ca_only.error();

  LibpqConn wrong_ca(base + "host=localhost sslmode=verify-ca sslrootcert=" + certs.other_ca_cert);
  EXPECT_FALSE(wrong_ca.ok());
  EXPECT_NE(wrong_ca.error().find("certificate verify failed"), std::string::npos)
      << wrong_ca.error();

  LibpqConn plain(base + "host=127.0.0.1 sslmode=disable");
  EXPECT_FALSE(plain.ok()) << "hostnossl reject let a plaintext client in";
  EXPECT_NE(plain.error().find("no encryption"), std::string::npos) << plain.error();

  // A garbage handshake ends the connection at once (tls_test.cpp expects pgro to do
  // the same).
  RawPgClient garbage(pg.host(), pg.port());
  garbage.send(wire::sslRequest());
  std::string answer;
  ASSERT_EQ(garbage.readBytes(1, answer, 5s), RawPgClient::ReadStatus::Ok);
  EXPECT_EQ(answer, "S");
  garbage.send(std::string(200, '\0'));
  EXPECT_EQ(garbage.readBytesUntilClosed(5s).status, RawPgClient::ReadStatus::Closed);
}

}  // namespace
}  // namespace pgro::test
