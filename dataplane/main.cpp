// pgro: a read-only PostgreSQL proxy. The command line: `pgro passwd`, `pgro audit verify`,
// --help, --version, or the proxy itself (server/bootstrap). Exceptions are caught here.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "audit/hash_chain.hpp"
#include "auth/scram_verifier.hpp"
#include "config/config.hpp"
#include "server/bootstrap.hpp"

namespace {

// `pgro audit verify FILE`: checks an AUDIT_HASH_CHAIN log. Exit 0 when every line links to
// the one before it, 1 naming the first bad line, 2 on usage or I/O errors.
int auditCommand(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "verify") {
    std::fprintf(stderr, "usage: pgro audit verify FILE\n");
    return 2;
  }
  std::ifstream in(args[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "pgro audit verify: cannot open %s\n", args[2].c_str());
    return 2;
  }
  const auto result = pgro::audit::verifyChain(in);
  if (!result.ok) {
    std::printf("FAILED at line %llu: %s\n", static_cast<unsigned long long>(result.bad_line),
                result.message.c_str());
    return 1;
  }
  std::printf("OK: %llu line(s), hash chain intact\n",
              static_cast<unsigned long long>(result.lines));
  return 0;
}

// `pgro passwd USER`: prints a USERS_FILE line with a SCRAM-SHA-256 verifier. The password
// comes from stdin (asked twice without echo on a terminal).
int passwd(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: pgro passwd USER   (password read from stdin)\n");
    return 2;
  }
  const std::string& user = args[1];
  if (user.empty() || user.find(':') != std::string::npos) {
    std::fprintf(stderr, "pgro passwd: the user name must be non-empty and contain no ':'\n");
    return 2;
  }
  auto read_line = [](const char* prompt) {
    std::string line;
    const bool tty = isatty(STDIN_FILENO) != 0;
    termios old{};
    if (tty) {
      std::fprintf(stderr, "%s", prompt);
      tcgetattr(STDIN_FILENO, &old);
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::getline(std::cin, line);
    if (tty) {
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::fprintf(stderr, "\n");
    }
    return line;
  };
  const std::string password = read_line("Password: ");
  if (isatty(STDIN_FILENO) != 0 && read_line("Again: ") != password) {
    std::fprintf(stderr, "pgro passwd: passwords do not match\n");
    return 1;
  }
  if (password.empty()) {
    std::fprintf(stderr, "pgro passwd: empty password\n");
    return 1;
  }
  std::printf("%s:%s\n", user.c_str(),
              pgro::auth::ScramVerifier::fromPassword(password).toString().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty()) {
    if (args[0] == "passwd") return passwd(args);
    if (args[0] == "audit") return auditCommand(args);
    if (args[0] == "--help" || args[0] == "-h") {
      std::printf("%s", pgro::config::helpText().c_str());
      return 0;
    }
    if (args[0] == "--help-markdown") {
      std::printf("%s", pgro::config::markdownReference().c_str());
      return 0;
    }
    if (args[0] == "--version") {
      std::printf("pgro %s\n", PGRO_VERSION);
      return 0;
    }
  }
  try {
    return pgro::server::runProxy(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgro: fatal: %s\n", e.what());
    return 1;
  }
}
