// Layer 3: functions anywhere in the tree, the denylist, set_config, the catalog.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "policy/classifier.hpp"
#include "policy/function_table.hpp"

namespace pgro::policy {
namespace {

void expectFunctionRefused(const std::string& sql, const std::string& function,
                           const ClassifierOptions& options = {}) {
  Verdict v = classify(sql, options);
  EXPECT_FALSE(v.allowed) << sql;
  EXPECT_EQ(v.refusal, Refusal::ForbiddenFunction) << sql << ": " << v.message;
  EXPECT_EQ(v.sqlstate, "42501") << sql;
  EXPECT_NE(v.message.find("permission denied for function " + function), std::string::npos)
      << sql << ": " << v.message;
}

TEST(FunctionRules, DenylistWhateverTheSpelling) {
  expectFunctionRefused("SELECT pg_terminate_backend(123)", "pg_terminate_backend");
  expectFunctionRefused("SELECT pg_catalog.pg_terminate_backend(123)",
                        "pg_catalog.pg_terminate_backend");
  expectFunctionRefused("SELECT pg_catalog.PG_TERMINATE_BACKEND(123)",
                        "pg_catalog.pg_terminate_backend");
  expectFunctionRefused("SELECT \"pg_terminate_backend\"(123)", "pg_terminate_backend");
  expectFunctionRefused("SELECT \"PG_CANCEL_BACKEND\"(1)", "pg_cancel_backend");
  expectFunctionRefused("SELECT U&\"pg_r\\0065ad_file\"('/etc/passwd')", "pg_read_file");
  expectFunctionRefused("SELECT pg_catalog . /* c */ pg_reload_conf()",
                        "pg_catalog.pg_reload_conf");
  expectFunctionRefused("SELECT mydb.pg_catalog.pg_switch_wal()", "pg_catalog.pg_switch_wal");
}

TEST(FunctionRules, EveryFamilyOfTheDenylist) {
  for (const char* fn : {"pg_cancel_backend(1)",
                         "pg_reload_conf()",
                         "pg_rotate_logfile()",
                         "pg_rotate_logfile_old()",
                         "pg_switch_wal()",
                         "pg_create_restore_point('x')",
                         "pg_start_backup('x')",
                         "pg_backup_start('x')",
                         "pg_backup_stop()",
                         "pg_promote()",
                         "pg_wal_replay_pause()",
                         "pg_wal_replay_resume()",
                         "pg_log_backend_memory_contexts(1)",
                         "pg_create_physical_replication_slot('s')",
                         "pg_create_logical_replication_slot('s', 'test_decoding')",
                         "pg_drop_replication_slot('s')",
                         "pg_replication_origin_create('o')",
                         "pg_replication_origin_session_setup('o')",
                         "pg_logical_emit_message(true, 'p', 'x')",
                         "pg_copy_logical_replication_slot('a', 'b')",
                         "pg_replication_slot_advance('s', '0/0')",
                         "pg_logical_slot_get_changes('s', NULL, NULL)",
                         "pg_stat_reset()",
                         "pg_stat_reset_shared('bgwriter')",
                         "pg_stat_statements_reset()",
                         "pg_read_file('/etc/passwd')",
                         "pg_read_binary_file('global/1260')",
                         "pg_ls_dir('.')",
                         "pg_ls_waldir()",
                         "pg_stat_file('postgresql.conf')",
                         "pg_file_write('x', 'y', false)",
                         "lo_import('/etc/passwd')",
                         "lo_export(1, '/tmp/x')",
                         "lo_create(0)",
                         "lo_unlink(1)",
                         "lo_get(1)",
                         "loread(0, 1)",
                         "lowrite(0, 'x')",
                         "lo_from_bytea(0, 'x')",
                         "pg_advisory_lock(1)",
                         "pg_advisory_xact_lock(1)",
                         "pg_try_advisory_lock(1)",
                         "pg_notify('c', 'p')",
                         "txid_current()",
                         "txid_current_if_assigned()",
                         "pg_current_xact_id()",
                         "pg_current_xact_id_if_assigned()",
                         "nextval('s')",
                         "setval('s', 1)",
                         "dblink('host=x', 'select 1')",
                         "dblink_exec('host=x', 'drop table t')",
                         "dblink_connect('host=x')",
                         "query_to_xml('select 1', true, true, '')",
                         "query_to_xml_and_xmlschema('select 1', true, true, '')",
                         "table_to_xml('t', true, true, '')",
                         "cursor_to_xml('c', 1, true, true, '')",
                         "database_to_xml(true, true, '')",
                         "schema_to_xml('public', true, true, '')",
                         "ts_stat('select to_tsvector(''x'')')",
                         "crosstab('select 1, 2, 3')",
                         "public.crosstab2('select 1')",
                         "crosstab('select 1', 'select 2')",
                         "connectby('t', 'id', 'parent', '1', 0)",
                         "ext.xpath_table('id', 'x', 't', '/a', 'true')",
                         "ts_rewrite('a'::tsquery, 'select 1')",
                         "pg_import_system_collations('pg_catalog')",
                         "binary_upgrade_set_next_pg_type_oid(1)",
                         "brin_summarize_new_values('i')",
                         "gin_clean_pending_list('i')",
                         "pg_extension_config_dump('t', '')"}) {
    Verdict v = classify(std::string("SELECT ") + fn);
    EXPECT_EQ(v.refusal, Refusal::ForbiddenFunction) << fn << ": " << v.message;
  }
}

TEST(FunctionRules, FunctionsAnywhereInTheTree) {
  for (const char* sql :
       {"SELECT 1 FROM t WHERE pg_terminate_backend(1)",
        "SELECT 1 FROM t a JOIN t b ON pg_cancel_backend(1)",
        "SELECT 1 FROM t ORDER BY pg_reload_conf()",
        "SELECT 1 FROM t GROUP BY lo_create(0)",
        "SELECT count(*) FROM t HAVING pg_notify('a', 'b') IS NULL",
        "SELECT 1 LIMIT pg_advisory_lock(1)",
        "SELECT 1 OFFSET txid_current()",
        "VALUES (pg_switch_wal())",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir('.')) x",
        "SELECT * FROM t, LATERAL (SELECT pg_read_file('/etc/passwd')) x",
        "SELECT (SELECT nextval('s'))",
        "SELECT EXISTS (SELECT setval('s', 1))",
        "WITH x AS (SELECT pg_stat_reset()) SELECT * FROM x",
        "SELECT CASE WHEN true THEN pg_promote() END",
        "SELECT COALESCE(NULL, lo_import('/x'))",
        "SELECT CAST(pg_read_file('/etc/passwd') AS text)",
        "SELECT ARRAY[pg_ls_dir('.')]",
        "SELECT ROW(txid_current())",
        "SELECT count(*) FILTER (WHERE pg_notify('a', 'b') IS NULL) "
        "FROM t",
        "SELECT sum(1) OVER (PARTITION BY pg_advisory_lock(1))",
        "SELECT string_agg(x, ',' ORDER BY pg_backend_pid() + txid_current()) FROM t",
        "EXPLAIN SELECT pg_terminate_backend(1)",
        "EXPLAIN ANALYZE SELECT pg_read_file('/x')",
        "DECLARE c CURSOR FOR SELECT lo_import('/etc/passwd')",
        "PREPARE p AS SELECT pg_cancel_backend($1)",
        "COPY (SELECT pg_reload_conf()) TO STDOUT",
        "SELECT * FROM t WHERE id IN (SELECT nextval('s'))",
        "SELECT * FROM t TABLESAMPLE BERNOULLI (pg_advisory_lock(1))",
        "SELECT xmlelement(name x, pg_read_file('/etc/passwd'))",
        "SELECT 1 WHERE 1 = ANY (ARRAY[pg_advisory_lock(1)::int])"}) {
    Verdict v = classify(sql);
    EXPECT_EQ(v.refusal, Refusal::ForbiddenFunction) << sql << ": " << v.message;
  }
}

TEST(FunctionRules, AttributeNotationCallsFunctionsToo) {
  // PostgreSQL runs pg_read_file('/etc/hostname') for both (verified on PostgreSQL 15).
  expectFunctionRefused("SELECT ('/etc/hostname'::text).pg_read_file", "pg_read_file");
  expectFunctionRefused("SELECT (x).pg_read_file FROM tt", "pg_read_file");
  expectFunctionRefused("SELECT t.pg_terminate_backend FROM (SELECT 1) t(p)",
                        "pg_terminate_backend");
  expectFunctionRefused("SELECT (1).lo_unlink", "lo_unlink");
  // Ordinary columns whose names only start like a denied prefix stay allowed.
  EXPECT_TRUE(classify("SELECT t.lo_price, t.name FROM t").allowed);
  EXPECT_TRUE(classify("SELECT (t.keys).x, (r.c).n FROM t, r").allowed);
}

TEST(FunctionRules, ReadOnlyFunctionsAreAllowed) {
  for (const char* sql :
       {"SELECT currval('s')", "SELECT random()", "SELECT setseed(0.5)",
        "SELECT pg_catalog.pg_get_userbyid(10)", "SELECT pg_size_pretty(pg_database_size('x'))",
        "SELECT pg_is_in_recovery()", "SELECT pg_export_snapshot()",
        "SELECT ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)",
        "SELECT pg_backend_pid()", "SELECT version()", "SELECT current_setting('search_path')",
        "SELECT pg_stat_get_numscans(1)", "SELECT gen_random_uuid()",
        "SELECT pg_xact_commit_timestamp('1'::xid)", "SELECT pg_sequence_last_value('s')"}) {
    Verdict v = classify(sql);
    EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
  }
}

TEST(FunctionRules, SleepIsRefusedInEverySpellingUnlessAllowed) {
  for (const auto& [sql, function] : std::vector<std::pair<std::string, std::string>>{
           {"SELECT pg_sleep(1)", "pg_sleep"},
           {"SELECT pg_catalog.pg_sleep(1)", "pg_catalog.pg_sleep"},
           {"SELECT \"pg_sleep\"(1)", "pg_sleep"},
           {"SELECT pg_catalog.\"PG_SLEEP_FOR\"('1 s')", "pg_catalog.pg_sleep_for"},
           {"SELECT * FROM pg_sleep(1)", "pg_sleep"},
           {"SELECT * FROM t, LATERAL pg_sleep_until(now() + interval '1 s') s", "pg_sleep_until"},
           {"WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s", "pg_sleep"},
           {"EXPLAIN ANALYZE SELECT pg_sleep(1)", "pg_sleep"},
           {"SELECT * FROM t WHERE id = (SELECT 1 FROM pg_sleep(1))", "pg_sleep"},
           {"SELECT (1).pg_sleep", "pg_sleep"},
       }) {
    Verdict v = classify(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.refusal, Refusal::Sleep) << sql << ": " << v.message;
    EXPECT_EQ(v.sqlstate, "42501") << sql;
    EXPECT_NE(v.message.find("permission denied for function " + function), std::string::npos)
        << sql << ": " << v.message;
    EXPECT_NE(v.message.find("ALLOW_PG_SLEEP"), std::string::npos) << sql << ": " << v.message;
  }
  ClassifierOptions allow;
  allow.allow_pg_sleep = true;
  for (const char* sql : {"SELECT pg_sleep(0)", "SELECT pg_catalog.pg_sleep_for('0 s')",
                          "SELECT * FROM pg_sleep_until(now())"}) {
    Verdict v = classify(sql, allow);
    EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
    EXPECT_FALSE(v.cacheable) << sql;
  }
}

TEST(FunctionRules, SetConfigOnlyWithConstantAllowlistedArguments) {
  Verdict v = classify("SELECT pg_catalog.set_config('search_path', '', false)");
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.sets.size(), 1U);
  EXPECT_EQ(v.sets[0].name, "search_path");
  EXPECT_EQ(v.sets[0].value, "");
  EXPECT_FALSE(v.sets[0].is_local);
  EXPECT_TRUE(v.kinds.has_set);
  EXPECT_FALSE(v.cacheable);

