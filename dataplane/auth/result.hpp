#pragma once

// Result<T>: the [[nodiscard]] success-or-error type of pgro_auth (std::expected is C++23).
// Nothing on the per-connection path throws; every failure comes back as an Error.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pgro::auth {

// What went wrong, so the session can pick the SQLSTATE without parsing messages.
enum class ErrorCode {
  ProtocolViolation,    // malformed SCRAM message or call out of order (08P01)
  InvalidPassword,      // wrong proof, or unknown user at the final step (28P01)
  FeatureNotSupported,  // e.g. channel binding requested (0A000)
  ServerRejected,       // client side: server sent e=, or its signature did not verify
  ConfigError,          // users file unreadable, or a line or verifier does not parse
  Internal,             // OpenSSL failure (random generator, digest unavailable)
};

struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }

  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

inline Error makeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace pgro::auth
