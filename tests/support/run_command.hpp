// Child processes for tests: spawn with an explicit environment, run a command with a
// deadline and collect its output (psql, pgbench, initdb, pgro with bad configuration).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgro::test {

using Env = std::map<std::string, std::string>;

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH
  Env env;                        // variables for the child
  bool inherit_env = false;       // start from this process's environment, then apply env
  std::string cwd;                // empty: this process's working directory
  std::string run_as_user;        // when running as root: switch to this user before exec
  std::string output_file;        // spawnProcess only: stdout+stderr appended here
  // The child gets SIGKILL when the spawning thread dies, so a crashed test binary never
  // leaves a postgres or pgro behind.
  bool kill_with_parent = true;
};

// Forks and execs; the child leads its own process group. Throws std::runtime_error if
// the program cannot be found or fork fails. An exec failure makes the child exit 127.
pid_t spawnProcess(const SpawnOptions& options);

// waitpid with a deadline. Exit code, or 128 + signal number when killed by a signal;
// std::nullopt if still running at the deadline. Reaps the child.
std::optional<int> waitForExit(pid_t pid, std::chrono::milliseconds timeout);

// SIGKILL to the child's process group and reap it (no-op if pid <= 0 or already gone).
void killAndReap(pid_t pid);

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
  bool timed_out = false;
  // One-line summary plus the output, for assertion messages.
  std::string describe() const;
};

// Runs argv to completion (or kills its process group at the deadline) and collects
// stdout and stderr separately. `env` is applied on top of this process's environment.
CommandResult runCommand(const std::vector<std::string>& argv, const Env& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Same with full control over the environment, working directory and user; stdin_data is
// written to the child's stdin (which is then closed).
CommandResult runCommand(const SpawnOptions& options, std::chrono::milliseconds timeout,
                         std::string_view stdin_data = {});

// Picks a TCP port on 127.0.0.1 that is free right now (bind to port 0, read, close).
uint16_t freeLoopbackPort();

// True if a TCP connection to host:port succeeds (the connection is closed at once).
bool canConnect(const std::string& host, uint16_t port);

// Reads a whole file ("" if missing); from `offset` when given.
std::string readFile(const std::string& path, std::size_t offset = 0);

// A fresh directory from mkdtemp under $TMPDIR or /tmp; throws on failure.
std::string makeTempDir(std::string_view prefix);

}  // namespace pgro::test