  Verdict local = classify("SELECT set_config('statement_timeout'::text, '5s'::text, true)");
  ASSERT_TRUE(local.allowed) << local.message;
  EXPECT_TRUE(local.sets[0].is_local);

  Verdict reset = classify("SELECT set_config('work_mem', NULL, false)");
  ASSERT_TRUE(reset.allowed) << reset.message;
  EXPECT_TRUE(reset.sets[0].is_reset);

  // DESIGN section 3: this made writes possible in a read-only session.
  Verdict off = classify("SELECT set_config('default_transaction_read_only', 'off', false)");
  EXPECT_EQ(off.refusal, Refusal::ForbiddenParameter);
  EXPECT_EQ(off.sqlstate, "42501");
  EXPECT_EQ(classify("SELECT set_config('transaction_read_only', 'false', true)").refusal,
            Refusal::ForbiddenParameter);
  EXPECT_EQ(classify("SELECT set_config('role', 'x', false)").refusal, Refusal::ForbiddenParameter);
  EXPECT_EQ(classify("SELECT set_config('session_replication_role', 'replica', false)").refusal,
            Refusal::ForbiddenParameter);
  for (const char* sql :
       {"SELECT set_config(name, 'off', false) FROM pg_settings",
        "SELECT set_config('default_transaction_' || 'read_only', 'off', false)",
        "SELECT set_config('search_path', current_user, false)",
        "SELECT set_config('search_path', 'x', random() > 0.5)",
        "SELECT set_config('search_path', 'x')", "SELECT set_config(lower('ROLE'), 'x', false)",
        "SELECT set_config(name, setting, false) FROM pg_settings WHERE name = 'search_path'"}) {
    EXPECT_EQ(classify(sql).refusal, Refusal::ForbiddenFunction) << sql;
  }
}

