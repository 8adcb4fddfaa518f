// The composition root of the `pgro` process (see bootstrap.cpp).
#pragma once

#include <string>
#include <vector>

namespace pgro::server {

// Runs the proxy with these command-line arguments (flags override the environment and
// .env) until SIGTERM/SIGINT. Returns the process's exit code: 0 after a clean stop, 1 when
// the upstream or a listener is unusable, 2 on a configuration error.
int runProxy(const std::vector<std::string>& args);

}  // namespace pgro::server
