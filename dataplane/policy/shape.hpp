// A statement's numeric shape: its text with every numeric literal, as PostgreSQL's own
// scanner reads them, replaced by a NUL byte (which cannot occur in a classified text).
// Two texts with the same shape differ only in the values of numeric constants, so a
// verdict marked shape_safe for one holds for the other (classifier.hpp), and a query
// with a new number each time (`... WHERE id = 4711`) skips the parse.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::policy {

// nullopt when the text has no numeric literal, does not scan, or is longer than
// `max_bytes` (long texts rarely repeat).
// Plain texts (ASCII, standard strings, no dollar quotes: nearly every repeated statement)
// are read by a small scanner written here; the rest by libpg_query's (pg_query_scan).
std::optional<std::string> numericShape(std::string_view sql, std::size_t max_bytes = 8192);

// For tests: true when the small scanner either declines `sql` or finds exactly the numeric
// literals PostgreSQL's scanner finds.
bool plainNumericShapeAgrees(std::string_view sql);

}  // namespace pgro::policy