// set_config() of role or session_authorization in every position and spelling (see
// ParameterRules.TheRoleCannotBeChangedInAnySpelling for why).
TEST(FunctionRules, SetConfigCannotChangeTheRole) {
  for (const char* sql :
       {"SELECT set_config('role', 'none', false)", "SELECT set_config('ROLE', 'none', true)",
        "SELECT set_config('Role', 'admin', false)", "SELECT set_config('role', NULL, false)",
        "SELECT pg_catalog.set_config('role', 'none', false)",
        "SELECT \"set_config\"('role', 'none', false)",
        "SELECT set_config('session_authorization', 'admin', false)",
        "SELECT set_config('SESSION_AUTHORIZATION', 'admin', true)",
        "SELECT 1 FROM (SELECT set_config('role', 'none', false)) AS s",
        "WITH s AS (SELECT set_config('role', 'none', false)) SELECT * FROM s",
        "SELECT * FROM pg_class WHERE set_config('role', 'none', false) IS NOT NULL",
        "EXPLAIN ANALYZE SELECT set_config('role', 'none', false)",
        "VALUES (set_config('role', 'none', false))",
        "SELECT set_config('role', 'none', false) FROM pg_settings LIMIT 1"}) {
    const Verdict v = classify(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql << ": " << v.message;
  }
}

TEST(FunctionRules, SetConfigFactsFollowExecution) {
  // Plain EXPLAIN plans without running: no setting happens.
  Verdict plain = classify("EXPLAIN SELECT set_config('work_mem', '1MB', false)");
  ASSERT_TRUE(plain.allowed) << plain.message;
  EXPECT_TRUE(plain.sets.empty());
  Verdict analyze = classify("EXPLAIN ANALYZE SELECT set_config('work_mem', '1MB', false)");
  ASSERT_TRUE(analyze.allowed) << analyze.message;
  EXPECT_EQ(analyze.sets.size(), 1U);
  EXPECT_TRUE(
      classify("EXPLAIN (ANALYZE false) SELECT set_config('work_mem', '1MB', false)").sets.empty());
  EXPECT_TRUE(
      classify("EXPLAIN (ANALYZE 0) SELECT set_config('work_mem', '1MB', false)").sets.empty());
  EXPECT_EQ(
      classify("EXPLAIN (ANALYZE on) SELECT set_config('work_mem', '1MB', false)").sets.size(), 1U);
  // In PREPARE or DECLARE it would run later, out of the session's sight.
  EXPECT_EQ(classify("PREPARE p AS SELECT set_config('work_mem', '1MB', false)").refusal,
            Refusal::Unsupported);
  EXPECT_EQ(classify("DECLARE c CURSOR FOR SELECT set_config('work_mem', '1MB', false)").refusal,
            Refusal::Unsupported);
}

TEST(FunctionRules, PgDumpRestrictNonsystemRelationKind) {
  // pg_dump 15.8+ sends exactly this; the WHERE clause pins the parameter name.
  Verdict v = classify(
      "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = "
      "'restrict_nonsystem_relation_kind'");
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.sets.size(), 1U);
  EXPECT_EQ(v.sets[0].name, "restrict_nonsystem_relation_kind");
  EXPECT_EQ(v.sets[0].value, "view, foreign-table");
  // The same shape naming a forbidden parameter is refused by the parameter rules.
  EXPECT_EQ(classify("SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = "
                     "'default_transaction_read_only'")
                .refusal,
            Refusal::ForbiddenParameter);
  // Any other shape is not recognised.
  EXPECT_EQ(classify("SELECT set_config(name, 'x', false) FROM pg_settings WHERE name LIKE "
                     "'restrict_nonsystem_relation_kind'")
                .refusal,
            Refusal::ForbiddenFunction);
  EXPECT_EQ(classify("SELECT set_config(name, 'x', false) FROM pg_settings s WHERE name = "
                     "'search_path'")
                .refusal,
            Refusal::ForbiddenFunction);
}

