#include "policy/set_statement.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "policy/parameter_rules.hpp"
#include "policy/statement_kind.hpp"

namespace pgro::policy::detail {
namespace {

struct TransactionOption {
  std::string_view name;  // transaction_isolation, transaction_read_only, ...
  std::string value;      // "serializable", "on", "off"
};

// A DefElem of transaction_mode_list: transaction_isolation 'level' or
// transaction_read_only / transaction_deferrable 1|0 (the grammar's integer constants).
std::optional<TransactionOption> transactionOption(const pg_query::Node& node) {
  if (!node.has_def_elem() || !node.def_elem().has_arg() || !node.def_elem().arg().has_a_const()) {
    return std::nullopt;
  }
  const pg_query::DefElem& def = node.def_elem();
  const pg_query::A_Const& constant = def.arg().a_const();
  if (def.defname() == "transaction_isolation" && constant.has_sval()) {
    return TransactionOption{"transaction_isolation", lowercase(constant.sval().sval())};
  }
  if ((def.defname() == "transaction_read_only" || def.defname() == "transaction_deferrable") &&
      constant.has_ival()) {
    const std::string_view name = def.defname() == "transaction_read_only"
                                      ? std::string_view("transaction_read_only")
                                      : std::string_view("transaction_deferrable");
    return TransactionOption{name, constant.ival().ival() != 0 ? "on" : "off"};
  }
  return std::nullopt;
}

bool isIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

// Skips whitespace and comments (`--` to the end of the line, nested `/* */`) from `at`.
std::size_t skipSpace(std::string_view sql, std::size_t at) {
  while (at < sql.size()) {
    const char c = sql[at];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++at;
    } else if (sql.substr(at, 2) == "--") {
      const std::size_t end = sql.find('\n', at);
      at = end == std::string_view::npos ? sql.size() : end + 1;
    } else if (sql.substr(at, 2) == "/*") {
      int depth = 0;
      do {
        if (sql.substr(at, 2) == "/*") {
          ++depth;
          at += 2;
        } else if (sql.substr(at, 2) == "*/") {
          --depth;
          at += 2;
        } else {
          ++at;
        }
      } while (depth > 0 && at < sql.size());
    } else {
      break;
    }
  }
  return at;
}

bool keywordAt(std::string_view sql, std::size_t at, std::string_view keyword) {
  if (at + keyword.size() > sql.size() || lowercase(sql.substr(at, keyword.size())) != keyword) {
    return false;
  }
  return at + keyword.size() == sql.size() || !isIdentifierChar(sql[at + keyword.size()]);
}

// `READ WRITE` at `location` (the DefElem's) becomes `READ ONLY `: same length, so every
// position PostgreSQL reports in an error still points at the client's text.
std::optional<TextEdit> readOnlyEdit(std::string_view sql, int location) {
  if (location < 0) return std::nullopt;
  const auto read = static_cast<std::size_t>(location);
  if (!keywordAt(sql, read, "read")) return std::nullopt;
  const std::size_t write = skipSpace(sql, read + 4);
  if (!keywordAt(sql, write, "write")) return std::nullopt;
  return TextEdit{write, 5, "ONLY "};
}

// The transaction_mode_list of BEGIN, START TRANSACTION, SET TRANSACTION and SET SESSION
// CHARACTERISTICS AS TRANSACTION. `session` turns each option into the session default
// (default_transaction_*), which the session must track. READ WRITE of one transaction is
// accepted and sent upstream as READ ONLY (drivers add it to every BEGIN); as a session
// default it is refused.
MaybeDenial checkTransactionModes(const google::protobuf::RepeatedPtrField<pg_query::Node>& modes,
                                  std::string_view sql, bool session, bool record_local,
                                  Verdict& verdict) {
  for (const pg_query::Node& node : modes) {
    std::optional<TransactionOption> option = transactionOption(node);
    if (!option.has_value()) {
      return unsupportedDenial("this transaction option is not supported by pgro");
    }
    std::string name = session ? "default_" + std::string(option->name) : std::string(option->name);
    if (option->name == "transaction_read_only" && option->value != "on") {
      std::optional<TextEdit> edit =
          session ? std::nullopt : readOnlyEdit(sql, node.def_elem().location());
      if (!edit.has_value()) {
        return readWriteDenial(name);
      }
      verdict.edits.push_back(std::move(*edit));
      option->value = "on";
    }
    if (option->name == "transaction_isolation" && !session) {
      verdict.kinds.isolation = option->value;
    }
    if (session || record_local) {
      SetAction action;
      action.name = std::move(name);
      action.value = option->value;
      action.is_local = !session;
      verdict.sets.push_back(std::move(action));
    }
  }
  return std::nullopt;
}

// flatten_set_variable_args() in guc.c: constants joined with ", ", strings quoted as
// identifiers for GUC_LIST_QUOTE parameters (search_path).
std::optional<std::string> flattenArgs(const pg_query::VariableSetStmt& set, bool list_quote) {
  std::string out;
  for (int i = 0; i < set.args_size(); ++i) {
    const pg_query::Node& arg = set.args(i);
    if (!arg.has_a_const()) {
      return std::nullopt;  // TypeCast: SET TIME ZONE INTERVAL '...'
    }
    const pg_query::A_Const& constant = arg.a_const();
    if (i > 0) {
      out.append(", ");
    }
    if (constant.has_ival()) {
      out.append(std::to_string(constant.ival().ival()));
    } else if (constant.has_fval()) {
      out.append(constant.fval().fval());
    } else if (constant.has_sval()) {
      out.append(list_quote ? quoteIdentifier(constant.sval().sval()) : constant.sval().sval());
    } else if (constant.has_boolval()) {
      out.append(constant.boolval().boolval() ? "true" : "false");
    } else {
      return std::nullopt;
    }
  }
  return out;
}

MaybeDenial applySetting(std::string_view name, std::optional<std::string_view> value,
                         bool is_local, const ClassifierOptions& options, Verdict& verdict) {
  SettingCheck check = checkSetting(name, value, is_local, options);
  if (check.denial.has_value()) {
    return check.denial;
  }
  verdict.sets.push_back(std::move(check.action));
  return std::nullopt;
}

}  // namespace

