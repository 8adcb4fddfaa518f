#include "policy/function_table.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

namespace pgro::policy::detail {
namespace {

constexpr std::string_view kControl = "server and session control";
constexpr std::string_view kBackup = "backup and WAL control";
constexpr std::string_view kReplication = "replication control";
constexpr std::string_view kStatsReset = "resetting statistics";
constexpr std::string_view kFiles = "server file access";
constexpr std::string_view kLargeObjects = "large object access";
constexpr std::string_view kAdvisory = "taking advisory locks";
constexpr std::string_view kNotify = "sending notifications";
constexpr std::string_view kXid = "assigning a transaction id";
constexpr std::string_view kSequence = "changing a sequence";
constexpr std::string_view kSqlText = "running SQL text";
constexpr std::string_view kRemote = "connecting to another server";
constexpr std::string_view kMaintenance = "catalog and index maintenance";
constexpr std::string_view kSecretSettings = "reading the value of every setting";

constexpr FunctionRule deny(std::string_view name, std::string_view reason) {
  return FunctionRule{name, false, FunctionAction::Deny, reason};
}
constexpr FunctionRule denyPrefix(std::string_view name, std::string_view reason,
                                  bool attribute = true) {
  return FunctionRule{name, true, FunctionAction::Deny, reason, false, VolatileOk::No, attribute};
}
// Volatile in pg_proc but read-only: allowed, never cached.
constexpr FunctionRule volatileBuiltin(std::string_view name, bool prefix = false) {
  return FunctionRule{name, prefix, FunctionAction::Allow, {}, true, VolatileOk::InPgCatalog};
}
constexpr FunctionRule volatileExtension(std::string_view name, bool prefix = false) {
  return FunctionRule{name, prefix, FunctionAction::Allow, {}, true, VolatileOk::AnySchema};
}
// Stable but dependent on time, session or connection: allowed, never cached.
constexpr FunctionRule uncacheable(std::string_view name) {
  return FunctionRule{name, false, FunctionAction::Allow, {}, true, VolatileOk::No};
}

// The function table, one place. Names match the last component of the called name,
// lowercased, whatever the schema qualification or quoting. Prefix rules are tried in
// this order after the exact names, so the denying prefixes come first.
constexpr std::array kFunctionRules = {
    // Server and session control.
    deny("pg_terminate_backend", kControl),
    deny("pg_cancel_backend", kControl),
    deny("pg_wait_for_backend_termination", kControl),
    deny("pg_reload_conf", kControl),
    denyPrefix("pg_rotate_logfile", kControl),
    deny("pg_promote", kControl),
    deny("pg_log_backend_memory_contexts", kControl),
    // Every setting's value at once; some may hold credentials (secret_settings.hpp).
    deny("pg_show_all_settings", kSecretSettings),
    deny("pg_show_all_file_settings", kSecretSettings),
    FunctionRule{"set_config", false, FunctionAction::SetConfig, "changing settings", true,
                 VolatileOk::InPgCatalog},
    // Backup and WAL.
    deny("pg_switch_wal", kBackup),
    deny("pg_switch_xlog", kBackup),
    deny("pg_create_restore_point", kBackup),
    deny("pg_start_backup", kBackup),
    deny("pg_stop_backup", kBackup),
    deny("pg_backup_start", kBackup),
    deny("pg_backup_stop", kBackup),
    denyPrefix("pg_wal_replay_", kBackup),
    denyPrefix("pg_xlog_replay_", kBackup),
    // Replication slots and origins.
    deny("pg_create_physical_replication_slot", kReplication),
    deny("pg_create_logical_replication_slot", kReplication),
    deny("pg_drop_replication_slot", kReplication),
    deny("pg_copy_physical_replication_slot", kReplication),
    deny("pg_copy_logical_replication_slot", kReplication),
    deny("pg_replication_slot_advance", kReplication),
    deny("pg_sync_replication_slots", kReplication),
    deny("pg_logical_emit_message", kReplication),
    denyPrefix("pg_logical_slot_", kReplication),
    denyPrefix("pg_replication_origin_", kReplication),
    // Statistics.
    denyPrefix("pg_stat_reset", kStatsReset),
    deny("pg_stat_statements_reset", kStatsReset),
    // Server files.
    denyPrefix("pg_read_file", kFiles),
    denyPrefix("pg_read_binary_file", kFiles),
    denyPrefix("pg_ls_", kFiles),
    deny("pg_stat_file", kFiles),
    denyPrefix("pg_file_", kFiles),
    deny("pg_logdir_ls", kFiles),
    // Large objects: the PostgreSQL 15 functions by name, and any other lo_* call.
    deny("lo_close", kLargeObjects),
    deny("lo_creat", kLargeObjects),
    deny("lo_create", kLargeObjects),
    deny("lo_export", kLargeObjects),
    deny("lo_from_bytea", kLargeObjects),
    deny("lo_get", kLargeObjects),
    deny("lo_import", kLargeObjects),
    deny("lo_lseek", kLargeObjects),
    deny("lo_lseek64", kLargeObjects),
    deny("lo_open", kLargeObjects),
    deny("lo_put", kLargeObjects),
    deny("lo_tell", kLargeObjects),
    deny("lo_tell64", kLargeObjects),
    deny("lo_truncate", kLargeObjects),
    deny("lo_truncate64", kLargeObjects),
    deny("lo_unlink", kLargeObjects),
    deny("loread", kLargeObjects),
    deny("lowrite", kLargeObjects),
    denyPrefix("lo_", kLargeObjects, /*attribute=*/false),
    // Locks, notifications, xid assignment, sequences. Releasing advisory locks is allowed:
    // pool reset queries (asyncpg's) call it, and no lock can be taken through pgro.
    volatileBuiltin("pg_advisory_unlock"),
    volatileBuiltin("pg_advisory_unlock_shared"),
    volatileBuiltin("pg_advisory_unlock_all"),
    denyPrefix("pg_advisory_", kAdvisory),
    denyPrefix("pg_try_advisory_", kAdvisory),
    deny("pg_notify", kNotify),
    deny("txid_current", kXid),
    deny("txid_current_if_assigned", kXid),
    deny("pg_current_xact_id", kXid),
    deny("pg_current_xact_id_if_assigned", kXid),
    deny("nextval", kSequence),
    deny("setval", kSequence),
    // Functions that run SQL text or open connections (the text escapes this classifier).
    denyPrefix("query_to_xml", kSqlText),
    denyPrefix("table_to_xml", kSqlText),
    denyPrefix("cursor_to_xml", kSqlText),
    denyPrefix("database_to_xml", kSqlText),
    denyPrefix("schema_to_xml", kSqlText),
    deny("ts_stat", kSqlText),
    FunctionRule{"ts_rewrite", false, FunctionAction::DenyTwoArgs, kSqlText, false,
                 VolatileOk::InPgCatalog},
    denyPrefix("pg_background_", kSqlText),
    // tablefunc and xml2 (postgresql-contrib): their text arguments run as SQL, whatever the
    // schema the extension was created in.
    denyPrefix("crosstab", kSqlText),
    deny("connectby", kSqlText),
    deny("xpath_table", kSqlText),
    denyPrefix("dblink", kRemote),
    // Catalog and index maintenance.
    denyPrefix("pg_import", kMaintenance),
    denyPrefix("binary_upgrade_", kMaintenance),
    deny("pg_extension_config_dump", kMaintenance),
    deny("pg_nextoid", kMaintenance),
    deny("pg_stop_making_pinned_objects", kMaintenance),
    deny("brin_summarize_new_values", kMaintenance),
    deny("brin_summarize_range", kMaintenance),
    deny("brin_desummarize_range", kMaintenance),
    deny("gin_clean_pending_list", kMaintenance),
    deny("pg_truncate_visibility_map", kMaintenance),
    deny("plpgsql_inline_handler", kMaintenance),  // runs DO blocks
    deny("plpgsql_validator", kMaintenance),

    // PostgreSQL 15 built-ins that pg_proc marks volatile and that only read (reviewed one
    // by one from `SELECT proname FROM pg_proc WHERE provolatile = 'v'`).
    volatileBuiltin("random"),
    volatileBuiltin("random_normal"),
    volatileBuiltin("setseed"),
    volatileBuiltin("clock_timestamp"),
    volatileBuiltin("timeofday"),
    volatileBuiltin("gen_random_uuid"),
    volatileBuiltin("currval"),
    volatileBuiltin("lastval"),
    volatileBuiltin("pg_sequence_last_value"),
    volatileBuiltin("pg_sleep", /*prefix=*/true),
    volatileBuiltin("pg_export_snapshot"),
    volatileBuiltin("current_query"),
    volatileBuiltin("currtid2"),
    volatileBuiltin("amvalidate"),
    volatileBuiltin("pg_blocking_pids"),
    volatileBuiltin("pg_safe_snapshot_blocking_pids"),
    volatileBuiltin("pg_isolation_test_session_is_blocked"),
    volatileBuiltin("pg_collation_actual_version"),
    volatileBuiltin("pg_database_collation_actual_version"),
    volatileBuiltin("pg_control_", /*prefix=*/true),
    volatileBuiltin("pg_current_logfile"),
    volatileBuiltin("pg_current_wal_lsn"),
    volatileBuiltin("pg_current_wal_insert_lsn"),
    volatileBuiltin("pg_current_wal_flush_lsn"),
    volatileBuiltin("pg_last_wal_receive_lsn"),
    volatileBuiltin("pg_last_wal_replay_lsn"),
    volatileBuiltin("pg_last_xact_replay_timestamp"),
    volatileBuiltin("pg_last_committed_xact"),
    volatileBuiltin("pg_is_in_recovery"),
    volatileBuiltin("pg_is_wal_replay_paused"),
    volatileBuiltin("pg_get_wal_replay_pause_state"),
    volatileBuiltin("pg_get_wal_resource_managers"),
    volatileBuiltin("pg_get_backend_memory_contexts"),
    volatileBuiltin("pg_get_multixact_members"),
    volatileBuiltin("pg_get_shmem_allocations"),
    volatileBuiltin("pg_hba_file_rules"),
    volatileBuiltin("pg_ident_file_mappings"),
    volatileBuiltin("pg_show_all_file_settings"),
    volatileBuiltin("pg_show_replication_origin_status"),
    volatileBuiltin("pg_jit_available"),
    volatileBuiltin("pg_lock_status"),
    volatileBuiltin("pg_notification_queue_usage"),
    volatileBuiltin("pg_partition_ancestors"),
    volatileBuiltin("pg_partition_tree"),
    volatileBuiltin("pg_prepared_xact"),
    volatileBuiltin("pg_database_size"),
    volatileBuiltin("pg_relation_size"),
    volatileBuiltin("pg_table_size"),
    volatileBuiltin("pg_indexes_size"),
    volatileBuiltin("pg_total_relation_size"),
    volatileBuiltin("pg_tablespace_size"),
    volatileBuiltin("pg_xact_commit_timestamp"),
    volatileBuiltin("pg_xact_commit_timestamp_origin"),
    volatileBuiltin("pg_xact_status"),
    volatileBuiltin("txid_status"),
    // Statistics functions and extension views (pg_stat_statements, ...): read-only.
    volatileExtension("pg_stat_", /*prefix=*/true),
    // Read-only extension functions that are volatile in their extension scripts.
    volatileExtension("uuid_generate_v1"),
    volatileExtension("uuid_generate_v1mc"),
    volatileExtension("uuid_generate_v4"),
    volatileExtension("gen_random_bytes"),
    volatileExtension("gen_salt"),
    volatileExtension("pg_buffercache_pages"),
    volatileExtension("pgstattuple"),
    volatileExtension("pgstattuple_approx"),
    volatileExtension("pgstatindex"),
    volatileExtension("pgstatginindex"),
    volatileExtension("pgstathashindex"),
    volatileExtension("pg_relpages"),
    volatileExtension("bt_index_check"),
    volatileExtension("bt_index_parent_check"),
    volatileExtension("verify_heapam"),
    volatileExtension("pg_visibility"),
    volatileExtension("pg_visibility_map"),
    volatileExtension("pg_visibility_map_summary"),
    volatileExtension("pg_check_frozen"),
    volatileExtension("pg_check_visible"),
    volatileExtension("pg_freespace"),
    volatileExtension("pg_prewarm"),
    // Stable in pg_proc, but the answer depends on time, the connection or the session:
    // never cached (the cache is shared by clients and outlives the transaction).
    uncacheable("now"),
    uncacheable("statement_timestamp"),
    uncacheable("transaction_timestamp"),
    FunctionRule{"current_setting", false, FunctionAction::ReadSetting, "reading settings", true},
    uncacheable("pg_backend_pid"),
    uncacheable("inet_client_addr"),
    uncacheable("inet_client_port"),
    uncacheable("inet_server_addr"),
    uncacheable("inet_server_port"),
    uncacheable("pg_conf_load_time"),
    uncacheable("pg_trigger_depth"),
    uncacheable("txid_current_snapshot"),
    uncacheable("pg_current_snapshot"),
    uncacheable("pg_my_temp_schema"),
};

// Extension functions written in C that only compute or read, reviewed family by family
// from the extension scripts of postgresql-contrib 15 and PostGIS 3. Deliberately absent:
// pageinspect, pg_surgery, adminpack, dblink, tablefunc, xml2's
// xslt_process (reads documents), lo: raw pages, files, other servers or SQL text. Only functions
// of languages pgro cannot read need to be here: an extension's sql and plpgsql functions are
// judged by their bodies. `true` marks a prefix.
struct ReadOnlyExtensionName {
  std::string_view name;
  bool prefix = false;
};
constexpr std::array kReadOnlyExtensionFunctions = {
    // pg_trgm: trigram similarity and its operators' functions (similarity_op,
    // word_similarity_op, ..._dist_op), show_trgm, show_limit, and the GiST/GIN support
    // functions. Not set_limit: it changes a session setting (pg_trgm.similarity_threshold).
    ReadOnlyExtensionName{"similarity", true},
    ReadOnlyExtensionName{"word_similarity", true},
    ReadOnlyExtensionName{"strict_word_similarity", true},
    ReadOnlyExtensionName{"show_trgm"},
    ReadOnlyExtensionName{"show_limit"},
    ReadOnlyExtensionName{"gtrgm_", true},
    ReadOnlyExtensionName{"gin_extract_value_trgm"},
    ReadOnlyExtensionName{"gin_extract_query_trgm"},
    ReadOnlyExtensionName{"gin_trgm_", true},
    // hstore: constructors, readers and operators of a value (delete() and slice() return a
    // new hstore; nothing is stored), its type I/O and index support.
    ReadOnlyExtensionName{"hstore", true},
    ReadOnlyExtensionName{"ghstore_", true},
    ReadOnlyExtensionName{"gin_extract_hstore", true},
    ReadOnlyExtensionName{"gin_consistent_hstore"},
    ReadOnlyExtensionName{"hs_", true},
    ReadOnlyExtensionName{"fetchval"},
    ReadOnlyExtensionName{"exist"},
    ReadOnlyExtensionName{"exists_any"},
    ReadOnlyExtensionName{"exists_all"},
    ReadOnlyExtensionName{"defined"},
    ReadOnlyExtensionName{"isexists"},
    ReadOnlyExtensionName{"isdefined"},
    ReadOnlyExtensionName{"delete"},
    ReadOnlyExtensionName{"akeys"},
    ReadOnlyExtensionName{"avals"},
    ReadOnlyExtensionName{"skeys"},
    ReadOnlyExtensionName{"svals"},
    ReadOnlyExtensionName{"each"},
    ReadOnlyExtensionName{"slice"},
    ReadOnlyExtensionName{"slice_array"},
    ReadOnlyExtensionName{"tconvert"},
    ReadOnlyExtensionName{"populate_record"},
    // citext: the type's comparison, hashing and I/O functions (its regexp_* and strpos
    // overloads are LANGUAGE sql, judged by their bodies).
    ReadOnlyExtensionName{"citext", true},
    ReadOnlyExtensionName{"textic", true},
    // pgcrypto: digests, MACs, password hashing, random bytes, raw and PGP encryption of
    // values given as arguments, ASCII armor. All compute; none stores anything.
    ReadOnlyExtensionName{"digest"},
    ReadOnlyExtensionName{"hmac"},
    ReadOnlyExtensionName{"crypt"},
    ReadOnlyExtensionName{"gen_salt"},
    ReadOnlyExtensionName{"gen_random_bytes"},
    ReadOnlyExtensionName{"gen_random_uuid"},
    ReadOnlyExtensionName{"encrypt", true},
    ReadOnlyExtensionName{"decrypt", true},
    ReadOnlyExtensionName{"pgp_sym_", true},
    ReadOnlyExtensionName{"pgp_pub_", true},
    ReadOnlyExtensionName{"pgp_key_id"},
    ReadOnlyExtensionName{"pgp_armor_headers"},
    ReadOnlyExtensionName{"armor"},
    ReadOnlyExtensionName{"dearmor"},
    // fuzzystrmatch: string distances and phonetic codes.
    ReadOnlyExtensionName{"levenshtein", true},
    ReadOnlyExtensionName{"soundex"},
    ReadOnlyExtensionName{"text_soundex"},
    ReadOnlyExtensionName{"difference"},
    ReadOnlyExtensionName{"metaphone"},
    ReadOnlyExtensionName{"dmetaphone", true},
    ReadOnlyExtensionName{"daitch_mokotoff"},
    // unaccent: the function and its text search dictionary's template functions.
    ReadOnlyExtensionName{"unaccent", true},
    // uuid-ossp: UUID generators (volatile, hence never cached) and namespace constants.
    ReadOnlyExtensionName{"uuid_generate_", true},
    ReadOnlyExtensionName{"uuid_nil"},
    ReadOnlyExtensionName{"uuid_ns_", true},
    // intarray: operations on integer arrays and its query type, index support.
    ReadOnlyExtensionName{"icount"},
    ReadOnlyExtensionName{"sort", true},
    ReadOnlyExtensionName{"uniq"},
    ReadOnlyExtensionName{"idx"},
    ReadOnlyExtensionName{"subarray"},
    ReadOnlyExtensionName{"intset", true},
    ReadOnlyExtensionName{"intarray_", true},
    ReadOnlyExtensionName{"querytree"},
    ReadOnlyExtensionName{"bqarr_", true},
    ReadOnlyExtensionName{"boolop"},
    ReadOnlyExtensionName{"rboolop"},
    ReadOnlyExtensionName{"_int_", true},
    ReadOnlyExtensionName{"_intbig_", true},
    ReadOnlyExtensionName{"g_int_", true},
    ReadOnlyExtensionName{"g_intbig_", true},
    ReadOnlyExtensionName{"ginint4_", true},
    // ltree: label paths, their query types, operators and index support.
    ReadOnlyExtensionName{"ltree", true},
    ReadOnlyExtensionName{"_ltree", true},
    ReadOnlyExtensionName{"lquery", true},
    ReadOnlyExtensionName{"ltxtq", true},
    ReadOnlyExtensionName{"_ltxtq", true},
    ReadOnlyExtensionName{"ltq_", true},
    ReadOnlyExtensionName{"_ltq_", true},
    ReadOnlyExtensionName{"lt_q_", true},
    ReadOnlyExtensionName{"_lt_q_", true},
    ReadOnlyExtensionName{"subltree"},
    ReadOnlyExtensionName{"subpath"},
    ReadOnlyExtensionName{"nlevel"},
    ReadOnlyExtensionName{"index"},
    ReadOnlyExtensionName{"text2ltree"},
    ReadOnlyExtensionName{"lca"},
    // cube and earthdistance: the cube type, distances on it and on the earth's surface.
    ReadOnlyExtensionName{"cube", true},
    ReadOnlyExtensionName{"g_cube_", true},
    ReadOnlyExtensionName{"distance_chebyshev"},
    ReadOnlyExtensionName{"distance_taxicab"},
    ReadOnlyExtensionName{"earth", true},
    ReadOnlyExtensionName{"ll_to_earth"},
    ReadOnlyExtensionName{"latitude"},
    ReadOnlyExtensionName{"longitude"},
    ReadOnlyExtensionName{"gc_to_sec"},
    ReadOnlyExtensionName{"sec_to_gc"},
    ReadOnlyExtensionName{"geo_distance"},
    // btree_gist and btree_gin: index support functions and the distance operators'
    // functions (int4_dist, date_dist, ...).
    ReadOnlyExtensionName{"gbt_", true},
    ReadOnlyExtensionName{"gbtreekey", true},
    ReadOnlyExtensionName{"gin_btree_", true},
    ReadOnlyExtensionName{"gin_extract_value_", true},
    ReadOnlyExtensionName{"gin_extract_query_", true},
    ReadOnlyExtensionName{"gin_compare_prefix_", true},
    ReadOnlyExtensionName{"gin_enum_cmp"},
    ReadOnlyExtensionName{"gin_numeric_cmp"},
    ReadOnlyExtensionName{"int2_dist"},
    ReadOnlyExtensionName{"int4_dist"},
    ReadOnlyExtensionName{"int8_dist"},
    ReadOnlyExtensionName{"float4_dist"},
    ReadOnlyExtensionName{"float8_dist"},
    ReadOnlyExtensionName{"cash_dist"},
    ReadOnlyExtensionName{"oid_dist"},
    ReadOnlyExtensionName{"date_dist"},
    ReadOnlyExtensionName{"time_dist"},
    ReadOnlyExtensionName{"ts_dist"},
    ReadOnlyExtensionName{"tstz_dist"},
    ReadOnlyExtensionName{"interval_dist"},
    // PostGIS: every st_* function, geometry/geography/box types and their operators, and
    // the internal readers (_st_*, _postgis_*, postgis_* version readers, pgis_* aggregate
    // support). PostGIS's writers (AddGeometryColumn, DropGeometryColumn, DropGeometryTable,
    // UpdateGeometrySRID, Populate_Geometry_Columns, postgis_extensions_upgrade) are
    // plpgsql, judged by their bodies, not by this list (they EXECUTE: refused).
    ReadOnlyExtensionName{"st_", true},
    ReadOnlyExtensionName{"_st_", true},
    ReadOnlyExtensionName{"geometry", true},
    ReadOnlyExtensionName{"geography", true},
    ReadOnlyExtensionName{"box2d", true},
    ReadOnlyExtensionName{"box3d", true},
    ReadOnlyExtensionName{"gserialized_", true},
    ReadOnlyExtensionName{"postgis_", true},
    ReadOnlyExtensionName{"_postgis_", true},
    ReadOnlyExtensionName{"pgis_", true},
};

struct RuleIndex {
  std::unordered_map<std::string_view, const FunctionRule*> exact;
  std::vector<const FunctionRule*> prefixes;
};

const RuleIndex& ruleIndex() {
  static const RuleIndex index = [] {
    RuleIndex built;
    for (const FunctionRule& rule : kFunctionRules) {
      if (rule.prefix) {
        built.prefixes.push_back(&rule);
      } else {
        built.exact.emplace(rule.name, &rule);
      }
    }
    return built;
  }();
  return index;
}

}  // namespace

const FunctionRule* findFunctionRule(std::string_view name) {
  const RuleIndex& index = ruleIndex();
  if (auto it = index.exact.find(name); it != index.exact.end()) {
    return it->second;
  }
  for (const FunctionRule* rule : index.prefixes) {
    if (name.starts_with(rule->name)) {
      return rule;
    }
  }
  return nullptr;
}

bool isReadOnlyExtensionFunction(std::string_view name) {
  const FunctionRule* rule = findFunctionRule(name);
  if (rule != nullptr && rule->action != FunctionAction::Allow) {
    return false;
  }
  // The table's extension entries (pg_stat_statements, pgstattuple, pg_buffercache, ...)
  // were reviewed as read-only when they were added.
  if (rule != nullptr && rule->volatile_ok == VolatileOk::AnySchema) {
    return true;
  }
  return std::any_of(kReadOnlyExtensionFunctions.begin(), kReadOnlyExtensionFunctions.end(),
                     [&](const ReadOnlyExtensionName& entry) {
                       return entry.prefix ? name.starts_with(entry.name) : name == entry.name;
                     });
}

FunctionClass classifyFunctionName(std::string_view name) {
  const FunctionRule* rule = findFunctionRule(name);
  if (rule == nullptr) {
    return FunctionClass::Unknown;
  }
  switch (rule->action) {
    case FunctionAction::Deny:
      return FunctionClass::Denied;
    case FunctionAction::SetConfig:
      return FunctionClass::SetConfig;
    case FunctionAction::DenyTwoArgs:
    case FunctionAction::ReadSetting:
    case FunctionAction::Allow:
      return rule->volatile_ok == VolatileOk::No ? FunctionClass::Unknown
                                                 : FunctionClass::SafeVolatile;
  }
  return FunctionClass::Unknown;
}

}  // namespace pgro::policy::detail
