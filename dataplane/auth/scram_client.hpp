#pragma once

// Client side of one SCRAM-SHA-256 exchange without channel binding, for pgro's own login to
// the upstream PostgreSQL (what libpq does in fe-auth-scram.c):
//
//   clientFirstMessage()   -> SASLInitialResponse data, "n,,n=,r=<nonce>"
//   handleServerFirst()    <- AuthenticationSASLContinue data; returns client-final-message
//   verifyServerFinal()    <- AuthenticationSASLFinal data; proves the server knew the verifier
//
// The password is prepared with saslprepPassword() (as libpq does) and wiped once the salted
// password is computed.

#include <string>
#include <string_view>

#include "auth/crypto.hpp"
#include "auth/result.hpp"

namespace pgro::auth {

class ScramClient {
 public:
  // Iteration counts a server may ask for: more than this is a denial of service on us.
  static constexpr int kMaxIterations = 10'000'000;

  // A random 18-byte nonce (base64) and an empty user name, like libpq: PostgreSQL takes the
  // user from the StartupMessage and ignores n=.
  explicit ScramClient(std::string password);
  // Fixed nonce and user name, to replay a known exchange (e.g. the RFC 7677 test vector).
  // The nonce must be printable ASCII without ','.
  ScramClient(std::string password, std::string client_nonce, std::string_view user = {});
  ~ScramClient();

  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  std::string clientFirstMessage() const;

  // Validates the server-first-message (the server nonce extends ours, salt decodes,
  // 1 <= iterations <= kMaxIterations), runs PBKDF2 and returns the client-final-message.
  Result<std::string> handleServerFirst(std::string_view server_first_message);

  // Accepts "v=<ServerSignature>" if it matches; "e=<error>" and a wrong signature fail with
  // ErrorCode::ServerRejected.
  Result<void> verifyServerFinal(std::string_view server_final_message);

 private:
  enum class State {
    ExpectServerFirst,  // client-first-message may be sent; waiting for the server's reply
    ExpectServerFinal,  // client-final-message sent; waiting for the server signature
    Done,               // server verified; the exchange is over
    Failed,             // an error ended the exchange; every later call fails
  };

  Error fail(ErrorCode code, std::string message);

  State state_ = State::ExpectServerFirst;
  std::string password_;  // after SASLprep; wiped once used
  std::string nonce_;     // empty only if the random generator failed
  std::string client_first_bare_;
  Sha256Digest expected_server_signature_{};
};

}  // namespace pgro::auth
