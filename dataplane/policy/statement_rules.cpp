#include "policy/statement_rules.hpp"

#include <algorithm>

#include <optional>
#include <string>

#include "policy/parameter_rules.hpp"
#include "policy/secret_settings.hpp"
#include "policy/set_statement.hpp"
#include "policy/statement_kind.hpp"
#include "policy/tree_rules.hpp"

namespace pgro::policy::detail {
namespace {

using google::protobuf::Message;

constexpr int kCursorOptHold = 0x0020;  // CURSOR_OPT_HOLD in parsenodes.h
constexpr int kAccessShareLock = 1;     // AccessShareLock in lockdefs.h

// The message held by a Node's oneof (SelectStmt, InsertStmt, ...), nullptr if empty.
const Message* nodeMessage(const pg_query::Node& node) {
  const google::protobuf::Reflection* reflection = node.GetReflection();
  const google::protobuf::OneofDescriptor* oneof = node.GetDescriptor()->oneof_decl(0);
  const google::protobuf::FieldDescriptor* field = reflection->GetOneofFieldDescriptor(node, oneof);
  if (field == nullptr) {
    return nullptr;
  }
  return &reflection->GetMessage(node, field);
}

std::string_view lockModeName(int mode) {
  switch (mode) {
    case 2:
      return "ROW SHARE";
    case 3:
      return "ROW EXCLUSIVE";
    case 4:
      return "SHARE UPDATE EXCLUSIVE";
    case 5:
      return "SHARE";
    case 6:
      return "SHARE ROW EXCLUSIVE";
    case 7:
      return "EXCLUSIVE";
    default:
      return "ACCESS EXCLUSIVE";
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The statement's own text: RawStmt offsets are bytes; stmt_len 0 means "to the end".
std::string_view statementText(const pg_query::RawStmt& raw, std::string_view sql) {
  const auto begin = static_cast<std::size_t>(raw.stmt_location());
  if (begin > sql.size()) {
    return {};
  }
  std::string_view rest = sql.substr(begin);
  if (raw.stmt_len() > 0) {
    rest = rest.substr(0, static_cast<std::size_t>(raw.stmt_len()));
  }
  return trim(rest);
}

// EXPLAIN ANALYZE runs the query; plain EXPLAIN only plans it.
bool explainAnalyzes(const pg_query::ExplainStmt& explain) {
  for (const pg_query::Node& option : explain.options()) {
    if (!option.has_def_elem() || option.def_elem().defname() != "analyze") {
      continue;
    }
    const pg_query::DefElem& def = option.def_elem();
    if (!def.has_arg()) {
      return true;  // EXPLAIN ANALYZE, EXPLAIN (ANALYZE)
    }
    // EXPLAIN (ANALYZE false|off|0): anything unclear counts as "runs".
    if (def.arg().has_string()) {
      const std::optional<bool> value = parsePgBool(def.arg().string().sval());
      if (value.has_value() && !*value) {
        continue;
      }
    }
    if (def.arg().has_integer() && def.arg().integer().ival() == 0) {
      continue;
    }
    return true;
  }
  return false;
}

MaybeDenial checkExplain(const pg_query::ExplainStmt& explain) {
  // EXPLAIN [ANALYZE] of SELECT/VALUES/TABLE or EXECUTE; ANALYZE runs the query, so the
  // query must be one pgro would run anyway (checked by the tree walk).
  if (!explain.has_query()) {
    return std::nullopt;
  }
  const pg_query::Node& query = explain.query();
  if (query.has_select_stmt() || query.has_execute_stmt()) {
    return std::nullopt;
  }
  if (query.has_declare_cursor_stmt()) {
    return unsupportedDenial("EXPLAIN DECLARE is not supported by pgro");
  }
  const Message* inner = nodeMessage(query);
  return writeDenial(inner != nullptr ? statementKind(*inner) : "EXPLAIN");
}

MaybeDenial checkCopy(const pg_query::CopyStmt& copy) {
  if (copy.is_from()) {
    return writeDenial(copy.is_program() ? "COPY FROM PROGRAM" : "COPY FROM");
  }
  if (copy.is_program()) {
    return writeDenial("COPY TO PROGRAM");
  }
  if (!copy.filename().empty()) {
    return writeDenial("COPY TO FILE");
  }
  // COPY (query) TO STDOUT: the query must be a SELECT; COPY (INSERT ... RETURNING) is a
  // nested statement and refused by the tree walk.
  return std::nullopt;
}

SessionStatement::Kind discardKind(const pg_query::DiscardStmt& discard) {
  switch (discard.target()) {
    case pg_query::DISCARD_PLANS:
      return SessionStatement::Kind::DiscardPlans;
    case pg_query::DISCARD_SEQUENCES:
      return SessionStatement::Kind::DiscardSequences;
    case pg_query::DISCARD_TEMP:
      return SessionStatement::Kind::DiscardTemp;
    default:
      return SessionStatement::Kind::DiscardAll;
  }
}

void recordSessionStatement(SessionStatement::Kind kind, std::string name,
                            const pg_query::RawStmt& raw, std::string_view sql, Verdict& verdict) {
  SessionStatement statement;
  statement.kind = kind;
  statement.name = std::move(name);
  statement.index = -1;  // set by the caller, which knows where the statement stands
  statement.at = std::min(static_cast<std::size_t>(raw.stmt_location()), sql.size());
  statement.length =
      raw.stmt_len() > 0 ? static_cast<std::size_t>(raw.stmt_len()) : sql.size() - statement.at;
  verdict.kinds.session_statements.push_back(std::move(statement));
}

}  // namespace

MaybeDenial classifyStatement(const pg_query::RawStmt& raw, std::string_view sql,
                              const ClassifierOptions& options, Verdict& verdict, bool& cacheable) {
  const pg_query::Node& node = raw.stmt();
  const Message* statement = nodeMessage(node);
  if (statement == nullptr) {
    return unsupportedDenial("empty statement node");
  }
  StatementKinds& kinds = verdict.kinds;
  TreeOptions tree_options;
  bool is_select = false;
  MaybeDenial denial;

  switch (node.node_case()) {
    case pg_query::Node::kSelectStmt:  // SELECT, VALUES, TABLE, WITH ... SELECT
      is_select = true;
      break;
    case pg_query::Node::kVariableShowStmt: {
      kinds.has_show = true;
      const std::string& name = node.variable_show_stmt().name();
      if (lowercase(name) == "all") {
        denial = secretSettingDenial({});
      } else if (isSecretSetting(name)) {
        denial = secretSettingDenial(name);
      }
      break;
    }
    case pg_query::Node::kExplainStmt:
      kinds.has_explain = true;
      tree_options.allow_nested_execute = true;
      denial = checkExplain(node.explain_stmt());
      if (node.explain_stmt().has_query() && node.explain_stmt().query().has_execute_stmt()) {
        kinds.executes.push_back(node.explain_stmt().query().execute_stmt().name());
      }
      break;
    case pg_query::Node::kVariableSetStmt:
      denial = checkVariableSet(node.variable_set_stmt(), sql, options, verdict);
      break;
    case pg_query::Node::kTransactionStmt:
      denial = checkTransaction(node.transaction_stmt(), sql, verdict);
      break;
    case pg_query::Node::kDeclareCursorStmt:
      // WITH HOLD cursors outlive the transaction: the session keeps its server connection
      // while it holds one (transaction pooling).
      if ((node.declare_cursor_stmt().options() & kCursorOptHold) != 0) {
        kinds.holds.push_back(node.declare_cursor_stmt().portalname());
      }
      kinds.declares_cursor = true;
      break;
    case pg_query::Node::kFetchStmt:
      kinds.uses_cursor = true;
      break;
    case pg_query::Node::kClosePortalStmt:
      kinds.uses_cursor = true;
      if (node.close_portal_stmt().portalname().empty()) {
        kinds.closes_all = true;
      } else {
        kinds.closes.push_back(node.close_portal_stmt().portalname());
      }
      break;
    case pg_query::Node::kLockStmt:
      if (node.lock_stmt().mode() != kAccessShareLock) {
        denial = writeDenial("LOCK ... IN " + std::string(lockModeName(node.lock_stmt().mode())) +
                             " MODE");
      }
      kinds.has_lock = true;
      break;
    case pg_query::Node::kPrepareStmt:
      kinds.prepares.push_back(
          PreparedSql{node.prepare_stmt().name(), std::string(statementText(raw, sql))});
      break;
    case pg_query::Node::kExecuteStmt:
      kinds.executes.push_back(node.execute_stmt().name());
      break;
    case pg_query::Node::kDeallocateStmt:
      if (node.deallocate_stmt().name().empty()) {
        kinds.deallocates_all = true;
        recordSessionStatement(SessionStatement::Kind::DeallocateAll, {}, raw, sql, verdict);
      } else {
        kinds.deallocates.push_back(node.deallocate_stmt().name());
        recordSessionStatement(SessionStatement::Kind::Deallocate, node.deallocate_stmt().name(),
                               raw, sql, verdict);
      }
      break;
    case pg_query::Node::kDiscardStmt:
      recordSessionStatement(discardKind(node.discard_stmt()), {}, raw, sql, verdict);
      break;
    case pg_query::Node::kUnlistenStmt:
      // Pool reset queries send UNLISTEN *; LISTEN is refused, so there is nothing to undo.
      break;
    case pg_query::Node::kCopyStmt:
      kinds.has_copy_out = true;
      denial = checkCopy(node.copy_stmt());
      break;
    default:  // INSERT, UPDATE, DELETE, MERGE, DDL, VACUUM, DO, CALL, NOTIFY, ...: all refused
      return writeDenial(statementKind(*statement));
  }
  if (denial.has_value()) {
    return denial;
  }

  FunctionFacts facts;
  denial = checkTree(*statement, options, tree_options, facts);
  if (denial.has_value()) {
    denial->calls_user_functions = facts.calls_user_functions;
    return denial;
  }
  if (!facts.sets.empty()) {
    // set_config() in a PREPARE or DECLARE body runs later (EXECUTE, FETCH), out of the
    // session's sight: it could not track the setting it makes.
    if (node.has_prepare_stmt() || node.has_declare_cursor_stmt()) {
      return unsupportedDenial("set_config() inside PREPARE or DECLARE is not supported by pgro");
    }
    if (node.has_explain_stmt() && !explainAnalyzes(node.explain_stmt())) {
      facts.sets.clear();
    }
  }
  if (facts.seeds_random) {
    kinds.seeds_random = true;
  }
  if (!is_select || facts.uncacheable || !facts.sets.empty()) {
    cacheable = false;
  }
  if (!facts.sets.empty()) {
    kinds.has_set = true;
  }
  for (SetAction& action : facts.sets) {
    verdict.sets.push_back(std::move(action));
  }
  verdict.calls_user_functions = verdict.calls_user_functions || facts.calls_user_functions;
  for (std::string& name : facts.unknown_functions) {
    if (std::find(verdict.unknown_functions.begin(), verdict.unknown_functions.end(), name) ==
        verdict.unknown_functions.end()) {
      verdict.unknown_functions.push_back(std::move(name));
    }
  }
  return std::nullopt;
}

}  // namespace pgro::policy::detail
