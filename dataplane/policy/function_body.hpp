// Internal: what the body of a LANGUAGE plpgsql function runs (DESIGN.md section 3, layer 3:
// volatility labels are not trusted). libpg_query compiles the CREATE FUNCTION text with
// PostgreSQL 15's own PL/pgSQL grammar (pg_query_parse_plpgsql); every SQL statement and
// every expression of the tree comes back as text, for the classifier to judge like a
// client's query.
#pragma once

#include <string>
#include <vector>

namespace pgro::policy::detail {

// One SQL text of the body and the ways PL/pgSQL may run it. PL/pgSQL runs an expression
// (`IF x > 1`, `RETURN f(x)`) as the target list of a SELECT and a statement as it is;
// the JSON does not say which is which, so both readings are judged: every reading that
// parses must pass, and at least one must parse.
struct BodySql {
  std::vector<std::string> readings;
};

struct PlpgsqlBody {
  std::vector<BodySql> sql;
  // Non-empty when the body cannot be allowed whatever its SQL: it does not compile, or it
  // runs SQL built at run time (EXECUTE, FOR ... EXECUTE, OPEN ... FOR EXECUTE, RETURN
  // QUERY EXECUTE), or has a statement pgro does not know (fail closed).
  std::string refusal;
};

// `definition` is the whole CREATE FUNCTION statement (pg_get_functiondef(oid)): the
// PL/pgSQL compiler needs the argument names and the return type.
PlpgsqlBody readPlpgsqlBody(const std::string& definition);

}  // namespace pgro::policy::detail
