// A throwaway PostgreSQL 15 for integration tests: initdb into a temp dir, a free loopback
// port, SCRAM for TCP, every statement logged to a file the test can read back.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "support/run_command.hpp"

namespace pgro::test {

struct TempPostgresOptions {
  std::string admin_user = "admin";
  std::string admin_password = "admin-secret-7Hq2";
  std::vector<std::string> extra_conf;  // appended to postgresql.conf, one setting a line
  // Put before initdb's pg_hba.conf rules (first match wins), e.g.
  // "host all md5_user 127.0.0.1/32 md5".
  std::vector<std::string> extra_hba;
  // PEM certificate and key (e.g. from makeTestCerts): when both are set the server runs
  // with ssl = on. They are copied into the server's directory, owned by the server's OS
  // user, the key with mode 0600 (PostgreSQL refuses a key others can read). To refuse
  // plaintext clients, add extra_hba "hostnossl all all 0.0.0.0/0 reject".
  std::string ssl_cert_file;
  std::string ssl_key_file;
  std::chrono::milliseconds start_timeout{30000};
};

class TempPostgres {
 public:
  // initdb + start; returns once a libpqxx connection as the admin succeeds. Throws
  // std::runtime_error (with the server log) on failure.
  explicit TempPostgres(TempPostgresOptions options = {});
  ~TempPostgres();  // stop() and remove the directory
  TempPostgres(const TempPostgres&) = delete;
  TempPostgres& operator=(const TempPostgres&) = delete;

  // One instance per test process, started on first use and stopped at exit. ctest runs
  // each TEST in its own process, so the cost is one initdb per test at most.
  static TempPostgres& shared();

  std::string host() const { return "127.0.0.1"; }
  uint16_t port() const { return port_; }
  const std::string& user() const { return options_.admin_user; }
  const std::string& password() const { return options_.admin_password; }
  std::string database() const { return "postgres"; }
  const std::string& dir() const { return dir_; }
  std::string dataDir() const { return dir_ + "/data"; }
  std::string socketDir() const { return dir_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // libpq key=value string for the admin over TCP. No sslmode: libpq's default (prefer)
  // also reaches a server whose pg_hba.conf refuses plaintext.
  std::string conninfo() const { return conninfo(database()); }
  std::string conninfo(std::string_view database) const;
  // PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for psql and pgbench run directly.
  Env libpqEnv() const;

  // Runs SQL as the admin on a fresh connection, outside any transaction block.
  pqxx::result execDirect(std::string_view sql);

  // `pgbench -i -s <scale>` directly against this server; runs once per process.
  void initPgbench(int scale = 1);

  // The server's log (log_statement = all, so every statement that reached it is there).
  std::string logPath() const { return dir_ + "/postgres.log"; }
  std::string serverLog() const { return readFile(logPath()); }
  // Marker for "from now on": pass it to serverLogSince / logContains.
  std::size_t logOffset() const;
  std::string serverLogSince(std::size_t offset) const { return readFile(logPath(), offset); }
  bool logContains(std::string_view needle, std::size_t since = 0) const;
  // Statements containing `marker` the server ran since `since`: its `LOG:  statement:`
  // (simple Query) and `LOG:  execute` (extended protocol) lines. An error repeats the text
  // on a STATEMENT: line, which is not counted.
  int statementsRun(std::size_t since, std::string_view marker) const;
  // Polls the log until needle appears after `since` or the timeout passes.
  bool waitForLog(std::string_view needle, std::size_t since,
                  std::chrono::milliseconds timeout) const;

  // Fast shutdown (SIGINT), SIGKILL after 10 s. Idempotent.
  void stop();

 private:
  void initdb();
  void writeConf();
  void start();
  void installSslFiles();
  std::string sslCertPath() const { return dir_ + "/server.crt"; }
  std::string sslKeyPath() const { return dir_ + "/server.key"; }

  TempPostgresOptions options_;
  std::string dir_;
  std::string run_as_;  // postgresOsUser()
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool pgbench_ready_ = false;
};

// The OS user TempPostgres runs PostgreSQL as: "postgres" when the tests run as root
// (PostgreSQL refuses to run as root), else "" (the current user).
std::string postgresOsUser();

// The PostgreSQL 15 server binaries (initdb, postgres); PG_BINDIR overrides.
std::string postgresBinDir();

}  // namespace pgro::test
