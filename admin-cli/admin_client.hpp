// Runs one pgro-admin command against one daemon and turns the reply into JSON, the single
// form both output modes are printed from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli_options.hpp"

namespace pgro::admincli {

using Json = nlohmann::ordered_json;

struct DaemonResult {
  std::string addr;
  int exit_code = kOk;
  std::string status;  // gRPC status code name on failure, e.g. "UNAVAILABLE"
  std::string error;   // one line, on failure
  Json data;           // the reply, on success
};

DaemonResult runCommand(const Options& options, const std::string& addr);

}  // namespace pgro::admincli
