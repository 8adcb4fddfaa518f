// Strict parsers for single configuration values. They throw ValueError with a message that
// does not name the variable; load() adds the name and where the value came from, so every
// error the operator sees is one line naming the variable.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace pgro::config::detail {

class ValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "in lo..hi" for messages; an open upper end of a wide type reads ">= lo".
template <class T>
std::string rangeText(T min, T max) {
  if (sizeof(T) >= 4 && max == std::numeric_limits<T>::max()) {
    return ">= " + std::to_string(min);
  }
  return "in " + std::to_string(min) + ".." + std::to_string(max);
}

// The whole text must be a decimal integer within [min, max]: no sign other than a leading
// '-', no spaces, no suffixes, no hex.
template <class T>
T parseNumber(std::string_view text, T min, T max) {
  auto fail = [&] {
    return ValueError("expected a whole number " + rangeText(min, max) + ", got \"" +
                      std::string(text) + "\"");
  };
  if (text.empty()) {
    throw fail();
  }
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (text.front() == '-') {
    long long value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || std::cmp_less(value, min) ||
        std::cmp_greater(value, max)) {
      throw fail();
    }
    return static_cast<T>(value);
  }
  unsigned long long value = 0;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last || std::cmp_less(value, min) ||
      std::cmp_greater(value, max)) {
    throw fail();
  }
  return static_cast<T>(value);
}

// true/false, on/off, yes/no, 1/0 (case-insensitive).
bool parseBool(std::string_view text);

// LOG_LEVEL / RUST_LOG: a plain level (trace, debug, info, warn, error, off) or an env_logger
// directive list such as "rust_pg_proxy=debug,info". Returns the most verbose level among the
// plain levels and the directives for pgro's own targets (pgro, rust_pg_proxy); directives for
// other targets (e.g. "hyper=warn") are checked but otherwise ignored. Result is one of the six
// plain level names; "info" when the value names no level for pgro.
std::string normalizeLogLevel(std::string_view text);

// ASCII lower-case copy.
std::string lower(std::string_view text);

}  // namespace pgro::config::detail
