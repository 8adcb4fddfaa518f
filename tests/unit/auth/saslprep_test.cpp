#include "auth/saslprep.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pgro::auth {
namespace {

TEST(Saslprep, AsciiIsUnchanged) {
  EXPECT_EQ(saslprepPassword("secret"), "secret");
  EXPECT_EQ(saslprepPassword(" a b\t\x01\x7f"), " a b\t\x01\x7f");  // ASCII fast path
  EXPECT_EQ(saslprepPassword(""), "");
}

TEST(Saslprep, InvalidUtf8IsUsedRaw) {
  for (const std::string raw : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    EXPECT_EQ(saslprepPassword(raw), raw);
  }
}

TEST(Saslprep, MapsSpacesAndRemovesMappedToNothing) {
  EXPECT_EQ(saslprepPassword("pass\u00A0word"), "pass word");
  EXPECT_EQ(saslprepPassword("a\u00ADb\u200Dc"), "abc");
  EXPECT_EQ(saslprepPassword("x\u3000y\u200Bz"), "x y z");  // U+200B is in C.1.2 and B.1
  EXPECT_EQ(saslprepPassword("caf\u00E9"), "caf\u00E9");
}

TEST(Saslprep, ProhibitedOrEmptyResultUsesRawPassword) {
  EXPECT_EQ(saslprepPassword("x\u00A0\u0080y"), "x\u00A0\u0080y");      // C.2.2 control
  EXPECT_EQ(saslprepPassword("\u00E9\t"), "\u00E9\t");                  // C.2.1 after non-ASCII
  EXPECT_EQ(saslprepPassword("\uE000\u00A0"), "\uE000\u00A0");          // C.3 private use
  EXPECT_EQ(saslprepPassword("\U0001FFFE\u00A0"), "\U0001FFFE\u00A0");  // C.4 non-character
  EXPECT_EQ(saslprepPassword("\u00AD\uFEFF"), "\u00AD\uFEFF");          // maps to nothing
}

}  // namespace
}  // namespace pgro::auth
