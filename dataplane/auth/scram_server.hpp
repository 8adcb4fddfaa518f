#pragma once

// Server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) without channel binding,
// as PostgreSQL runs it after AuthenticationSASL (protocol docs, "SASL Authentication"):
//
//   client-first-message  -> handleClientFirst()  -> server-first-message
//   (AuthenticationSASLContinue) client-final-message  -> handleClientFinal()  ->
//   server-final-message (AuthenticationSASLFinal)
//
// Unknown users: construct with a null verifier. The exchange then runs against a mock
// verifier whose salt is derived from the user name and a secret (like PostgreSQL's
// scram_mock_salt), so the same user always sees the same salt and the messages look like a
// real user's; it fails only at handleClientFinal(), with the same error as a wrong password.
// Nothing in the replies tells a client whether a user exists.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/result.hpp"
#include "auth/scram_verifier.hpp"

namespace pgro::auth {

using MockSecret = std::array<uint8_t, 32>;

// A random secret created on first use and fixed for the life of the process (the only
// process-wide state here, immutable once made). Several pgro replicas behind one load
// balancer should share a configured secret instead, or an unknown user's salt would differ
// between replicas while a real user's does not. Aborts if the random generator fails.
const MockSecret& processMockSecret();

struct ScramServerOptions {
  // Keys the mock salt of unknown users.
  MockSecret mock_secret = processMockSecret();
  // Server part of the nonce; empty means 18 random bytes in base64, as PostgreSQL does.
  // Set it only to replay a known exchange (the RFC 7677 test vector).
  std::string server_nonce;
  // Iteration count the mock verifier announces: PostgreSQL's default, and what
  // ScramVerifier::fromPassword uses, so mock and real users look alike.
  int mock_iterations = 4096;
};

class ScramServer {
 public:
  // `verifier` is copied (it may be null: unknown user). `user` is the StartupMessage user;
  // the n= of the SCRAM message is ignored, as PostgreSQL does (libpq sends it empty).
  ScramServer(const ScramVerifier* verifier, std::string_view user);
  ScramServer(const ScramVerifier* verifier, std::string_view user, ScramServerOptions options);

  // Returns the server-first-message "r=<nonce>,s=<salt>,i=<iterations>". Accepts the gs2
  // headers "n,," and "y,," (we do not offer SCRAM-SHA-256-PLUS); refuses "p=..." channel
  // binding, an authorization identity and mandatory extensions.
  Result<std::string> handleClientFirst(std::string_view client_first_message);

  // Checks the proof. Returns the server-final-message "v=<ServerSignature>", or an error:
  // ErrorCode::InvalidPassword for a wrong proof or an unknown user, ProtocolViolation for a
  // malformed message. Any error ends the exchange.
  Result<std::string> handleClientFinal(std::string_view client_final_message);

  // True once handleClientFinal() accepted the proof.
  bool authenticated() const { return state_ == State::Authenticated; }

 private:
  enum class State {
    ExpectClientFirst,  // nothing received yet
    ExpectClientFinal,  // server-first-message sent, waiting for the proof
    Authenticated,      // proof accepted; the exchange is over
    Failed,             // an error ended the exchange; every later call fails
  };

  Error fail(ErrorCode code, std::string message);

  State state_ = State::ExpectClientFirst;
  ScramVerifier verifier_;
  bool mock_ = false;
  std::string server_nonce_;
  std::string gs2_header_;         // e.g. "n,,", to check c= of the final message
  std::string client_first_bare_;  // for AuthMessage
  std::string server_first_;       // for AuthMessage
  std::string nonce_;              // client nonce + server nonce
};

}  // namespace pgro::auth
