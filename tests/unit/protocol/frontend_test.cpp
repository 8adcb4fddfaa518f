// The typed extended-protocol messages: byte-built bodies in, fields out, and back.
#include "protocol/frontend.hpp"

#include <gtest/gtest.h>

#include "protocol/framing.hpp"
#include "test_messages.hpp"

namespace pgro::protocol {
namespace {

using testing::cstr;
using testing::int32Bytes;

std::string int16Bytes(uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// The body of the one typed message in `message`.
std::string_view bodyOf(const std::string& message) {
  auto r = nextFrame(message, 1u << 20);
  EXPECT_EQ(r.status, FrameStatus::Message);
  EXPECT_EQ(r.frame.total_size, message.size());
  return r.frame.body;
}

TEST(FrontendParse, DecodesNameQueryAndTypes) {
  const std::string types = int16Bytes(2) + int32Bytes(23) + int32Bytes(25);
  const std::string body = cstr("s1") + cstr("SELECT $1, $2") + types;
  auto p = parseParse(body);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->statement, "s1");
  EXPECT_EQ(p->query, "SELECT $1, $2");
  EXPECT_EQ(p->param_types, types);
}

TEST(FrontendParse, RefusesATypeListThatDisagreesWithItsCount) {
  EXPECT_TRUE(parseParse(cstr("") + cstr("SELECT 1") + int16Bytes(0)));
  EXPECT_FALSE(parseParse(cstr("") + cstr("SELECT 1")));                           // no count
  EXPECT_FALSE(parseParse(cstr("") + cstr("SELECT 1") + int16Bytes(1)));           // short
  EXPECT_FALSE(parseParse(cstr("") + cstr("SELECT 1") + int16Bytes(0) + "x"));     // trailing
  EXPECT_FALSE(parseParse(cstr("") + cstr("SELECT 1") + int16Bytes(0xffff)));      // negative
  EXPECT_FALSE(parseParse(std::string("s1") + cstr("SELECT 1") + int16Bytes(0)));  // no NUL
}

TEST(FrontendParse, RoundTrips) {
  const std::string types = int16Bytes(1) + int32Bytes(20);
  std::string out;
  appendParse(out, "pgro_x", "SELECT $1", types);
  EXPECT_EQ(out[0], 'P');
  auto p = parseParse(bodyOf(out));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->statement, "pgro_x");
  EXPECT_EQ(p->query, "SELECT $1");
  EXPECT_EQ(p->param_types, types);
}

TEST(FrontendBind, KeepsParametersOpaque) {
  const std::string rest =
      int16Bytes(1) + int16Bytes(1) + int16Bytes(1) + int32Bytes(4) + int32Bytes(7) + int16Bytes(0);
  const std::string body = cstr("portal") + cstr("stmt") + rest;
  auto b = parseBind(body);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->portal, "portal");
  EXPECT_EQ(b->statement, "stmt");
  EXPECT_EQ(b->rest, rest);
  std::string out;
  appendBind(out, b->portal, "pgro_y", b->rest);
  auto again = parseBind(bodyOf(out));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->statement, "pgro_y");
  EXPECT_EQ(again->rest, rest);
  EXPECT_FALSE(parseBind("portal-without-nul"));
}

TEST(FrontendDescribeClose, DecodeTargetAndName) {
  const std::string describe = "S" + cstr("s1");
  auto d = parseDescribe(describe);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->target, 'S');
  EXPECT_EQ(d->name, "s1");
  const std::string close = "P" + cstr("");
  auto c = parseClose(close);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target, 'P');
  EXPECT_EQ(c->name, "");
  EXPECT_FALSE(parseDescribe("X" + cstr("s1")));        // neither statement nor portal
  EXPECT_FALSE(parseClose("S" + cstr("s1") + "junk"));  // trailing bytes
  EXPECT_FALSE(parseDescribe(""));
  std::string out;
  appendDescribe(out, 'P', "");
  appendClose(out, 'S', "pgro_z");
  auto first = nextFrame(out, 1u << 20);
  ASSERT_EQ(first.status, FrameStatus::Message);
  EXPECT_EQ(first.frame.type, 'D');
  EXPECT_EQ(parseDescribe(first.frame.body)->target, 'P');
  auto second = nextFrame(std::string_view(out).substr(first.frame.total_size), 1u << 20);
  ASSERT_EQ(second.status, FrameStatus::Message);
  EXPECT_EQ(second.frame.type, 'C');
  EXPECT_EQ(parseClose(second.frame.body)->name, "pgro_z");
}

TEST(FrontendExecute, DecodesPortalAndRowLimit) {
  const std::string execute = cstr("") + int32Bytes(100);
  auto e = parseExecute(execute);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->portal, "");
  EXPECT_EQ(e->max_rows, 100);
  EXPECT_FALSE(parseExecute(cstr("")));                        // no row count
  EXPECT_FALSE(parseExecute(cstr("") + int32Bytes(0) + "x"));  // trailing
  std::string out;
  appendExecute(out, "c1", 0);
  auto again = parseExecute(bodyOf(out));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->portal, "c1");
  EXPECT_EQ(again->max_rows, 0);
}

}  // namespace
}  // namespace pgro::protocol
