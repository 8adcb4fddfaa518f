// Layer 2: which statements pass, and the exact refusal each other kind gets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/classifier.hpp"

namespace pgro::policy {
namespace {

::testing::AssertionResult allowed(const std::string& sql) {
  Verdict v = classify(sql);
  if (v.allowed) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "refused " << sql << ": " << v.sqlstate << " " << v.message;
}

void expectWrite(const std::string& sql, const std::string& kind) {
  Verdict v = classify(sql);
  EXPECT_FALSE(v.allowed) << sql;
  EXPECT_EQ(v.refusal, Refusal::Write) << sql << ": " << v.message;
  EXPECT_EQ(v.sqlstate, "25006") << sql;
  EXPECT_EQ(v.message,
            "Write operations are not permitted: " + kind + " statements are not allowed")
      << sql;
  EXPECT_TRUE(v.sets.empty()) << "a refused string reports no facts";
}

TEST(StatementRules, ReadsAreAllowed) {
  EXPECT_TRUE(allowed("SELECT 1"));
  EXPECT_TRUE(allowed("select * from t where id = 1 order by 1 limit 10 offset 5"));
  EXPECT_TRUE(allowed("VALUES (1, 'a'), (2, 'b')"));
  EXPECT_TRUE(allowed("TABLE t"));
  EXPECT_TRUE(allowed("WITH x AS (SELECT 1 AS a) SELECT a FROM x"));
  EXPECT_TRUE(
      allowed("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
              "WHERE n < 10) SELECT * FROM r"));
  EXPECT_TRUE(allowed("SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT SELECT 4"));
  EXPECT_TRUE(allowed("SHOW search_path"));
}

TEST(StatementRules, EmptyStringAndCommentsAreAllowed) {
  for (const char* sql : {"", "   ", "-- only a comment", "/* c */", ";", " ; ; "}) {
    Verdict v = classify(sql);
    EXPECT_TRUE(v.allowed) << sql;
    EXPECT_EQ(v.statement_count, 0) << sql;
    EXPECT_FALSE(v.cacheable) << sql;
  }
}

// A string of several statements names each one's text (for the audit log), and a refusal
// names the statement it is about; one statement, or a string that does not parse, has none.
TEST(StatementRules, StatementsOfAStringAreSpannedAndTheRefusedOneNamed) {
  const auto texts = [](const std::string& sql, const Verdict& v) {
    std::vector<std::string> out;
    for (const StatementSpan& s : v.statements) out.push_back(sql.substr(s.at, s.length));
    return out;
  };
  std::string sql = " SELECT 1 /* a */;\n\tSELECT 'x;y' ;SELECT 3";
  Verdict v = classify(sql);
  ASSERT_TRUE(v.allowed);
  EXPECT_EQ(texts(sql, v),
            (std::vector<std::string>{"SELECT 1 /* a */", "SELECT 'x;y'", "SELECT 3"}));
  EXPECT_EQ(v.refused_statement, -1);
  sql = "SELECT 1; SELECT 2;  ";
  EXPECT_EQ(texts(sql, classify(sql)), (std::vector<std::string>{"SELECT 1", "SELECT 2"}));

  sql = "SELECT 1; DELETE FROM t; SELECT 2";
  v = classify(sql);
  ASSERT_FALSE(v.allowed);
  EXPECT_EQ(v.refused_statement, 1);
  EXPECT_EQ(texts(sql, v), (std::vector<std::string>{"SELECT 1", "DELETE FROM t", "SELECT 2"}));

  EXPECT_TRUE(classify("SELECT 1").statements.empty());
  EXPECT_EQ(classify("DELETE FROM t").refused_statement, -1);
  v = classify("SELECT 1; SELEC 2");
  EXPECT_TRUE(v.statements.empty());
  EXPECT_EQ(v.refused_statement, -1);
}

TEST(StatementRules, DataModificationIsRefused) {
  expectWrite("INSERT INTO t VALUES (1)", "INSERT");
  expectWrite("UPDATE t SET a = 1", "UPDATE");
  expectWrite("DELETE FROM t", "DELETE");
  expectWrite("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE");
  expectWrite("TRUNCATE t", "TRUNCATE");
  expectWrite("SELECT * INTO new_t FROM t", "SELECT INTO");
  expectWrite("CREATE TABLE x (a int)", "CREATE TABLE");
  expectWrite("CREATE TEMP TABLE x (a int)", "CREATE TEMP TABLE");
  expectWrite("CREATE TABLE x AS SELECT 1", "CREATE TABLE AS");
  expectWrite("CREATE MATERIALIZED VIEW m AS SELECT 1", "CREATE MATERIALIZED VIEW");
  expectWrite("DROP TABLE t", "DROP TABLE");
  expectWrite("DROP VIEW v", "DROP VIEW");
  expectWrite("ALTER TABLE t ADD COLUMN b int", "ALTER TABLE");
  expectWrite("CREATE INDEX ON t (a)", "CREATE INDEX");
  expectWrite("CREATE VIEW v2 AS SELECT 1", "CREATE VIEW");
  expectWrite("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", "CREATE FUNCTION");
  expectWrite("GRANT SELECT ON t TO PUBLIC", "GRANT");
  expectWrite("REVOKE SELECT ON t FROM PUBLIC", "REVOKE");
  expectWrite("COMMENT ON TABLE t IS 'x'", "COMMENT ON TABLE");
  expectWrite("SECURITY LABEL ON TABLE t IS 'x'", "SECURITY LABEL");
  expectWrite("CREATE EXTENSION dblink", "CREATE EXTENSION");
  expectWrite("CREATE SCHEMA s2", "CREATE SCHEMA");
  expectWrite("CREATE ROLE r", "CREATE ROLE");
  expectWrite("ALTER ROLE postgres PASSWORD 'x'", "ALTER ROLE");
}

// DEALLOCATE and DISCARD are about the client's own session: the session answers them (see
// SessionStatement), so the verdict says where each stands in the string.
TEST(StatementRules, SessionStatementsAreLocated) {
  const std::string sql =
      "SAVEPOINT a;DEALLOCATE \"_PLAN0x1\"; SELECT 1;\n DISCARD PLANS;DEALLOCATE ALL";
  Verdict v = classify(sql);
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.kinds.session_statements.size(), 3u);
  using Kind = SessionStatement::Kind;
  const auto& s = v.kinds.session_statements;
  EXPECT_EQ(s[0].kind, Kind::Deallocate);
  EXPECT_EQ(s[0].name, "_PLAN0x1");
  EXPECT_EQ(s[0].index, 1);
  EXPECT_EQ(sql.substr(s[0].at, s[0].length), "DEALLOCATE \"_PLAN0x1\"");
  EXPECT_EQ(s[1].kind, Kind::DiscardPlans);
  EXPECT_EQ(s[1].index, 3);
  EXPECT_EQ(sql.substr(s[1].at, s[1].length), "\n DISCARD PLANS");
  EXPECT_EQ(s[2].kind, Kind::DeallocateAll);
  EXPECT_EQ(s[2].index, 4);
  EXPECT_EQ(sql.substr(s[2].at, s[2].length), "DEALLOCATE ALL");
  for (const char* discard : {"DISCARD ALL", "DISCARD SEQUENCES", "DISCARD TEMP", "UNLISTEN *"}) {
    EXPECT_TRUE(classify(discard).allowed) << discard;
    EXPECT_FALSE(classify(discard).cacheable) << discard;
  }
  Verdict explain = classify("EXPLAIN EXECUTE q(1)");
  ASSERT_TRUE(explain.allowed);
  EXPECT_EQ(explain.kinds.executes, std::vector<std::string>{"q"});
}

TEST(StatementRules, MaintenanceAndSessionStateAreRefused) {
  expectWrite("VACUUM", "VACUUM");
  expectWrite("VACUUM FULL t", "VACUUM");
  expectWrite("ANALYZE t", "ANALYZE");
  expectWrite("CHECKPOINT", "CHECKPOINT");
  expectWrite("NOTIFY ch", "NOTIFY");
  expectWrite("LISTEN ch", "LISTEN");
  expectWrite("DO $$ BEGIN PERFORM 1; END $$", "DO");
  expectWrite("CALL p()", "CALL");
  expectWrite("LOAD 'plpgsql'", "LOAD");
  expectWrite("REINDEX TABLE t", "REINDEX");
  expectWrite("CLUSTER t USING t_pkey", "CLUSTER");
  expectWrite("REFRESH MATERIALIZED VIEW m", "REFRESH MATERIALIZED VIEW");
  expectWrite("ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM");
  expectWrite("SET CONSTRAINTS ALL DEFERRED", "SET CONSTRAINTS");
  expectWrite("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION");
  expectWrite("COMMIT PREPARED 'x'", "COMMIT PREPARED");
  expectWrite("ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED");
}

TEST(StatementRules, WritesHiddenInsideReadsAreRefused) {
  expectWrite("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", "INSERT");
  expectWrite("WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING 1) SELECT * FROM a", "DELETE");
  expectWrite("SELECT * FROM (WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u) s",
              "UPDATE");
  expectWrite("SELECT 1 FROM t FOR UPDATE", "SELECT FOR UPDATE");
  expectWrite("SELECT 1 FROM t FOR SHARE", "SELECT FOR SHARE");
  expectWrite("SELECT 1 FROM t FOR NO KEY UPDATE SKIP LOCKED", "SELECT FOR NO KEY UPDATE");
  expectWrite("SELECT 1 FROM t FOR KEY SHARE", "SELECT FOR KEY SHARE");
  expectWrite("SELECT * FROM (SELECT * FROM t FOR UPDATE) s", "SELECT FOR UPDATE");
  expectWrite("SELECT 1; INSERT INTO t VALUES (1)", "INSERT");
  expectWrite("SELECT 1; SELECT 2; DROP TABLE t", "DROP TABLE");
}

TEST(StatementRules, ExplainOnlyOfAllowedQueries) {
  EXPECT_TRUE(allowed("EXPLAIN SELECT * FROM t"));
  EXPECT_TRUE(allowed("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM t"));
  EXPECT_TRUE(allowed("EXPLAIN ANALYZE VALUES (1)"));
  EXPECT_TRUE(allowed("EXPLAIN EXECUTE p(1)"));
  expectWrite("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "INSERT");
  expectWrite("EXPLAIN DELETE FROM t", "DELETE");
  expectWrite("EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1", "CREATE TABLE AS");
  expectWrite("EXPLAIN ANALYZE WITH x AS (DELETE FROM t RETURNING 1) SELECT * FROM x", "DELETE");
  EXPECT_EQ(classify("EXPLAIN SELECT 1").kinds.has_explain, true);
}

TEST(StatementRules, TransactionControl) {
  for (const char* sql :
       {"BEGIN", "BEGIN READ ONLY", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY, DEFERRABLE", "COMMIT", "END", "ROLLBACK",
        "ABORT", "SAVEPOINT s", "RELEASE SAVEPOINT s", "ROLLBACK TO SAVEPOINT s",
        "COMMIT AND CHAIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "SET TRANSACTION SNAPSHOT '00000003-00000001-1'"}) {
    EXPECT_TRUE(allowed(sql));
  }
  Verdict begin = classify("BEGIN ISOLATION LEVEL SERIALIZABLE");
  EXPECT_TRUE(begin.kinds.begins_transaction);
  EXPECT_TRUE(begin.kinds.has_transaction_control);
  EXPECT_EQ(begin.kinds.isolation, "serializable");
  Verdict commit = classify("COMMIT");
  EXPECT_TRUE(commit.kinds.ends_transaction);
  EXPECT_FALSE(commit.kinds.begins_transaction);
  Verdict chain = classify("ROLLBACK AND CHAIN");
  EXPECT_TRUE(chain.kinds.ends_transaction);
  EXPECT_TRUE(chain.kinds.begins_transaction);
  Verdict savepoint = classify("ROLLBACK TO SAVEPOINT a");
  EXPECT_TRUE(savepoint.kinds.has_savepoint);
  EXPECT_FALSE(savepoint.kinds.ends_transaction);
}

TEST(StatementRules, ReadWriteAsSessionDefaultIsRefused) {
  for (const char* sql : {"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
                          "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL "
                          "SERIALIZABLE, READ WRITE",
                          "SELECT 1; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"}) {
    Verdict v = classify(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.refusal, Refusal::ForbiddenParameter) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql;
    EXPECT_NE(v.message.find("READ WRITE"), std::string::npos) << v.message;
  }
}

// lib/pq sends BEGIN READ WRITE for every db.Begin(): accepted, and sent upstream READ ONLY
// (same length, so PostgreSQL's error positions still point into the client's text).
TEST(StatementRules, ReadWriteTransactionGoesUpstreamReadOnly) {
  const std::pair<const char*, const char*> cases[] = {
      {"BEGIN READ WRITE", "BEGIN READ ONLY "},
      {"begin read write;", "begin read ONLY ;"},
      {"START TRANSACTION READ WRITE", "START TRANSACTION READ ONLY "},
      {"BEGIN TRANSACTION READ WRITE", "BEGIN TRANSACTION READ ONLY "},
      {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
       "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY "},
      {"BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
       "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY "},
      {"BEGIN READ /* a /* nested */ comment */ WRITE",
       "BEGIN READ /* a /* nested */ comment */ ONLY "},
      {"BEGIN READ -- to the end\n WRITE, DEFERRABLE",
       "BEGIN READ -- to the end\n ONLY , DEFERRABLE"},
      {"SET TRANSACTION READ WRITE", "SET TRANSACTION READ ONLY "},
      {"BEGIN READ ONLY; SET TRANSACTION READ WRITE",
       "BEGIN READ ONLY; SET TRANSACTION READ ONLY "},
      {"SELECT 1; COMMIT; BEGIN READ WRITE; SELECT 'READ WRITE'",
       "SELECT 1; COMMIT; BEGIN READ ONLY ; SELECT 'READ WRITE'"},
      {"BEGIN READ WRITE, READ WRITE", "BEGIN READ ONLY , READ ONLY "},
  };
  for (const auto& [sql, upstream] : cases) {
    Verdict v = classify(sql);
    ASSERT_TRUE(v.allowed) << sql << ": " << v.message;
    EXPECT_EQ(applyEdits(sql, v.edits), upstream) << sql;
  }
  EXPECT_TRUE(classify("BEGIN READ ONLY").edits.empty());
  EXPECT_TRUE(classify("SELECT 'BEGIN READ WRITE'").edits.empty());
  // The transaction it opens is still read-only: a write inside it is refused by pgro.
  EXPECT_FALSE(classify("BEGIN READ WRITE; INSERT INTO t VALUES (1)").allowed);
}

TEST(StatementRules, Cursors) {
  Verdict declare = classify("DECLARE c CURSOR FOR SELECT * FROM t");
  EXPECT_TRUE(declare.allowed);
  EXPECT_TRUE(declare.kinds.declares_cursor);
  EXPECT_TRUE(allowed("DECLARE c BINARY NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 1"));
  for (const char* sql :
       {"FETCH 10 FROM c", "FETCH ALL IN c", "MOVE NEXT IN c", "CLOSE c", "CLOSE ALL"}) {
    Verdict v = classify(sql);
    EXPECT_TRUE(v.allowed) << sql;
    EXPECT_TRUE(v.kinds.uses_cursor) << sql;
  }
  Verdict hold = classify("DECLARE \"Big\" SCROLL CURSOR WITH HOLD FOR SELECT 1");
  ASSERT_TRUE(hold.allowed) << hold.message;
  EXPECT_EQ(hold.kinds.holds, std::vector<std::string>{"Big"});
  EXPECT_TRUE(classify("DECLARE c CURSOR FOR SELECT 1").kinds.holds.empty());
  EXPECT_EQ(classify("CLOSE c").kinds.closes, std::vector<std::string>{"c"});
  EXPECT_TRUE(classify("CLOSE ALL").kinds.closes_all);
  // The query of a held cursor is checked like any other.
  expectWrite("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t FOR UPDATE", "SELECT FOR UPDATE");
  expectWrite("DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", "SELECT FOR UPDATE");
}

TEST(StatementRules, LockOnlyInAccessShareMode) {
  Verdict v = classify("LOCK TABLE public.t IN ACCESS SHARE MODE");
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.kinds.has_lock);
  expectWrite("LOCK TABLE t", "LOCK ... IN ACCESS EXCLUSIVE MODE");
  expectWrite("LOCK t IN ROW EXCLUSIVE MODE", "LOCK ... IN ROW EXCLUSIVE MODE");
  expectWrite("LOCK t IN SHARE MODE NOWAIT", "LOCK ... IN SHARE MODE");
}

TEST(StatementRules, PreparedStatements) {
  Verdict v = classify(
      "PREPARE q (int) AS SELECT * FROM t WHERE id = $1; EXECUTE q(1); "
      "DEALLOCATE q; DEALLOCATE ALL");
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.kinds.prepares.size(), 1U);
  EXPECT_EQ(v.kinds.prepares[0].name, "q");
  EXPECT_EQ(v.kinds.prepares[0].sql, "PREPARE q (int) AS SELECT * FROM t WHERE id = $1");
  EXPECT_EQ(v.kinds.executes, std::vector<std::string>{"q"});
  EXPECT_EQ(v.kinds.deallocates, std::vector<std::string>{"q"});
  EXPECT_TRUE(v.kinds.deallocates_all);
  expectWrite("PREPARE w AS INSERT INTO t VALUES (1)", "INSERT");
  expectWrite("PREPARE w AS WITH x AS (DELETE FROM t RETURNING 1) SELECT 1", "DELETE");
  Verdict execute = classify("EXECUTE q(pg_terminate_backend(1))");
  EXPECT_EQ(execute.refusal, Refusal::ForbiddenFunction);
}

TEST(StatementRules, CopyOnlyToStdout) {
  for (const char* sql : {"COPY t TO STDOUT", "COPY public.t (id, name) TO stdout",
                          "COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv, HEADER)",
                          "COPY t TO STDOUT (FORMAT binary)"}) {
    Verdict v = classify(sql);
    EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
    EXPECT_TRUE(v.kinds.has_copy_out) << sql;
    EXPECT_FALSE(v.cacheable) << sql;
  }
  expectWrite("COPY t FROM STDIN", "COPY FROM");
  expectWrite("COPY t FROM '/etc/passwd'", "COPY FROM");
  expectWrite("COPY t FROM PROGRAM 'id'", "COPY FROM PROGRAM");
  expectWrite("COPY t TO '/tmp/x'", "COPY TO FILE");
  expectWrite("COPY (SELECT 1) TO PROGRAM 'sh -c id'", "COPY TO PROGRAM");
  expectWrite("COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT", "INSERT");
  expectWrite("COPY (DELETE FROM t RETURNING *) TO STDOUT", "DELETE");
}

TEST(StatementRules, ParseErrorsAreRefusedWithThePostgresMessage) {
  Verdict v = classify("SELEC 1");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.refusal, Refusal::ParseError);
  EXPECT_EQ(v.sqlstate, "42601");
  EXPECT_EQ(v.message, "syntax error at or near \"SELEC\"");
  EXPECT_EQ(v.position, 1);
  Verdict multi = classify("SELECT 1; SELECT FROM WHERE;");
  EXPECT_EQ(multi.refusal, Refusal::ParseError);
  Verdict zero = classify(std::string("SELECT 1\0; DROP TABLE t", 23));
  EXPECT_EQ(zero.refusal, Refusal::ParseError);
}

