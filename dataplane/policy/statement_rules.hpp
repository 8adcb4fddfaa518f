// Internal: the statement layer (DESIGN.md section 3, layer 2) for one top-level statement.
#pragma once

#include <string_view>

#include "pg_query.pb.h"
#include "policy/classifier.hpp"
#include "policy/denial.hpp"

namespace pgro::policy::detail {

// Classifies one statement of `sql` (the whole string, for PREPARE's text). Appends the
// statement's facts to `verdict` (sets, kinds); `cacheable` is set false when the statement
// must not be cached.
MaybeDenial classifyStatement(const pg_query::RawStmt& raw, std::string_view sql,
                              const ClassifierOptions& options, Verdict& verdict, bool& cacheable);

}  // namespace pgro::policy::detail
