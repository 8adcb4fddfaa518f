#include "policy/statement_kind.hpp"

#include <string_view>
#include <utility>

#include "pg_query.pb.h"

namespace pgro::policy::detail {
namespace {

// OBJECT_MATVIEW -> "MATERIALIZED VIEW", OBJECT_FOREIGN_TABLE -> "FOREIGN TABLE".
std::string objectTypeName(pg_query::ObjectType type) {
  switch (type) {
    case pg_query::OBJECT_MATVIEW:
      return "MATERIALIZED VIEW";
    case pg_query::OBJECT_FDW:
      return "FOREIGN DATA WRAPPER";
    case pg_query::OBJECT_FOREIGN_SERVER:
      return "SERVER";
    case pg_query::OBJECT_TSCONFIGURATION:
      return "TEXT SEARCH CONFIGURATION";
    case pg_query::OBJECT_TSDICTIONARY:
      return "TEXT SEARCH DICTIONARY";
    case pg_query::OBJECT_TSPARSER:
      return "TEXT SEARCH PARSER";
    case pg_query::OBJECT_TSTEMPLATE:
      return "TEXT SEARCH TEMPLATE";
    case pg_query::OBJECT_LARGEOBJECT:
      return "LARGE OBJECT";
    case pg_query::OBJECT_STATISTIC_EXT:
      return "STATISTICS";
    default:
      break;
  }
  std::string name = pg_query::ObjectType_Name(type);
  if (name.starts_with("OBJECT_")) {
    name.erase(0, 7);
  }
  for (char& c : name) {
    if (c == '_') {
      c = ' ';
    }
  }
  return name;
}

// Fallback from the node name: AlterDefaultPrivilegesStmt -> "ALTER DEFAULT PRIVILEGES".
std::string fromNodeName(std::string_view name) {
  if (name.ends_with("Stmt")) {
    name.remove_suffix(4);
  }
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool upper = c >= 'A' && c <= 'Z';
    const bool next_lower = i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z';
    const bool prev_upper = i > 0 && name[i - 1] >= 'A' && name[i - 1] <= 'Z';
    if (upper && i > 0 && (!prev_upper || next_lower)) {
      out.push_back(' ');
    }
    out.push_back(upper || c < 'a' || c > 'z' ? c : static_cast<char>(c - 'a' + 'A'));
  }
  return out;
}

template <typename T>
const T* as(const google::protobuf::Message& message) {
  return message.GetDescriptor() == T::descriptor() ? static_cast<const T*>(&message) : nullptr;
}

}  // namespace

