// The fuzz property of the plpgsql body analysis (policy/function_body.hpp, judged in
// FunctionCatalog): for any body text, building the catalog never crashes, and when the
// function is judged read-only, none of the SQL texts read from its body contains a write
// node according to the independent oracle (write_oracle.hpp), and the body has no dynamic
// SQL in libpg_query's own JSON.
#pragma once

#include <pg_query.h>

#include <string>
#include <string_view>
#include <vector>

#include "policy/classifier.hpp"
#include "policy/function_body.hpp"
#include "write_oracle.hpp"

namespace pgro::testing {

// `body` between the dollar quotes of a CREATE FUNCTION.
inline std::string plpgsqlDefinition(std::string_view body) {
  return "CREATE OR REPLACE FUNCTION public.fz(a integer)\n RETURNS integer\n LANGUAGE plpgsql\n"
         " IMMUTABLE\nAS $fz$" +
         std::string(body) + "$fz$\n";
}

// Empty when the property holds, else what broke it. `read_only`, when given, tells whether
// the function was judged read-only.
inline std::string plpgsqlPropertyViolation(std::string_view body, bool* read_only = nullptr) {
  const std::string definition = plpgsqlDefinition(body);
  std::vector<policy::FunctionInfo> functions = {
      {.schema = "public", .name = "fz", .language = "plpgsql", .body = definition}};
  for (const char* name : {"count", "lower", "length", "generate_series", "nextval", "pg_read_file",
                           "set_config", "now"}) {
    functions.push_back({.schema = "pg_catalog", .name = name, .volatility = 'v', .builtin = true});
  }
  const policy::FunctionCatalog catalog(functions);
  const auto* entries = catalog.find("fz");
  if (entries == nullptr || entries->size() != 1) {
    return "the catalog lost the function";
  }
  if (read_only != nullptr) *read_only = (*entries)[0].read_only;
  if (!(*entries)[0].read_only) {
    return {};
  }
  const policy::detail::PlpgsqlBody read = policy::detail::readPlpgsqlBody(definition);
  if (!read.refusal.empty()) {
    return "judged read-only but the body reads as refused: " + read.refusal;
  }
  for (const policy::detail::BodySql& sql : read.sql) {
    for (const std::string& reading : sql.readings) {
      const OracleResult oracle = findWriteNode(reading);
      if (oracle.parsed && !oracle.violation.empty()) {
        return "judged read-only with " + oracle.violation + " in: " + reading;
      }
    }
  }
  PgQueryPlpgsqlParseResult json = pg_query_parse_plpgsql(definition.c_str());
  std::string dynamic;
  if (json.error == nullptr && json.plpgsql_funcs != nullptr) {
    const std::string_view tree(json.plpgsql_funcs);
    // As JSON keys only: `{"` and `,"` never occur inside a JSON string (quotes are escaped
    // there), so a query text naming these words does not match.
    for (const char* key : {"PLpgSQL_stmt_dynexecute\"", "PLpgSQL_stmt_dynfors\"", "dynquery\"",
                            "PLpgSQL_stmt_commit\"", "PLpgSQL_stmt_rollback\""}) {
      for (const char* before : {"{\"", ",\""}) {
        if (tree.find(std::string(before) + key) != std::string_view::npos) dynamic = key;
      }
    }
  }
  pg_query_free_plpgsql_parse_result(json);
  return dynamic.empty() ? std::string() : "judged read-only with " + dynamic;
}

}  // namespace pgro::testing
