#include "auth/md5.hpp"

#include <gtest/gtest.h>

#include <array>

namespace pgro::auth {
namespace {

// Reference from PostgreSQL 15: SELECT 'md5' || md5('secretadmin');
// (= pg_authid.rolpassword of CREATE ROLE admin PASSWORD 'secret' with md5 encryption).
TEST(Md5, VerifierMatchesPostgreSql) {
  EXPECT_EQ(md5Verifier("admin", "secret"), "md5ea909ccfbf42c1d230f26167db4d4fdb");
}

// References computed with Python's hashlib:
//   'md5' + md5(md5(b'secretadmin').hexdigest().encode() + salt).hexdigest()
TEST(Md5, PasswordResponse) {
  const std::array<uint8_t, 4> salt1{0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(md5PasswordResponse("admin", "secret", salt1), "md5429bdacea953a35c4ece3ab61a18f27f");
  const std::array<uint8_t, 4> salt2{0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(md5PasswordResponse("admin", "secret", salt2), "md55ffc110f491a3e87bdc8540a3ce21dca");
}

}  // namespace
}  // namespace pgro::auth
