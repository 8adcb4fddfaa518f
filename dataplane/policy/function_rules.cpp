#include "policy/function_rules.hpp"

#include <algorithm>

#include "policy/parameter_rules.hpp"
#include "policy/secret_settings.hpp"

namespace pgro::policy::detail {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::string qualified(std::string_view schema, std::string_view name) {
  if (schema.empty()) {
    return std::string(name);
  }
  std::string out(schema);
  out.push_back('.');
  out.append(name);
  return out;
}

// pg_sleep(seconds), pg_sleep_for(interval), pg_sleep_until(timestamptz).
bool isSleepFunction(std::string_view name) {
  return name == "pg_sleep" || name == "pg_sleep_for" || name == "pg_sleep_until";
}

// The rules common to calls and attribute names: configured and built-in denylists, then
// the catalog: the judgement of extension and user functions, the volatility of built-ins.
// `is_call`: a name written as a call (an attribute name is usually a column, never unknown).
MaybeDenial checkName(std::string_view schema, std::string_view name, const FunctionRule* rule,
                      const ClassifierOptions& options, FunctionFacts& facts, bool is_call) {
  if (contains(options.extra_denied_functions, name)) {
    return functionDenial(qualified(schema, name), "calling this function (configured)");
  }
  if (!options.allow_pg_sleep && isSleepFunction(name)) {
    Denial denial = functionDenial(qualified(schema, name),
                                   "holding a server connection asleep (ALLOW_PG_SLEEP=false)");
    denial.refusal = Refusal::Sleep;
    return denial;
  }
  if (rule != nullptr && rule->action == FunctionAction::Deny) {
    return functionDenial(qualified(schema, name), rule->reason);
  }
  if (rule != nullptr && rule->uncacheable) {
    facts.uncacheable = true;
  }
  if (options.catalog == nullptr) {
    return std::nullopt;
  }
  static const std::vector<FunctionCatalog::Entry> kNone;
  const auto* found = options.catalog->find(name);
  const std::vector<FunctionCatalog::Entry>& entries = found != nullptr ? *found : kNone;
  bool known = false;
  const bool safe_by_option = contains(options.extra_safe_functions, name);
  for (const FunctionCatalog::Entry& entry : entries) {
    // A schema-less call may resolve to any schema on the search_path: the function of
    // that name in every schema must be acceptable.
    if (!schema.empty() && entry.schema != schema) {
      continue;
    }
    known = true;
    if (entry.user_defined) {
      facts.calls_user_functions = true;
    }
    if (!entry.read_only) {
      return functionDenial(qualified(entry.schema, name), entry.reason);
    }
    if (entry.uncacheable) {
      facts.uncacheable = true;
    }
    if (entry.volatility != 'v') {
      continue;
    }
    facts.uncacheable = true;
    const bool safe =
        safe_by_option ||
        (rule != nullptr &&
         (rule->volatile_ok == VolatileOk::AnySchema ||
          (rule->volatile_ok == VolatileOk::InPgCatalog && entry.schema == "pg_catalog")));
    if (!safe) {
      return functionDenial(qualified(entry.schema, name),
                            "a volatile function that is not known to be read-only");
    }
  }
  if (!known && is_call) {
    if (options.refuse_unknown_functions) {
      return functionDenial(qualified(schema, name),
                            "calling a function the catalog does not know");
    }
    // Created after the catalog was loaded (in that schema), or not a function at all: fail
    // closed unless a fresh catalog knows it (the session looks it up and classifies again).
    std::string unknown = qualified(schema, name);
    if (!contains(facts.unknown_functions, unknown)) {
      facts.unknown_functions.push_back(std::move(unknown));
    }
  }
  return std::nullopt;
}

// The text of a constant argument: 'x', 'x'::text, 42, 1.5. nullopt when not a constant.
// `is_null` is set for a NULL constant.
std::optional<std::string> constantText(const pg_query::Node& node, bool& is_null) {
  is_null = false;
  const pg_query::Node* value = &node;
  if (value->has_type_cast()) {
    value = &value->type_cast().arg();
  }
  if (!value->has_a_const()) {
    return std::nullopt;
  }
  const pg_query::A_Const& constant = value->a_const();
  if (constant.isnull()) {
    is_null = true;
    return std::string();
  }
  if (constant.has_sval()) {
    return constant.sval().sval();
  }
  if (constant.has_ival()) {
    return std::to_string(constant.ival().ival());
  }
  if (constant.has_fval()) {
    return constant.fval().fval();
  }
  if (constant.has_boolval()) {
    return constant.boolval().boolval() ? "true" : "false";
  }
  return std::nullopt;
}

MaybeDenial checkSetConfig(const pg_query::FuncCall& call, const ClassifierOptions& options,
                           FunctionFacts& facts, const std::optional<std::string>& name_override) {
  constexpr std::string_view kName = "set_config";
  if (call.args_size() != 3) {
    return functionDenial(kName, "set_config() without 3 arguments");
  }
  bool is_null = false;
  std::optional<std::string> name = name_override;
  if (!name.has_value()) {
    name = constantText(call.args(0), is_null);
    if (!name.has_value() || is_null) {
      return functionDenial(kName, "set_config() with a parameter name that is not a constant");
    }
  }
  std::optional<std::string> value = constantText(call.args(1), is_null);
  if (!value.has_value()) {
    return functionDenial(kName, "set_config() with a value that is not a constant");
  }
  std::optional<std::string_view> new_value;
  if (!is_null) {
    new_value = *value;
  }
  std::optional<std::string> local_text = constantText(call.args(2), is_null);
  std::optional<bool> is_local;
  if (local_text.has_value() && !is_null) {
    is_local = parsePgBool(*local_text);
  }
  if (!is_local.has_value()) {
    return functionDenial(kName, "set_config() with is_local that is not a constant boolean");
  }
  SettingCheck check = checkSetting(*name, new_value, *is_local, options);
  if (check.denial.has_value()) {
    return check.denial;
  }
  facts.sets.push_back(std::move(check.action));
  facts.uncacheable = true;
  return std::nullopt;
}

std::string_view stringValue(const pg_query::Node& node) {
  return node.has_string() ? std::string_view(node.string().sval()) : std::string_view();
}

// current_setting(name [, missing_ok]): the name must be a constant that holds no secret.
MaybeDenial checkCurrentSetting(const pg_query::FuncCall& call) {
  if (call.args_size() == 0) {
    return std::nullopt;  // PostgreSQL reports the missing argument
  }
  const pg_query::Node& argument = call.args(0);
  if (nameColumnQualifier(argument).has_value()) {
    // psql's current_setting(s.name): the tree rules (SettingsReads) accept it only when
    // `s` can be nothing but pg_settings rows kept to named, non-secret settings.
    return std::nullopt;
  }
  bool is_null = false;
  std::optional<std::string> name = constantText(argument, is_null);
  if (!name.has_value()) {
    return secretSettingDenial({});
  }
  if (isSecretSetting(*name)) {
    return secretSettingDenial(*name);
  }
  return std::nullopt;
}

}  // namespace

