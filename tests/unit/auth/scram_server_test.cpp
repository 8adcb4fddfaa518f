#include "auth/scram_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "auth/base64.hpp"
#include "auth/crypto.hpp"
#include "auth/scram_client.hpp"
#include "auth/scram_message.hpp"
#include "test_vectors.hpp"

namespace pgro::auth {
namespace {

namespace tv = test_vectors;
using ::testing::HasSubstr;

ScramVerifier rfcVerifier() {
  return ScramVerifier::fromPassword(tv::kRfcPassword, *base64Decode(tv::kRfcSaltBase64), 4096);
}

ScramServerOptions fixedNonce(std::string nonce) {
  ScramServerOptions options;
  options.server_nonce = std::move(nonce);
  return options;
}

// Runs a whole exchange between our client and our server; returns the server's last answer.
Result<std::string> exchange(ScramServer& server, ScramClient& client) {
  auto server_first = server.handleClientFirst(client.clientFirstMessage());
  if (!server_first) return server_first.error();
  auto client_final = client.handleServerFirst(*server_first);
  if (!client_final) return client_final.error();
  auto server_final = server.handleClientFinal(*client_final);
  if (!server_final) return server_final;
  if (auto verified = client.verifyServerFinal(*server_final); !verified) return verified.error();
  return server_final;
}

// Salt of a server-first-message "r=...,s=<salt>,i=...".
std::string saltOf(const std::string& server_first) {
  const size_t s = server_first.find(",s=");
  const size_t i = server_first.find(",i=");
  return server_first.substr(s + 3, i - s - 3);
}

TEST(ScramServer, Rfc7677TestVector) {
  const ScramVerifier verifier = rfcVerifier();
  ScramServer server(&verifier, tv::kRfcUser, fixedNonce(tv::kRfcServerNonce));
  const auto first = server.handleClientFirst(tv::kRfcClientFirst);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, tv::kRfcServerFirst);
  const auto final_message = server.handleClientFinal(tv::kRfcClientFinal);
  ASSERT_TRUE(final_message.ok()) << final_message.error().message;
  EXPECT_EQ(*final_message, tv::kRfcServerFinal);
  EXPECT_TRUE(server.authenticated());
}

TEST(ScramServer, PostgreSqlVerifierAcceptsRightPasswordOnly) {
  const auto verifier = ScramVerifier::parse(tv::kPgSecretVerifier);
  ASSERT_TRUE(verifier.has_value());
  {
    ScramServer server(&*verifier, "u");
    ScramClient client("secret");
    const auto result = exchange(server, client);
    EXPECT_TRUE(result.ok()) << result.error().message;
    EXPECT_TRUE(server.authenticated());
  }
  {
    ScramServer server(&*verifier, "u");
    ScramClient client("wrong");
    const auto result = exchange(server, client);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::InvalidPassword);
    EXPECT_FALSE(server.authenticated());
  }
}

TEST(ScramServer, WrongPasswordFailsOnlyAtFinalStep) {
  const ScramVerifier verifier = ScramVerifier::fromPassword("right", 64);
  ScramServer server(&verifier, "alice");
  ScramClient client("wrong");
  const auto first = server.handleClientFirst(client.clientFirstMessage());
  ASSERT_TRUE(first.ok());
  const auto client_final = client.handleServerFirst(*first);
  ASSERT_TRUE(client_final.ok());
  const auto result = server.handleClientFinal(*client_final);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::InvalidPassword);
  EXPECT_FALSE(server.authenticated());
  EXPECT_FALSE(server.handleClientFinal(*client_final).ok());  // the exchange is over
}

