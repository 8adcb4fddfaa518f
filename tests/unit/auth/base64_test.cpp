#include "auth/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pgro::auth {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [raw, encoded] : vectors) {
    EXPECT_EQ(base64Encode(raw), encoded);
    const auto decoded = base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, raw);
  }
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    const std::string raw = all.substr(0, len);
    const auto decoded = base64Decode(base64Encode(raw));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, raw);
  }
}

TEST(Base64, RejectsBadInput) {
  for (const char* bad : {"Zg=", "Zg", "Z", "Z===", "====", "Zm9v\n", " Zm9v", "Zm=v",
                          "Zm9v====", "Zg==Zg==", "Zm9v!A==", "Zm9-", "Zm9_", "Zg=a"}) {
    EXPECT_FALSE(base64Decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64Decode(std::string("Zm\0v", 4)).has_value());
}

}  // namespace
}  // namespace pgro::auth
