--# Cross-client isolation sequences (issue 13): client A sends each line of an entry as one
--# simple Query (errors and refusals are fine), then a fresh client B, and after A has
--# disconnected a fresh client C, must see exactly what a fresh client saw before A came:
--# settings, cursors, LISTEN channels, advisory locks, prepared statements, random().
--# Run by tests/integration/isolation_corpus_test.cpp under POOL_SIZE=1 and 5, in both pool
--# modes.
--# == Settings ==
SET search_path = pg_catalog
-- ----
SET statement_timeout = '4321ms'
-- ----
SET TIME ZONE 'Asia/Tokyo'
-- ----
SET DateStyle = 'German'
-- ----
SET IntervalStyle = 'iso_8601'
-- ----
SET extra_float_digits = 0
-- ----
SET bytea_output = 'escape'
-- ----
SET work_mem = '37MB'
-- ----
SET application_name = 'client-a'
-- ----
SELECT pg_catalog.set_config('work_mem', '36MB', false)
-- ----
SELECT set_config('search_path', 'information_schema', false) FROM pg_settings WHERE name = 'search_path'
-- ----
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE
-- ----
SET default_transaction_isolation = 'repeatable read'
-- ----
SET transform_null_equals = on
-- ----
SET default_text_search_config = 'pg_catalog.german'
-- ----
BEGIN; SET statement_timeout = '1111ms'; COMMIT; SELECT 1/0
-- ----
BEGIN
SAVEPOINT s
SET statement_timeout = '2222ms'
ROLLBACK TO SAVEPOINT s
SET work_mem = '3MB'
COMMIT
-- ----
BEGIN
SET statement_timeout = '3333ms'
COMMIT AND CHAIN
ROLLBACK
-- ----
BEGIN
SET LOCAL search_path = information_schema
SELECT 1
-- ----
SET search_path = information_schema; RESET ALL; SET work_mem = '5MB'
-- ----
SET work_mem = '9MB'
DISCARD ALL
-- ----
PREPARE set_it AS SELECT pg_catalog.set_config('work_mem', '12MB', false)
EXECUTE set_it
--# == Statements, cursors, channels, locks ==
-- ----
PREPARE iso_p AS SELECT 1
-- ----
PREPARE iso_q (int) AS SELECT $1 + 1
EXECUTE iso_q(1)
-- ----
BEGIN
DECLARE iso_c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 10) g
COMMIT
FETCH 1 FROM iso_c
-- ----
LISTEN iso_channel
-- ----
SELECT pg_advisory_lock(4242)
-- ----
SELECT pg_try_advisory_lock(4243)
-- ----
BEGIN
SELECT pg_advisory_xact_lock(4244)
-- ----
SELECT setseed(0.5)
-- ----
SELECT setseed(0.5); SELECT random()
