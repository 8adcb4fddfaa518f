// Small, separately testable pieces of the admin API's safety: the bearer-token check, the
// loopback rule for ADMIN_LISTEN, redaction and UTF-8 repair of strings from the data plane.
#pragma once

#include <string>
#include <string_view>

namespace pgro::controlplane {

// True when `header` is "Bearer <token>" (scheme case-insensitive, as RFC 6750 allows). The
// token comparison takes the same time whatever the position of the first difference.
bool bearerMatches(std::string_view header, std::string_view token);

// Throws std::runtime_error when `listen` (host:port) is not a loopback address and `token`
// is empty: a token-less admin API is reachable only from this machine.
void requireTokenBeyondLoopback(const std::string& listen, const std::string& token);

// "[::1]:50051" stays as is, "127.0.0.1:0" too: gRPC's form of a host:port.
std::string grpcAddress(const std::string& listen);

// Whether a setting's value must never leave the process (PASSWORD, TOKEN, SECRET in its name).
bool isSecretSetting(std::string_view name);

// proto3 string fields must be valid UTF-8. Client-supplied text (query, application_name)
// may be in another client_encoding: invalid sequences become U+FFFD.
std::string validUtf8(std::string_view text);

// The first `max_chars` code points of valid UTF-8 `text`.
std::string truncateUtf8(std::string_view text, std::size_t max_chars);

}  // namespace pgro::controlplane
