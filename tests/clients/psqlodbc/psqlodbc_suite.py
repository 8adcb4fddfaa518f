#!/usr/bin/python3
"""psqlODBC (Debian odbc-postgresql 13, libpq underneath, text format) driven by pyodbc
(python3-pyodbc over unixODBC) through pgro. Run by pgro_client_env with /usr/bin/python3 in
transaction and session pooling (PGRO_POOL_MODE): PG* point at pgro, PGRO_DIRECT_* at
PostgreSQL itself. The driver is named by the path of psqlodbcw.so in a DSN-less connection
string, so no odbc.ini/odbcinst.ini is needed.

What psqlODBC sends (seen in PostgreSQL's log with log_statement=all):
  - pyodbc's default is manual commit: psqlODBC opens `BEGIN;<first statement>` and wraps
    every statement in `SAVEPOINT _EXEC_SVP_0x...` (statement-level rollback);
  - a statement with parameters is prepared server-side (UseServerSidePrepare=1, the
    default) under the name `_PLAN0x<address of the statement handle>`; when pyodbc runs
    other SQL on the cursor the plan is dropped with the simple query
    `SAVEPOINT _per_query_svp_;DEALLOCATE "_PLAN0x...";RELEASE _per_query_svp_`, and the
    next statement is prepared under the same name again;
  - UseDeclareFetch=1 runs a SELECT as `DECLARE "SQL_CUR0x..." CURSOR WITH HOLD FOR ...`
    and `FETCH 100 IN ...` (Fetch=100), the path BI tools use for large extracts;
  - catalog functions (SQLTables, SQLColumns, SQLPrimaryKeys, SQLStatistics, ...) are plain
    queries on pg_catalog.

Tried (one function each below): the prepared path used many times with manual commit and
in autocommit, with the plan dropped and re-prepared, UseServerSidePrepare=1 and 0; every
fixture type and parameters of Python types equal to the same through psqlODBC direct; a
transaction with a savepoint;
100k rows with UseDeclareFetch=1/Fetch=100 and as one plain result; errors then recovery;
writes refused with 25006; SQLCancel from another thread and the query timeout; catalog
functions equal to direct; 20 threads with a connection each, every row checked.
Failed through pgro on main 098feea, pass since 36037fa / ac87ec0 (issue 11 items 4 and 6):
  - prepared_manual_commit_deallocate_and_reprepare, errors_and_recovery and the manual
    commit + UseServerSidePrepare=1 case of server_side_prepare_on_and_off: the DEALLOCATE
    inside `SAVEPOINT _per_query_svp_;DEALLOCATE ...;RELEASE ...` reached the server under
    the client's name, so the next prepare of the name got 42P05 "prepared statement
    "_PLAN0x..." already exists" (autocommit sends a lone DEALLOCATE, which pgro answered)
  - declare_fetch_100k_rows: 0A000 "DECLARE ... WITH HOLD is not supported by pgro"
Not tried: TLS, large objects (lo_* are refused by pgro), SQLSetPos updates (writes).
"""
import datetime
import decimal
import glob
import hashlib
import os
import sys
import threading
import time
import traceback
import uuid

import pyodbc

PASSED = []
FAILED = []
E = os.environ
POOL_MODE = E.get("PGRO_POOL_MODE", "transaction")


def driver_path():
    if E.get("PGRO_ODBC_DRIVER"):
        return E["PGRO_ODBC_DRIVER"]
    found = sorted(glob.glob("/usr/lib/*/odbc/psqlodbcw.so"))
    if not found:
        raise SystemExit("psqlodbcw.so not found: install Debian odbc-postgresql")
    return found[0]


DRIVER = driver_path()


def conn_str(host, port, user, password, database, extra):
    options = {"Driver": "{" + DRIVER + "}", "Server": host, "Port": port, "Database": database,
               "Uid": user, "Pwd": "{" + password + "}", **extra}
    return ";".join(f"{k}={v}" for k, v in options.items()) + ";"


def proxy(autocommit=False, **extra):
    return pyodbc.connect(conn_str(E["PGHOST"], E["PGPORT"], E["PGUSER"], E["PGPASSWORD"],
                                   E["PGDATABASE"], extra), autocommit=autocommit)


