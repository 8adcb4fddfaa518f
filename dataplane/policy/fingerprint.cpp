#include "policy/fingerprint.hpp"

#include <pg_query.h>

#include <charconv>
#include <cstdio>
#include <functional>

#include "policy/parser_stack.hpp"

namespace pgro::policy {

namespace detail {

std::optional<std::uint64_t> fingerprintInPlace(const std::string& terminated) {
  PgQueryFingerprintResult result = pg_query_fingerprint(terminated.c_str());
  std::optional<std::uint64_t> value;
  if (result.error == nullptr) value = result.fingerprint;
  pg_query_free_fingerprint_result(result);
  return value;
}

}  // namespace detail

std::optional<std::uint64_t> fingerprint(std::string_view sql, std::string* error) {
  auto fail = [error](std::string message) -> std::optional<std::uint64_t> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  if (sql.find('\0') != std::string_view::npos) return fail("query string contains a zero byte");
  const std::string text(sql);  // NUL-terminated for libpg_query
  std::optional<std::uint64_t> value;
  std::string message;
  const std::function<void()> work = [&] {
    PgQueryFingerprintResult result = pg_query_fingerprint(text.c_str());
    if (result.error == nullptr) {
      value = result.fingerprint;
    } else {
      message = result.error->message != nullptr ? result.error->message : "syntax error";
    }
    pg_query_free_fingerprint_result(result);
  };
  if (detail::runWithParserStack(text, work) != detail::StackOutcome::Ran) {
    return fail("statement too complex to fingerprint");
  }
  if (!value) return fail(std::move(message));
  return value;
}

std::string fingerprintHex(std::uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

std::optional<std::uint64_t> parseFingerprint(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace pgro::policy
