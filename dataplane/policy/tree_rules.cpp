#include "policy/tree_rules.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_query.pb.h"
#include "policy/secret_settings.hpp"
#include "policy/statement_kind.hpp"
#include "policy/tree_walker.hpp"

namespace pgro::policy::detail {
namespace {

using google::protobuf::Message;

// Relations that hold credentials. pg_roles and pg_user are fine: they mask the password.
constexpr std::array<std::string_view, 5> kSecretRelations = {
    "pg_authid",         // rolpassword: SCRAM verifiers / md5 hashes
    "pg_shadow",         // passwd
    "pg_user_mapping",   // umoptions: FDW passwords
    "pg_user_mappings",  //
    "pg_file_settings",  // the configuration files' values (restore_command, ...)
};

// System views whose content changes by the second or depends on the session: a cached
// answer would be wrong. (The pg_stat prefix covers pg_stat_*, pg_statio_*, pg_statistic.)
constexpr std::array<std::string_view, 13> kLiveRelations = {
    "pg_locks",
    "pg_cursors",
    "pg_prepared_statements",
    "pg_prepared_xacts",
    "pg_settings",
    "pg_file_settings",
    "pg_hba_file_rules",
    "pg_ident_file_mappings",
    "pg_backend_memory_contexts",
    "pg_shmem_allocations",
    "pg_replication_slots",
    "pg_replication_origin_status",
    "pg_sequences",
};

// Date/time input words that PostgreSQL turns into the current time when the constant is
// read as a date or timestamp ('now'::timestamptz, ts > 'today', 'tomorrow 10:00').
bool mentionsCurrentTime(std::string_view text) {
  std::string word;
  auto isTimeWord = [](const std::string& w) {
    return w == "now" || w == "today" || w == "tomorrow" || w == "yesterday";
  };
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      word.push_back(static_cast<char>(c | 0x20));
      if (word.size() > 9) {
        word = "x";  // longer than any time word: keep scanning cheaply
      }
    } else {
      if (isTimeWord(word)) {
        return true;
      }
      word.clear();
    }
  }
  return isTimeWord(word);
}

template <typename T>
const T& as(const Message& message) {
  return static_cast<const T&>(message);
}

std::string_view lockingKind(const pg_query::SelectStmt& select) {
  const pg_query::Node& first = select.locking_clause(0);
  if (!first.has_locking_clause()) {
    return "SELECT FOR UPDATE";
  }
  switch (first.locking_clause().strength()) {
    case pg_query::LCS_FORKEYSHARE:
      return "SELECT FOR KEY SHARE";
    case pg_query::LCS_FORSHARE:
      return "SELECT FOR SHARE";
    case pg_query::LCS_FORNOKEYUPDATE:
      return "SELECT FOR NO KEY UPDATE";
    default:
      return "SELECT FOR UPDATE";
  }
}

// Whether a statement can read the values of pg_settings rows it did not name. Reading
// names, units or descriptions is fine; so is any column of rows kept to named, non-secret
// settings by their SELECT's WHERE. A value column, a star or a whole-row reference
// anywhere in a statement that reads unnamed rows is refused (fail closed: once reachable,
// the value can flow through any expression, a WHERE test or an error message).
class SettingsReads {
 public:
  // Called for each SELECT before its FROM items are visited.
  void noteSelect(const pg_query::SelectStmt& select) {
    for (const pg_query::Node& item : select.from_clause()) {
      noteFromItem(select, item);
    }
  }

  void noteRelation(const pg_query::RangeVar& range) {
    if (!isSettingsRelation(range) ||
        std::find(named_.begin(), named_.end(), &range) != named_.end()) {
      return;
    }
    reads_unnamed_ = true;
    unnamed_names_.push_back(range.has_alias() ? range.alias().aliasname() : range.relname());
    if (range.has_alias() && range.alias().colnames_size() > 0) {
      reaches_values_ = true;  // pg_settings AS s(a, b, c): the value under another name
    }
  }

  void noteColumn(const pg_query::ColumnRef& ref) {
    const int fields = ref.fields_size();
    if (fields == 0) {
      return;
    }
    const pg_query::Node& last = ref.fields(fields - 1);
    if (last.has_a_star()) {
      reaches_values_ = true;
    } else if (last.has_string()) {
      if (isSettingValueColumn(last.string().sval())) {
        reaches_values_ = true;
      } else if (fields == 1) {
        whole_rows_.push_back(last.string().sval());  // maybe s, as in to_json(s)
      }
    }
  }

  // current_setting(q.name): the value of the setting each row names.
  void noteCurrentSettingOfColumn(std::string qualifier) {
    reaches_values_ = true;
    current_setting_qualifiers_.push_back(std::move(qualifier));
  }