def direct(autocommit=False, **extra):
    return pyodbc.connect(conn_str(E["PGRO_DIRECT_HOST"], E["PGRO_DIRECT_PORT"],
                                   E["PGRO_DIRECT_USER"], E["PGRO_DIRECT_PASSWORD"],
                                   E["PGRO_DIRECT_DATABASE"], extra), autocommit=autocommit)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def sqlstate(error):
    return error.args[0] if error.args else None


def expect_error(state, fn, what):
    try:
        fn()
    except pyodbc.Error as e:
        check(sqlstate(e) == state, f"{what}: expected {state}, got {e!r}")
        return e
    raise AssertionError(f"{what}: no error, expected {state}")


def test(fn):
    name = fn.__name__
    start = time.monotonic()
    try:
        fn()
        PASSED.append(name)
        print(f"ok     {name} ({time.monotonic() - start:.2f}s)", flush=True)
    except Exception:  # noqa: BLE001 - every failure is reported, none stops the suite
        FAILED.append(name)
        print(f"FAILED {name}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return fn


def rows(cursor):
    return [tuple(r) for r in cursor.fetchall()]


def description(cursor):
    return [(d[0], d[1], d[3], d[4], d[5]) for d in cursor.description]


@test
def prepared_manual_commit_many_times():
    # pyodbc's default (manual commit), one SQL text run 60 times over 6 transactions.
    conn = proxy()
    cur = conn.cursor()
    pids = set()
    for i in range(60):
        row = tuple(cur.execute("SELECT count(*), ? + 0, pg_backend_pid() FROM big WHERE grp = ?",
                                i, i % 100).fetchone())
        check(row[:2] == (1000, i), f"run {i}: {row}")
        pids.add(row[2])
        if i % 10 == 9:
            check(len(pids) == 1, f"one backend per transaction: {pids}")
            conn.commit()
            pids.clear()
    conn.close()


@test
def prepared_manual_commit_deallocate_and_reprepare():
    # Two SQL texts in turn on one cursor: psqlODBC drops _PLAN0x... with
    # SAVEPOINT _per_query_svp_;DEALLOCATE "_PLAN0x...";RELEASE _per_query_svp_ and prepares
    # the other text under the same name.
    conn = proxy()
    cur = conn.cursor()
    for i in range(30):
        if i % 2:
            row = tuple(cur.execute("SELECT ? + 1, 'odd'", i).fetchone())
            check(row == (i + 1, "odd"), f"run {i}: {row}")
        else:
            row = tuple(cur.execute("SELECT label FROM big WHERE id = ?", i + 1).fetchone())
            check(row == (f"row-{i + 1}",), f"run {i}: {row}")
        if i % 10 == 9:
            conn.commit()
    conn.commit()
    conn.close()


def server_side_prepare_runs(autocommit, ssp):
    conn = proxy(autocommit=autocommit, UseServerSidePrepare=ssp)
    cur = conn.cursor()
    for i in range(50):
        if i % 5 == 4:
            check(cur.execute("SELECT ? || '!'", f"x{i}").fetchone()[0] == f"x{i}!", f"run {i}")
            continue
        got = rows(cur.execute("SELECT id, label FROM big WHERE grp = ? AND id <= ? ORDER BY id",
                               i % 100, 500))
        want = [(g, f"row-{g}") for g in range(1, 501) if g % 100 == i % 100]
        check(got == want, f"run {i}: {got[:3]}")
    if not autocommit:
        conn.commit()
    conn.close()


@test
def server_side_prepare_on_and_off():
    # UseServerSidePrepare=1 spelled out and 0 (psqlODBC then puts the parameters into the
    # text), in autocommit (every execution its own unit: under transaction pooling the plan
    # must exist on whichever server connection runs it) and manual commit. Two SQL texts
    # take turns on the cursor, so the plan is dropped and made again. Every combination is
    # run; the failure lists those that failed.
    failures = []
    for autocommit, ssp in ((True, 1), (False, 1), (True, 0), (False, 0)):
        try:
            server_side_prepare_runs(autocommit, ssp)
        except (pyodbc.Error, AssertionError) as e:
            failures.append(f"autocommit={autocommit} UseServerSidePrepare={ssp}: {e!r}")
    check(not failures, "\n".join(failures))


def typed_both(sql, *params):
    out = []
    for connect in (proxy, direct):
        conn = connect()
        cur = conn.cursor()
        cur.execute(sql, *params)
        out.append((rows(cur), description(cur)))
        conn.rollback()
        conn.close()
    return out


TYPED_COLUMNS = ("SELECT id, c_int, c_bigint, c_numeric, c_float8, c_text, c_bytea, c_bool, c_date,"
                 " c_timestamptz, c_interval, c_uuid, c_json, c_jsonb, c_int_arr, c_text_arr"
                 " FROM typed ORDER BY id")


@test
def types_round_trip():
    # pyodbc cannot make a Decimal of numeric 'NaN' (decimal.ConversionSyntax, direct too):
    # c_numeric comes as text here and as numeric in the query below.
    (p, pd), (d, dd) = typed_both(TYPED_COLUMNS.replace("c_numeric", "c_numeric::text"))
    check(pd == dd, f"description\n proxy  {pd}\n direct {dd}")
    check(len(p) == 5, f"{len(p)} rows")
    for pr, dr in zip(p, d):
        check(repr(pr) == repr(dr), f"\n proxy  {pr!r}\n direct {dr!r}")
    check(p[0][1] == 42 and p[0][2] == 9000000000 and p[0][6] == b"\x01\x02", f"row 1: {p[0]}")
    check(p[1][5].startswith("h\u00e9llo \u2713") and p[1][6] == b"\x00\xff\x10", f"{p[1]}")
    check(p[0][9] == datetime.datetime(2024, 2, 29, 12, 34, 56, 789012)
          or str(p[0][9]).startswith("2024-02-29"), f"timestamptz {p[0][9]!r}")
    check(all(v is None for v in p[4][1:]), "NULL row")
    check(str(p[1][4]) == "nan" and p[2][4] == float("inf") and p[2][3] == "NaN", "NaN, Infinity")
    (p, _), (d, _) = typed_both("SELECT c_numeric FROM typed WHERE c_numeric <> 'NaN' ORDER BY id")
    check(p == d and p[0][0] == decimal.Decimal("3.14159"), f"numeric {p} vs {d}")
    values = [42, 2**62, decimal.Decimal("12345678901234567890.123456789"), 1.5,
              "it's \"quoted\" \\ back\tslash \u00e9\u2713", "", b"\x00\x01\xff'", True,
              datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 1, 2, 3, 456000),
              str(uuid.UUID(int=12345)), None]
    casts = ["int", "bigint", "numeric", "float8", "text", "text", "bytea", "bool", "date",
             "timestamp", "uuid", "text"]
    sql = "SELECT " + ", ".join(f"CAST(? AS {c})" for c in casts)
    (p, _), (d, _) = typed_both(sql, *values)
    check(repr(p) == repr(d), f"parameters\n proxy  {p!r}\n direct {d!r}")
    check(p[0][0] == 42 and p[0][1] == 2**62 and p[0][6] == b"\x00\x01\xff'"
          and p[0][4] == values[4] and p[0][11] is None, f"parameters {p[0]!r}")


