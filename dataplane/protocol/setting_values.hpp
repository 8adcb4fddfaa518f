// How PostgreSQL reads the value of a memory or real-valued setting (guc.c parse_int with
// GUC_UNIT_KB, parse_real), for the ceilings pgro puts on work_mem-class settings. Header
// only: the configuration reads MAX_WORK_MEM with it and the SET policy reads a client's
// value with it.
#pragma once

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgro::protocol {

namespace detail {

inline std::string_view trimLeft(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  return v;
}

// The leading number of `v` (decimal, optional sign, fraction and exponent) and what follows.
inline std::optional<double> leadingNumber(std::string_view& v) {
  std::size_t end = 0;
  if (end < v.size() && (v[end] == '+' || v[end] == '-')) ++end;
  const std::size_t digits_start = end;
  while (end < v.size() && (std::isdigit(static_cast<unsigned char>(v[end])) || v[end] == '.')) {
    ++end;
  }
  if (end == digits_start) return std::nullopt;
  if (end < v.size() && (v[end] == 'e' || v[end] == 'E')) {
    std::size_t exp = end + 1;
    if (exp < v.size() && (v[exp] == '+' || v[exp] == '-')) ++exp;
    const std::size_t exp_digits = exp;
    while (exp < v.size() && std::isdigit(static_cast<unsigned char>(v[exp]))) ++exp;
    if (exp == exp_digits) return std::nullopt;  // PostgreSQL has no unit starting with e
    end = exp;
  }
  std::string_view number = v.substr(0, end);
  if (number.front() == '+') number.remove_prefix(1);
  double out = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), out);
  if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(out)) {
    return std::nullopt;
  }
  v.remove_prefix(end);
  return out;
}

}  // namespace detail

// A memory setting whose base unit is kB (work_mem, maintenance_work_mem): a number with an
// optional unit B, kB, MB, GB or TB (case-sensitive, as PostgreSQL), spaces allowed around
// the number and before the unit; without a unit, kB. nullopt for anything else. Hex and
// octal integers (strtol base 0 in PostgreSQL) are read as decimal, which is never less
// than PostgreSQL's reading, or refused ("0x10"): a ceiling check stays on the safe side.
inline std::optional<double> parseMemoryKb(std::string_view value) {
  std::string_view v = detail::trimLeft(value);
  auto number = detail::leadingNumber(v);
  if (!number) return std::nullopt;
  v = detail::trimLeft(v);
  std::size_t unit_end = 0;
  while (unit_end < v.size() && std::isalpha(static_cast<unsigned char>(v[unit_end]))) {
    ++unit_end;
  }
  const std::string_view unit = v.substr(0, unit_end);
  if (!detail::trimLeft(v.substr(unit_end)).empty()) return std::nullopt;
  double factor = 0;
  if (unit.empty() || unit == "kB") {
    factor = 1;
  } else if (unit == "B") {
    factor = 1.0 / 1024;
  } else if (unit == "MB") {
    factor = 1024;
  } else if (unit == "GB") {
    factor = 1024.0 * 1024;
  } else if (unit == "TB") {
    factor = 1024.0 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  return std::rint(*number * factor);
}

// A real-valued setting without unit (hash_mem_multiplier): nullopt unless the whole value
// is one finite number.
inline std::optional<double> parseRealSetting(std::string_view value) {
  std::string_view v = detail::trimLeft(value);
  auto number = detail::leadingNumber(v);
  if (!number || !detail::trimLeft(v).empty()) return std::nullopt;
  return number;
}

}  // namespace pgro::protocol
