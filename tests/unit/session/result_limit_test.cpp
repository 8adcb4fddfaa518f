// MAX_RESULT_ROWS / MAX_RESULT_BYTES counting (session/governor.hpp), on byte-built replies.
#include <gtest/gtest.h>

#include <string>

#include "session/governor.hpp"

namespace pgro::session {
namespace {

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string makeMessage(char type, std::string_view body) {
  std::string out(1, type);
  put32(out, static_cast<uint32_t>(body.size() + 4));
  out.append(body);
  return out;
}

// A DataRow of one text column `value`: 1 + 4 + 2 + 4 + value bytes.
std::string dataRow(std::string_view value) {
  std::string body("\0\1", 2);
  put32(body, static_cast<uint32_t>(value.size()));
  body.append(value);
  return makeMessage('D', body);
}

GovernorLimits limits(std::int64_t rows, std::int64_t bytes) {
  GovernorLimits l;
  l.max_result_rows = rows;
  l.max_result_bytes = bytes;
  return l;
}

TEST(ResultMeterTest, CountsRowsAndBytesUntilReset) {
  ResultMeter meter;
  const auto l = limits(2, 0);
  EXPECT_EQ(meter.add(10, l), std::nullopt);
  EXPECT_EQ(meter.add(10, l), std::nullopt);
  EXPECT_EQ(meter.add(10, l), GovernorLimit::ResultRows);
  meter.reset();
  EXPECT_EQ(meter.add(10, l), std::nullopt);

  ResultMeter bytes;
  const auto b = limits(0, 25);
  EXPECT_EQ(bytes.add(12, b), std::nullopt);
  EXPECT_EQ(bytes.add(13, b), std::nullopt);  // exactly the limit is within it
  EXPECT_EQ(bytes.add(1, b), GovernorLimit::ResultBytes);
}

TEST(ResultMeterTest, ZeroMeansNoLimit) {
  ResultMeter meter;
  const auto off = limits(0, 0);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(meter.add(1 << 20, off), std::nullopt);
}

TEST(CutResultTest, CutsAtTheFirstRowPastTheLimitPerResult) {
  const std::string head = makeMessage('T', "row description");
  const std::string row = dataRow("abc");  // 14 bytes
  const std::string done = makeMessage('C', std::string("SELECT 3\0", 9));
  // Two results of three rows each: three rows per result fit a limit of 3.
  const std::string reply = head + row + row + row + done + head + row + row + row + done;
  EXPECT_EQ(cutResult(reply, limits(3, 0)), std::nullopt);
  EXPECT_EQ(cutResult(reply, limits(0, 0)), std::nullopt);

  auto cut = cutResult(reply, limits(2, 0));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->limit, GovernorLimit::ResultRows);
  EXPECT_EQ(cut->offset, head.size() + 2 * row.size());

  // 42 bytes of rows per result: a limit of 41 bytes cuts at the third row.
  auto by_bytes = cutResult(reply, limits(0, 41));
  ASSERT_TRUE(by_bytes);
  EXPECT_EQ(by_bytes->limit, GovernorLimit::ResultBytes);
  EXPECT_EQ(by_bytes->offset, head.size() + 2 * row.size());
  EXPECT_EQ(cutResult(reply, limits(0, 42)), std::nullopt);
}

TEST(CutResultTest, NoticesBetweenRowsDoNotStartANewResult) {
  const std::string row = dataRow("x");
  const std::string notice = makeMessage('N', "notice");
  const std::string reply = makeMessage('T', "t") + row + notice + row + notice + row;
  auto cut = cutResult(reply, limits(2, 0));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->offset, reply.size() - row.size());
}

TEST(CutResultTest, CopyDataRowsCount) {
  const std::string copy = makeMessage('d', "1\t2\n");
  const std::string reply = makeMessage('H', std::string("\0\0\1\0\0", 5)) + copy + copy;
  auto cut = cutResult(reply, limits(1, 0));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->offset, reply.size() - copy.size());
}

TEST(CutResultTest, ATruncatedReplyIsNotReadPastItsEnd) {
  const std::string row = dataRow("abc");
  const std::string reply = makeMessage('T', "t") + row + row.substr(0, 3);
  EXPECT_EQ(cutResult(reply, limits(1, 0)), std::nullopt);
}

TEST(ResultLimitMessageTest, NamesTheLimitAndItsValue) {
  EXPECT_EQ(resultLimitMessage(GovernorLimit::ResultRows, limits(1000, 0)),
            "result exceeds MAX_RESULT_ROWS (1000 rows)");
  EXPECT_EQ(resultLimitMessage(GovernorLimit::ResultBytes, limits(0, 65536)),
            "result exceeds MAX_RESULT_BYTES (65536 bytes)");
}

TEST(GovernorLimitsTest, PerLoginResultOverrides) {
  EXPECT_EQ(GovernorLimits::checkOverride("max_result_rows", "1000"), "");
  EXPECT_EQ(GovernorLimits::checkOverride("max_result_bytes", "10737418240"), "");
  EXPECT_NE(GovernorLimits::checkOverride("max_result_rows", "-1"), "");
  EXPECT_NE(GovernorLimits::checkOverride("max_result_bytes", "64MB"), "");
  config::Config config;
  config.max_result_rows = 5;
  auth::UserStore::Settings overrides{{"max_result_bytes", "10737418240"}};
  const auto l = GovernorLimits::forLogin(config, &overrides);
  EXPECT_EQ(l.max_result_rows, 5);
  EXPECT_EQ(l.max_result_bytes, 10737418240LL);
}

}  // namespace
}  // namespace pgro::session
