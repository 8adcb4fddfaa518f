#include "metrics/text_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pgro::metrics {
namespace {

TEST(TextFormat, HelpEscapesBackslashAndNewlineOnly) {
  EXPECT_EQ(escapeHelp("plain \"quoted\" text"), "plain \"quoted\" text");
  EXPECT_EQ(escapeHelp("a\\b\nc"), "a\\\\b\\nc");
}

TEST(TextFormat, LabelValueEscapesQuoteBackslashNewline) {
  EXPECT_EQ(escapeLabelValue("ok"), "ok");
  EXPECT_EQ(escapeLabelValue("say \"hi\"\\now\n"), "say \\\"hi\\\"\\\\now\\n");
  EXPECT_EQ(escapeLabelValue("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

TEST(TextFormat, Values) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(1000000), "1000000");
  EXPECT_EQ(formatValue(-3), "-3");
  EXPECT_EQ(formatValue(0.25), "0.25");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1e300), "1e+300");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
}

TEST(TextFormat, Labels) {
  EXPECT_EQ(formatLabels({}, {}), "");
  EXPECT_EQ(formatLabels({"a", "b"}, {"x", "y\"z"}), "{a=\"x\",b=\"y\\\"z\"}");
  const std::pair<std::string, std::string> le{"le", "0.5"};
  EXPECT_EQ(formatLabels({}, {}, &le), "{le=\"0.5\"}");
  EXPECT_EQ(formatLabels({"a"}, {"x"}, &le), "{a=\"x\",le=\"0.5\"}");
}

}  // namespace
}  // namespace pgro::metrics