@test
def transaction_with_savepoint():
    conn = proxy()
    cur = conn.cursor()
    pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
    cur.execute("SAVEPOINT s1")
    expect_error("42P01", lambda: cur.execute("SELECT * FROM no_such_table"), "in savepoint")
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    check(cur.execute("SELECT count(*) FROM app.events").fetchone()[0] == 50, "after rollback to")
    cur.execute("SAVEPOINT s2")
    check(cur.execute("SELECT ? || 'x'", "a").fetchone()[0] == "ax", "inside s2")
    cur.execute("RELEASE SAVEPOINT s2")
    check(cur.execute("SELECT pg_backend_pid()").fetchone()[0] == pid, "one backend")
    check(cur.execute("SELECT current_setting('transaction_read_only')").fetchone()[0] == "on",
          "read-only transaction")
    conn.commit()
    conn.close()


def big_expected():
    conn = direct()
    row = tuple(conn.cursor().execute(
        "SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id))"
        " FROM big").fetchone())
    conn.close()
    return row


def checksum(batches):
    count, id_sum, amount, labels = 0, 0, decimal.Decimal(0), []
    for batch in batches:
        for r in batch:
            count += 1
            id_sum += r[0]
            amount += r[3]
            labels.append(r[2])
    return (count, id_sum, amount, hashlib.md5(",".join(labels).encode()).hexdigest())