TEST(ScramServer, RandomServerNonce) {
  const ScramVerifier verifier = rfcVerifier();
  ScramServer a(&verifier, "user");
  ScramServer b(&verifier, "user");
  const auto first_a = a.handleClientFirst("n,,n=,r=abc");
  const auto first_b = b.handleClientFirst("n,,n=,r=abc");
  ASSERT_TRUE(first_a.ok() && first_b.ok());
  const std::regex shape("r=abc[A-Za-z0-9+/]{24},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  EXPECT_TRUE(std::regex_match(*first_a, shape)) << *first_a;
  EXPECT_NE(*first_a, *first_b);
}

TEST(ScramServer, UnknownUserRunsMockExchange) {
  ScramServerOptions options;
  options.mock_secret.fill(7);
  ScramServer server(nullptr, "ghost", options);
  const auto first = server.handleClientFirst("n,,n=,r=clientnonce");
  ASSERT_TRUE(first.ok());
  const std::regex shape("r=clientnonce[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096");
  EXPECT_TRUE(std::regex_match(*first, shape)) << *first;
  EXPECT_EQ(base64Decode(saltOf(*first))->size(), 16u);

  // Same user and secret: same salt every time. Other user or secret: another salt.
  auto saltFor = [](std::string_view user, uint8_t secret_byte) {
    ScramServerOptions o;
    o.mock_secret.fill(secret_byte);
    ScramServer s(nullptr, user, o);
    return saltOf(*s.handleClientFirst("n,,n=,r=x"));
  };
  EXPECT_EQ(saltFor("ghost", 7), saltOf(*first));
  EXPECT_NE(saltFor("ghost2", 7), saltOf(*first));
  EXPECT_NE(saltFor("ghost", 8), saltOf(*first));

  // The default secret is per process, so stable too.
  ScramServer d1(nullptr, "ghost");
  ScramServer d2(nullptr, "ghost");
  EXPECT_EQ(saltOf(*d1.handleClientFirst("n,,n=,r=x")), saltOf(*d2.handleClientFirst("n,,n=,r=x")));
}

TEST(ScramServer, UnknownUserAlwaysFailsLikeWrongPassword) {
  const ScramVerifier verifier = ScramVerifier::fromPassword("right", 64);
  ScramServer real(&verifier, "alice");
  ScramClient wrong("wrong");
  const auto real_result = exchange(real, wrong);
  ASSERT_FALSE(real_result.ok());

  for (const char* password : {"", "wrong", "right"}) {
    ScramServer mock(nullptr, "ghost");
    ScramClient client(password);
    const auto result = exchange(mock, client);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, real_result.error().code);
    EXPECT_EQ(result.error().message, real_result.error().message);
    EXPECT_FALSE(mock.authenticated());
  }
}

TEST(ScramServer, AcceptsClientThatSupportsChannelBindingButDoesNotUseIt) {
  // gs2 header "y,,": c= must then carry base64("y,,") = "eSws". Build the proof by hand.
  const ScramVerifier verifier = rfcVerifier();
  ScramServer server(&verifier, "user", fixedNonce("SERVER"));
  const std::string client_first_bare = "n=,r=CLIENT";
  const auto first = server.handleClientFirst("y,," + client_first_bare);
  ASSERT_TRUE(first.ok()) << first.error().message;

  const std::string without_proof = "c=eSws,r=CLIENTSERVER";
  const std::string auth_message = client_first_bare + "," + *first + "," + without_proof;
  Sha256Digest salted{};
  ASSERT_TRUE(pbkdf2Sha256("pencil", verifier.salt, 4096, salted));
  const scram::Keys keys = scram::deriveKeys(salted);
  const Sha256Digest proof =
      scram::xorDigests(keys.client_key, hmacSha256(keys.stored_key, auth_message));
  const auto result = server.handleClientFinal(without_proof + ",p=" + base64Encode(proof));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(*result, "v=" + base64Encode(hmacSha256(keys.server_key, auth_message)));
}

TEST(ScramServer, RefusesChannelBindingRequest) {
  const ScramVerifier verifier = rfcVerifier();
  ScramServer server(&verifier, "user");
  const auto result = server.handleClientFirst("p=tls-server-end-point,,n=,r=abc");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::ProtocolViolation);
  EXPECT_THAT(result.error().message, HasSubstr("channel binding"));
}

TEST(ScramServer, RejectsMalformedClientFirst) {
  const ScramVerifier verifier = rfcVerifier();
  for (const std::string bad : {
           "",
           "n",
           "n,",
           "y",
           "x,,n=,r=abc",
           "N,,n=,r=abc",
           "nn,n=,r=abc",
           "n,x,n=,r=abc",
           "n,a=admin,n=,r=abc",
           "n,,",
           "n,,n=",
           "n,,n=user",
           "n,,n=,",
           "n,,r=abc",
           "n,,n=,r=",
           "n,,n=,s=abc",
           "n,,n=,r=a,b",
           "n,,n=,r=a,,",
           "n,,m=ext,n=,r=abc",
           "n,,n=,r=ab\x01",
           "n,,n=,r=ab\xc3\xa9",
           "n,,n=,r=a b",
           "n,,=,r=abc",
           "n,,1=,r=abc",
       }) {
    ScramServer server(&verifier, "user");
    const auto result = server.handleClientFirst(bad);
    EXPECT_FALSE(result.ok()) << bad;
    EXPECT_FALSE(server.handleClientFinal("c=biws,r=abc,p=AAAA").ok()) << bad;
  }
}

