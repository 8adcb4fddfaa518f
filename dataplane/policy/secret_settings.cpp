#include "policy/secret_settings.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace pgro::policy::detail {
namespace {

constexpr std::array<std::string_view, 7> kSecretWords = {
    "conninfo", "password", "passwd", "secret", "token", "salt", "credential",
};

std::string_view stringValue(const pg_query::Node& node) {
  return node.has_string() ? std::string_view(node.string().sval()) : std::string_view();
}

// The constant string of `node` ('x', 'x'::text), nullopt for anything else.
std::optional<std::string_view> constantString(const pg_query::Node& node) {
  const pg_query::Node* value = &node;
  if (value->has_collate_clause()) {
    value = &value->collate_clause().arg();  // psql: '^(work_mem)$' COLLATE pg_catalog.default
  }
  if (value->has_type_cast()) {
    value = &value->type_cast().arg();
  }
  if (!value->has_a_const() || !value->a_const().has_sval()) {
    return std::nullopt;
  }
  return std::string_view(value->a_const().sval().sval());
}

bool isSafeName(const pg_query::Node& node) {
  std::optional<std::string_view> name = constantString(node);
  return name.has_value() && !isSecretSetting(*name);
}

// Whether the FROM list holds exactly one item, `range` itself.
bool onlyItem(const pg_query::SelectStmt& select, const pg_query::RangeVar& range) {
  return select.from_clause_size() == 1 && select.from_clause(0).has_range_var() &&
         &select.from_clause(0).range_var() == &range;
}

// `name`, or `<alias or relname>.name` for the pg_settings item `range`.
bool isNameColumn(const pg_query::Node& node, const pg_query::SelectStmt& select,
                  const pg_query::RangeVar& range) {
  if (!node.has_column_ref()) {
    return false;
  }
  const pg_query::ColumnRef& ref = node.column_ref();
  if (ref.fields_size() == 1) {
    return stringValue(ref.fields(0)) == "name" && onlyItem(select, range);
  }
  if (ref.fields_size() != 2 || stringValue(ref.fields(1)) != "name") {
    return false;
  }
  const std::string_view qualifier = stringValue(ref.fields(0));
  return range.has_alias() ? qualifier == range.alias().aliasname() : qualifier == range.relname();
}

// psql's `\dconfig work_mem` pattern: '^(work_mem)$', one literal name.
bool isSafeNamePattern(const pg_query::Node& node) {
  std::optional<std::string_view> pattern = constantString(node);
  if (!pattern.has_value() || !pattern->starts_with("^(") || !pattern->ends_with(")$")) {
    return false;
  }
  const std::string_view name = pattern->substr(2, pattern->size() - 4);
  const bool literal = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  return literal && !isSecretSetting(name);
}

// The operator's name without a pg_catalog qualification: OPERATOR(pg_catalog.~) is "~".
std::string_view operatorName(const pg_query::A_Expr& expr) {
  if (expr.name_size() == 1) {
    return stringValue(expr.name(0));
  }
  if (expr.name_size() == 2 && stringValue(expr.name(0)) == "pg_catalog") {
    return stringValue(expr.name(1));
  }
  return {};
}

bool restrictsToNamed(const pg_query::Node& conjunct, const pg_query::SelectStmt& select,
                      const pg_query::RangeVar& range) {
  if (!conjunct.has_a_expr()) {
    return false;
  }
  const pg_query::A_Expr& expr = conjunct.a_expr();
  const std::string_view op = operatorName(expr);
  if (expr.kind() == pg_query::AEXPR_OP && op == "~") {
    // psql 15 writes pg_catalog.lower(s.name) ~ '^(work_mem)$'
    const pg_query::Node* subject = &expr.lexpr();
    if (subject->has_func_call() && subject->func_call().args_size() == 1) {
      const pg_query::FuncCall& call = subject->func_call();
      const int parts = call.funcname_size();
      if (parts >= 1 && parts <= 2 && stringValue(call.funcname(parts - 1)) == "lower" &&
          (parts == 1 || stringValue(call.funcname(0)) == "pg_catalog")) {
        subject = &call.args(0);
      }
    }
    return isNameColumn(*subject, select, range) && isSafeNamePattern(expr.rexpr());
  }
  if (op != "=") {
    return false;
  }
  if (expr.kind() == pg_query::AEXPR_OP) {
    return (isNameColumn(expr.lexpr(), select, range) && isSafeName(expr.rexpr())) ||
           (isNameColumn(expr.rexpr(), select, range) && isSafeName(expr.lexpr()));
  }
  if (expr.kind() == pg_query::AEXPR_IN && isNameColumn(expr.lexpr(), select, range) &&
      expr.rexpr().has_list() && expr.rexpr().list().items_size() > 0) {
    for (const pg_query::Node& item : expr.rexpr().list().items()) {
      if (!isSafeName(item)) {
        return false;
      }
    }
    return true;
  }
  return false;
}

}  // namespace