TEST(StatementRules, NonUtf8ClientBytesAreClassified) {
  // A LATIN1 or WIN1252 session sends its own bytes; they must not fail the tree decoding.
  EXPECT_TRUE(allowed("SELECT 'caf\xe9', 1 AS \"na\xefve\" FROM t WHERE name = '\xff\xfe'"));
  EXPECT_TRUE(allowed("SET application_name = 'r\xe9sum\xe9'"));
  EXPECT_EQ(classify("SELECT pg_read_file('\xe9')").refusal, Refusal::ForbiddenFunction);
  EXPECT_EQ(classify("SELECT * FROM \"pg_authid\" WHERE rolname = '\xe9'").refusal,
            Refusal::SecretRead);
}

TEST(StatementRules, SecretsAreRefused) {
  for (const char* sql :
       {"SELECT rolpassword FROM pg_authid", "SELECT * FROM pg_catalog.pg_authid",
        "SELECT passwd FROM pg_shadow", "TABLE pg_shadow", "SELECT * FROM pg_user_mappings",
        "SELECT * FROM pg_catalog.pg_user_mapping", "COPY pg_authid TO STDOUT",
        "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM \"pg_authid\")",
        "SELECT * FROM U&\"pg_\\0061uthid\""}) {
    Verdict v = classify(sql);
    EXPECT_EQ(v.refusal, Refusal::SecretRead) << sql << ": " << v.message;
    EXPECT_EQ(v.sqlstate, "42501");
  }
  EXPECT_TRUE(allowed("SELECT rolname, rolsuper FROM pg_roles"));
  EXPECT_TRUE(allowed("SELECT usename, passwd FROM pg_user"));
}

