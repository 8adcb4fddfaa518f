#include "audit/json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pgro::audit {
namespace {

std::string escaped(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

// What a JSON parser reads back.
std::string roundTrip(std::string_view text) {
  return nlohmann::json::parse(escaped(text)).get<std::string>();
}

TEST(JsonString, PlainTextIsQuotedUnchanged) {
  EXPECT_EQ(escaped("SELECT 1"), "\"SELECT 1\"");
  EXPECT_EQ(escaped(""), "\"\"");
}

TEST(JsonString, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(escaped(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(roundTrip(R"(SELECT '\"' AS "x")"), R"(SELECT '\"' AS "x")");
}

TEST(JsonString, ControlCharactersAreEscaped) {
  EXPECT_EQ(escaped("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(escaped("\b\f"), R"("\b\f")");
  EXPECT_EQ(escaped(std::string_view("\0\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(roundTrip(all), all);
}

TEST(JsonString, WellFormedUtf8IsKept) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
  EXPECT_EQ(escaped(text), "\"" + text + "\"");
  EXPECT_EQ(roundTrip(text), text);
}

TEST(JsonString, InvalidUtf8BecomesReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(roundTrip("a\x80z"), "a" + r + "z");            // lone continuation byte
  EXPECT_EQ(roundTrip("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(roundTrip("\xE0\x80\xAF"), r + r + r);          // overlong, three bytes
  EXPECT_EQ(roundTrip("\xED\xA0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(roundTrip("\xF4\x90\x80\x80"), r + r + r + r);  // beyond U+10FFFF
  EXPECT_EQ(roundTrip("\xF5\x80"), r + r);                  // never a lead byte
  EXPECT_EQ(roundTrip("x\xE2\x82"), "x" + r + r);           // cut short at the end
  EXPECT_EQ(roundTrip("\xE2\x82"
                      "A"),
            r + r + "A");                   // cut short by ASCII
  EXPECT_EQ(roundTrip("\xFF\xFE"), r + r);  // Latin-1 / UTF-16 BOM bytes
}

TEST(JsonString, EveryByteStringMakesValidJson) {
  // Seeded: all single bytes and a deterministic spread of pairs and triples.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const std::string text = {static_cast<char>(a), static_cast<char>(b),
                                static_cast<char>((a * 31 + b) & 0xFF)};
      EXPECT_NO_THROW({ const auto j = nlohmann::json::parse(escaped(text)); }) << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace pgro::audit