def fetch_batches(cur, size):
    while batch := cur.fetchmany(size):
        yield batch


BIG = big_expected()


@test
def declare_fetch_100k_rows():
    # UseDeclareFetch=1;Fetch=100: DECLARE ... CURSOR WITH HOLD FOR ... / FETCH 100 IN ...
    for autocommit in (False, True):
        conn = proxy(autocommit=autocommit, UseDeclareFetch=1, Fetch=100)
        cur = conn.cursor()
        cur.execute("SELECT * FROM big ORDER BY id")
        got = checksum(fetch_batches(cur, 1000))
        check(got == BIG, f"autocommit={autocommit}: {got} vs {BIG}")
        cur.execute("SELECT id FROM big WHERE grp = ? ORDER BY id", 7)
        ids = [r[0] for r in cur.fetchall()]
        check(ids == list(range(7, 100001, 100)), f"with a parameter: {ids[:3]}... {len(ids)}")
        if not autocommit:
            conn.commit()
        check(cur.execute("SELECT 'after'").fetchone()[0] == "after", "usable after")
        conn.close()


@test
def plain_100k_rows():
    conn = proxy(autocommit=True)
    cur = conn.cursor()
    cur.execute("SELECT * FROM big ORDER BY id")
    got = checksum(fetch_batches(cur, 5000))
    check(got == BIG, f"{got} vs {BIG}")
    conn.close()


@test
def errors_and_recovery():
    for autocommit in (False, True):
        conn = proxy(autocommit=autocommit)
        cur = conn.cursor()
        for sql, params, state in (("SELECT 1/0", (), "22012"),
                                   ("SELECT * FROM no_such_table", (), "42P01"),
                                   ("SELEKT 1", (), "42601"),
                                   ("SELECT CAST(? AS int)", ("x",), "22P02")):
            expect_error(state, lambda: cur.execute(sql, *params), sql)
            # psqlODBC's statement-level rollback keeps the transaction usable.
            check(cur.execute("SELECT count(*) FROM typed").fetchone()[0] == 5, f"after {sql}")
        if not autocommit:
            conn.rollback()
        check(cur.execute("SELECT ? * 2", 21).fetchone()[0] == 42, "prepared after errors")
        if not autocommit:
            conn.commit()
        conn.close()


@test
def writes_refused_25006():
    for autocommit in (False, True):
        conn = proxy(autocommit=autocommit)
        cur = conn.cursor()
        for sql, params in (("INSERT INTO big VALUES (100001, 1, 'x', 1)", ()),
                            ("UPDATE typed SET c_text = ? WHERE id = 1", ("y",)),
                            ("DELETE FROM app.events", ()),
                            ("CREATE TABLE t_new (x int)", ())):
            e = expect_error("25006", lambda: cur.execute(sql, *params), sql)
            check("Write operations are not permitted" in str(e), str(e))
        check(cur.execute("SELECT count(*) FROM big").fetchone()[0] == 100000, "after writes")
        if not autocommit:
            conn.rollback()
        conn.close()


