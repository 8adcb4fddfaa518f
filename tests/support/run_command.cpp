#include "support/run_command.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pgro::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string errnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

Env buildEnv(const SpawnOptions& options) {
  Env result;
  if (options.inherit_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string_view::npos) {
        result.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
      }
    }
  }
  for (const auto& [k, v] : options.env) result[k] = v;
  return result;
}

std::string resolveProgram(const std::string& name, const Env& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  if (auto it = env.find("PATH"); it != env.end()) {
    path = it->second;
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  } else {
    path = "/usr/local/bin:/usr/bin:/bin";
  }
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("program not found in PATH: " + name);
}

struct UserIds {
  uid_t uid;
  gid_t gid;
};

std::optional<UserIds> lookUpUser(const std::string& user) {
  if (user.empty() || ::geteuid() != 0) return std::nullopt;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw std::runtime_error("unknown OS user: " + user);
  return UserIds{pw->pw_uid, pw->pw_gid};
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe
// calls are made.
struct Prepared {
  std::string program;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::optional<UserIds> ids;

  explicit Prepared(const SpawnOptions& options) {
    if (options.argv.empty()) throw std::runtime_error("spawn: empty argv");
    Env env = buildEnv(options);
    program = resolveProgram(options.argv[0], env);
    argv_storage = options.argv;
    for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
    for (auto& s : argv_storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    ids = lookUpUser(options.run_as_user);
  }
};

void writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Runs in the forked child; never returns.
[[noreturn]] void execChild(const Prepared& p, const SpawnOptions& options, pid_t parent,
                            int stdin_fd, int stdout_fd, int stderr_fd) {
  ::setpgid(0, 0);
  if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
  if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
  if (stderr_fd >= 0) ::dup2(stderr_fd, 2);
  // Close every other descriptor the test process holds (sockets, pipes).
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) {
    writeAll(2, "spawn: chdir failed\n");
    ::_exit(127);
  }
  if (p.ids) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(p.ids->gid) != 0 || ::setuid(p.ids->uid) != 0) {
      writeAll(2, "spawn: cannot switch user\n");
      ::_exit(127);
    }
  }
  // After the user switch: a credential change clears the parent-death signal.
  if (options.kill_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
  }
  ::execve(p.program.c_str(), p.argv.data(), p.envp.data());
  writeAll(2, "spawn: exec failed: ");
  writeAll(2, p.program);
  writeAll(2, "\n");
  ::_exit(127);
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

pid_t spawnProcess(const SpawnOptions& options) {
  Prepared prepared(options);
  int out_fd = -1;
  if (!options.output_file.empty()) {
    out_fd = ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) throw std::runtime_error(errnoText("open " + options.output_file));
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (out_fd >= 0) ::close(out_fd);
    ::close(null_fd);
    throw std::runtime_error(errnoText("fork"));
  }
  if (pid == 0) execChild(prepared, options, parent, null_fd, out_fd, out_fd);
  ::setpgid(pid, pid);  // also from the parent: no race with an early kill(-pid)
  if (out_fd >= 0) ::close(out_fd);
  ::close(null_fd);
  return pid;
}

std::optional<int> waitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  if (pid <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decodeStatus(status);
    if (r < 0 && errno != EINTR) return std::nullopt;  // not our child (already reaped)
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void killAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string CommandResult::describe() const {
  std::ostringstream os;
  os << "exit code " << exit_code << (timed_out ? " (killed at the deadline)" : "")
     << "\n--- stdout ---\n"
     << out << "\n--- stderr ---\n"
     << err;
  return os.str();
}

CommandResult runCommand(const std::vector<std::string>& argv, const Env& env,
                         std::chrono::milliseconds timeout) {
  SpawnOptions options;
  options.argv = argv;
  options.env = env;
  options.inherit_env = true;
  return runCommand(options, timeout);
}

CommandResult runCommand(const SpawnOptions& options, std::chrono::milliseconds timeout,
                         std::string_view stdin_data) {
  Prepared prepared(options);
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(errnoText("pipe"));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(errnoText("fork"));
  if (pid == 0) execChild(prepared, options, parent, in_pipe[0], out_pipe[1], err_pipe[1]);
  ::setpgid(pid, pid);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  // stdin is written up front; test inputs are small (well under the pipe buffer) and a
  // child that does not read them must not block us, so the write end is non-blocking.
  ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  {
    ::signal(SIGPIPE, SIG_IGN);
    std::string_view rest = stdin_data;
    while (!rest.empty()) {
      ssize_t n = ::write(in_pipe[1], rest.data(), rest.size());
      if (n <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(in_pipe[1]);
  }

  CommandResult result;
  auto deadline = Clock::now() + timeout;
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  bool open[2] = {true, true};
  char buf[8192];
  while (open[0] || open[1]) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd pfds[2];
    int n = 0;
    int map[2];
    for (int i = 0; i < 2; ++i) {
      if (open[i]) {
        pfds[n] = {fds[i], POLLIN, 0};
        map[n++] = i;
      }
    }
    int r = ::poll(pfds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    for (int j = 0; j < n; ++j) {
      if (pfds[j].revents == 0) continue;
      int i = map[j];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        open[i] = false;
      }
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (result.timed_out) {
    killAndReap(pid);
    result.exit_code = 128 + SIGKILL;
    return result;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  auto code = waitForExit(pid, std::max(left, std::chrono::milliseconds(100)));
  if (!code) {
    result.timed_out = true;
    killAndReap(pid);
    result.exit_code = 128 + SIGKILL;
  } else {
    result.exit_code = *code;
  }
  return result;
}

uint16_t freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(errnoText("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(errnoText("bind"));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool canConnect(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return false;
  }
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string readFile(const std::string& path, std::size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  if (offset >= size) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data(size - offset, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

std::string makeTempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error(errnoText("mkdtemp"));
  return tmpl;
}

}  // namespace pgro::test