MaybeDenial checkFunctionCall(const pg_query::FuncCall& call, const ClassifierOptions& options,
                              FunctionFacts& facts,
                              const std::optional<std::string>& name_override) {
  const int parts = call.funcname_size();
  if (parts == 0) {
    return std::nullopt;
  }
  const std::string name = lowercase(stringValue(call.funcname(parts - 1)));
  const std::string schema = parts >= 2 ? lowercase(stringValue(call.funcname(parts - 2))) : "";
  const FunctionRule* rule = findFunctionRule(name);
  if (MaybeDenial denial = checkName(schema, name, rule, options, facts, /*is_call=*/true)) {
    return denial;
  }
  if (name == "setseed") {
    facts.seeds_random = true;
  }
  if (rule == nullptr) {
    return std::nullopt;
  }
  if (rule->action == FunctionAction::DenyTwoArgs && call.args_size() == 2) {
    return functionDenial(qualified(schema, name), rule->reason);
  }
  if (rule->action == FunctionAction::SetConfig) {
    return checkSetConfig(call, options, facts, name_override);
  }
  if (rule->action == FunctionAction::ReadSetting) {
    return checkCurrentSetting(call);
  }
  return std::nullopt;
}

MaybeDenial checkOperator(const google::protobuf::RepeatedPtrField<pg_query::Node>& name,
                          const ClassifierOptions& options, FunctionFacts& facts) {
  if (options.catalog == nullptr || name.empty()) {
    return std::nullopt;
  }
  const std::string_view symbol = stringValue(name[name.size() - 1]);
  const FunctionCatalog::OperatorEntry* entry = options.catalog->findOperator(symbol);
  if (entry == nullptr && !options.refuse_unknown_functions && options.catalog->hasOperators()) {
    // Created after the catalog was loaded, or not an operator at all: fail closed unless a
    // fresh catalog knows it, like an unknown function (the session looks it up first).
    std::string unknown = "OPERATOR(" + std::string(symbol) + ")";
    if (std::find(facts.unknown_functions.begin(), facts.unknown_functions.end(), unknown) ==
        facts.unknown_functions.end()) {
      facts.unknown_functions.push_back(std::move(unknown));
    }
  }
  if (entry == nullptr || entry->user_defined) {
    facts.calls_user_functions = true;
  }
  if (entry != nullptr && !entry->refusal.empty()) {
    std::string message = "permission denied for operator ";
    message.append(symbol);
    message.append(": ");
    message.append(entry->refusal);
    return Denial{Refusal::ForbiddenFunction, std::move(message), 0};
  }
  return std::nullopt;
}