  [[nodiscard]] bool readsUnnamedValues() const {
    for (const std::string& qualifier : current_setting_qualifiers_) {
      if (!namesOnlyNamedSettings(qualifier)) {
        return true;
      }
    }
    if (!reads_unnamed_) {
      return false;
    }
    if (reaches_values_) {
      return true;
    }
    return std::any_of(whole_rows_.begin(), whole_rows_.end(), [&](const std::string& row) {
      return std::find(unnamed_names_.begin(), unnamed_names_.end(), row) != unnamed_names_.end();
    });
  }

 private:
  struct Range {
    std::string name;  // the alias, or the relation's name; empty for an unnamed item
    bool named_settings = false;
  };

  void noteFromItem(const pg_query::SelectStmt& select, const pg_query::Node& item) {
    if (item.has_range_var()) {
      const pg_query::RangeVar& range = item.range_var();
      const bool named = isSettingsRelation(range) && selectsNamedSettings(select, range);
      if (named) {
        named_.push_back(&range);
      }
      ranges_.push_back(
          Range{range.has_alias() ? range.alias().aliasname() : range.relname(), named});
    } else if (item.has_join_expr()) {
      const pg_query::JoinExpr& join = item.join_expr();
      noteFromItem(select, join.larg());
      noteFromItem(select, join.rarg());
      if (join.has_alias()) {
        ranges_.push_back(Range{join.alias().aliasname(), false});
      }
    } else if (item.has_range_subselect() && item.range_subselect().has_alias()) {
      ranges_.push_back(Range{item.range_subselect().alias().aliasname(), false});
    } else if (item.has_range_function() && item.range_function().has_alias()) {
      ranges_.push_back(Range{item.range_function().alias().aliasname(), false});
    } else {
      ranges_.push_back(Range{});  // a function's own name, a table sample, XMLTABLE ...
    }
  }

  // Whether `qualifier.name` (or an unqualified `name`) can only be the name column of
  // pg_settings rows kept to named settings: the one FROM item of that name anywhere in the
  // statement, or the statement's only FROM item.
  [[nodiscard]] bool namesOnlyNamedSettings(const std::string& qualifier) const {
    if (qualifier.empty()) {
      return ranges_.size() == 1 && ranges_.front().named_settings;
    }
    const Range* match = nullptr;
    for (const Range& range : ranges_) {
      if (range.name == qualifier || range.name.empty()) {
        if (match != nullptr || range.name.empty()) {
          return false;  // ambiguous, or an item whose name we cannot see
        }
        match = &range;
      }
    }
    return match != nullptr && match->named_settings;
  }

  std::vector<const pg_query::RangeVar*> named_;
  std::vector<Range> ranges_;
  std::vector<std::string> unnamed_names_;  // alias or relname of each unnamed pg_settings read
  std::vector<std::string> whole_rows_;     // one-field column references
  std::vector<std::string> current_setting_qualifiers_;
  bool reads_unnamed_ = false;
  bool reaches_values_ = false;
};

class RuleVisitor final : public TreeVisitor {
 public:
  RuleVisitor(const ClassifierOptions& options, const TreeOptions& tree_options,
              FunctionFacts& facts)
      : options_(options), tree_options_(tree_options), facts_(facts) {}

  bool enter(const Message& message, NodeKind kind, int depth) override {
    switch (kind) {
      case NodeKind::Statement:
        return enterStatement(message, depth);
      case NodeKind::SelectStmt:
        return enterSelect(as<pg_query::SelectStmt>(message));
      case NodeKind::FuncCall:
        return enterFuncCall(as<pg_query::FuncCall>(message));
      case NodeKind::RangeVar:
        return enterRangeVar(as<pg_query::RangeVar>(message));
      case NodeKind::ColumnRef: {
        // t.col may be attribute notation for col(t); the first field is never a function.
        const auto& ref = as<pg_query::ColumnRef>(message);
        for (int i = 1; i < ref.fields_size() && !denial_; ++i) {
          checkAttribute(ref.fields(i));
        }
        settings_reads_.noteColumn(ref);
        return !denial_;
      }
      case NodeKind::AIndirection: {
        const auto& indirection = as<pg_query::A_Indirection>(message);
        for (const pg_query::Node& item : indirection.indirection()) {
          if (denial_) {
            break;
          }
          checkAttribute(item);
        }
        return !denial_;
      }
      case NodeKind::SQLValueFunction: {
        // CURRENT_DATE .. LOCALTIMESTAMP(n) change with time; CURRENT_USER and friends are
        // the same for every client (one upstream account), CURRENT_SCHEMA follows the
        // search_path, which is part of the cache key.
        const auto op = as<pg_query::SQLValueFunction>(message).op();
        if (op >= pg_query::SVFOP_CURRENT_DATE && op <= pg_query::SVFOP_LOCALTIMESTAMP_N) {
          facts_.uncacheable = true;
        }
        return true;
      }
      case NodeKind::RangeTableSample:
        if (!as<pg_query::RangeTableSample>(message).has_repeatable()) {
          facts_.uncacheable = true;
        }
        return true;
      case NodeKind::AConst: {
        const auto& constant = as<pg_query::A_Const>(message);
        if (constant.has_sval() && mentionsCurrentTime(constant.sval().sval())) {
          facts_.uncacheable = true;
        }
        return false;  // a constant has no children worth walking
      }
      case NodeKind::AExpr: {
        const auto& expr = as<pg_query::A_Expr>(message);
        const auto kind = expr.kind();
        if (kind != pg_query::AEXPR_BETWEEN && kind != pg_query::AEXPR_NOT_BETWEEN &&
            kind != pg_query::AEXPR_BETWEEN_SYM && kind != pg_query::AEXPR_NOT_BETWEEN_SYM) {
          denial_ = checkOperator(expr.name(), options_, facts_);
        }
        return !denial_;
      }
      case NodeKind::SubLink:
        denial_ = checkOperator(as<pg_query::SubLink>(message).oper_name(), options_, facts_);
        return !denial_;
      case NodeKind::SortBy:
        denial_ = checkOperator(as<pg_query::SortBy>(message).use_op(), options_, facts_);
        return !denial_;
      case NodeKind::Other:
        return true;
    }
    return true;
  }

