// Client login against pgro's own users: failures keep PostgreSQL's SQLSTATEs, unknown
// users are indistinguishable from wrong passwords, and the upstream account is not a
// proxy login. Startup logs name the upstream check and never the upstream password.
#include <gtest/gtest.h>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  // One pgro for the suite, started by the first test (exceptions in SetUp are reported).
  void SetUp() override {
    if (pgro_ == nullptr) pgro_ = startPgro().release();
  }
  static void TearDownTestSuite() {
    delete pgro_;
    pgro_ = nullptr;
  }

  StartupResult login(const std::string& user, const std::string& password,
                      const std::string& database) {
    RawPgClient client(pgro_->host(), pgro_->port());
    return client.startup(user, password, database);
  }

  static PgroProcess* pgro_;
};

PgroProcess* AuthTest::pgro_ = nullptr;

// PostgreSQL's text names the user; strip it so two users' messages can be compared.
std::string withoutUser(std::string message, const std::string& user) {
  for (auto pos = message.find(user); pos != std::string::npos; pos = message.find(user)) {
    message.replace(pos, user.size(), "<user>");
  }
  return message;
}

TEST_F(AuthTest, ProxyUserLogsInWithScram) {
  StartupResult r = login(pgro_->user(), pgro_->password(), pgro_->database());
  ASSERT_TRUE(r.ok) << (r.error ? r.error->describe() : typeSequence(r.messages));
  EXPECT_EQ(r.auth_method, "SCRAM-SHA-256");
  EXPECT_TRUE(r.backend_pid.has_value());
  EXPECT_TRUE(r.backend_key.has_value());
  EXPECT_EQ(r.transaction_status, 'I');
  EXPECT_TRUE(r.parameters.count("server_version")) << "no server_version ParameterStatus";
  EXPECT_EQ(r.parameters["server_encoding"], "UTF8");
}

TEST_F(AuthTest, WrongPasswordIs28P01) {
  StartupResult r = login(pgro_->user(), "not-the-password", pgro_->database());
  ASSERT_FALSE(r.ok);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->sqlstate(), "28P01") << r.error->describe();
  EXPECT_EQ(r.error->severity(), "FATAL");
}

TEST_F(AuthTest, UnknownUserLooksExactlyLikeWrongPassword) {
  StartupResult wrong = login(pgro_->user(), "not-the-password", pgro_->database());
  StartupResult unknown = login("no_such_user", "whatever", pgro_->database());
  ASSERT_TRUE(wrong.error);
  ASSERT_TRUE(unknown.error);
  EXPECT_EQ(unknown.error->sqlstate(), "28P01") << unknown.error->describe();
  EXPECT_EQ(withoutUser(unknown.error->message(), "no_such_user"),
            withoutUser(wrong.error->message(), pgro_->user()));
  EXPECT_EQ(unknown.error->severity(), wrong.error->severity());
  EXPECT_EQ(unknown.error->detail(), wrong.error->detail());
  // The refusal comes at the same step: a full SCRAM exchange with a mock salt, as
  // PostgreSQL does, not an early refusal that reveals the user does not exist.
  EXPECT_EQ(unknown.auth_method, wrong.auth_method);
  EXPECT_EQ(typeSequence(unknown.messages), typeSequence(wrong.messages));
}

TEST_F(AuthTest, UnknownDatabaseIs3D000) {
  StartupResult r = login(pgro_->user(), pgro_->password(), "no_such_database");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->sqlstate(), "3D000") << r.error->describe();
  EXPECT_FALSE(r.ok);
}

TEST_F(AuthTest, UpstreamCredentialsAreNotAProxyLogin) {
  TempPostgres& pg = postgres();
  StartupResult r = login(pg.user(), pg.password(), pgro_->database());
  ASSERT_TRUE(r.error) << "the upstream account logged in through pgro";
  EXPECT_EQ(r.error->sqlstate(), "28P01") << r.error->describe();
  EXPECT_FALSE(r.ok);
}

TEST_F(AuthTest, StartupLogsAndNoUpstreamPassword) {
  // A session and a failed login with the upstream password first, so that the log has
  // seen both the password in the environment and in a login attempt.
  StartupResult ok = login(pgro_->user(), pgro_->password(), pgro_->database());
  ASSERT_TRUE(ok.ok);
  (void)login(postgres().user(), postgres().password(), pgro_->database());
  std::string log = pgro_->log();
  EXPECT_NE(log.find("Testing upstream connection..."), std::string::npos) << log;
  EXPECT_NE(log.find("Successfully connected to upstream database"), std::string::npos) << log;
  EXPECT_EQ(log.find(postgres().password()), std::string::npos)
      << "the upstream password appears in pgro's log";
  EXPECT_EQ(log.find(pgro_->password()), std::string::npos)
      << "the proxy password appears in pgro's log";
}

}  // namespace
}  // namespace pgro::it
