#include "auth/saslprep.hpp"

#include <algorithm>
#include <optional>
#include <span>

namespace pgro::auth {
namespace {

struct Range {
  char32_t first;
  char32_t last;
};

// RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020 by SASLprep.
constexpr Range kNonAsciiSpace[] = {
    {0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B},
    {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

// RFC 3454 B.1: commonly mapped to nothing.
constexpr Range kMappedToNothing[] = {
    {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806}, {0x180B, 0x180D},
    {0x200B, 0x200D}, {0x2060, 0x2060}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
};

// RFC 4013 2.3 prohibited output: RFC 3454 tables C.1.2 and C.2.1 to C.9.
constexpr Range kProhibited[] = {
    // C.1.2 non-ASCII space
    {0x00A0, 0x00A0},
    {0x1680, 0x1680},
    {0x2000, 0x200B},
    {0x202F, 0x202F},
    {0x205F, 0x205F},
    {0x3000, 0x3000},
    // C.2.1 ASCII control
    {0x0000, 0x001F},
    {0x007F, 0x007F},
    // C.2.2 non-ASCII control
    {0x0080, 0x009F},
    {0x06DD, 0x06DD},
    {0x070F, 0x070F},
    {0x180E, 0x180E},
    {0x200C, 0x200D},
    {0x2028, 0x2029},
    {0x2060, 0x2063},
    {0x206A, 0x206F},
    {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFC},
    {0x1D173, 0x1D17A},
    // C.3 private use
    {0xE000, 0xF8FF},
    {0xF0000, 0xFFFFD},
    {0x100000, 0x10FFFD},
    // C.4 non-character code points (the last two of every plane are added in isProhibited)
    {0xFDD0, 0xFDEF},
    // C.5 surrogates (cannot come out of a valid UTF-8 decode; listed for completeness)
    {0xD800, 0xDFFF},
    // C.6 inappropriate for plain text
    {0xFFF9, 0xFFFD},
    // C.7 inappropriate for canonical representation
    {0x2FF0, 0x2FFB},
    // C.8 change display properties or deprecated
    {0x0340, 0x0341},
    {0x200E, 0x200F},
    {0x202A, 0x202E},
    {0x206A, 0x206F},
    // C.9 tagging
    {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
};

bool inTable(char32_t c, std::span<const Range> table) {
  return std::any_of(table.begin(), table.end(),
                     [c](const Range& r) { return c >= r.first && c <= r.last; });
}

bool isProhibited(char32_t c) {
  if ((c & 0xFFFE) == 0xFFFE) {
    return true;  // C.4: U+xxFFFE and U+xxFFFF of every plane
  }
  return inTable(c, kProhibited);
}

struct Decoded {
  char32_t code;
  size_t length;
};

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
std::optional<Decoded> decodeUtf8(std::string_view s, size_t pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  size_t len = 0;
  char32_t code = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    return Decoded{b0, 1};
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, code = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, code = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, code = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (pos + len > s.size()) {
    return std::nullopt;
  }
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<uint8_t>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      return std::nullopt;
    }
    code = (code << 6) | (b & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return std::nullopt;
  }
  return Decoded{code, len};
}

}  // namespace

std::string saslprepPassword(std::string_view password) {
  if (std::all_of(password.begin(), password.end(),
                  [](char c) { return static_cast<uint8_t>(c) < 0x80; })) {
    return std::string(password);
  }
  std::string mapped;
  mapped.reserve(password.size());
  for (size_t pos = 0; pos < password.size();) {
    const auto decoded = decodeUtf8(password, pos);
    if (!decoded) {
      return std::string(password);  // not UTF-8: SASLprep fails, raw bytes used
    }
    const char32_t c = decoded->code;
    if (inTable(c, kNonAsciiSpace)) {
      mapped.push_back(' ');
    } else if (inTable(c, kMappedToNothing)) {
      // removed
    } else if (isProhibited(c)) {
      return std::string(password);  // prohibited output: SASLprep fails, raw bytes used
    } else {
      mapped.append(password.substr(pos, decoded->length));
    }
    pos += decoded->length;
  }
  if (mapped.empty()) {
    return std::string(password);  // PostgreSQL refuses an empty result
  }
  return mapped;
}

}  // namespace pgro::auth
