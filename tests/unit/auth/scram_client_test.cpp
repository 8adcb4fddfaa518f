#include "auth/scram_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "test_vectors.hpp"

namespace pgro::auth {
namespace {

namespace tv = test_vectors;
using ::testing::HasSubstr;

ScramClient rfcClient() {
  return ScramClient(tv::kRfcPassword, tv::kRfcClientNonce, tv::kRfcUser);
}

TEST(ScramClient, Rfc7677TestVector) {
  ScramClient client(tv::kRfcPassword, tv::kRfcClientNonce, tv::kRfcUser);
  EXPECT_EQ(client.clientFirstMessage(), tv::kRfcClientFirst);
  const auto client_final = client.handleServerFirst(tv::kRfcServerFirst);
  ASSERT_TRUE(client_final.ok()) << client_final.error().message;
  EXPECT_EQ(*client_final, tv::kRfcClientFinal);
  const auto verified = client.verifyServerFinal(tv::kRfcServerFinal);
  EXPECT_TRUE(verified.ok()) << verified.error().message;
}

TEST(ScramClient, DefaultsLikeLibpq) {
  ScramClient a("secret");
  ScramClient b("secret");
  const std::regex shape("n,,n=,r=[A-Za-z0-9+/]{24}");
  EXPECT_TRUE(std::regex_match(a.clientFirstMessage(), shape)) << a.clientFirstMessage();
  EXPECT_NE(a.clientFirstMessage(), b.clientFirstMessage());
  EXPECT_EQ(a.clientFirstMessage(), a.clientFirstMessage());
}

TEST(ScramClient, EscapesUserName) {
  ScramClient client("p", "abc", "a,b=c");
  EXPECT_EQ(client.clientFirstMessage(), "n,,n=a=2Cb=3Dc,r=abc");
}

TEST(ScramClient, RejectsBadServerFirst) {
  const std::string nonce = std::string(tv::kRfcClientNonce) + tv::kRfcServerNonce;
  const std::string salt = std::string(",s=") + tv::kRfcSaltBase64;
  const std::vector<std::string> cases = {
      "",
      "r=" + nonce,
      "r=" + nonce + salt,
      "r=" + nonce + salt + ",i=",
      "r=" + nonce + salt + ",i=0",
      "r=" + nonce + salt + ",i=-1",
      "r=" + nonce + salt + ",i=+5",
      "r=" + nonce + salt + ",i=10000001",
      "r=" + nonce + salt + ",i=99999999999999",
      "r=" + nonce + salt + ",i=abc",
      "r=" + nonce + salt + ",i=4096x",
      "r=" + nonce + ",s=,i=4096",
      "r=" + nonce + ",s=W22Z!J0SNY7soEsUEjb6gQ==,i=4096",
      "r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
      "r=" + std::string(tv::kRfcClientNonce) + salt + ",i=4096",  // no server part
      "r=XXXX" + std::string(tv::kRfcServerNonce) + salt + ",i=4096",
      "r=rOprNGfw" + salt + ",i=4096",
      "r=" + nonce + "\x01" + salt + ",i=4096",
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=" + nonce + ",i=4096",
      "m=ext,r=" + nonce + salt + ",i=4096",
      "e=other-error",
      "r=" + nonce + salt + ",i=4096,",
      "garbage",
  };
  for (const std::string& bad : cases) {
    ScramClient client = rfcClient();
    const auto result = client.handleServerFirst(bad);
    EXPECT_FALSE(result.ok()) << bad;
    EXPECT_FALSE(client.verifyServerFinal(tv::kRfcServerFinal).ok()) << bad;
  }
}

TEST(ScramClient, AcceptsServerFirstExtensions) {
  ScramClient client = rfcClient();
  EXPECT_TRUE(client.handleServerFirst(std::string(tv::kRfcServerFirst) + ",x=ext").ok());
}

TEST(ScramClient, ServerErrorIsReported) {
  ScramClient client = rfcClient();
  ASSERT_TRUE(client.handleServerFirst(tv::kRfcServerFirst).ok());
  const auto result = client.verifyServerFinal("e=invalid-proof");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::ServerRejected);
  EXPECT_THAT(result.error().message, HasSubstr("invalid-proof"));
}

TEST(ScramClient, RejectsWrongServerSignature) {
  const std::vector<std::string> cases = {
      "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",  // one bit off
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",   // not base64
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n",              // truncated
      "v=",
  };
  for (const std::string& bad : cases) {
    ScramClient client = rfcClient();
    ASSERT_TRUE(client.handleServerFirst(tv::kRfcServerFirst).ok());
    const auto result = client.verifyServerFinal(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::ServerRejected) << bad;
  }
  for (const std::string bad :
       {"", "x=1", "garbage", ",v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="}) {
    ScramClient client = rfcClient();
    ASSERT_TRUE(client.handleServerFirst(tv::kRfcServerFirst).ok());
    EXPECT_FALSE(client.verifyServerFinal(bad).ok()) << bad;
  }
}

TEST(ScramClient, AcceptsServerFinalExtensions) {
  ScramClient client = rfcClient();
  ASSERT_TRUE(client.handleServerFirst(tv::kRfcServerFirst).ok());
  EXPECT_TRUE(client.verifyServerFinal(std::string(tv::kRfcServerFinal) + ",x=ext").ok());
}

TEST(ScramClient, CallsOutOfOrderFail) {
  ScramClient client = rfcClient();
  EXPECT_FALSE(client.verifyServerFinal(tv::kRfcServerFinal).ok());
  EXPECT_FALSE(client.handleServerFirst(tv::kRfcServerFirst).ok());  // already failed

  ScramClient twice = rfcClient();
  ASSERT_TRUE(twice.handleServerFirst(tv::kRfcServerFirst).ok());
  EXPECT_FALSE(twice.handleServerFirst(tv::kRfcServerFirst).ok());
}

}  // namespace
}  // namespace pgro::auth
