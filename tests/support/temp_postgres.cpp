#include "support/temp_postgres.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace pgro::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void chownTree(const std::string& path, const std::string& user) {
  if (user.empty()) return;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw std::runtime_error("unknown OS user: " + user);
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("chown " + path + " failed");
  }
}

std::string quoteConninfo(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string postgresOsUser() {
  return ::geteuid() == 0 ? "postgres" : "";
}

std::string postgresBinDir() {
  if (const char* dir = std::getenv("PG_BINDIR"); dir != nullptr && *dir != '\0') return dir;
  return "/usr/lib/postgresql/15/bin";
}

TempPostgres::TempPostgres(TempPostgresOptions options) : options_(std::move(options)) {
  dir_ = makeTempDir("pgro-pg");
  run_as_ = postgresOsUser();  // CI runs tests as root
  try {
    ::chmod(dir_.c_str(), 0700);
    chownTree(dir_, run_as_);
    initdb();
    installSslFiles();
    // A port picked free can be taken by someone else before postgres binds it: retry.
    for (int attempt = 0;; ++attempt) {
      port_ = freeLoopbackPort();
      writeConf();
      try {
        start();
        break;
      } catch (const std::exception&) {
        if (attempt >= 2 || running()) throw;
      }
    }
  } catch (...) {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

TempPostgres::~TempPostgres() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

TempPostgres& TempPostgres::shared() {
  static TempPostgres instance;
  return instance;
}

void TempPostgres::initdb() {
  std::string pwfile = dir_ + "/pwfile";
  {
    std::ofstream out(pwfile);
    out << options_.admin_password << "\n";
  }
  chownTree(pwfile, run_as_);
  SpawnOptions spawn;
  spawn.argv = {postgresBinDir() + "/initdb",
                "-D",
                dataDir(),
                "-U",
                options_.admin_user,
                "--pwfile=" + pwfile,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions"};
  spawn.env = {{"PATH", "/usr/bin:/bin"}, {"LC_ALL", "C"}};
  spawn.run_as_user = run_as_;
  spawn.cwd = dir_;
  CommandResult r = runCommand(spawn, std::chrono::seconds(60));
  fs::remove(pwfile);
  if (r.exit_code != 0) throw std::runtime_error("initdb failed: " + r.describe());
  if (!options_.extra_hba.empty()) {
    std::string hba_path = dataDir() + "/pg_hba.conf";
    std::string rules;
    for (const auto& line : options_.extra_hba) rules += line + "\n";
    std::string original = readFile(hba_path);
    std::ofstream out(hba_path, std::ios::trunc);
    out << rules << original;
  }
}

void TempPostgres::installSslFiles() {
  if (options_.ssl_cert_file.empty() && options_.ssl_key_file.empty()) return;
  if (options_.ssl_cert_file.empty() || options_.ssl_key_file.empty()) {
    throw std::runtime_error("TempPostgres: set both ssl_cert_file and ssl_key_file");
  }
  for (const auto& [from, to] : {std::pair{options_.ssl_cert_file, sslCertPath()},
                                 std::pair{options_.ssl_key_file, sslKeyPath()}}) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    ::chmod(to.c_str(), 0600);
    chownTree(to, run_as_);
  }
}

void TempPostgres::writeConf() {
  // postgresql.auto.conf is read after postgresql.conf: rewriting it on a port retry
  // replaces the earlier attempt's settings.
  std::ofstream conf(dataDir() + "/postgresql.auto.conf", std::ios::trunc);
  conf << "port = " << port_ << "\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << dir_ << "'\n"
       << "fsync = off\n"
       << "synchronous_commit = off\n"
       << "full_page_writes = off\n"
       << "logging_collector = off\n"
       << "log_statement = 'all'\n"
       << "log_line_prefix = '%m [%p] %u@%d '\n"
       << "log_connections = on\n"
       << "log_disconnections = on\n"
       << "lc_messages = 'C'\n"
       << "max_connections = 100\n"
       << "shared_preload_libraries = 'pg_stat_statements'\n";
  if (!options_.ssl_cert_file.empty()) {
    conf << "ssl = on\n"
         << "ssl_cert_file = '" << sslCertPath() << "'\n"
         << "ssl_key_file = '" << sslKeyPath() << "'\n";
  }
  for (const auto& line : options_.extra_conf) conf << line << "\n";
  conf.close();
  chownTree(dataDir() + "/postgresql.auto.conf", run_as_);
}

void TempPostgres::start() {
  SpawnOptions spawn;
  spawn.argv = {postgresBinDir() + "/postgres", "-D", dataDir()};
  spawn.env = {{"PATH", "/usr/bin:/bin"}, {"LC_ALL", "C"}};
  spawn.run_as_user = run_as_;
  spawn.cwd = dir_;
  spawn.output_file = logPath();
  pid_ = spawnProcess(spawn);

  auto deadline = Clock::now() + options_.start_timeout;
  std::string last_error;
  while (Clock::now() < deadline) {
    if (auto code = waitForExit(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;
      throw std::runtime_error("postgres exited with code " + std::to_string(*code) +
                               " during startup; log:\n" + serverLog());
    }
    try {
      pqxx::connection c(conninfo());
      return;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error("postgres did not accept connections in time: " + last_error +
                           "\nlog:\n" + serverLog());
}

void TempPostgres::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown: roll back sessions, no checkpoint wait on clients
  if (!waitForExit(pid_, std::chrono::seconds(10))) killAndReap(pid_);
  pid_ = -1;
}

std::string TempPostgres::conninfo(std::string_view database) const {
  return "host=" + host() + " port=" + std::to_string(port_) +
         " user=" + quoteConninfo(options_.admin_user) +
         " password=" + quoteConninfo(options_.admin_password) +
         " dbname=" + quoteConninfo(database) + " connect_timeout=5";
}

Env TempPostgres::libpqEnv() const {
  return {{"PGHOST", host()},
          {"PGPORT", std::to_string(port_)},
          {"PGUSER", options_.admin_user},
          {"PGPASSWORD", options_.admin_password},
          {"PGDATABASE", database()},
          {"PGSSLMODE", "disable"},
          {"PGCONNECT_TIMEOUT", "5"}};
}

pqxx::result TempPostgres::execDirect(std::string_view sql) {
  pqxx::connection c(conninfo());
  pqxx::nontransaction tx(c);
  return tx.exec(std::string(sql));
}

void TempPostgres::initPgbench(int scale) {
  if (pgbench_ready_) return;
  CommandResult r = runCommand({"pgbench", "-i", "-q", "-s", std::to_string(scale)}, libpqEnv(),
                               std::chrono::seconds(120));
  if (r.exit_code != 0) throw std::runtime_error("pgbench -i failed: " + r.describe());
  pgbench_ready_ = true;
}

std::size_t TempPostgres::logOffset() const {
  std::error_code ec;
  auto size = fs::file_size(logPath(), ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

bool TempPostgres::logContains(std::string_view needle, std::size_t since) const {
  return serverLogSince(since).find(needle) != std::string::npos;
}

bool TempPostgres::waitForLog(std::string_view needle, std::size_t since,
                              std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  do {
    if (logContains(needle, since)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (Clock::now() < deadline);
  return logContains(needle, since);
}

int TempPostgres::statementsRun(std::size_t since, std::string_view marker) const {
  const std::string log = serverLogSince(since);
  int n = 0;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string_view line(log.data() + start, end - start);
    if ((line.find("LOG:  statement: ") != std::string_view::npos ||
         line.find("LOG:  execute ") != std::string_view::npos) &&
        line.find(marker) != std::string_view::npos) {
      ++n;
    }
    start = end + 1;
  }
  return n;
}

}  // namespace pgro::test