TEST(FunctionRules, CatalogRefusesUnknownVolatileFunctions) {
  // Built-ins by volatility and the table; the others by what they are (their language
  // here is unknown, so only the reviewed list of extension functions lets them through).
  FunctionCatalog catalog(
      {{.schema = "public", .name = "do_write", .volatility = 'v'},
       {.schema = "public",
        .name = "pure",
        .volatility = 'i',
        .language = "sql",
        .body = "SELECT 1"},
       {.schema = "pg_catalog", .name = "random", .builtin = true},
       {.schema = "pg_catalog", .name = "now", .volatility = 's', .builtin = true},
       {.schema = "ext", .name = "uuid_generate_v4", .volatility = 'v'},
       {.schema = "evil", .name = "random", .volatility = 'v'}});
  ClassifierOptions with_catalog;
  with_catalog.catalog = &catalog;

  expectFunctionRefused("SELECT public.do_write()", "public.do_write", with_catalog);
  expectFunctionRefused("SELECT do_write()", "public.do_write", with_catalog);
  expectFunctionRefused("SELECT * FROM t WHERE id = do_write()", "public.do_write", with_catalog);
  expectFunctionRefused("SELECT (t).do_write FROM t", "public.do_write", with_catalog);
  // Without the catalog the same name is unknown, hence allowed (the catalog is optional).
  EXPECT_TRUE(classify("SELECT public.do_write()").allowed);

  EXPECT_TRUE(classify("SELECT public.pure(), now()", with_catalog).allowed);
  EXPECT_TRUE(classify("SELECT pg_catalog.random()", with_catalog).allowed);
  EXPECT_TRUE(classify("SELECT ext.uuid_generate_v4()", with_catalog).allowed);
  // A schema-less random() could resolve to evil.random through the search_path.
  expectFunctionRefused("SELECT random()", "evil.random", with_catalog);
  expectFunctionRefused("SELECT evil.random()", "evil.random", with_catalog);

  FunctionCatalog vouched({{.schema = "public", .name = "do_write", .volatility = 'v'}},
                          {"do_write"});
  ClassifierOptions overridden;
  overridden.catalog = &vouched;
  EXPECT_TRUE(classify("SELECT do_write()", overridden).allowed);
  ClassifierOptions denied;
  denied.extra_denied_functions = {"pure"};
  expectFunctionRefused("SELECT public.pure()", "public.pure", denied);
}