std::string statementKind(const google::protobuf::Message& statement) {
  using namespace pg_query;  // NOLINT(google-build-using-namespace): node types below
  if (as<InsertStmt>(statement)) {
    return "INSERT";
  }
  if (as<UpdateStmt>(statement)) {
    return "UPDATE";
  }
  if (as<DeleteStmt>(statement)) {
    return "DELETE";
  }
  if (as<MergeStmt>(statement)) {
    return "MERGE";
  }
  if (const auto* s = as<CreateStmt>(statement)) {
    if (s->relation().relpersistence() == "t") {
      return "CREATE TEMP TABLE";
    }
    return "CREATE TABLE";
  }
  if (const auto* s = as<CreateTableAsStmt>(statement)) {
    if (s->is_select_into()) {
      return "SELECT INTO";
    }
    if (s->objtype() == OBJECT_MATVIEW) {
      return "CREATE MATERIALIZED VIEW";
    }
    return "CREATE TABLE AS";
  }
  if (const auto* s = as<DropStmt>(statement)) {
    return "DROP " + objectTypeName(s->remove_type());
  }
  if (const auto* s = as<RenameStmt>(statement)) {
    return "ALTER " + objectTypeName(s->rename_type());
  }
  if (const auto* s = as<AlterTableStmt>(statement)) {
    return "ALTER " + objectTypeName(s->objtype());
  }
  if (const auto* s = as<AlterObjectSchemaStmt>(statement)) {
    return "ALTER " + objectTypeName(s->object_type());
  }
  if (const auto* s = as<AlterOwnerStmt>(statement)) {
    return "ALTER " + objectTypeName(s->object_type());
  }
  if (const auto* s = as<DefineStmt>(statement)) {
    return "CREATE " + objectTypeName(s->kind());
  }
  if (const auto* s = as<CommentStmt>(statement)) {
    return "COMMENT ON " + objectTypeName(s->objtype());
  }
  if (const auto* s = as<VacuumStmt>(statement)) {
    return s->is_vacuumcmd() ? "VACUUM" : "ANALYZE";
  }
  if (const auto* s = as<GrantStmt>(statement)) {
    return s->is_grant() ? "GRANT" : "REVOKE";
  }
  if (const auto* s = as<GrantRoleStmt>(statement)) {
    return s->is_grant() ? "GRANT" : "REVOKE";
  }
  if (const auto* s = as<CreateFunctionStmt>(statement)) {
    return s->is_procedure() ? "CREATE PROCEDURE" : "CREATE FUNCTION";
  }
  if (const auto* s = as<TransactionStmt>(statement)) {
    switch (s->kind()) {
      case TRANS_STMT_PREPARE:
        return "PREPARE TRANSACTION";
      case TRANS_STMT_COMMIT_PREPARED:
        return "COMMIT PREPARED";
      case TRANS_STMT_ROLLBACK_PREPARED:
        return "ROLLBACK PREPARED";
      default:
        return "TRANSACTION";
    }
  }
  static const std::pair<const google::protobuf::Descriptor*, const char*> kNames[] = {
      {ViewStmt::descriptor(), "CREATE VIEW"},
      {IndexStmt::descriptor(), "CREATE INDEX"},
      {CreateSeqStmt::descriptor(), "CREATE SEQUENCE"},
      {AlterSeqStmt::descriptor(), "ALTER SEQUENCE"},
      {CreatedbStmt::descriptor(), "CREATE DATABASE"},
      {DropdbStmt::descriptor(), "DROP DATABASE"},
      {TruncateStmt::descriptor(), "TRUNCATE"},
      {DoStmt::descriptor(), "DO"},
      {CallStmt::descriptor(), "CALL"},
      {LoadStmt::descriptor(), "LOAD"},
      {ReindexStmt::descriptor(), "REINDEX"},
      {ClusterStmt::descriptor(), "CLUSTER"},
      {CheckPointStmt::descriptor(), "CHECKPOINT"},
      {DiscardStmt::descriptor(), "DISCARD"},
      {NotifyStmt::descriptor(), "NOTIFY"},
      {ListenStmt::descriptor(), "LISTEN"},
      {UnlistenStmt::descriptor(), "UNLISTEN"},
      {RefreshMatViewStmt::descriptor(), "REFRESH MATERIALIZED VIEW"},
      {SecLabelStmt::descriptor(), "SECURITY LABEL"},
      {AlterSystemStmt::descriptor(), "ALTER SYSTEM"},
      {RuleStmt::descriptor(), "CREATE RULE"},
      {CreateTrigStmt::descriptor(), "CREATE TRIGGER"},
      {CreatePLangStmt::descriptor(), "CREATE LANGUAGE"},
      {CreateFdwStmt::descriptor(), "CREATE FOREIGN DATA WRAPPER"},
      {AlterFdwStmt::descriptor(), "ALTER FOREIGN DATA WRAPPER"},
      {CreateForeignServerStmt::descriptor(), "CREATE SERVER"},
      {AlterForeignServerStmt::descriptor(), "ALTER SERVER"},
      {CreateTableSpaceStmt::descriptor(), "CREATE TABLESPACE"},
      {DropTableSpaceStmt::descriptor(), "DROP TABLESPACE"},
      {ConstraintsSetStmt::descriptor(), "SET CONSTRAINTS"},
      {CreateRoleStmt::descriptor(), "CREATE ROLE"},
      {AlterRoleStmt::descriptor(), "ALTER ROLE"},
      {AlterRoleSetStmt::descriptor(), "ALTER ROLE"},
      {DropRoleStmt::descriptor(), "DROP ROLE"},
      {AlterDatabaseSetStmt::descriptor(), "ALTER DATABASE"},
      {AlterDatabaseStmt::descriptor(), "ALTER DATABASE"},
      {AlterTSDictionaryStmt::descriptor(), "ALTER TEXT SEARCH DICTIONARY"},
      {AlterTSConfigurationStmt::descriptor(), "ALTER TEXT SEARCH CONFIGURATION"},
      {CreateStatsStmt::descriptor(), "CREATE STATISTICS"},
      {AlterStatsStmt::descriptor(), "ALTER STATISTICS"},
      {DeclareCursorStmt::descriptor(), "DECLARE CURSOR"},
      {ExplainStmt::descriptor(), "EXPLAIN"},
      {CopyStmt::descriptor(), "COPY"},
      {PrepareStmt::descriptor(), "PREPARE"},
      {ExecuteStmt::descriptor(), "EXECUTE"},
      {VariableSetStmt::descriptor(), "SET"},
  };
  for (const auto& [descriptor, name] : kNames) {
    if (statement.GetDescriptor() == descriptor) {
      return name;
    }
  }
  return fromNodeName(statement.GetDescriptor()->name());
}

}  // namespace pgro::policy::detail
