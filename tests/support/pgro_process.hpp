// The pgro binary as a child process of the test, with an explicit environment (nothing
// inherited from the test's own environment except PATH and HOME).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"

namespace pgro::test {

inline constexpr const char* kProxyUser = "reader";
inline constexpr const char* kProxyPassword = "reader-pass";

// UPSTREAM_* for `pg`, PROXY_USER=reader, PROXY_PASSWORD=reader-pass, LISTEN_HOST=127.0.0.1,
// fresh free ports for LISTEN_PORT, METRICS_LISTEN and ADMIN_LISTEN, LOG_LEVEL=debug,
// WORKER_THREADS=2, POOL_SIZE=4. Change entries before starting to override.
Env pgroBaseEnv(const TempPostgres& pg);

struct PgroOptions {
  std::string binary;  // path of the pgro executable
  Env env;             // the child's whole environment (PATH and HOME added if missing)
  std::vector<std::string> args;
  std::chrono::milliseconds ready_timeout{20000};
  std::string dotenv;  // written to .env in pgro's working directory before it starts
};

class PgroProcess {
 public:
  // Starts pgro and returns once LISTEN_PORT accepts a TCP connection. Throws
  // std::runtime_error with pgro's output if it exits first or the deadline passes.
  explicit PgroProcess(PgroOptions options);
  // Shorthand: pgroBaseEnv(pg) with `overrides` applied.
  PgroProcess(std::string binary, const TempPostgres& pg, const Env& overrides = {});
  // SIGKILL if still running; removes the working directory. If the current test has
  // failed, the tail of pgro's output is printed to stderr.
  ~PgroProcess();
  PgroProcess(const PgroProcess&) = delete;
  PgroProcess& operator=(const PgroProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string host() const { return "127.0.0.1"; }
  uint16_t port() const { return port_; }
  const Env& env() const { return options_.env; }
  std::string user() const;
  std::string password() const;
  std::string database() const;

  // Replaces .env in pgro's working directory (what a reload reads).
  void writeDotEnv(const std::string& text) const;

  // libpq key=value string for the proxy; defaults are the proxy's own login.
  std::string conninfo() const { return conninfo(user(), password(), database()); }
  std::string conninfo(const std::string& user, const std::string& password,
                       const std::string& database) const;
  // PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE pointing at the proxy.
  Env libpqEnv() const;

  // stdout + stderr so far.
  std::string log() const;
  std::string logPath() const { return dir_ + "/pgro.log"; }
  // Polls the log until needle appears or the timeout passes.
  bool waitForLog(std::string_view needle, std::chrono::milliseconds timeout) const;

  void sendSignal(int signal);
  // Exit code (128 + signal if killed by one), or nullopt if still running at the deadline.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  bool running();

 private:
  void start();
  // New free loopback ports for LISTEN_PORT, METRICS_LISTEN and ADMIN_LISTEN; false if the
  // environment names none of them.
  bool freshLoopbackPorts();

  PgroOptions options_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// Runs pgro to completion (for startup failures and --help): same environment handling
// as PgroProcess, killed at the deadline.
CommandResult runPgro(const std::string& binary, const Env& env,
                      const std::vector<std::string>& args, std::chrono::milliseconds timeout);

}  // namespace pgro::test
