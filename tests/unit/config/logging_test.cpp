#include "config/logging.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace pgro::config {
namespace {

using ::testing::MatchesRegex;

// A logger named "pgro" writing through `formatter` into a string.
struct CapturedLogger {
  explicit CapturedLogger(std::unique_ptr<spdlog::formatter> formatter) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    sink->set_formatter(std::move(formatter));
    logger = std::make_shared<spdlog::logger>("pgro", sink);
    logger->set_level(spdlog::level::trace);
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
};

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(jsonEscape("plain"), "plain");
  EXPECT_EQ(jsonEscape("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(jsonEscape("C:\\dir"), "C:\\\\dir");
  EXPECT_EQ(jsonEscape("a\nb\rc\td\be\f"), "a\\nb\\rc\\td\\be\\f");
  EXPECT_EQ(jsonEscape(std::string("\x01\x1f\x7f", 3)), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(jsonEscape(std::string("nul\0byte", 8)), "nul\\u0000byte");
  EXPECT_EQ(jsonEscape("</script>"), "</script>");
}

TEST(JsonEscape, KeepsValidUtf8ReplacesInvalid) {
  const std::string valid = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E";  // é € 𝄞
  EXPECT_EQ(jsonEscape(valid), valid);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(jsonEscape("a\xFF"
                       "b"),
            "a" + fffd + "b");
  EXPECT_EQ(jsonEscape("\xE2\x82"), fffd + fffd);                        // truncated
  EXPECT_EQ(jsonEscape("\xC0\xAF"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(jsonEscape("\xED\xA0\x80"), fffd + fffd + fffd);             // UTF-16 surrogate
  EXPECT_EQ(jsonEscape("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
}

TEST(JsonFormatter, OneObjectPerLine) {
  CapturedLogger log(makeJsonFormatter());
  log.logger->info("say \"hi\"\nnext {}", 1);
  log.logger->error("boom");
  EXPECT_THAT(
      log.out.str(),
      MatchesRegex("\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                   "\\.[0-9]{3}Z\",\"level\":\"info\",\"msg\":\"say \\\\\"hi\\\\\"\\\\nnext "
                   "1\"\\}\n"
                   "\\{\"ts\":\"[^\"]+\",\"level\":\"error\",\"msg\":\"boom\"\\}\n"));
}

TEST(TextFormatter, SeedLayout) {
  CapturedLogger log(makeTextFormatter());
  log.logger->info("Listening on: {}:{}", "0.0.0.0", 5433);
  EXPECT_THAT(log.out.str(), MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
                                          "  INFO pgro: Listening on: 0.0.0.0:5433\n"));
}

TEST(TextFormatter, LevelsAlignAndNewlinesAreEscaped) {
  CapturedLogger log(makeTextFormatter());
  log.logger->warn("w");
  log.logger->error("e");
  log.logger->debug("first\nforged line\x01");
  EXPECT_THAT(log.out.str(), MatchesRegex("[^\n]*Z  WARN pgro: w\n"
                                          "[^\n]*Z ERROR pgro: e\n"
                                          "[^\n]*Z DEBUG pgro: first\\\\nforged line\\\\x01\n"));
}

TEST(LoggingSetup, LevelsFromConfig) {
  EXPECT_EQ(toSpdlogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(toSpdlogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(toSpdlogLevel("info"), spdlog::level::info);
  EXPECT_EQ(toSpdlogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(toSpdlogLevel("error"), spdlog::level::err);
  EXPECT_EQ(toSpdlogLevel("off"), spdlog::level::off);

  Config config;
  config.log_level = "debug";
  config.log_format = LogFormat::Json;
  setupLogging(config);
  EXPECT_EQ(spdlog::default_logger()->name(), "pgro");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  config.log_level = "warn";
  applyLogLevel(config);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}

}  // namespace
}  // namespace pgro::config
