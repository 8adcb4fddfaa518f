// pgro-admin: the command-line client of pgro's gRPC admin API (proto/pgro/admin/v1).
// `pgro-admin --help` lists commands, options and exit codes.
#include <grpc/support/log.h>

#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "admin_client.hpp"
#include "cli_options.hpp"
#include "human_output.hpp"

extern char** environ;

namespace {

using namespace pgro::admincli;

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    if (const auto eq = kv.find('='); eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return env;
}

// gRPC's own log lines would break the one-line-per-error promise.
void quietGrpc(gpr_log_func_args*) {}

// 0 when all succeeded; the shared code when all failed alike (or there is one daemon);
// kPartial otherwise.
int exitCode(const std::vector<DaemonResult>& results) {
  int first_failure = kOk;
  bool mixed = false;
  std::size_t failures = 0;
  for (const auto& r : results) {
    if (r.exit_code == kOk) continue;
    ++failures;
    if (first_failure == kOk) {
      first_failure = r.exit_code;
    } else if (r.exit_code != first_failure) {
      mixed = true;
    }
  }
  if (failures == 0) return kOk;
  if (failures < results.size() || mixed) return kPartial;
  return first_failure;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const ParseResult parsed = parseArgs(args, environment());
  if (std::holds_alternative<ShowHelp>(parsed)) {
    std::fputs(helpText().c_str(), stdout);
    return kOk;
  }
  if (std::holds_alternative<ShowVersion>(parsed)) {
    std::printf("pgro-admin %s\n", PGRO_VERSION);
    return kOk;
  }
  if (const auto* usage = std::get_if<UsageError>(&parsed)) {
    std::fprintf(stderr, "pgro-admin: %s (see pgro-admin --help)\n", usage->message.c_str());
    return kUsage;
  }
  const Options& options = std::get<Options>(parsed);
  gpr_set_log_function(quietGrpc);

  std::vector<std::future<DaemonResult>> pending;
  for (const auto& addr : options.addrs) {
    pending.push_back(
        std::async(std::launch::async, [&options, addr] { return runCommand(options, addr); }));
  }
  std::vector<DaemonResult> results;
  for (auto& p : pending) results.push_back(p.get());

  const bool fleet = results.size() > 1;
  for (const auto& r : results) {
    if (r.exit_code != kOk) {
      std::fprintf(stderr, "pgro-admin: %s: %s: %s\n", r.addr.c_str(), r.status.c_str(),
                   r.error.c_str());
    }
  }
  if (options.json) {
    Json out;
    if (!fleet) {
      out = results[0].data;
    } else {
      out = Json::object();
      for (const auto& r : results) {
        if (r.exit_code == kOk || !r.data.is_null()) {
          out[r.addr] = r.data;
        }
        if (r.exit_code != kOk) {
          out[r.addr]["error"] = {
              {"status", r.status}, {"message", r.error}, {"exit_code", r.exit_code}};
        }
      }
    }
    if (!out.is_null()) std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& r : results) {
      if (r.data.is_null()) continue;
      if (fleet) std::printf("== %s ==\n", r.addr.c_str());
      std::fputs(renderHuman(options.command, r.data).c_str(), stdout);
    }
  }
  return exitCode(results);
}
