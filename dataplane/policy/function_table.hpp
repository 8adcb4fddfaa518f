// Internal, no parse tree: the function table (layer 3), one place for every function
// pgro treats specially: denied, volatile but known read-only, or never cached.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgro::policy::detail {

enum class FunctionAction : std::uint8_t {
  Allow,        // allowed (maybe uncacheable, maybe volatile but known read-only)
  Deny,         // refused with 42501
  DenyTwoArgs,  // ts_rewrite(query, 'SELECT ...') runs SQL text; the 3-argument form does not
  SetConfig,    // allowed only with constant, allowlisted arguments
  ReadSetting,  // current_setting(): allowed only with a constant, non-secret name
};

// Where a function that pg_proc marks volatile is still allowed when the catalog is loaded.
enum class VolatileOk : std::uint8_t {
  No,
  InPgCatalog,  // the built-in (a same-named volatile function in another schema is refused)
  AnySchema,    // extension functions, installed in whatever schema the DBA chose
};

struct FunctionRule {
  std::string_view name;  // lowercase, schema-less; a prefix when `prefix`
  bool prefix = false;
  FunctionAction action = FunctionAction::Allow;
  std::string_view reason;  // for Deny: what the function does
  bool uncacheable = false;
  VolatileOk volatile_ok = VolatileOk::No;
  // Also refused in attribute notation ((x).name). Off only for the broad `lo_` prefix,
  // which would catch ordinary columns such as t.lo_price; the real lo_* names are exact.
  bool attribute = true;
};

// The rule for a lowercase, schema-less name (exact names first, then prefixes in table
// order), nullptr if the table does not know it.
const FunctionRule* findFunctionRule(std::string_view name);

// Whether an extension function written in C (or another language pgro cannot read) is on
// pgro's reviewed list of read-only extension functions (lowercase, schema-less name). The
// table's denials win: dblink, crosstab and pg_stat_statements_reset are never on it.
bool isReadOnlyExtensionFunction(std::string_view name);

enum class FunctionClass : std::uint8_t {
  Unknown,       // not in the table (or only "uncacheable")
  Denied,        // refused with 42501
  SafeVolatile,  // volatile in pg_proc, reviewed as read-only
  SetConfig,     // allowed only with constant, allowlisted arguments
};

// What the table says about `name` (lowercase, schema-less). Lets tests check that every
// volatile built-in of a PostgreSQL release was classified deliberately.
FunctionClass classifyFunctionName(std::string_view name);

}  // namespace pgro::policy::detail
