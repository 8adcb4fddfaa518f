// Human-readable rendering of pgro-admin results: aligned key/value lists and tables.
#pragma once

#include <string>
#include <vector>

#include "admin_client.hpp"
#include "cli_options.hpp"

namespace pgro::admincli {

// The text printed for a successful result of `command` (ends with a newline).
std::string renderHuman(Command command, const Json& data);

using Rows = std::vector<std::vector<std::string>>;
// Columns padded to their widest cell, two spaces apart; the last column is not padded.
std::string table(const Rows& rows);

// "1.5 KiB", "12 B", ...
std::string formatBytes(uint64_t bytes);
// "3d4h", "1h02m", "5m07s", "42s"
std::string formatDuration(double seconds);

}  // namespace pgro::admincli
