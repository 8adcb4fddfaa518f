#include "audit/hash_chain.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace pgro::audit {
namespace {

// Lines as the writer makes them: `{...,"seq":N,"prev":"<hash of the line before>"}`.
std::vector<std::string> chain(int n, std::uint64_t first_seq = 1, std::string prev = kChainStart) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    std::string line = "{\"text\":\"SELECT " + std::to_string(i) +
                       "\",\"seq\":" + std::to_string(first_seq + static_cast<std::uint64_t>(i)) +
                       ",\"prev\":\"" + prev + "\"}";
    prev = sha256Hex(line);
    lines.push_back(line);
  }
  return lines;
}

VerifyResult verifyLines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::istringstream in(text);
  return verifyChain(in);
}

TEST(HashChain, Sha256OfKnownInput) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashChain, LinkIsReadFromTheLineTail) {
  const auto lines = chain(2);
  const auto link = chainLink(lines[1]);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->seq, 2u);
  EXPECT_EQ(link->prev, sha256Hex(lines[0]));
  EXPECT_FALSE(chainLink("{\"text\":\"no chain\"}"));
  EXPECT_FALSE(chainLink(""));
}

TEST(HashChain, IntactChainVerifies) {
  const auto result = verifyLines(chain(10));
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(result.lines, 10u);
}

TEST(HashChain, ARotatedFileStartsMidChain) {
  const auto result = verifyLines(chain(3, 500, sha256Hex("the last line of the old file")));
  EXPECT_TRUE(result.ok) << result.message;
}

TEST(HashChain, EditedLineIsNamed) {
  auto lines = chain(6);
  lines[3].replace(lines[3].find("SELECT 3"), 8, "SELECT 4");  // line 4
  const auto result = verifyLines(lines);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.bad_line, 4u) << result.message;
}

TEST(HashChain, DeletedLineIsFoundAtTheGap) {
  auto lines = chain(6);
  lines.erase(lines.begin() + 2);  // line 3 gone
  const auto result = verifyLines(lines);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.bad_line, 3u) << result.message;
}

TEST(HashChain, LineWithoutLinkFails) {
  auto lines = chain(3);
  lines.insert(lines.begin() + 1, "{\"text\":\"inserted\"}");
  const auto result = verifyLines(lines);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.bad_line, 2u) << result.message;
}

TEST(HashChain, ReorderedLinesFail) {
  auto lines = chain(4);
  std::swap(lines[1], lines[2]);
  EXPECT_FALSE(verifyLines(lines).ok);
}

}  // namespace
}  // namespace pgro::audit
