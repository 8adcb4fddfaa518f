// Builds PostgreSQL wire messages into a byte string (protocol v3, PostgreSQL docs 55.7).
// Integers are big-endian; the length field counts itself but not the type byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgro::protocol {

class MessageWriter {
 public:
  explicit MessageWriter(std::string& out) : out_(out) {}

  // Starts a typed message; finish() patches its length.
  MessageWriter& begin(char type) {
    out_.push_back(type);
    start_ = out_.size();
    out_.append(4, '\0');
    return *this;
  }
  // Starts an untyped startup-phase message (StartupMessage, SSLRequest, CancelRequest).
  MessageWriter& beginUntyped() {
    start_ = out_.size();
    out_.append(4, '\0');
    return *this;
  }
  MessageWriter& byte(char b) {
    out_.push_back(b);
    return *this;
  }
  MessageWriter& int16(int16_t v) {
    const auto u = static_cast<uint16_t>(v);
    out_.push_back(static_cast<char>(u >> 8));
    out_.push_back(static_cast<char>(u & 0xff));
    return *this;
  }
  MessageWriter& int32(int32_t v) {
    const auto u = static_cast<uint32_t>(v);
    out_.push_back(static_cast<char>(u >> 24));
    out_.push_back(static_cast<char>((u >> 16) & 0xff));
    out_.push_back(static_cast<char>((u >> 8) & 0xff));
    out_.push_back(static_cast<char>(u & 0xff));
    return *this;
  }
  // A NUL-terminated string.
  MessageWriter& cstring(std::string_view s) {
    out_.append(s);
    out_.push_back('\0');
    return *this;
  }
  MessageWriter& bytes(std::string_view s) {
    out_.append(s);
    return *this;
  }
  void finish() {
    const auto len = static_cast<uint32_t>(out_.size() - start_);
    out_[start_] = static_cast<char>(len >> 24);
    out_[start_ + 1] = static_cast<char>((len >> 16) & 0xff);
    out_[start_ + 2] = static_cast<char>((len >> 8) & 0xff);
    out_[start_ + 3] = static_cast<char>(len & 0xff);
  }

 private:
  std::string& out_;
  std::size_t start_ = 0;
};

}  // namespace pgro::protocol
