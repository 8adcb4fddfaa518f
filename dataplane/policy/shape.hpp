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
// `max_bytes` (the scan costs about a fifth of a parse; long texts rarely repeat).
std::optional<std::string> numericShape(std::string_view sql, std::size_t max_bytes = 8192);

}  // namespace pgro::policy
