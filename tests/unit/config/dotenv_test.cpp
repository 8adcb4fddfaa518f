#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.hpp"

namespace pgro::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Writes `content` to a fresh file under the temp directory; removed when the test ends.
class DotEnvTest : public ::testing::Test {
 protected:
  std::string write(const std::string& content) {
    std::ofstream(path_, std::ios::binary) << content;
    return path_.string();
  }
  Environment parse(const std::string& content) { return readDotEnv(write(content)); }
  std::string error(const std::string& content) {
    try {
      parse(content);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << content;
    return {};
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::filesystem::path path_ =
      std::filesystem::temp_directory_path() /
      ("pgro_dotenv_test_" + std::to_string(::getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".env");
};

TEST_F(DotEnvTest, SeedExampleFile) {
  const auto env = parse(
      "# Upstream PostgreSQL connection\n"
      "UPSTREAM_HOST=postgres.example.com\n"
      "UPSTREAM_PORT=5432\n"
      "\n"
      "# Cache settings\n"
      "CACHE_TTL_SECONDS=900        # 15 minutes\n"
      "RUST_LOG=info\n");
  EXPECT_EQ(env.at("UPSTREAM_HOST"), "postgres.example.com");
  EXPECT_EQ(env.at("UPSTREAM_PORT"), "5432");
  EXPECT_EQ(env.at("CACHE_TTL_SECONDS"), "900");
  EXPECT_EQ(env.at("RUST_LOG"), "info");
  EXPECT_EQ(env.size(), 4u);
}

TEST_F(DotEnvTest, ExportAndSpacing) {
  const auto env = parse("export A=1\n  export\tB = two words  \nexport=3\nexporter=4\n");
  EXPECT_EQ(env.at("A"), "1");
  EXPECT_EQ(env.at("B"), "two words");
  EXPECT_EQ(env.at("export"), "3");
  EXPECT_EQ(env.at("exporter"), "4");
}

TEST_F(DotEnvTest, CommentsOnlyAfterWhitespace) {
  const auto env = parse("A=abc#def\nB=abc #def\nC= # nothing\nD=\nE=#x\n");
  EXPECT_EQ(env.at("A"), "abc#def");
  EXPECT_EQ(env.at("B"), "abc");
  EXPECT_EQ(env.at("C"), "");
  EXPECT_EQ(env.at("D"), "");
  EXPECT_EQ(env.at("E"), "#x");
}

TEST_F(DotEnvTest, DoubleQuotes) {
  const auto env = parse(
      "A=\"p@ss word # not a comment\"\n"
      "B=\"line1\\nline2\\t\\\"q\\\" \\\\ \\$HOME \\x\"  # comment\n"
      "C=\"multi\nline\"\n"
      "D=\"\"\n");
  EXPECT_EQ(env.at("A"), "p@ss word # not a comment");
  EXPECT_EQ(env.at("B"), "line1\nline2\t\"q\" \\ $HOME \\x");
  EXPECT_EQ(env.at("C"), "multi\nline");
  EXPECT_EQ(env.at("D"), "");
}

TEST_F(DotEnvTest, SingleQuotesAreLiteral) {
  const auto env = parse("A='it\\n \"is\" $x'\nB='#'\n");
  EXPECT_EQ(env.at("A"), "it\\n \"is\" $x");
  EXPECT_EQ(env.at("B"), "#");
}

TEST_F(DotEnvTest, CrLfBomAndLastDuplicateWins) {
  const auto env = parse(
      "\xEF\xBB\xBF"
      "A=1\r\nB=\"x\"\r\nA=2\r\n");
  EXPECT_EQ(env.at("A"), "2");
  EXPECT_EQ(env.at("B"), "x");
}

TEST_F(DotEnvTest, NoTrailingNewline) {
  EXPECT_EQ(parse("A=1").at("A"), "1");
}

TEST_F(DotEnvTest, MalformedLinesNameFileAndLine) {
  const std::string path = path_.string();
  EXPECT_THAT(error("A=1\nNOT A SETTING\n"), HasSubstr(path + ":2:"));
  EXPECT_THAT(error("=value\n"), HasSubstr(path + ":1:"));
  EXPECT_THAT(error("# c\n\nKEY\n"), HasSubstr(path + ":3:"));
  EXPECT_THAT(error("1KEY=x\n"), HasSubstr(":1:"));
  EXPECT_THAT(error("A=\"unterminated\nB=2\n"), HasSubstr(":1:"));
  EXPECT_THAT(error("A=1\nB='open\n"), HasSubstr(":2:"));
  EXPECT_THAT(error("A=\"x\" trailing\n"), HasSubstr(":1:"));
}

TEST_F(DotEnvTest, ErrorsDoNotEchoTheLine) {
  EXPECT_THAT(error("UPSTREAM_PASSWORD hunter2\n"), Not(HasSubstr("hunter2")));
}

TEST_F(DotEnvTest, MissingFileIsEmpty) {
  EXPECT_TRUE(readDotEnv("/nonexistent/dir/.env").empty());
}

TEST_F(DotEnvTest, DirectoryIsAnError) {
  EXPECT_THROW(readDotEnv(std::filesystem::temp_directory_path().string()), ConfigError);
}

TEST(ProcessEnvironment, ReadsTheEnvironment) {
  ::setenv("PGRO_CONFIG_TEST_VAR", "a=b", 1);
  const auto env = processEnvironment();
  EXPECT_EQ(env.at("PGRO_CONFIG_TEST_VAR"), "a=b");
  ::unsetenv("PGRO_CONFIG_TEST_VAR");
}

}  // namespace
}  // namespace pgro::config
