// Internal: the function layer (DESIGN.md section 3, layer 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_query.pb.h"
#include "policy/classifier.hpp"
#include "policy/denial.hpp"
#include "policy/function_table.hpp"

namespace pgro::policy::detail {

// What the rules learned about the functions of one statement.
struct FunctionFacts {
  bool uncacheable = false;     // a volatile, time- or session-dependent function
  bool seeds_random = false;    // setseed(): fixes what random() returns on the connection
  std::vector<SetAction> sets;  // from set_config() calls
  // Called names the catalog does not know (lowercase, schema-qualified as written): the
  // statement is refused unless a fresh catalog knows them (Refusal::UnknownFunction).
  std::vector<std::string> unknown_functions;
  bool calls_user_functions = false;  // an extension or user function (Verdict's)
};

// An operator written in the statement (its name list, as in A_Expr.name): one that calls a
// function judged not read-only is refused; one of an extension or user, or one the catalog
// does not know, marks the statement as calling user functions (checked against a fresh
// catalog before it runs).
MaybeDenial checkOperator(const google::protobuf::RepeatedPtrField<pg_query::Node>& name,
                          const ClassifierOptions& options, FunctionFacts& facts);

// A call written as a function call. `name_override` is the parameter name taken from the
// pg_dump shape `set_config(name, ...) FROM pg_settings WHERE name = '...'`.
MaybeDenial checkFunctionCall(const pg_query::FuncCall& call, const ClassifierOptions& options,
                              FunctionFacts& facts,
                              const std::optional<std::string>& name_override = std::nullopt);

// A name used in attribute notation, `(expr).name` or `alias.name`: PostgreSQL calls the
// function `name(expr)` when no column has that name, so `('/etc/passwd'::text).pg_read_file`
// reads a file. Such names get the denylist (not the set_config rule: it takes 3 arguments).
MaybeDenial checkAttributeName(std::string_view name, const ClassifierOptions& options,
                               FunctionFacts& facts);

// Recognises pg_dump's `SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings
// WHERE name = 'restrict_nonsystem_relation_kind'` (any constant values): returns the
// set_config call and the parameter name the WHERE clause pins it to.
struct SettingsSetConfig {
  const pg_query::FuncCall* call = nullptr;
  std::string name;
};
std::optional<SettingsSetConfig> matchSettingsSetConfig(const pg_query::SelectStmt& select);

}  // namespace pgro::policy::detail
