#include "auth/users.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/scram_client.hpp"
#include "auth/scram_server.hpp"
#include "test_vectors.hpp"

namespace pgro::auth {
namespace {

namespace tv = test_vectors;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kVerifier = tv::kPgSecretVerifier;

bool login(const UserStore& store, std::string_view user, std::string password) {
  ScramServer server(store.find(user), user);
  ScramClient client(std::move(password));
  const auto first = server.handleClientFirst(client.clientFirstMessage());
  if (!first) return false;
  const auto client_final = client.handleServerFirst(*first);
  if (!client_final) return false;
  const auto server_final = server.handleClientFinal(*client_final);
  return server_final.ok() && client.verifyServerFinal(*server_final).ok();
}

TEST(UserStore, ParsesLinesCommentsAndBlanks) {
  const std::string text =
      "# pgro users\n"
      "\n"
      "alice:" +
      kVerifier +
      "\n"
      "   # indented comment\n"
      "  bob:" +
      kVerifier +
      "  \r\n"
      "we:ird:" +
      kVerifier;  // no final newline; ':' in the user name
  const auto store = UserStore::parse(text);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(store->size(), 3u);
  ASSERT_NE(store->find("alice"), nullptr);
  EXPECT_EQ(store->find("alice")->toString(), kVerifier);
  EXPECT_NE(store->find("bob"), nullptr);
  EXPECT_NE(store->find("we:ird"), nullptr);
  EXPECT_EQ(store->find("carol"), nullptr);
  EXPECT_EQ(store->find("Alice"), nullptr);
  EXPECT_TRUE(login(*store, "alice", "secret"));
  EXPECT_FALSE(login(*store, "alice", "wrong"));
  EXPECT_FALSE(login(*store, "carol", "secret"));
}

TEST(UserStore, EmptyTextIsAnEmptyStore) {
  const auto store = UserStore::parse("# nobody yet\n\n");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store->size(), 0u);
}

TEST(UserStore, BadLinesNameTheLine) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"alice:" + kVerifier + "\n# c\nbob\n", "users file line 3: expected user:SCRAM-SHA-256$"},
      {"\n\nbob:md5ea909ccfbf42c1d230f26167db4d4fdb\n", "users file line 3: user \"bob\""},
      {"bob:plaintext", "users file line 1: user \"bob\": only SCRAM-SHA-256"},
      {":" + kVerifier, "users file line 1: empty user name"},
      {"\n\n\n\nbob:SCRAM-SHA-256$4096:abc$def:ghi", "users file line 5: invalid SCRAM-SHA-256"},
      {"a:" + kVerifier + "\nb:" + kVerifier + "\na:" + kVerifier,
       "users file line 3: user \"a\" appears twice"},
  };
  for (const Case& c : cases) {
    const auto store = UserStore::parse(c.text);
    ASSERT_FALSE(store.ok()) << c.text;
    EXPECT_EQ(store.error().code, ErrorCode::ConfigError);
    EXPECT_THAT(store.error().message, HasSubstr(c.expected));
    EXPECT_THAT(store.error().message, Not(HasSubstr("maNKGF")));  // never echo secrets
  }
}

TEST(UserStore, TrailingSettingsAfterTheVerifier) {
  const UserStore::SettingCheck check = [](std::string_view name, std::string_view value) {
    if (name != "max_user_connections") return std::string("unknown setting");
    return value == "2" || value == "5" ? std::string() : std::string("bad value");
  };
  const auto store = UserStore::parse(
      "alice:" + kVerifier + "  MAX_USER_CONNECTIONS=5 \n" + "bob:" + kVerifier + "\n",
      "users file", check);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_NE(store->find("alice"), nullptr);
  ASSERT_NE(store->settings("alice"), nullptr);
  EXPECT_EQ(store->settings("alice")->at("max_user_connections"), "5");
  EXPECT_EQ(store->settings("bob"), nullptr);

  const std::pair<std::string, std::string> bad[] = {
      {"\nalice:" + kVerifier + " max_user_connections=7",
       "line 2: user \"alice\": max_user_connections: bad value"},
      {"alice:" + kVerifier + " nope=1", "line 1: user \"alice\": nope: unknown setting"},
      {"alice:" + kVerifier + " max_user_connections",
       "line 1: user \"alice\": expected name=value"},
      {"alice:" + kVerifier + " max_user_connections=2 max_user_connections=5", "appears twice"},
  };
  for (const auto& [text, expected] : bad) {
    const auto refused = UserStore::parse(text, "users file", check);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_THAT(refused.error().message, HasSubstr(expected));
    EXPECT_THAT(refused.error().message, Not(HasSubstr("maNKGF")));
  }
  // Without a checker (PROXY_USER setups, old callers) any setting is an error.
  EXPECT_FALSE(UserStore::parse("alice:" + kVerifier + " max_user_connections=2").ok());
}

class UserStoreFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("pgro_auth_users_" + std::to_string(::getpid()) + ".txt");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::binary) << text; }
  std::filesystem::path path_;
};

TEST_F(UserStoreFile, ReadsFile) {
  write("# users\nalice:" + kVerifier + "\n");
  const auto store = UserStore::fromFile(path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(store->size(), 1u);
  EXPECT_TRUE(login(*store, "alice", "secret"));
}

TEST_F(UserStoreFile, ErrorNamesFileAndLine) {
  write("alice:" + kVerifier + "\nbroken\n");
  const auto store = UserStore::fromFile(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr(path_.string() + " line 2:"));
}

TEST(UserStore, MissingFileIsAnError) {
  const auto store = UserStore::fromFile("/nonexistent/pgro/users.txt");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::ConfigError);
  EXPECT_THAT(store.error().message, HasSubstr("/nonexistent/pgro/users.txt"));
}

TEST(UserStore, SingleUserFromPassword) {
  const UserStore store = UserStore::single("reader", "s3cret");
  EXPECT_EQ(store.size(), 1u);
  ASSERT_NE(store.find("reader"), nullptr);
  EXPECT_EQ(store.find("reader")->iterations, 4096);
  EXPECT_TRUE(login(store, "reader", "s3cret"));
  EXPECT_FALSE(login(store, "reader", "S3cret"));
  EXPECT_FALSE(login(store, "other", "s3cret"));
}

}  // namespace
}  // namespace pgro::auth