@test
def cancel_and_query_timeout():
    conn = proxy(autocommit=True)
    cur = conn.cursor()
    result = {}

    def run():
        start = time.monotonic()
        try:
            cur.execute("SELECT pg_sleep(10)")
            result["error"] = None
        except pyodbc.Error as e:
            result["error"] = e
        result["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.7)
    cur.cancel()  # SQLCancel: a CancelRequest with the key pgro issued
    t.join(15)
    check(not t.is_alive(), "still running 15 s after SQLCancel")
    check(result["error"] is not None and sqlstate(result["error"]) == "57014",
          repr(result["error"]))
    check(result["elapsed"] < 5, f"cancel took {result['elapsed']:.1f}s")
    check(conn.cursor().execute("SELECT 'alive'").fetchone()[0] == "alive", "usable")
    conn.close()
    # A timeout: psqlODBC refuses pyodbc's Connection.timeout (SQL_ATTR_CONNECTION_TIMEOUT,
    # HY000 "unsupported connect attribute 113", direct too); its own ConnSettings runs SQL
    # at connect, here statement_timeout. Manual commit.
    conn = proxy(ConnSettings="{SET statement_timeout = 1000}")
    start = time.monotonic()
    e = expect_error("57014", lambda: conn.cursor().execute("SELECT pg_sleep(10)"), "timeout")
    elapsed = time.monotonic() - start
    check(elapsed < 5, f"query timeout took {elapsed:.1f}s: {e}")
    conn.rollback()
    check(conn.cursor().execute("SELECT 2").fetchone()[0] == 2, "usable after timeout")
    conn.commit()
    conn.close()


def catalog(connect):
    conn = connect()
    cur = conn.cursor()
    out = {
        "tables": rows(cur.tables(table="big")),
        "app": sorted(rows(cur.tables(schema="app"))),
        "columns": [(r.column_name, r.type_name, r.data_type, r.nullable, r.ordinal_position)
                    for r in cur.columns(table="typed", schema="public")],
        "pk": rows(cur.primaryKeys("big", schema="public")),
        "stats": sorted((r.index_name or "", r.column_name or "", r.non_unique)
                        for r in cur.statistics("big", schema="public")),
        "types": sorted(r.type_name for r in cur.getTypeInfo()),
        "procs": [(r[1], r[2]) for r in cur.procedures(procedure="add_one", schema="app")],
        "dbms": (conn.getinfo(pyodbc.SQL_DBMS_NAME), conn.getinfo(pyodbc.SQL_DBMS_VER)),
    }
    conn.rollback()
    conn.close()
    return out


@test
def catalog_functions():
    p, d = catalog(proxy), catalog(direct)
    for key in p:
        check(p[key] == d[key], f"{key}\n proxy  {p[key]}\n direct {d[key]}")
    check(p["tables"] and p["tables"][0][2] == "big" and p["tables"][0][3] == "TABLE",
          f"tables: {p['tables']}")
    check({r[2]: r[3] for r in p["app"]} == {"events": "TABLE", "big_summary": "VIEW"},
          f"schema app: {p['app']}")
    check([c[0] for c in p["columns"]][:3] == ["id", "c_int", "c_bigint"]
          and len(p["columns"]) == 16, f"columns: {p['columns']}")
    check([(r[3], r[4]) for r in p["pk"]] == [("id", 1)], f"primary key: {p['pk']}")
    check(("big_grp_idx", "grp", 1) in p["stats"], f"statistics: {p['stats']}")
    check(p["procs"] == [("app", "add_one")], f"procedures: {p['procs']}")
    check(p["dbms"][0] == "PostgreSQL" and p["dbms"][1].startswith("15."), f"{p['dbms']}")


@test
def twenty_concurrent_connections():
    errors = []
    barrier = threading.Barrier(20, timeout=60)

    def worker(i):
        try:
            conn = proxy(autocommit=bool(i % 2))  # half manual commit, half autocommit
            cur = conn.cursor()
            barrier.wait()
            for j in range(5):
                grp, limit = (i * 7 + j) % 100, 2000 + i * 100 + j
                # The statement text is this connection's own (the literal owner column): a
                # statement of another connection run with these parameters shows as a wrong owner.
                got = rows(cur.execute(f"SELECT id, grp, label, ?, {i} AS owner FROM big"
                                       " WHERE grp = ? AND id <= ? ORDER BY id", f"c{i}", grp, limit))
                want = [(g, grp, f"row-{g}", f"c{i}", i) for g in range(1, limit + 1)
                        if g % 100 == grp]
                check(len(got) == len(want), f"conn {i} query {j}: {len(got)} rows, want {len(want)}")
                for k, (g, w) in enumerate(zip(got, want)):
                    check(g == w, f"conn {i} query {j} row {k}: got {g}, asked for {w}")
                if not conn.autocommit:
                    conn.commit()
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(f"{i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    check(not any(t.is_alive() for t in threads), "threads still running after 90 s")
    check(not errors, "\n".join(sorted(errors)))


print(f"psqlodbc suite ({POOL_MODE} pooling): {len(PASSED)} passed, {len(FAILED)} failed")
if FAILED:
    print("failed: " + ", ".join(FAILED), file=sys.stderr)
sys.exit(1 if FAILED else 0)
