#include "policy/fingerprint.hpp"

#include <pg_query.h>

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

std::optional<std::uint64_t> fingerprint(std::string_view sql) {
  if (sql.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string text(sql);  // NUL-terminated for libpg_query
  std::optional<std::uint64_t> value;
  const std::function<void()> work = [&] { value = detail::fingerprintInPlace(text); };
  if (detail::runWithParserStack(text, work) != detail::StackOutcome::Ran) return std::nullopt;
  return value;
}

std::string fingerprintHex(std::uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

}  // namespace pgro::policy