MaybeDenial checkAttributeName(std::string_view name, const ClassifierOptions& options,
                               FunctionFacts& facts) {
  const std::string lower = lowercase(name);
  const FunctionRule* rule = findFunctionRule(lower);
  if (rule != nullptr && rule->action == FunctionAction::Deny && !rule->attribute) {
    rule = nullptr;
  }
  if (lower == "setseed") {
    facts.seeds_random = true;  // (0.5).setseed
  }
  return checkName({}, lower, rule, options, facts, /*is_call=*/false);
}

std::optional<SettingsSetConfig> matchSettingsSetConfig(const pg_query::SelectStmt& select) {
  // Exactly: SELECT [pg_catalog.]set_config(name, <const>, <const>)
  //          FROM [pg_catalog.]pg_settings WHERE name = '<const>'
  if (select.target_list_size() != 1 || select.from_clause_size() != 1 ||
      !select.has_where_clause() || select.has_with_clause() || select.values_lists_size() != 0 ||
      select.group_clause_size() != 0 || select.has_having_clause() ||
      select.sort_clause_size() != 0 || select.has_limit_count() || select.has_limit_offset() ||
      select.locking_clause_size() != 0 || select.distinct_clause_size() != 0 ||
      select.window_clause_size() != 0 || select.has_larg() || select.has_into_clause()) {
    return std::nullopt;
  }
  const pg_query::Node& target = select.target_list(0);
  if (!target.has_res_target() || !target.res_target().has_val() ||
      !target.res_target().val().has_func_call()) {
    return std::nullopt;
  }
  const pg_query::FuncCall& call = target.res_target().val().func_call();
  const int parts = call.funcname_size();
  if (parts == 0 || parts > 2 || stringValue(call.funcname(parts - 1)) != "set_config" ||
      (parts == 2 && stringValue(call.funcname(0)) != "pg_catalog") || call.args_size() != 3 ||
      call.has_over() || call.has_agg_filter()) {
    return std::nullopt;
  }
  auto isColumn = [](const pg_query::Node& node, std::string_view column) {
    return node.has_column_ref() && node.column_ref().fields_size() == 1 &&
           stringValue(node.column_ref().fields(0)) == column;
  };
  if (!isColumn(call.args(0), "name")) {
    return std::nullopt;
  }
  const pg_query::Node& from = select.from_clause(0);
  if (!from.has_range_var() || from.range_var().relname() != "pg_settings" ||
      !(from.range_var().schemaname().empty() || from.range_var().schemaname() == "pg_catalog") ||
      !from.range_var().catalogname().empty() || from.range_var().has_alias()) {
    return std::nullopt;
  }
  const pg_query::Node& where = select.where_clause();
  if (!where.has_a_expr()) {
    return std::nullopt;
  }
  const pg_query::A_Expr& expr = where.a_expr();
  if (expr.kind() != pg_query::AEXPR_OP || expr.name_size() != 1 ||
      stringValue(expr.name(0)) != "=" || !isColumn(expr.lexpr(), "name") ||
      !expr.rexpr().has_a_const() || !expr.rexpr().a_const().has_sval()) {
    return std::nullopt;
  }
  return SettingsSetConfig{&call, expr.rexpr().a_const().sval().sval()};
}

}  // namespace pgro::policy::detail