TEST(ScramServer, RejectsMalformedClientFinal) {
  const ScramVerifier verifier = rfcVerifier();
  const std::string nonce = std::string(tv::kRfcClientNonce) + tv::kRfcServerNonce;
  const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::vector<std::string> cases = {
      std::string(),
      "c=biws",
      "c=biws,r=" + nonce,                                // missing proof
      "c=biws," + proof,                                  // missing nonce
      "r=" + nonce + "," + proof,                         // missing channel binding
      "c=eSws,r=" + nonce + "," + proof,                  // "y,," but first said "n,,"
      "c=cD10bHMtdW5pcXVlLCw=,r=" + nonce + "," + proof,  // "p=tls-unique,,"
      "c=bi,r=" + nonce + "," + proof,                    // c= not base64
      "c=biws,r=" + nonce + "x," + proof,                 // nonce mismatch
      "c=biws,r=" + std::string(tv::kRfcClientNonce) + "," + proof,
      "c=biws,r=" + nonce + ",p=!!!!",                      // proof not base64
      "c=biws,r=" + nonce + ",p=AAAAAAAAAAAAAAAAAAAAAA==",  // proof too short
      "c=biws,r=" + nonce + ",p=",                          // empty proof
      "c=biws,r=" + nonce + "," + proof + ",x=1",           // p= must come last
      "c=biws,r=" + nonce + "," + proof + ",",
      "c=biws,r=" + nonce + ",," + proof,
  };
  for (const std::string& bad : cases) {
    ScramServer server(&verifier, "user", fixedNonce(tv::kRfcServerNonce));
    ASSERT_TRUE(server.handleClientFirst(tv::kRfcClientFirst).ok());
    const auto result = server.handleClientFinal(bad);
    EXPECT_FALSE(result.ok()) << bad;
    EXPECT_FALSE(server.authenticated());
  }
}

TEST(ScramServer, ToleratesExtensionsBeforeProof) {
  // Unknown extensions are ignored but covered by AuthMessage, so the RFC proof no longer
  // matches: the failure must be a password failure, not a parse failure.
  const ScramVerifier verifier = rfcVerifier();
  ScramServer server(&verifier, "user", fixedNonce(tv::kRfcServerNonce));
  ASSERT_TRUE(server.handleClientFirst(std::string(tv::kRfcClientFirst) + ",x=ext").ok());
  const std::string final_message = tv::kRfcClientFinal;
  const size_t p = final_message.find(",p=");
  const auto result =
      server.handleClientFinal(final_message.substr(0, p) + ",x=ext" + final_message.substr(p));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::InvalidPassword);
}

TEST(ScramServer, EveryTruncatedClientFinalFails) {
  const ScramVerifier verifier = rfcVerifier();
  const std::string full = tv::kRfcClientFinal;
  for (size_t len = 0; len < full.size(); ++len) {
    ScramServer server(&verifier, "user", fixedNonce(tv::kRfcServerNonce));
    ASSERT_TRUE(server.handleClientFirst(tv::kRfcClientFirst).ok());
    EXPECT_FALSE(server.handleClientFinal(full.substr(0, len)).ok()) << len;
  }
}

TEST(ScramServer, CallsOutOfOrderFail) {
  const ScramVerifier verifier = rfcVerifier();
  ScramServer server(&verifier, "user", fixedNonce(tv::kRfcServerNonce));
  EXPECT_FALSE(server.handleClientFinal(tv::kRfcClientFinal).ok());
  EXPECT_FALSE(server.handleClientFirst(tv::kRfcClientFirst).ok());  // already failed

  ScramServer twice(&verifier, "user", fixedNonce(tv::kRfcServerNonce));
  ASSERT_TRUE(twice.handleClientFirst(tv::kRfcClientFirst).ok());
  EXPECT_FALSE(twice.handleClientFirst(tv::kRfcClientFirst).ok());
}

TEST(ScramServer, SurvivesRandomInput) {
  // Seeded garbage built from SCRAM's own punctuation and letters plus arbitrary bytes.
  std::mt19937 rng(12345);
  const std::string alphabet = "nyprcsiam=,,,==biwsAZaz09+/\x01\xff";
  auto randomMessage = [&](const std::string& prefix) {
    std::string s = prefix;
    const size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) {
      s.push_back(rng() % 4 == 0 ? static_cast<char>(rng() % 256)
                                 : alphabet[rng() % alphabet.size()]);
    }
    return s;
  };
  const ScramVerifier verifier = rfcVerifier();
  for (int i = 0; i < 5000; ++i) {
    ScramServer server(i % 2 ? &verifier : nullptr, "user", fixedNonce("S"));
    const auto first = server.handleClientFirst(randomMessage(i % 3 ? "n,," : ""));
    if (!first.ok()) continue;
    const auto final_message = server.handleClientFinal(randomMessage(i % 5 ? "c=biws,r=" : ""));
    EXPECT_FALSE(final_message.ok());
  }
}

}  // namespace
}  // namespace pgro::auth