MaybeDenial checkVariableSet(const pg_query::VariableSetStmt& set, std::string_view sql,
                             const ClassifierOptions& options, Verdict& verdict) {
  verdict.kinds.has_set = true;
  const std::string name = lowercase(set.name());
  switch (set.kind()) {
    case pg_query::VAR_SET_VALUE: {
      const ParameterRule* rule = findParameterRule(name, options);
      std::optional<std::string> value = flattenArgs(set, rule != nullptr && rule->list_quote);
      if (!value.has_value()) {
        if (rule == nullptr) {
          return checkSetting(name, std::nullopt, false, options).denial;
        }
        return unsupportedDenial("SET " + name +
                                 " with an expression is not supported by pgro; use a literal");
      }
      return applySetting(name, *value, set.is_local(), options, verdict);
    }
    case pg_query::VAR_SET_DEFAULT:
    case pg_query::VAR_RESET:
      return applySetting(name, std::nullopt, set.is_local(), options, verdict);
    case pg_query::VAR_RESET_ALL: {
      SetAction action;
      action.is_reset_all = true;
      verdict.sets.push_back(std::move(action));
      return std::nullopt;
    }
    case pg_query::VAR_SET_MULTI:
      if (name == "transaction") {
        return checkTransactionModes(set.args(), sql, /*session=*/false, /*record_local=*/true,
                                     verdict);
      }
      if (name == "session characteristics") {
        return checkTransactionModes(set.args(), sql, /*session=*/true, false, verdict);
      }
      if (name == "transaction snapshot") {
        return std::nullopt;  // pg_dump -j: visibility only
      }
      return unsupportedDenial("SET " + name + " is not supported by pgro");
    case pg_query::VAR_SET_CURRENT:
      return unsupportedDenial("SET ... FROM CURRENT is not supported by pgro");
    default:
      return unsupportedDenial("this SET form is not supported by pgro");
  }
}

MaybeDenial checkTransaction(const pg_query::TransactionStmt& transaction, std::string_view sql,
                             Verdict& verdict) {
  StatementKinds& kinds = verdict.kinds;
  switch (transaction.kind()) {
    case pg_query::TRANS_STMT_BEGIN:
    case pg_query::TRANS_STMT_START:
      kinds.has_transaction_control = true;
      kinds.begins_transaction = true;
      return checkTransactionModes(transaction.options(), sql, /*session=*/false, false, verdict);
    case pg_query::TRANS_STMT_COMMIT:
    case pg_query::TRANS_STMT_ROLLBACK:
      kinds.has_transaction_control = true;
      kinds.ends_transaction = true;
      if (transaction.chain()) {
        kinds.begins_transaction = true;
      }
      return std::nullopt;
    case pg_query::TRANS_STMT_SAVEPOINT:
    case pg_query::TRANS_STMT_RELEASE:
    case pg_query::TRANS_STMT_ROLLBACK_TO:
      kinds.has_transaction_control = true;
      kinds.has_savepoint = true;
      return std::nullopt;
    default:  // PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED: two-phase state
      return writeDenial(statementKind(transaction));
  }
}

}  // namespace pgro::policy::detail