TEST(FunctionRules, CatalogKeepsTheMostVolatileOverload) {
  FunctionCatalog catalog(
      {{.schema = "pg_catalog", .name = "f", .volatility = 'i', .builtin = true},
       {.schema = "pg_catalog", .name = "f", .volatility = 'v', .builtin = true},
       {.schema = "PG_CATALOG", .name = "F", .volatility = 's', .builtin = true}});
  const auto* entries = catalog.find("f");
  ASSERT_NE(entries, nullptr);
  ASSERT_EQ(entries->size(), 1U);
  EXPECT_EQ((*entries)[0].volatility, 'v');
  EXPECT_EQ(catalog.find("g"), nullptr);
}

// Every function PostgreSQL 15 marks volatile was reviewed: it is either denied, known to
// be read-only, or set_config. Regenerate the list with
//   SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v' AND
//   pronamespace = 'pg_catalog'::regnamespace (minus type I/O and handler functions).
TEST(FunctionRules, EveryPostgres15VolatileBuiltinWasReviewed) {
  std::ifstream in(std::string(PGRO_POLICY_TEST_DIR) + "/pg15_volatile_functions.txt");
  ASSERT_TRUE(in.good());
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      names.push_back(line);
    }
  }
  ASSERT_GT(names.size(), 150U);
  std::vector<FunctionInfo> infos;
  for (const std::string& name : names) {
    infos.push_back({.schema = "pg_catalog", .name = name, .volatility = 'v', .builtin = true});
  }
  FunctionCatalog catalog(infos);
  ClassifierOptions options;
  options.catalog = &catalog;
  options.allow_pg_sleep = true;  // the governor's refusal of pg_sleep is not the review's
  for (const std::string& name : names) {
    const detail::FunctionClass cls = detail::classifyFunctionName(name);
    EXPECT_NE(cls, detail::FunctionClass::Unknown) << name << " is not in the function table";
    if (cls == detail::FunctionClass::SafeVolatile) {
      Verdict v = classify("SELECT pg_catalog." + name + "()", options);
      EXPECT_NE(v.refusal, Refusal::ForbiddenFunction) << name << ": " << v.message;
      EXPECT_FALSE(v.cacheable) << name;
    }
    if (cls == detail::FunctionClass::Denied) {
      EXPECT_EQ(classify("SELECT " + name + "()").refusal, Refusal::ForbiddenFunction) << name;
    }
  }
}

