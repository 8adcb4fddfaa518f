#include "protocol/framing.hpp"

#include <gtest/gtest.h>

#include <random>

#include "test_messages.hpp"

namespace pgro::protocol {
namespace {

using testing::cstr;
using testing::int32Bytes;
using testing::makeMessage;

constexpr uint32_t kLimit = 1 << 20;

TEST(Framing, EmptyBufferNeedsMoreData) {
  EXPECT_EQ(nextFrame("", kLimit).status, FrameStatus::NeedMoreData);
}

TEST(Framing, CompleteQueryMessage) {
  const std::string q = makeMessage('Q', cstr("SELECT 1"));
  auto r = nextFrame(q, kLimit);
  ASSERT_EQ(r.status, FrameStatus::Message);
  EXPECT_EQ(r.frame.type, 'Q');
  EXPECT_EQ(r.frame.body, cstr("SELECT 1"));
  EXPECT_EQ(r.frame.total_size, q.size());
}

TEST(Framing, EveryPrefixOfAMessageNeedsMoreData) {
  const std::string q = makeMessage('Q', cstr("SELECT 42"));
  for (std::size_t n = 0; n < q.size(); ++n) {
    EXPECT_EQ(nextFrame(std::string_view(q).substr(0, n), kLimit).status, FrameStatus::NeedMoreData)
        << "prefix of " << n << " bytes";
  }
}

TEST(Framing, SplitHeaderThenBodyOneByteAtATime) {
  const std::string q = makeMessage('P', cstr("s1") + cstr("SELECT $1") + std::string(2, '\0'));
  std::string buf;
  std::size_t frames = 0;
  for (char c : q) {
    buf.push_back(c);
    auto r = nextFrame(buf, kLimit);
    if (r.status == FrameStatus::Message) {
      ++frames;
      EXPECT_EQ(r.frame.type, 'P');
      EXPECT_EQ(r.frame.total_size, q.size());
    } else {
      EXPECT_EQ(r.status, FrameStatus::NeedMoreData);
    }
  }
  EXPECT_EQ(frames, 1u);
}

TEST(Framing, CoalescedMessagesAreFramedInOrder) {
  const std::string batch = makeMessage('P', cstr("") + cstr("SELECT 1") + std::string(2, '\0')) +
                            makeMessage('B', std::string(8, '\0')) +
                            makeMessage('E', cstr("") + int32Bytes(0)) + makeMessage('S', "");
  std::string_view rest = batch;
  std::string types;
  while (!rest.empty()) {
    auto r = nextFrame(rest, kLimit);
    ASSERT_EQ(r.status, FrameStatus::Message);
    types.push_back(r.frame.type);
    rest.remove_prefix(r.frame.total_size);
  }
  EXPECT_EQ(types, "PBES");
}

TEST(Framing, EmptyBodyMessage) {
  const std::string sync = makeMessage('S', "");
  auto r = nextFrame(sync, kLimit);
  ASSERT_EQ(r.status, FrameStatus::Message);
  EXPECT_TRUE(r.frame.body.empty());
  EXPECT_EQ(r.frame.total_size, 5u);
}

TEST(Framing, LengthBelowFourIsAProtocolError) {
  for (uint32_t len : {0u, 1u, 3u}) {
    const std::string m = std::string(1, 'Q') + int32Bytes(len) + "xx";
    EXPECT_EQ(nextFrame(m, kLimit).status, FrameStatus::ProtocolError) << len;
  }
}

TEST(Framing, OversizedLengthIsRejectedFromTheHeaderAlone) {
  // Only the 5-byte header is present: the limit is enforced before any body is buffered.
  const std::string header = std::string(1, 'Q') + int32Bytes(kLimit + 1);
  auto r = nextFrame(header, kLimit);
  EXPECT_EQ(r.status, FrameStatus::ProtocolError);
  EXPECT_FALSE(r.error.empty());
  const std::string huge = std::string(1, 'Q') + int32Bytes(0xffffffffu);
  EXPECT_EQ(nextFrame(huge, kLimit).status, FrameStatus::ProtocolError);
}

TEST(Framing, LengthAtTheLimitIsAccepted) {
  const std::string body(kLimit - 4, 'x');
  const std::string m = makeMessage('d', body);
  EXPECT_EQ(nextFrame(m, kLimit).status, FrameStatus::Message);
}

TEST(Framing, RandomSplitsReassembleTheSameStream) {
  std::string stream;
  for (int i = 0; i < 50; ++i) {
    stream += makeMessage('Q', cstr("SELECT " + std::to_string(i)));
    stream += makeMessage('S', "");
  }
  std::mt19937 rng(12345);
  for (int round = 0; round < 20; ++round) {
    std::string buf;
    std::size_t pos = 0;
    int frames = 0;
    while (pos < stream.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 17, stream.size() - pos);
      buf.append(stream, pos, n);
      pos += n;
      while (true) {
        auto r = nextFrame(buf, kLimit);
        ASSERT_NE(r.status, FrameStatus::ProtocolError);
        if (r.status != FrameStatus::Message) break;
        ++frames;
        buf.erase(0, r.frame.total_size);
      }
    }
    EXPECT_EQ(frames, 100);
    EXPECT_TRUE(buf.empty());
  }
}

TEST(StartupFraming, SslRequestIsEightBytes) {
  const std::string ssl = int32Bytes(8) + int32Bytes(80877103);
  auto r = nextStartupFrame(ssl);
  ASSERT_EQ(r.status, FrameStatus::Message);
  EXPECT_EQ(r.frame.total_size, 8u);
  EXPECT_EQ(r.frame.type, 0);
}

TEST(StartupFraming, PartialStartupNeedsMoreData) {
  const std::string m = int32Bytes(20) + int32Bytes(196608) + "user";
  EXPECT_EQ(nextStartupFrame(m).status, FrameStatus::NeedMoreData);
  EXPECT_EQ(nextStartupFrame(std::string_view(m).substr(0, 3)).status, FrameStatus::NeedMoreData);
}

TEST(StartupFraming, ImplausibleLengthsAreProtocolErrors) {
  EXPECT_EQ(nextStartupFrame(int32Bytes(4) + int32Bytes(0)).status, FrameStatus::ProtocolError);
  EXPECT_EQ(nextStartupFrame(int32Bytes(kMaxStartupPacketBytes + 1)).status,
            FrameStatus::ProtocolError);
  EXPECT_EQ(nextStartupFrame(int32Bytes(0x7fffffff)).status, FrameStatus::ProtocolError);
}

}  // namespace
}  // namespace pgro::protocol