// restore_command, archive_command and extension secrets are readable by every role in
// PostgreSQL 15 (pg_read_all_data does not hide them): pgro refuses every read of their values.
TEST(StatementRules, SecretSettingsAreNotReadable) {
  for (const char* sql : {
           "SHOW restore_command",
           "SHOW archive_command",
           "SHOW ARCHIVE_CLEANUP_COMMAND",
           "show recovery_end_command",
           "SHOW primary_conninfo",
           "SHOW \"myapp.api_token\"",
           "SHOW anon.salt",
           "SHOW myapp.api_key",
           "SHOW \"myapp.key\"",
           "SHOW ALL",
           "SELECT current_setting('restore_command')",
           "SELECT pg_catalog.current_setting('Archive_Command', true)",
           "SELECT current_setting('myapp.secret'::text)",
           "SELECT current_setting(name) FROM pg_settings",
           "SELECT current_setting($1)",
           "SELECT * FROM pg_settings",
           "TABLE pg_settings",
           "SELECT name, setting FROM pg_catalog.pg_settings",
           "SELECT name FROM pg_settings WHERE setting LIKE 'scp%'",
           "SELECT s FROM pg_settings s",
           "SELECT to_json(s) FROM pg_settings AS s",
           "SELECT json_agg(pg_settings) FROM pg_settings",
           "SELECT b FROM pg_settings AS s(a, b)",
           "SELECT x.v FROM (SELECT setting AS v FROM pg_settings) x",
           "SELECT reset_val FROM pg_settings WHERE name = 'work_mem' OR true",
           "SELECT setting FROM pg_settings WHERE name IN ('work_mem', 'restore_command')",
           "SELECT setting FROM pg_settings WHERE name = 'restore_command'",
           "SELECT s.setting FROM pg_settings s JOIN t ON true WHERE name = 'work_mem'",
           "SELECT setting FROM pg_settings s WHERE t.name = 'work_mem'",
           "SELECT * FROM pg_show_all_settings()",
           "SELECT pg_catalog.pg_show_all_settings()",
           "SELECT * FROM pg_file_settings",
           "WITH c AS (SELECT * FROM pg_settings) SELECT name FROM c",
           // psql's \dconfig: every changed setting, or a pattern that is not one name
           "SELECT s.name, pg_catalog.current_setting(s.name) FROM pg_catalog.pg_settings s "
           "WHERE s.source <> 'default' AND s.setting IS DISTINCT FROM s.boot_val",
           "SELECT s.name, s.setting FROM pg_settings s WHERE s.name OPERATOR(pg_catalog.~) "
           "'^(.*command)$'",
           "SELECT s.setting FROM pg_settings s WHERE s.name ~ '^(restore_command)$'",
           "SELECT s.setting FROM pg_settings s WHERE s.name ~ 'work_mem'",
           "SELECT current_setting(x.name) FROM (VALUES ('restore_command')) x(name), "
           "pg_settings s WHERE s.name = 'work_mem'",
           "SELECT current_setting(name) FROM pg_settings s, t WHERE s.name = 'work_mem'",
           "SELECT current_setting(s.name) FROM pg_settings s, pg_settings s2 WHERE "
           "s.name = 'work_mem'",
           "SELECT setting FROM pg_settings s(a, name) WHERE name = 'work_mem'",
       }) {
    Verdict v = classify(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql << ": " << v.message;
  }
  EXPECT_EQ(classify("SHOW restore_command").message,
            "permission denied to read setting \"restore_command\": its value may hold a "
            "credential");
  EXPECT_NE(classify("SELECT * FROM pg_settings").message.find("name the settings you need"),
            std::string::npos);
  for (const char* sql : {
           "SHOW work_mem",
           "SHOW TimeZone",
           "SHOW password_encryption",
           "SHOW max_index_keys",
           "SELECT s.name, pg_catalog.current_setting(s.name) FROM pg_catalog.pg_settings s "
           "WHERE pg_catalog.lower(s.name) OPERATOR(pg_catalog.~) '^(work_mem)$' COLLATE "
           "pg_catalog.default ORDER BY 1",
           "SHOW log_replication_commands",
           "SELECT current_setting('server_version_num')::int",
           "SELECT current_setting('search_path', true)",
           "SELECT name, short_desc, unit FROM pg_settings",
           "SELECT count(*) FROM pg_settings",
           "SELECT * FROM pg_settings WHERE name = 'work_mem'",
           "SELECT setting FROM pg_catalog.pg_settings WHERE 'work_mem' = name",
           "SELECT s.setting FROM pg_settings s WHERE s.name IN ('work_mem', 'TimeZone')",
           "SELECT setting FROM pg_settings WHERE name = 'work_mem'::text AND unit = 'kB'",
           "SELECT s.name AS \"Parameter\", s.setting FROM pg_catalog.pg_settings s WHERE "
           "s.name OPERATOR(pg_catalog.~) '^(work_mem)$' ORDER BY 1",
           "SELECT s.name AS \"Parameter\", pg_catalog.current_setting(s.name) AS \"Value\" "
           "FROM pg_catalog.pg_settings s WHERE s.name OPERATOR(pg_catalog.~) "
           "'^(work_mem)$' COLLATE pg_catalog.default ORDER BY 1",
           "SELECT current_setting(name) FROM pg_settings WHERE name = 'work_mem'",
           // pg_dump's shape
           "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name "
           "= 'restrict_nonsystem_relation_kind'",
       }) {
    EXPECT_TRUE(allowed(sql));
  }
}

TEST(StatementRules, TooDeepChainsAreRefusedNotCrashed) {
  std::string chain = "SELECT 1";
  for (int i = 0; i < 60'000; ++i) {
    chain += "+1";
  }
  Verdict v = classify(chain);
  EXPECT_EQ(v.refusal, Refusal::TooComplex);
  EXPECT_EQ(v.sqlstate, "54001");
  // Deep but within bounds: parsed on a helper thread with a bigger stack.
  std::string deep = "SELECT 1";
  for (int i = 0; i < 15'000; ++i) {
    deep += "+1";
  }
  EXPECT_TRUE(classify(deep).allowed);
  // Wide is not deep: a big IN list stays on the caller's thread and is allowed.
  std::string wide = "SELECT * FROM t WHERE id IN (0";
  for (int i = 1; i < 50'000; ++i) {
    wide += "," + std::to_string(i);
  }
  wide += ")";
  EXPECT_TRUE(classify(wide).allowed);
  ClassifierOptions small;
  small.max_query_bytes = 16;
  EXPECT_EQ(classify("SELECT 1 + 2 + 3 + 4", small).refusal, Refusal::TooComplex);
}

TEST(StatementRules, RefusalNamesAreStable) {
  EXPECT_EQ(refusalName(Refusal::None), "none");
  EXPECT_EQ(refusalName(Refusal::Write), "write");
  EXPECT_EQ(refusalName(Refusal::ForbiddenFunction), "forbidden_function");
  EXPECT_EQ(refusalName(Refusal::ForbiddenParameter), "forbidden_parameter");
  EXPECT_EQ(refusalName(Refusal::SecretRead), "secret_read");
  EXPECT_EQ(refusalName(Refusal::ParseError), "parse_error");
  EXPECT_EQ(refusalName(Refusal::Unsupported), "unsupported");
  EXPECT_EQ(refusalName(Refusal::TooComplex), "too_complex");
}

}  // namespace
}  // namespace pgro::policy
