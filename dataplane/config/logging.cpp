#include "config/logging.hpp"

#include "config/json_text.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <ctime>

namespace pgro::config {
namespace {

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// UTC calendar time of a log record, and its milliseconds.
std::tm utcTime(spdlog::log_clock::time_point t, int& millis) {
  const auto since_epoch = t.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count());
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

void appendTimestamp(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point t, bool millis) {
  int ms = 0;
  const std::tm tm = utcTime(t, ms);
  std::array<char, 40> buf{};
  const int n = millis
                    ? std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec, ms)
                    : std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec);
  append(dest, std::string_view(buf.data(), static_cast<std::size_t>(n)));
}

// Right-aligned to five columns like Rust's tracing output (" INFO", "ERROR").
std::string_view textLevel(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return " INFO";
    case spdlog::level::warn:
      return " WARN";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return " CRIT";
    default:
      return "  OFF";
  }
}

std::string_view jsonLevel(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

constexpr std::string_view kHex = "0123456789abcdef";

// Text lines: control characters become visible escapes so that a multi-line query (or a
// hostile one) cannot start a forged log line.
void appendTextMessage(spdlog::memory_buf_t& dest, std::string_view msg) {
  for (char ch : msg) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      append(dest, "\\n");
    } else if (c == '\r') {
      append(dest, "\\r");
    } else if (c < 0x20 && c != '\t') {
      const std::array<char, 4> esc = {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
      dest.append(esc.data(), esc.data() + esc.size());
    } else {
      dest.push_back(ch);
    }
  }
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    appendTimestamp(dest, msg.time, false);
    dest.push_back(' ');
    msg.color_range_start = dest.size();
    append(dest, textLevel(msg.level));
    msg.color_range_end = dest.size();
    dest.push_back(' ');
    append(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    append(dest, ": ");
    appendTextMessage(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    append(dest, "{\"ts\":\"");
    appendTimestamp(dest, msg.time, true);
    append(dest, "\",\"level\":\"");
    append(dest, jsonLevel(msg.level));
    append(dest, "\",\"msg\":\"");
    append(dest, jsonEscape(std::string_view(msg.payload.data(), msg.payload.size())));
    append(dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::string jsonEscape(std::string_view text) {
  std::string out;
  appendJsonEscaped(out, text);
  return out;
}

spdlog::level::level_enum toSpdlogLevel(std::string_view level) {
  if (level == "trace") {
    return spdlog::level::trace;
  }
  if (level == "debug") {
    return spdlog::level::debug;
  }
  if (level == "warn") {
    return spdlog::level::warn;
  }
  if (level == "error") {
    return spdlog::level::err;
  }
  if (level == "off") {
    return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::unique_ptr<spdlog::formatter> makeTextFormatter() {
  return std::make_unique<TextFormatter>();
}
std::unique_ptr<spdlog::formatter> makeJsonFormatter() {
  return std::make_unique<JsonFormatter>();
}

void setupLogging(const Config& config) {
  spdlog::sink_ptr sink;
  if (config.log_format == LogFormat::Json) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    sink->set_formatter(makeJsonFormatter());
  } else {
    // Colours the level when stdout is a terminal, plain text otherwise.
    sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    sink->set_formatter(makeTextFormatter());
  }
  auto logger = std::make_shared<spdlog::logger>("pgro", std::move(sink));
  logger->set_level(toSpdlogLevel(config.log_level));
  spdlog::set_default_logger(std::move(logger));
}

void applyLogLevel(const Config& config) {
  spdlog::default_logger_raw()->set_level(toSpdlogLevel(config.log_level));
}

}  // namespace pgro::config
