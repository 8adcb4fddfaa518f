// Logging setup: spdlog's default logger, named "pgro", writing one line per event to stdout
// (where the seed's tracing output went), as text or as JSON.
//
//   text: 2026-02-16T10:30:00Z  INFO pgro: Listening on 0.0.0.0:5433
//   json: {"ts":"2026-02-16T10:30:00.123Z","level":"info","msg":"Listening on 0.0.0.0:5433"}
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include "config/config.hpp"

namespace pgro::config {

// Installs the default logger with LOG_LEVEL and LOG_FORMAT. Call once at startup, before any
// other thread logs (spdlog::set_default_logger is not safe against concurrent logging).
void setupLogging(const Config& config);

// Changes only the level of the running default logger: safe while other threads log, so the
// SIGHUP handler uses this rather than setupLogging.
void applyLogLevel(const Config& config);

// Config::log_level ("trace" ... "off", as normalised by load()) as an spdlog level.
spdlog::level::level_enum toSpdlogLevel(std::string_view level);

// The formatters setupLogging installs, for sinks that want the same layout (and tests).
std::unique_ptr<spdlog::formatter> makeTextFormatter();
std::unique_ptr<spdlog::formatter> makeJsonFormatter();

// `text` as the inside of a JSON string: quote, backslash and control characters escaped,
// invalid UTF-8 replaced with U+FFFD (log messages carry client-supplied query text).
std::string jsonEscape(std::string_view text);

}  // namespace pgro::config