bool isSecretSetting(std::string_view name) {
  const std::string lower = lowercase(name);
  if (lower == "password_encryption" || lower == "ssl_key_file") {
    return false;  // an algorithm's name and a file path
  }
  if (lower.ends_with("_command")) {
    return true;
  }
  for (std::string_view word : kSecretWords) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  // "key" as a word of the name (api_key, myapp.key), not inside one (max_index_keys).
  std::size_t start = 0;
  while (start <= lower.size()) {
    const std::size_t end = lower.find_first_of("._-", start);
    const std::string_view word =
        std::string_view(lower).substr(start, end == std::string::npos ? end : end - start);
    if (word == "key" || word == "apikey") {
      return true;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return false;
}

Denial secretSettingDenial(std::string_view name) {
  std::string message = "permission denied to read ";
  if (name.empty()) {
    message.append(
        "the values of every server setting: some (restore_command, archive_command, "
        "extension secrets) may hold credentials; name the settings you need, e.g. "
        "pg_settings WHERE name IN ('work_mem', 'TimeZone')");
  } else {
    message.append("setting \"");
    message.append(name);
    message.append("\": its value may hold a credential");
  }
  return Denial{Refusal::SecretRead, std::move(message), 0};
}

bool isSettingsRelation(const pg_query::RangeVar& range) {
  const std::string schema = lowercase(range.schemaname());
  return lowercase(range.relname()) == "pg_settings" && (schema.empty() || schema == "pg_catalog");
}

bool selectsNamedSettings(const pg_query::SelectStmt& select, const pg_query::RangeVar& range) {
  if (!select.has_where_clause() ||
      (range.has_alias() && range.alias().colnames_size() > 0)) {  // s(a, name): renamed
    return false;
  }
  const pg_query::Node& where = select.where_clause();
  if (where.has_bool_expr() && where.bool_expr().boolop() == pg_query::AND_EXPR) {
    for (const pg_query::Node& conjunct : where.bool_expr().args()) {
      if (restrictsToNamed(conjunct, select, range)) {
        return true;
      }
    }
    return false;
  }
  return restrictsToNamed(where, select, range);
}

std::optional<std::string> nameColumnQualifier(const pg_query::Node& node) {
  if (!node.has_column_ref()) {
    return std::nullopt;
  }
  const pg_query::ColumnRef& ref = node.column_ref();
  const int fields = ref.fields_size();
  if (fields == 0 || fields > 2 || stringValue(ref.fields(fields - 1)) != "name") {
    return std::nullopt;
  }
  return fields == 2 ? std::string(stringValue(ref.fields(0))) : std::string();
}

bool isSettingValueColumn(std::string_view column) {
  const std::string lower = lowercase(column);
  return lower == "setting" || lower == "reset_val" || lower == "boot_val";
}

}  // namespace pgro::policy::detail