// The catalog fails closed: a called name it does not know is reported, not allowed; the
// session looks it up in pg_proc and classifies again (a name still unknown is refused).
TEST(FunctionRules, CatalogReportsUnknownFunctions) {
  FunctionCatalog catalog(
      {{.schema = "pg_catalog", .name = "now", .volatility = 's', .builtin = true},
       {.schema = "pg_catalog", .name = "lower", .volatility = 'i', .builtin = true}});
  ClassifierOptions options;
  options.catalog = &catalog;

  Verdict v = classify("SELECT now(), w(), Public.\"W\"(), lower(w())", options);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.refusal, Refusal::UnknownFunction);
  EXPECT_EQ(v.sqlstate, "42883");
  EXPECT_EQ(v.unknown_functions, (std::vector<std::string>{"w", "public.w"}));
  EXPECT_NE(v.message.find("w, public.w"), std::string::npos) << v.message;
  EXPECT_EQ(refusalName(Refusal::UnknownFunction), "unknown_function");
  // In a string of several, the refusal is about the first statement naming one.
  v = classify("SELECT now(); SELECT lower('A'), w(); SELECT x()", options);
  EXPECT_EQ(v.refusal, Refusal::UnknownFunction);
  EXPECT_EQ(v.refused_statement, 1);
  EXPECT_EQ(v.statements.size(), 3u);

  v = classify("SELECT no_such_fn()", options);
  EXPECT_EQ(v.refusal, Refusal::UnknownFunction);
  EXPECT_EQ(v.message, "function no_such_fn does not exist or is not known to pgro's catalog");
  // In every place a call can hide, and in every statement of the string.
  for (const char* sql :
       {"SELECT * FROM w()", "SELECT 1 WHERE w() > 0", "WITH c AS (SELECT w()) SELECT * FROM c",
        "SELECT 1; SELECT w()", "EXPLAIN SELECT w()", "SELECT 1 FROM t ORDER BY w()",
        "DECLARE c CURSOR FOR SELECT w()", "PREPARE p AS SELECT w()"}) {
    v = classify(sql, options);
    EXPECT_EQ(v.refusal, Refusal::UnknownFunction) << sql;
    EXPECT_EQ(v.unknown_functions, std::vector<std::string>{"w"}) << sql;
  }
  // Another refusal wins: there is nothing to look up for a string refused anyway.
  v = classify("SELECT w(); INSERT INTO t VALUES (1)", options);
  EXPECT_EQ(v.refusal, Refusal::Write);
  EXPECT_TRUE(v.unknown_functions.empty());
  expectFunctionRefused("SELECT w(), pg_read_file('x')", "pg_read_file", options);
  // The denylist needs no catalog.
  expectFunctionRefused("SELECT pg_terminate_backend(1)", "pg_terminate_backend", options);

  // A known name in a schema the catalog has no function of that name in.
  v = classify("SELECT ext.now()", options);
  EXPECT_EQ(v.refusal, Refusal::UnknownFunction);
  EXPECT_EQ(v.unknown_functions, std::vector<std::string>{"ext.now"});
  EXPECT_TRUE(classify("SELECT pg_catalog.now()", options).allowed);
  // Known names, columns and attribute notation with a name no function has are fine.
  EXPECT_TRUE(classify("SELECT now(), lower('A')", options).allowed);
  EXPECT_TRUE(classify("SELECT (t).price, t.w, w FROM t", options).allowed);
  EXPECT_TRUE(classify("SELECT (ROW(1, 2)).f1", options).allowed);
  // pgro's own cache reset is never in pg_proc.
  v = classify("SELECT pgro_cache_reset()", options);
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.is_cache_reset);
  // Without a catalog (none loaded), only the denylist applies.
  EXPECT_TRUE(classify("SELECT w()").allowed);
}

}  // namespace
}  // namespace pgro::policy
