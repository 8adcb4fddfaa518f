#include "auth/scram_server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "auth/base64.hpp"
#include "auth/crypto.hpp"
#include "auth/scram_message.hpp"

namespace pgro::auth {
namespace {

constexpr char kMalformed[] = "malformed SCRAM message: ";
// One message for every failed proof, real or mock user alike.
constexpr char kAuthFailed[] = "password authentication failed";

ScramVerifier mockVerifier(std::string_view user, const MockSecret& secret, int iterations) {
  // Salt = HMAC-SHA-256(secret, user), cut to the length of a real salt. The keys stay zero:
  // a mock exchange never succeeds, whatever the proof (see handleClientFinal).
  const Sha256Digest digest = hmacSha256(secret, user);
  ScramVerifier v;
  v.iterations = iterations;
  v.salt = std::string(asChars(digest).substr(0, scram::kDefaultSaltLength));
  return v;
}

}  // namespace

const MockSecret& processMockSecret() {
  static const MockSecret secret = [] {
    MockSecret s{};
    if (!randomBytes(s)) {
      // Without randomness neither nonces nor this secret can be trusted: stop the process.
      std::fputs("pgro: OpenSSL RAND_bytes failed creating the SCRAM mock secret\n", stderr);
      std::abort();
    }
    return s;
  }();
  return secret;
}

ScramServer::ScramServer(const ScramVerifier* verifier, std::string_view user)
    : ScramServer(verifier, user, ScramServerOptions{}) {}

ScramServer::ScramServer(const ScramVerifier* verifier, std::string_view user,
                         ScramServerOptions options)
    : server_nonce_(std::move(options.server_nonce)) {
  if (verifier != nullptr) {
    verifier_ = *verifier;
  } else {
    mock_ = true;
    verifier_ = mockVerifier(user, options.mock_secret, options.mock_iterations);
  }
}

Error ScramServer::fail(ErrorCode code, std::string message) {
  state_ = State::Failed;
  return makeError(code, std::move(message));
}

Result<std::string> ScramServer::handleClientFirst(std::string_view msg) {
  if (state_ != State::ExpectClientFirst) {
    return fail(ErrorCode::ProtocolViolation, "unexpected SCRAM client-first-message");
  }

  // gs2-header = gs2-cbind-flag "," [ authzid ] ","  (RFC 5802 section 7)
  if (msg.empty()) {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "empty");
  }
  switch (msg[0]) {
    case 'n':  // client does not support channel binding
    case 'y':  // client supports it but thinks we do not: true, we never offer the -PLUS
               // mechanism. Once we do, 'y' must be refused (RFC 5802 section 6: downgrade).
      if (msg.size() < 2 || msg[1] != ',') {
        return fail(ErrorCode::ProtocolViolation,
                    std::string(kMalformed) + "comma expected after the channel-binding flag");
      }
      break;
    case 'p':
      return fail(ErrorCode::ProtocolViolation,
                  "the client selected SCRAM-SHA-256 without channel binding, but its message "
                  "requests channel binding (p=); pgro does not offer SCRAM-SHA-256-PLUS");
    default:
      return fail(ErrorCode::ProtocolViolation,
                  std::string(kMalformed) + "unexpected channel-binding flag");
  }
  if (msg.size() < 3) {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "truncated");
  }
  if (msg.substr(2).starts_with("a=")) {
    return fail(ErrorCode::FeatureNotSupported,
                "SCRAM authorization identity (a=) is not supported");
  }
  if (msg[2] != ',') {
    return fail(ErrorCode::ProtocolViolation,
                std::string(kMalformed) + "comma expected after the gs2 header");
  }
  gs2_header_ = std::string(msg.substr(0, 3));
  client_first_bare_ = std::string(msg.substr(3));

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  const auto attrs = scram::parseAttributes(client_first_bare_);
  if (!attrs || attrs->empty()) {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "bad attribute list");
  }
  if ((*attrs)[0].name == 'm') {
    return fail(ErrorCode::FeatureNotSupported,
                "the client requires an unsupported SCRAM extension (m=)");
  }
  if ((*attrs)[0].name != 'n') {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "n= expected");
  }
  if (attrs->size() < 2 || (*attrs)[1].name != 'r') {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "r= expected after n=");
  }
  const std::string_view client_nonce = (*attrs)[1].value;
  if (client_nonce.empty() || !scram::isPrintable(client_nonce)) {
    return fail(ErrorCode::ProtocolViolation,
                std::string(kMalformed) + "client nonce is empty or not printable");
  }
  // Any further attributes are extensions we do not know; RFC 5802 says to ignore them.

  if (server_nonce_.empty()) {
    auto nonce = scram::randomNonce();
    if (!nonce) {
      return fail(ErrorCode::Internal, "OpenSSL RAND_bytes failed");
    }
    server_nonce_ = std::move(*nonce);
  }
  nonce_ = std::string(client_nonce) + server_nonce_;

  server_first_ = "r=" + nonce_ + ",s=" + base64Encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  state_ = State::ExpectClientFinal;
  return server_first_;
}

