#include "policy/function_body.hpp"

#include <algorithm>
#include <array>
#include <regex>
#include <string>
#include <string_view>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <pg_query.h>

#include "pg_query.pb.h"

namespace pgro::policy::detail {
namespace {

// PL/pgSQL statements that run only the SQL texts they hold (each judged) or none at all.
// Anything else is refused: EXECUTE and FOR ... EXECUTE run text built at run time, CALL
// runs a procedure, COMMIT/ROLLBACK end transactions, and a statement this list does not
// know could do anything.
constexpr std::array<std::string_view, 22> kStatements = {
    "PLpgSQL_stmt_block",       "PLpgSQL_stmt_assign",       "PLpgSQL_stmt_if",
    "PLpgSQL_stmt_case",        "PLpgSQL_stmt_loop",         "PLpgSQL_stmt_while",
    "PLpgSQL_stmt_fori",        "PLpgSQL_stmt_fors",         "PLpgSQL_stmt_forc",
    "PLpgSQL_stmt_foreach_a",   "PLpgSQL_stmt_exit",         "PLpgSQL_stmt_return",
    "PLpgSQL_stmt_return_next", "PLpgSQL_stmt_return_query", "PLpgSQL_stmt_raise",
    "PLpgSQL_stmt_assert",      "PLpgSQL_stmt_execsql",      "PLpgSQL_stmt_getdiag",
    "PLpgSQL_stmt_open",        "PLpgSQL_stmt_fetch",        "PLpgSQL_stmt_close",
    "PLpgSQL_stmt_perform",
};

constexpr std::string_view kAssign = "PLpgSQL_stmt_assign";

std::string trim(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// `target := expr` (or `target = expr`) as `SELECT target, expr`: the target's subscripts
// (`a[f()] := 1`) are evaluated too. The operator is the first `:=` or `=` outside
// brackets, found with PostgreSQL's scanner (never by searching the text: a string
// constant may hold either). Empty when there is none.
std::string assignmentAsSelect(const std::string& text) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  pg_query::ScanResult tokens;
  const bool decoded = scan.error == nullptr &&
                       tokens.ParseFromArray(scan.pbuf.data, static_cast<int>(scan.pbuf.len));
  pg_query_free_scan_result(scan);
  if (!decoded) {
    return {};
  }
  int depth = 0;
  for (const pg_query::ScanToken& token : tokens.tokens()) {
    switch (token.token()) {
      case pg_query::ASCII_40:  // (
      case pg_query::ASCII_91:  // [
        ++depth;
        break;
      case pg_query::ASCII_41:  // )
      case pg_query::ASCII_93:  // ]
        --depth;
        break;
      case pg_query::COLON_EQUALS:
      case pg_query::ASCII_61:  // =
        if (depth == 0 && token.start() >= 0 && token.end() <= static_cast<int>(text.size()) &&
            token.start() < token.end()) {
          return "SELECT " + trim(text.substr(0, static_cast<std::size_t>(token.start()))) + ", " +
                 trim(text.substr(static_cast<std::size_t>(token.end())));
        }
        break;
      default:
        break;
    }
  }
  return {};
}

class Walker {
 public:
  explicit Walker(PlpgsqlBody& body) : body_(body) {}

  void visit(const google::protobuf::Value& value, std::string_view enclosing) {
    if (!body_.refusal.empty()) {
      return;
    }
    if (value.has_list_value()) {
      for (const google::protobuf::Value& item : value.list_value().values()) {
        visit(item, enclosing);
      }
      return;
    }
    if (!value.has_struct_value()) {
      return;
    }
    for (const auto& [key, child] : value.struct_value().fields()) {
      if (key == "dynquery") {
        body_.refusal = "a PL/pgSQL function that runs SQL built at run time (EXECUTE)";
        return;
      }
      if (key == "PLpgSQL_expr") {
        expression(child, enclosing == kAssign);
        continue;
      }
      if (key.starts_with("PLpgSQL_stmt_") &&
          std::find(kStatements.begin(), kStatements.end(), key) == kStatements.end()) {
        body_.refusal = key == "PLpgSQL_stmt_dynexecute" || key == "PLpgSQL_stmt_dynfors"
                            ? "a PL/pgSQL function that runs SQL built at run time (EXECUTE)"
                            : "a PL/pgSQL statement pgro does not allow in functions (" +
                                  key.substr(std::string_view("PLpgSQL_stmt_").size()) + ")";
        return;
      }
      visit(child, key.starts_with("PLpgSQL_") ? std::string_view(key) : enclosing);
    }
  }

 private:
  void expression(const google::protobuf::Value& expr, bool assignment) {
    if (!expr.has_struct_value()) {
      return;
    }
    const auto& fields = expr.struct_value().fields();
    auto it = fields.find("query");
    if (it == fields.end() || !it->second.has_string_value()) {
      return;
    }
    const std::string& text = it->second.string_value();
    BodySql sql;
    if (assignment) {
      std::string select = assignmentAsSelect(text);
      if (select.empty()) {
        body_.refusal = "a PL/pgSQL assignment pgro cannot read";
        return;
      }
      sql.readings.push_back(std::move(select));
    } else {
      sql.readings.push_back(text);
      sql.readings.push_back("SELECT " + text);
    }
    body_.sql.push_back(std::move(sql));
  }

  PlpgsqlBody& body_;
};

}  // namespace

PlpgsqlBody readPlpgsqlBody(const std::string& definition) {
  PlpgsqlBody body;
  if (definition.find('\0') != std::string::npos) {
    body.refusal = "a function definition with a zero byte";
    return body;
  }
  PgQueryPlpgsqlParseResult result = pg_query_parse_plpgsql(definition.c_str());
  if (result.error != nullptr && result.error->message != nullptr &&
      std::string_view(result.error->message).starts_with("missing expression")) {
    // libpg_query compiles without the function's OUT parameters, so a bare RETURN NEXT
    // (which returns them) does not compile. Judged with an expression that reads nothing.
    static const std::regex kBareReturnNext(R"(\bRETURN\s+NEXT\s*;)", std::regex::icase);
    const std::string with_value =
        std::regex_replace(definition, kBareReturnNext, "RETURN NEXT NULL;");
    if (with_value != definition) {
      pg_query_free_plpgsql_parse_result(result);
      result = pg_query_parse_plpgsql(with_value.c_str());
    }
  }
  if (result.error != nullptr || result.plpgsql_funcs == nullptr) {
    body.refusal =
        std::string("a PL/pgSQL body pgro cannot compile (") +
        (result.error != nullptr && result.error->message != nullptr ? result.error->message
                                                                     : "no function") +
        ")";
    pg_query_free_plpgsql_parse_result(result);
    return body;
  }
  google::protobuf::Value tree;
  const auto status = google::protobuf::util::JsonStringToMessage(result.plpgsql_funcs, &tree);
  pg_query_free_plpgsql_parse_result(result);
  if (!status.ok() || !tree.has_list_value() || tree.list_value().values_size() != 1) {
    body.refusal = "a PL/pgSQL body pgro cannot read (nested too deeply?)";
    return body;
  }
  Walker(body).visit(tree, {});
  return body;
}

}  // namespace pgro::policy::detail
