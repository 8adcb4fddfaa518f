// Byte-built wire messages for codec tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgro::protocol::testing {

inline std::string int32Bytes(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
          static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

// A typed message: type byte, Int32 length (counting itself), body.
inline std::string makeMessage(char type, std::string_view body) {
  std::string m(1, type);
  m += int32Bytes(static_cast<uint32_t>(body.size() + 4));
  m += body;
  return m;
}

inline std::string cstr(std::string_view s) {
  return std::string(s) + '\0';
}

}  // namespace pgro::protocol::testing