Result<std::string> ScramServer::handleClientFinal(std::string_view msg) {
  if (state_ != State::ExpectClientFinal) {
    return fail(ErrorCode::ProtocolViolation, "unexpected SCRAM client-final-message");
  }

  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  const auto attrs = scram::parseAttributes(msg);
  if (!attrs || attrs->size() < 3) {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "bad attribute list");
  }
  const scram::Attribute& cbind = attrs->front();
  const scram::Attribute& nonce = (*attrs)[1];
  const scram::Attribute& proof = attrs->back();
  if (cbind.name != 'c' || nonce.name != 'r' || proof.name != 'p') {
    return fail(ErrorCode::ProtocolViolation,
                std::string(kMalformed) + "expected c=, r=, ..., p= in client-final-message");
  }

  // Without channel binding, c= carries the gs2 header of the first message, base64-encoded.
  const auto cbind_data = base64Decode(cbind.value);
  if (!cbind_data) {
    return fail(ErrorCode::ProtocolViolation,
                std::string(kMalformed) + "channel-binding attribute is not base64");
  }
  if (*cbind_data != gs2_header_) {
    return fail(ErrorCode::ProtocolViolation,
                "SCRAM channel binding check failed: c= does not match the gs2 header");
  }
  if (nonce.value != nonce_) {
    return fail(ErrorCode::ProtocolViolation, std::string(kMalformed) + "nonce does not match");
  }
  const auto proof_bytes = base64Decode(proof.value);
  if (!proof_bytes || proof_bytes->size() != sizeof(Sha256Digest)) {
    return fail(ErrorCode::ProtocolViolation,
                std::string(kMalformed) + "client proof is not 32 bytes of base64");
  }
  Sha256Digest client_proof{};
  std::copy(proof_bytes->begin(), proof_bytes->end(), client_proof.begin());

  // AuthMessage = client-first-message-bare "," server-first-message ","
  //               client-final-message-without-proof
  const std::string_view without_proof = msg.substr(0, msg.size() - proof.value.size() - 3);
  std::string auth_message;
  auth_message.reserve(client_first_bare_.size() + server_first_.size() + msg.size() + 2);
  auth_message.append(client_first_bare_).append(",").append(server_first_).append(",");
  auth_message.append(without_proof);

  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); accept if H(ClientKey) equals
  // StoredKey. The mock path does the same work and then fails.
  const Sha256Digest client_signature = hmacSha256(verifier_.stored_key, auth_message);
  const Sha256Digest client_key = scram::xorDigests(client_proof, client_signature);
  const bool proof_ok = constantTimeEqual(sha256(client_key), verifier_.stored_key);
  if (!proof_ok || mock_) {
    return fail(ErrorCode::InvalidPassword, kAuthFailed);
  }

  const Sha256Digest server_signature = hmacSha256(verifier_.server_key, auth_message);
  state_ = State::Authenticated;
  return "v=" + base64Encode(server_signature);
}

}  // namespace pgro::auth