  [[nodiscard]] bool done() const override { return denial_.has_value(); }

  MaybeDenial takeDenial() {
    if (!denial_ && settings_reads_.readsUnnamedValues()) {
      denial_ = secretSettingDenial({});
    }
    return std::move(denial_);
  }

 private:
  bool enterStatement(const Message& message, int depth) {
    if (depth == 0) {
      return true;  // the root: its kind was checked by the statement rules
    }
    if (tree_options_.allow_nested_execute &&
        message.GetDescriptor() == pg_query::ExecuteStmt::descriptor()) {
      return true;
    }
    denial_ = writeDenial(statementKind(message));
    return false;
  }

  bool enterSelect(const pg_query::SelectStmt& select) {
    if (select.has_into_clause()) {
      denial_ = writeDenial("SELECT INTO");
      return false;
    }
    if (select.locking_clause_size() > 0) {
      denial_ = writeDenial(lockingKind(select));
      return false;
    }
    if (auto match = matchSettingsSetConfig(select)) {
      settings_set_config_ = std::move(match);
    }
    settings_reads_.noteSelect(select);
    return true;
  }

  bool enterFuncCall(const pg_query::FuncCall& call) {
    std::optional<std::string> name_override;
    if (settings_set_config_.has_value() && settings_set_config_->call == &call) {
      name_override = settings_set_config_->name;
    }
    denial_ = checkFunctionCall(call, options_, facts_, name_override);
    if (!denial_ && call.args_size() > 0 && call.funcname_size() > 0 &&
        lowercase(call.funcname(call.funcname_size() - 1).string().sval()) == "current_setting") {
      if (auto qualifier = nameColumnQualifier(call.args(0))) {
        settings_reads_.noteCurrentSettingOfColumn(std::move(*qualifier));
      }
    }
    return !denial_;
  }

  bool enterRangeVar(const pg_query::RangeVar& range) {
    const std::string relation = lowercase(range.relname());
    for (std::string_view secret : kSecretRelations) {
      if (relation == secret) {
        denial_ = Denial{Refusal::SecretRead,
                         "permission denied for relation " + relation +
                             ": passwords and credentials are not readable through pgro",
                         0};
        return false;
      }
    }
    settings_reads_.noteRelation(range);
    const std::string schema = lowercase(range.schemaname());
    if (schema.empty() || schema == "pg_catalog") {
      if (relation.starts_with("pg_stat")) {
        facts_.uncacheable = true;
      }
      for (std::string_view live : kLiveRelations) {
        if (relation == live) {
          facts_.uncacheable = true;
        }
      }
    }
    return true;
  }

  void checkAttribute(const pg_query::Node& field) {
    if (field.has_string()) {
      denial_ = checkAttributeName(field.string().sval(), options_, facts_);
    }
  }

  const ClassifierOptions& options_;
  const TreeOptions& tree_options_;
  FunctionFacts& facts_;
  MaybeDenial denial_;
  std::optional<SettingsSetConfig> settings_set_config_;
  SettingsReads settings_reads_;
};

}  // namespace

MaybeDenial checkTree(const Message& root, const ClassifierOptions& options,
                      const TreeOptions& tree_options, FunctionFacts& facts) {
  RuleVisitor visitor(options, tree_options, facts);
  walkTree(root, visitor);
  return visitor.takeDenial();
}

}  // namespace pgro::policy::detail
