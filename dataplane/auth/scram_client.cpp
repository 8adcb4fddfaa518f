#include "auth/scram_client.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "auth/base64.hpp"
#include "auth/saslprep.hpp"
#include "auth/scram_message.hpp"

namespace pgro::auth {
namespace {

constexpr char kGs2Header[] = "n,,";
constexpr char kGs2HeaderBase64[] = "biws";  // base64("n,,")
constexpr char kInvalid[] = "invalid SCRAM server-first-message: ";

bool parseIterations(std::string_view text, int& out) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The server's e= text goes into logs: keep it short and printable.
std::string serverErrorMessage(std::string_view value) {
  std::string out = "SCRAM server error: ";
  for (char c : value.substr(0, 100)) {
    out.push_back(c >= 0x20 && c <= 0x7E ? c : '?');
  }
  return out;
}

}  // namespace

ScramClient::ScramClient(std::string password)
    : ScramClient(std::move(password), scram::randomNonce().value_or(std::string())) {}

ScramClient::ScramClient(std::string password, std::string client_nonce, std::string_view user)
    : password_(saslprepPassword(password)), nonce_(std::move(client_nonce)) {
  secureWipe(password);
  client_first_bare_ = "n=" + scram::escapeSaslName(user) + ",r=" + nonce_;
}

ScramClient::~ScramClient() {
  secureWipe(password_);
}

Error ScramClient::fail(ErrorCode code, std::string message) {
  state_ = State::Failed;
  secureWipe(password_);
  return makeError(code, std::move(message));
}

std::string ScramClient::clientFirstMessage() const {
  return kGs2Header + client_first_bare_;
}

Result<std::string> ScramClient::handleServerFirst(std::string_view msg) {
  if (state_ != State::ExpectServerFirst) {
    return fail(ErrorCode::ProtocolViolation, "unexpected SCRAM server-first-message");
  }
  if (nonce_.empty() || !scram::isPrintable(nonce_)) {
    return fail(ErrorCode::Internal, "no usable client nonce (random generator failure?)");
  }

  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
  //                        ["," extensions]
  const auto attrs = scram::parseAttributes(msg);
  if (!attrs) {
    return fail(ErrorCode::ProtocolViolation, std::string(kInvalid) + "bad syntax");
  }
  if (!attrs->empty() && attrs->front().name == 'e') {
    return fail(ErrorCode::ServerRejected, serverErrorMessage(attrs->front().value));
  }
  if (!attrs->empty() && attrs->front().name == 'm') {
    return fail(ErrorCode::FeatureNotSupported,
                "the server requires an unsupported SCRAM extension (m=)");
  }
  if (attrs->size() < 3 || (*attrs)[0].name != 'r' || (*attrs)[1].name != 's' ||
      (*attrs)[2].name != 'i') {
    return fail(ErrorCode::ProtocolViolation, std::string(kInvalid) + "expected r=, s=, i=");
  }
  const std::string_view nonce = (*attrs)[0].value;
  if (nonce.size() <= nonce_.size() || !nonce.starts_with(nonce_) || !scram::isPrintable(nonce)) {
    return fail(ErrorCode::ProtocolViolation, std::string(kInvalid) + "nonce mismatch");
  }
  const auto salt = base64Decode((*attrs)[1].value);
  if (!salt || salt->empty()) {
    return fail(ErrorCode::ProtocolViolation, std::string(kInvalid) + "salt is not base64");
  }
  int iterations = 0;
  if (!parseIterations((*attrs)[2].value, iterations) || iterations < 1 ||
      iterations > kMaxIterations) {
    return fail(ErrorCode::ProtocolViolation, std::string(kInvalid) +
                                                  "iteration count out of range 1.." +
                                                  std::to_string(kMaxIterations));
  }

  Sha256Digest salted{};
  const bool ok = pbkdf2Sha256(password_, *salt, iterations, salted);
  secureWipe(password_);
  if (!ok) {
    return fail(ErrorCode::Internal, "OpenSSL PBKDF2 failed");
  }
  scram::Keys keys = scram::deriveKeys(salted);
  secureWipe(salted);

  std::string final_message = std::string("c=") + kGs2HeaderBase64 + ",r=" + std::string(nonce);
  std::string auth_message;
  auth_message.reserve(client_first_bare_.size() + msg.size() + final_message.size() + 2);
  auth_message.append(client_first_bare_).append(",").append(msg).append(",");
  auth_message.append(final_message);

  const Sha256Digest client_signature = hmacSha256(keys.stored_key, auth_message);
  const Sha256Digest proof = scram::xorDigests(keys.client_key, client_signature);
  expected_server_signature_ = hmacSha256(keys.server_key, auth_message);
  secureWipe(keys.client_key);
  secureWipe(keys.server_key);

  final_message.append(",p=").append(base64Encode(proof));
  state_ = State::ExpectServerFinal;
  return final_message;
}

Result<void> ScramClient::verifyServerFinal(std::string_view msg) {
  if (state_ != State::ExpectServerFinal) {
    return fail(ErrorCode::ProtocolViolation, "unexpected SCRAM server-final-message");
  }
  // server-final-message = (server-error / verifier) ["," extensions]
  const auto attrs = scram::parseAttributes(msg);
  if (!attrs) {
    return fail(ErrorCode::ProtocolViolation, "invalid SCRAM server-final-message: bad syntax");
  }
  const scram::Attribute& first = attrs->front();
  if (first.name == 'e') {
    return fail(ErrorCode::ServerRejected, serverErrorMessage(first.value));
  }
  if (first.name != 'v') {
    return fail(ErrorCode::ProtocolViolation, "invalid SCRAM server-final-message: v= expected");
  }
  const auto signature = base64Decode(first.value);
  if (!signature || !constantTimeEqual(asBytes(*signature), expected_server_signature_)) {
    return fail(ErrorCode::ServerRejected,
                "SCRAM server signature does not verify: the server does not know the password");
  }
  state_ = State::Done;
  return {};
}

}  // namespace pgro::auth
