// pgro-admin's command line: options, the command, and the documented exit codes.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pgro::admincli {

// Exit codes (also listed by --help).
enum ExitCode : int {
  kOk = 0,
  kUsage = 2,
  kUnreachable = 3,      // connection failed or the deadline passed
  kUnauthenticated = 4,  // missing or wrong token
  kServerError = 5,      // the daemon refused or failed the request
  kPartial = 6,          // several daemons: some failed (or failed in different ways)
};

enum class Command {
  CacheReset,
  CacheStats,
  CacheTtl,
  CacheEnable,
  CacheDisable,
  Stats,
  Sessions,
  Config,
  Reload,
  CacheRuleAdd,
  CacheRuleList,
  CacheRuleRemove,
  Top,
  TopReset,
};

// `cache rule add` / `cache rule remove`: the shape and the settings.
struct RuleArgs {
  std::string query;        // --query SQL: the shape of this statement
  std::string fingerprint;  // --fingerprint HEX (add), or the word after `remove`
  std::string sample;       // --sample SQL
  std::optional<int64_t> ttl_ms;
  std::optional<int> swr_percent;
  std::optional<int64_t> stale_seconds;
  bool nocache = false;
  bool any = false;  // a rule option was given (only `cache rule add` takes them)
};

struct Options {
  std::vector<std::string> addrs;  // host:port, at least one
  std::string token;
  std::chrono::milliseconds timeout{5000};
  bool json = false;
  bool tls = false;
  std::string ca_file;
  std::string tls_server_name;
  Command command = Command::Stats;
  int64_t ttl_seconds = 0;  // cache ttl
  RuleArgs rule;
  // top: --by, --user, --limit
  std::string top_by = "time";
  std::string top_user;
  uint64_t top_limit = 20;
};

struct ShowHelp {};
struct ShowVersion {};
struct UsageError {
  std::string message;
};

using ParseResult = std::variant<Options, ShowHelp, ShowVersion, UsageError>;

// `args` without argv[0]; `env` supplies PGRO_ADMIN_ADDR and PGRO_ADMIN_TOKEN.
ParseResult parseArgs(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env);

std::string helpText();

}  // namespace pgro::admincli
