#include "auth/scram_verifier.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "test_vectors.hpp"

namespace pgro::auth {
namespace {

constexpr const char* kPgSecret = test_vectors::kPgSecretVerifier;

// Same origin as kPgSecretVerifier (PostgreSQL 15, pg_authid.rolpassword), for non-ASCII
// passwords to check SASLprep; the SQL spelled each password as E'...'.
struct PgReference {
  const char* password;
  const char* verifier;
};
constexpr PgReference kPgNonAscii[] = {
    // E'pass\u00A0word': SASLprep maps NBSP to a space
    {"pass\u00A0word",
     "SCRAM-SHA-256$4096:cC0xVmaesGQT0NkjWr7pwQ==$BwoJxk5u3/O2vc3OBj2wbXFrel1Bl+ob1S99zIMfCJs=:"
     "Xi3awPKyMdZajuwMoQIIXMivgSKJOEJvtHxR0h4iFuk="},
    // E'a\u00ADb\u200Dc': soft hyphen and ZWJ are mapped to nothing
    {"a\u00ADb\u200Dc",
     "SCRAM-SHA-256$4096:L04XsF99JeNRBp4PewiSFw==$HZRq3nH9910ur1N/0bcCKqek/3RKPDIEHOzxP46R+9U=:"
     "/elwzBgRDtWx1xHwhbt8AtXPVn4l3vPif4b8dqZalXo="},
    // E'x\u00A0\u0080y': U+0080 is prohibited, so SASLprep fails and the raw bytes are used
    {"x\u00A0\u0080y",
     "SCRAM-SHA-256$4096:xgv7vXgExZFAJ/HC8xHyIg==$bLMEG6RKy95AktEw9HKTwOFSpuP/K2k53wB+R3N+5PQ=:"
     "AKMpyDbmF3PDE5ILrFs2MKqCmrW+lb9nf6hhwtEXB9E="},
    // E'caf\u00E9': already normalized
    {"caf\u00E9",
     "SCRAM-SHA-256$4096:JXYKjLdBpOb/xr7d1APiEw==$l4c2ar+HsVeb91rc3KizxI4L9Mk8au2RMOb1Cq8ugPg=:"
     "aOKr01QJY5tXKOR/jj1Prz+8+SaaZUVY/k54FRUZ48I="},
};

TEST(ScramVerifier, ParsesAndFormatsPostgreSqlVerifier) {
  const auto v = ScramVerifier::parse(kPgSecret);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->iterations, 4096);
  EXPECT_EQ(v->salt.size(), 16u);
  EXPECT_EQ(v->toString(), kPgSecret);
}

TEST(ScramVerifier, FromPasswordMatchesPostgreSqlByteForByte) {
  const auto pg = ScramVerifier::parse(kPgSecret);
  ASSERT_TRUE(pg.has_value());
  const ScramVerifier ours = ScramVerifier::fromPassword("secret", pg->salt, 4096);
  EXPECT_EQ(ours, *pg);
  EXPECT_EQ(ours.toString(), kPgSecret);
  EXPECT_NE(ScramVerifier::fromPassword("Secret", pg->salt, 4096), *pg);
}

TEST(ScramVerifier, NonAsciiPasswordsMatchPostgreSqlSaslprep) {
  for (const auto& ref : kPgNonAscii) {
    const auto pg = ScramVerifier::parse(ref.verifier);
    ASSERT_TRUE(pg.has_value()) << ref.verifier;
    EXPECT_EQ(ScramVerifier::fromPassword(ref.password, pg->salt, 4096).toString(), ref.verifier);
  }
}

TEST(ScramVerifier, RandomSaltFromPassword) {
  const ScramVerifier a = ScramVerifier::fromPassword("secret");
  const ScramVerifier b = ScramVerifier::fromPassword("secret");
  EXPECT_EQ(a.iterations, 4096);
  EXPECT_EQ(a.salt.size(), 16u);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_EQ(ScramVerifier::fromPassword("secret", a.salt, 4096), a);
  const auto reparsed = ScramVerifier::parse(a.toString());
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_EQ(*reparsed, a);
  EXPECT_EQ(ScramVerifier::fromPassword("x", 1).iterations, 1);
}

TEST(ScramVerifier, FromPasswordRejectsBadParameters) {
  EXPECT_THROW((void)ScramVerifier::fromPassword("x", "salt", 0), std::invalid_argument);
  EXPECT_THROW((void)ScramVerifier::fromPassword("x", "", 4096), std::invalid_argument);
}

TEST(ScramVerifier, RejectsMalformedText) {
  const std::string key = "maNKGFvNAJgEjW9+cOOZUl2f3+PqvJKQJQFIufVCdrk=";
  const std::string keys = "$" + key + ":" + key;
  for (const std::string& bad : {
           std::string(),
           std::string("SCRAM-SHA-256$"),
           std::string("md5ea909ccfbf42c1d230f26167db4d4fdb"),
           std::string("scram-sha-256$4096:YpDHqHZ7xDde1JV8V4FUkg==") + keys,
           "SCRAM-SHA-256$0:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$-1:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$+4096:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$99999999999:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$abc:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$:YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$4096:" + keys,
           "SCRAM-SHA-256$4096YpDHqHZ7xDde1JV8V4FUkg==" + keys,
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg=" + keys,
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==$" + key,
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==$" + key + ":",
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==$" + key + ":Zg==",
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==" + keys + "$",
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==" + keys + ":" + key,
           "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==" + keys + " ",
       }) {
    EXPECT_FALSE(ScramVerifier::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace pgro::auth
