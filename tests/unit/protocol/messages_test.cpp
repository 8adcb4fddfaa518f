#include "protocol/messages.hpp"

#include <gtest/gtest.h>

#include "protocol/framing.hpp"
#include "protocol/message_reader.hpp"
#include "test_messages.hpp"

namespace pgro::protocol {
namespace {

using testing::cstr;
using testing::int32Bytes;

std::string startupBody(std::initializer_list<std::pair<std::string, std::string>> params) {
  std::string body = int32Bytes(kProtocolVersion3);
  for (const auto& [k, v] : params) body += cstr(k) + cstr(v);
  body.push_back('\0');
  return body;
}

TEST(StartupPacket, ParsesParameters) {
  auto p = parseStartupPacket(startupBody({{"user", "alice"}, {"database", "db"}}));
  ASSERT_TRUE(p.has_value());
  auto* m = std::get_if<StartupMessage>(&*p);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->protocol, kProtocolVersion3);
  EXPECT_EQ(m->get("user"), "alice");
  EXPECT_EQ(m->get("database"), "db");
  EXPECT_FALSE(m->get("options").has_value());
}

TEST(StartupPacket, RecognisesSslGssAndCancel) {
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*parseStartupPacket(int32Bytes(kSslRequestCode))));
  EXPECT_TRUE(
      std::holds_alternative<GssEncRequest>(*parseStartupPacket(int32Bytes(kGssEncRequestCode))));
  auto c = parseStartupPacket(int32Bytes(kCancelRequestCode) + int32Bytes(1234) + int32Bytes(99));
  ASSERT_TRUE(c.has_value());
  auto* cancel = std::get_if<CancelRequest>(&*c);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->process_id, 1234);
  EXPECT_EQ(cancel->secret_key, 99);
}

TEST(StartupPacket, RejectsMalformedLayouts) {
  // Missing the final terminator.
  std::string body = int32Bytes(kProtocolVersion3) + cstr("user") + cstr("bob");
  EXPECT_FALSE(parseStartupPacket(body).has_value());
  // A name without a value.
  EXPECT_FALSE(parseStartupPacket(int32Bytes(kProtocolVersion3) + cstr("user")).has_value());
  // Trailing garbage after the terminator.
  EXPECT_FALSE(parseStartupPacket(startupBody({{"user", "x"}}) + "junk").has_value());
  // A CancelRequest of the wrong size.
  EXPECT_FALSE(parseStartupPacket(int32Bytes(kCancelRequestCode) + int32Bytes(1)).has_value());
  EXPECT_FALSE(parseStartupPacket("ab").has_value());
}

TEST(StartupPacket, OtherProtocolVersionsAreReported) {
  auto p = parseStartupPacket(int32Bytes(2 << 16));
  ASSERT_TRUE(p.has_value());
  auto* u = std::get_if<UnsupportedProtocol>(&*p);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->protocol, 2 << 16);
}

TEST(ErrorResponse, RoundTripsThroughTheParser) {
  std::string out;
  appendError(out,
              {.severity = "ERROR",
               .sqlstate = "25006",
               .message = "Write operations are not permitted: INSERT statements are not allowed",
               .detail = "d",
               .hint = "h"});
  auto r = nextFrame(out, 1 << 20);
  ASSERT_EQ(r.status, FrameStatus::Message);
  EXPECT_EQ(r.frame.type, 'E');
  auto f = parseErrorFields(r.frame.body);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->severity, "ERROR");
  EXPECT_EQ(f->sqlstate, "25006");
  EXPECT_EQ(f->message, "Write operations are not permitted: INSERT statements are not allowed");
  EXPECT_EQ(f->detail, "d");
  EXPECT_EQ(f->hint, "h");
}

TEST(ErrorResponse, ParsesPostgresFieldsIncludingPosition) {
  // As PostgreSQL 15 sends SELECT 1/0 with a position.
  std::string body = "S" + cstr("ERROR") + "V" + cstr("ERROR") + "C" + cstr("22012") + "M" +
                     cstr("division by zero") + "P" + cstr("9") + "F" + cstr("int.c") + '\0';
  auto f = parseErrorFields(body);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->sqlstate, "22012");
  EXPECT_EQ(f->position, "9");
  EXPECT_FALSE(parseErrorFields("Cabc").has_value());  // unterminated field
}

TEST(Builders, ReadyForQueryAndParameterStatusLayout) {
  std::string out;
  appendReadyForQuery(out, 'T');
  EXPECT_EQ(out, std::string("Z") + int32Bytes(5) + "T");
  out.clear();
  appendParameterStatus(out, "server_version", "15.18");
  EXPECT_EQ(out,
            std::string("S") + int32Bytes(4 + 15 + 6) + cstr("server_version") + cstr("15.18"));
}

TEST(Builders, DataRowEncodesNulls) {
  std::string out;
  appendDataRow(out, {std::string("42"), std::nullopt});
  auto r = nextFrame(out, 1 << 20);
  ASSERT_EQ(r.status, FrameStatus::Message);
  MessageReader reader(r.frame.body);
  EXPECT_EQ(reader.int16(), 2);
  EXPECT_EQ(reader.int32(), 2);
  EXPECT_EQ(reader.bytes(2), "42");
  EXPECT_EQ(reader.int32(), -1);
  EXPECT_TRUE(reader.ok());
  EXPECT_TRUE(reader.atEnd());
}

TEST(MessageReader, OutOfBoundsReadsFailWithoutReadingPastTheEnd) {
  MessageReader r(std::string_view("\x00\x01", 2));
  EXPECT_EQ(r.int32(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.cstring().empty());
  MessageReader s("abc");  // no NUL terminator
  EXPECT_TRUE(s.cstring().empty());
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace pgro::protocol
