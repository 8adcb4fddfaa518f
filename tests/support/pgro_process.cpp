#include "support/pgro_process.hpp"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace pgro::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Env withBasics(Env env) {
  if (!env.count("PATH")) {
    const char* path = std::getenv("PATH");
    env["PATH"] = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  }
  if (!env.count("HOME")) {
    const char* home = std::getenv("HOME");
    env["HOME"] = home != nullptr ? home : "/";
  }
  return env;
}

std::string getOr(const Env& env, const std::string& key, const std::string& fallback) {
  auto it = env.find(key);
  return it == env.end() ? fallback : it->second;
}

}  // namespace

Env pgroBaseEnv(const TempPostgres& pg) {
  return {
      {"UPSTREAM_HOST", pg.host()},
      {"UPSTREAM_PORT", std::to_string(pg.port())},
      {"UPSTREAM_USER", pg.user()},
      {"UPSTREAM_PASSWORD", pg.password()},
      {"UPSTREAM_DATABASE", pg.database()},
      {"PROXY_USER", kProxyUser},
      {"PROXY_PASSWORD", kProxyPassword},
      {"LISTEN_HOST", "127.0.0.1"},
      {"LISTEN_PORT", std::to_string(freeLoopbackPort())},
      {"METRICS_LISTEN", "127.0.0.1:" + std::to_string(freeLoopbackPort())},
      {"ADMIN_LISTEN", "127.0.0.1:" + std::to_string(freeLoopbackPort())},
      {"LOG_LEVEL", "debug"},
      {"WORKER_THREADS", "2"},
      {"POOL_SIZE", "4"},
  };
}

PgroProcess::PgroProcess(PgroOptions options) : options_(std::move(options)) {
  options_.env = withBasics(std::move(options_.env));
  dir_ = makeTempDir("pgro-proc");
  if (!options_.dotenv.empty()) writeDotEnv(options_.dotenv);
  // Ports picked by freeLoopbackPort() are free when picked; another test's process may bind
  // one before pgro does. pgro then exits at once, and starts again on fresh ports.
  for (int attempt = 1;; ++attempt) {
    port_ = static_cast<uint16_t>(std::stoi(getOr(options_.env, "LISTEN_PORT", "5433")));
    try {
      start();
      return;
    } catch (...) {
      killAndReap(pid_);
      pid_ = -1;
      const bool port_taken =
          exit_code_ && log().find("Address already in use") != std::string::npos;
      if (port_taken && attempt < 3 && freshLoopbackPorts()) {
        exit_code_.reset();
        std::error_code ec;
        fs::remove(logPath(), ec);
        continue;
      }
      std::error_code ec;
      fs::remove_all(dir_, ec);
      throw;
    }
  }
}

bool PgroProcess::freshLoopbackPorts() {
  bool changed = false;
  if (options_.env.count("LISTEN_PORT")) {
    options_.env["LISTEN_PORT"] = std::to_string(freeLoopbackPort());
    changed = true;
  }
  for (const char* name : {"METRICS_LISTEN", "ADMIN_LISTEN"}) {
    auto it = options_.env.find(name);
    if (it != options_.env.end() && it->second.rfind("127.0.0.1:", 0) == 0) {
      it->second = "127.0.0.1:" + std::to_string(freeLoopbackPort());
      changed = true;
    }
  }
  return changed;
}

PgroProcess::PgroProcess(std::string binary, const TempPostgres& pg, const Env& overrides)
    : PgroProcess([&] {
        PgroOptions o;
        o.binary = std::move(binary);
        o.env = pgroBaseEnv(pg);
        for (const auto& [k, v] : overrides) o.env[k] = v;
        return o;
      }()) {}

PgroProcess::~PgroProcess() {
  if (pid_ > 0 && !exit_code_) killAndReap(pid_);
  if (::testing::Test::HasFailure()) {
    std::string text = log();
    constexpr std::size_t kTail = 6000;
    if (text.size() > kTail) text = "...\n" + text.substr(text.size() - kTail);
    std::cerr << "---- pgro output (pid " << pid_ << ", port " << port_ << ") ----\n"
              << text << "---- end of pgro output ----\n";
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgroProcess::writeDotEnv(const std::string& text) const {
  const std::string path = dir_ + "/.env";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  fs::rename(tmp, path);  // pgro never reads a half-written file
}

void PgroProcess::start() {
  SpawnOptions spawn;
  spawn.argv = {options_.binary};
  spawn.argv.insert(spawn.argv.end(), options_.args.begin(), options_.args.end());
  spawn.env = options_.env;
  spawn.cwd = dir_;  // no stray .env is read: only PgroOptions::dotenv
  spawn.output_file = logPath();
  pid_ = spawnProcess(spawn);

  auto deadline = Clock::now() + options_.ready_timeout;
  while (Clock::now() < deadline) {
    if (auto code = waitForExit(pid_, std::chrono::milliseconds(0))) {
      exit_code_ = code;
      throw std::runtime_error("pgro exited with code " + std::to_string(*code) +
                               " before listening on port " + std::to_string(port_) +
                               "; output:\n" + log());
    }
    // Listening, and this pgro's (not another process that took the port meanwhile): pgro
    // logs the line once its every listener is bound.
    if (canConnect(host(), port_) && log().find("Proxy server listening on") != std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("pgro did not listen on port " + std::to_string(port_) +
                           " within the deadline; output:\n" + log());
}

std::string PgroProcess::user() const {
  return getOr(options_.env, "PROXY_USER", kProxyUser);
}
std::string PgroProcess::password() const {
  return getOr(options_.env, "PROXY_PASSWORD", kProxyPassword);
}
std::string PgroProcess::database() const {
  return getOr(options_.env, "UPSTREAM_DATABASE", "postgres");
}

std::string PgroProcess::conninfo(const std::string& user, const std::string& password,
                                  const std::string& database) const {
  return "host=" + host() + " port=" + std::to_string(port_) + " user='" + user + "' password='" +
         password + "' dbname='" + database + "' sslmode=disable connect_timeout=10";
}

Env PgroProcess::libpqEnv() const {
  return {{"PGHOST", host()},         {"PGPORT", std::to_string(port_)}, {"PGUSER", user()},
          {"PGPASSWORD", password()}, {"PGDATABASE", database()},        {"PGSSLMODE", "disable"},
          {"PGCONNECT_TIMEOUT", "10"}};
}

std::string PgroProcess::log() const {
  return readFile(logPath());
}

bool PgroProcess::waitForLog(std::string_view needle, std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  do {
    if (log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (Clock::now() < deadline);
  return log().find(needle) != std::string::npos;
}

void PgroProcess::sendSignal(int signal) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signal);
}

std::optional<int> PgroProcess::waitExit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  exit_code_ = waitForExit(pid_, timeout);
  return exit_code_;
}

bool PgroProcess::running() {
  return !waitExit(std::chrono::milliseconds(0)).has_value();
}

CommandResult runPgro(const std::string& binary, const Env& env,
                      const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::string dir = makeTempDir("pgro-run");
  SpawnOptions spawn;
  spawn.argv = {binary};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.env = withBasics(env);
  spawn.cwd = dir;
  CommandResult r = runCommand(spawn, timeout);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

}  // namespace pgro::test
