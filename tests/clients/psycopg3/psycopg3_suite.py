#!/usr/bin/python3
"""psycopg 3 (Debian python3-psycopg 3.1, extended protocol, text and binary formats)
through pgro in transaction pooling mode. Run by pgro_client_env with /usr/bin/python3:
PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.

Tried, and expected to work (one function each below):
  - every fixture type fetched in text AND binary format through pgro equal (repr) to the
    same fetched directly (NaN, +-Infinity, arrays with NULLs, json whitespace, ...)
  - server-side parameter binding of every adapted Python type, text and binary
  - prepared statements: prepare=True and prepare_threshold=0 / default (5), one statement
    executed 60 times over many transactions; the same named statement re-prepared by pgro
    on another server connection (other clients hold the first one); a prepared statement
    that errors, then reused; many distinct prepared statements (prepared_max overflow:
    psycopg 3.1 sends SQL DEALLOCATE, see below)
  - pipeline mode (libpq 14+): several queries in one pipeline, an error in a pipeline
    (the rest aborted until Sync) and recovery, executemany (pipelined in 3.1)
  - default non-autocommit mode; conn.transaction() blocks nested as savepoints; an error
    inside a nested block rolls back to the savepoint and the outer block goes on
  - errors and recovery (22012, 42P01, 42601), writes refused with 25006
  - cancel: conn.cancel() from another thread during pg_sleep(10) -> QueryCanceled in < 5 s
  - server-side named cursors (itersize, fetchmany, scroll), 100k rows with a checksum;
    a large client-side result (100k rows), text and binary
  - COPY ... TO STDOUT (text rows and binary with typed read_row), equal to direct
  - 30 threads with a connection each (pool of 4: they queue); psycopg_pool.ConnectionPool
    of 20 connections; 20 AsyncConnections with asyncio.gather
  - session state: SET in autocommit, then statements on other server connections
DECLARE ... WITH HOLD cursors work: pgro keeps the session's server connection until the
cursor is closed.
Fails through pgro (pgro bug, the check is the proof):
  - prepared_max_overflow_deallocate: psycopg 3.1 (libpq < 17) evicts prepared statements
    with the SQL `DEALLOCATE _pg3_N`; pgro forwards it, but the server only knows pgro's own
    name (pgro_N): 26000 "prepared statement "_pg3_0" does not exist" reaches the app.
Not tried: TLS (pgro has no TLS yet), LISTEN/NOTIFY (no session under transaction pooling).
"""
import asyncio
import datetime
import decimal
import hashlib
import os
import sys
import threading
import time
import traceback
import uuid

import psycopg
import psycopg.errors
from psycopg.types.json import Json, Jsonb

try:
    import psycopg_pool
except ImportError:  # Debian python3-psycopg-pool
    psycopg_pool = None

PASSED = []
FAILED = []
DIRECT = dict(host=os.environ["PGRO_DIRECT_HOST"], port=os.environ["PGRO_DIRECT_PORT"],
              user=os.environ["PGRO_DIRECT_USER"], password=os.environ["PGRO_DIRECT_PASSWORD"],
              dbname=os.environ["PGRO_DIRECT_DATABASE"])
POOL_SIZE = int(os.environ.get("PGRO_POOL_SIZE", "4"))
# In session mode a client keeps one server connection, so "moves to another backend" becomes
# "stays on its backend while others are busy".
SESSION_MODE = os.environ.get("PGRO_POOL_MODE") == "session"


def proxy(**kw):
    return psycopg.connect("", **kw)  # PG* environment: pgro


def direct(**kw):
    return psycopg.connect(**DIRECT, **kw)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


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


def fetch_both(sql, params=None, binary=False, prepare=None):
    out = []
    for connect in (proxy, direct):
        with connect() as conn:
            cur = conn.cursor(binary=binary)
            cur.execute(sql, params, prepare=prepare)
            out.append((cur.fetchall(), [(d.name, d.type_code) for d in cur.description]))
    return out


def hold_other_connections(n):
    """n connections each inside an open transaction: each holds one server connection."""
    holders = []
    for _ in range(n):
        h = proxy()
        h.execute("SELECT 1")
        holders.append(h)
    return holders


@test
def types_round_trip_text_and_binary():
    for binary in (False, True):
        (p, pd), (d, dd) = fetch_both("SELECT * FROM typed ORDER BY id", binary=binary)
        check(len(p) == 5 and pd == dd, f"binary={binary}: description {pd} vs {dd}")
        for pr, dr in zip(p, d):
            check(repr(pr) == repr(dr), f"binary={binary}:\n proxy  {pr!r}\n direct {dr!r}")
        check(str(p[1][4]) == "nan" and p[2][4] == float("inf") and p[3][4] == float("-inf"),
              "float8 NaN/Infinity")
        check(p[2][3].is_nan() and p[1][6] == b"\x00\xff\x10", "numeric NaN, bytea")
        check(p[1][14] == [1, None, 3] and p[1][15] == ["a b", None, "c,d", '"q"'], "arrays")
        check(all(v is None for v in p[4][1:]), "NULL row")
    (p, _), (d, _) = fetch_both(
        "SELECT 'NaN'::numeric, 'Infinity'::float8, '-Infinity'::float4, 1e308::float8,"
        " 5e-324::float8, 0.1::float4, '2024-01-01 12:00+05:30'::timestamptz,"
        " 'infinity'::timestamp::text, '{{1,2},{3,4}}'::int[], 'x'::char(3), 'ab'::name,"
        " 12::oid, '1.2.3.4/32'::inet, 'a & b'::tsquery::text", binary=True)
    check(repr(p) == repr(d), f"{p!r} vs {d!r}")


@test
def parameters_text_and_binary():
    values = [42, 2**62, -(2**31), decimal.Decimal("12345678901234567890.123456789"),
              decimal.Decimal("NaN"), 1.5, float("nan"), float("inf"), float("-inf"),
              "it's \"quoted\" \\ back\tslash \u00e9\u2713", "", b"\x00\x01\xff'", True, False,
              datetime.date(2024, 2, 29),
              datetime.datetime(2024, 2, 29, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
              datetime.timedelta(days=3, seconds=7, microseconds=1), uuid.UUID(int=12345),
              Json({"k": [1, "two", None]}), Jsonb({"z": 1}), [1, 2, None], ["a", "b,c"], None]
    sql = "SELECT " + ", ".join(["%s"] * len(values))
    for binary in (False, True):
        (p, _), (d, _) = fetch_both(sql, values, binary=binary)
        check(repr(p) == repr(d), f"binary={binary}\n proxy  {p!r}\n direct {d!r}")
        check(p[0][0] == 42 and p[0][11] == b"\x00\x01\xff'", f"values {p[0]!r}")
    sql_b = "SELECT " + ", ".join(["%b"] * len(values))  # binary parameters
    (p, _), (d, _) = fetch_both(sql_b, values, binary=True)
    check(repr(p) == repr(d), f"%b params\n proxy  {p!r}\n direct {d!r}")
    (p, _), _ = fetch_both("SELECT id FROM big WHERE id = ANY(%(ids)s) AND grp = %(g)s ORDER BY id",
                           {"ids": [1, 101, 201, 202], "g": 1})
    check(p == [(1,), (101,), (201,)], f"ANY/named: {p}")
    with proxy() as conn:
        big = "y" * 2_000_000
        check(conn.execute("SELECT length(%s)", [big]).fetchone() == (2_000_000,), "2 MB param")
        check(conn.execute("SELECT app.add_one(%s)", [41]).fetchone() == (42,), "function")


@test
def prepared_statements_reused():
    for kwargs, prepare in (({"prepare_threshold": 0}, None), ({}, True), ({}, None)):
        conn = proxy(autocommit=True, **kwargs)
        total = 0
        for i in range(60):
            row = conn.execute("SELECT count(*), %s::int FROM big WHERE grp = %s",
                               [i, i % 100], prepare=prepare).fetchone()
            check(row == (1000, i), f"{kwargs} prepare={prepare}: run {i} got {row}")
            total += 1
        # Also inside explicit transactions (a new server connection per transaction).
        for i in range(10):
            with conn.transaction():
                row = conn.execute("SELECT count(*), %s::int FROM big WHERE grp = %s",
                                   [i, i], prepare=prepare).fetchone()
                check(row == (1000, i), f"in transaction: {row}")
        check(total == 60, "60 runs")
        conn.close()


@test
def prepared_statement_on_another_backend():
    conn = proxy(autocommit=True, prepare_threshold=0)
    q = "SELECT pg_backend_pid(), %s::text || '-' || count(*) FROM typed WHERE id <= %s"
    pid1, v = conn.execute(q, ["a", 5]).fetchone()
    check(v == "a-5", v)
    holders = hold_other_connections(3 if SESSION_MODE else POOL_SIZE - 1)
    try:
        for i in range(5):
            pid2, v = conn.execute(q, [f"b{i}", 3]).fetchone()
            check(v == f"b{i}-3", f"prepared statement on backend {pid2}: {v}")
        held = [h.execute("SELECT pg_backend_pid()").fetchone()[0] for h in holders]
        if SESSION_MODE:
            check(pid2 == pid1 and pid1 not in held, f"session left its backend: {pid1} {pid2} {held}")
        else:  # one of the holders took pid1's connection
            check(pid1 in held and pid2 != pid1, f"did not move backend: {pid1} {pid2} {held}")
    finally:
        for h in holders:
            h.close()
    # Client's prepared statement names are per client: two clients, same statement text.
    other = proxy(autocommit=True, prepare_threshold=0)
    for i in range(10):
        check(other.execute(q, ["o", 1]).fetchone()[1] == "o-1", "other client")
        check(conn.execute(q, ["c", 2]).fetchone()[1] == "c-2", "first client")
    other.close()
    conn.close()


@test
def prepared_statement_errors():
    conn = proxy(autocommit=True, prepare_threshold=0)
    q = "SELECT 100 / %s::int"
    check(conn.execute(q, [4]).fetchone() == (25,), "first run")
    for _ in range(3):
        try:
            conn.execute(q, [0])
            raise AssertionError("division by zero did not fail")
        except psycopg.errors.DivisionByZero:
            pass
        check(conn.execute(q, [5]).fetchone() == (20,), "reuse after error")
    conn.close()


@test
def prepared_max_overflow_deallocate():
    # psycopg 3.1 keeps at most prepared_max statements; evicting one sends the SQL
    # `DEALLOCATE _pg3_N` (extended protocol, unnamed statement; psycopg >= 3.2 with
    # libpq 17 sends a protocol Close instead). pgro names the statement differently on the
    # server (pgro_N), so it has to translate or answer that DEALLOCATE itself.
    conn = proxy(autocommit=True, prepare_threshold=0)
    conn.prepared_max = 5
    for i in range(40):
        check(conn.execute(f"SELECT {i} + %s::int", [1]).fetchone() == (i + 1,), f"stmt {i}")
    conn.close()


@test
def pipeline_mode():
    check(psycopg.Pipeline.is_supported(), "libpq without pipeline support")
    with proxy(autocommit=True) as conn:
        with conn.pipeline():
            c1 = conn.execute("SELECT count(*) FROM big")
            c2 = conn.execute("SELECT %s::text", ["second"])
            c3 = conn.execute("SELECT id FROM typed ORDER BY id")
        check(c1.fetchone() == (100000,) and c2.fetchone() == ("second",), "pipeline results")
        check([r[0] for r in c3.fetchall()] == [1, 2, 3, 4, 5], "pipeline rows")
        try:
            with conn.pipeline():
                conn.execute("SELECT 1")
                conn.execute("SELECT 1/0")
                conn.execute("SELECT 2")
            raise AssertionError("error in pipeline not raised")
        except psycopg.errors.DivisionByZero:
            pass
        check(conn.execute("SELECT 'after'").fetchone() == ("after",), "recovered")
        with conn.pipeline():
            cur = conn.cursor()
            cur.executemany("SELECT %s::int * 2", [(i,) for i in range(50)], returning=True)
        got = []
        while True:
            got.append(cur.fetchone()[0])
            if not cur.nextset():
                break
        check(got == [i * 2 for i in range(50)], f"executemany returning: {got[:5]}...")
    with proxy() as conn:  # non-autocommit pipeline: BEGIN is pipelined too
        with conn.pipeline():
            a = conn.execute("SELECT pg_backend_pid()")
            b = conn.execute("SELECT pg_backend_pid()")
        check(a.fetchone() == b.fetchone(), "one backend per transaction")
        conn.commit()


@test
def default_mode_and_nested_transactions():
    conn = proxy()
    check(not conn.autocommit, "non-autocommit by default")
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    check(conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS, "INTRANS")
    conn.execute("SELECT count(*) FROM big")
    check(conn.execute("SELECT pg_backend_pid()").fetchone()[0] == pid, "same backend")
    conn.commit()
    conn.autocommit = True
    with conn.transaction():
        conn.execute("SELECT 1")
        try:
            with conn.transaction():  # SAVEPOINT
                conn.execute("SELECT * FROM no_such_table")
        except psycopg.errors.UndefinedTable:
            pass  # rolled back to the savepoint
        check(conn.execute("SELECT count(*) FROM app.events").fetchone() == (50,), "after")
        with conn.transaction():
            with conn.transaction():
                check(conn.execute("SELECT 3").fetchone() == (3,), "two levels")
    conn.close()


@test
def errors_and_recovery():
    for autocommit in (False, True):
        conn = proxy(autocommit=autocommit)
        for sql, exc in (("SELECT 1/0", psycopg.errors.DivisionByZero),
                         ("SELECT * FROM no_such_table", psycopg.errors.UndefinedTable),
                         ("SELEKT 1", psycopg.errors.SyntaxError),
                         ("SELECT %s::int", psycopg.errors.InvalidTextRepresentation)):
            try:
                conn.execute(sql, ["x"] if "%s" in sql else None)
                raise AssertionError(f"{sql} did not fail")
            except exc:
                pass
            if not autocommit:
                conn.rollback()
            check(conn.execute("SELECT count(*) FROM typed").fetchone() == (5,), sql)
            if not autocommit:
                conn.commit()
        for sql in ("INSERT INTO big VALUES (100001, 1, 'x', 1)", "DELETE FROM typed"):
            try:
                conn.execute(sql)
                raise AssertionError(f"write accepted: {sql}")
            except psycopg.errors.ReadOnlySqlTransaction as e:
                check("Write operations are not permitted" in str(e), str(e))
            if not autocommit:
                conn.rollback()
        try:
            with conn.cursor().copy("COPY big FROM STDIN") as copy:
                copy.write_row((1, 1, "x", 1))
            raise AssertionError("COPY FROM accepted")
        except psycopg.Error:
            if not autocommit:
                conn.rollback()
        check(conn.execute("SELECT count(*) FROM big").fetchone() == (100000,), "after writes")
        conn.close()


@test
def cancel():
    conn = proxy(autocommit=True)
    result = {}

    def run():
        start = time.monotonic()
        try:
            conn.execute("SELECT pg_sleep(10)")
            result["error"] = None
        except Exception as e:  # noqa: BLE001
            result["error"] = e
        result["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.7)
    conn.cancel()
    t.join(15)
    check(not t.is_alive(), "still running 15 s after cancel")
    check(isinstance(result["error"], psycopg.errors.QueryCanceled), repr(result["error"]))
    check(result["elapsed"] < 5, f"cancel took {result['elapsed']:.1f}s")
    check(conn.execute("SELECT 'alive'").fetchone() == ("alive",), "usable after cancel")
    conn.close()


def big_expected():
    with direct() as conn:
        return conn.execute("SELECT count(*), sum(id), sum(amount),"
                            " md5(string_agg(label, ',' ORDER BY id)) FROM big").fetchone()


def checksum(rows):
    count, id_sum, amount, labels = 0, 0, decimal.Decimal(0), []
    for r in rows:
        count += 1
        id_sum += r[0]
        amount += r[3]
        labels.append(r[2])
    return (count, id_sum, amount, hashlib.md5(",".join(labels).encode()).hexdigest())


BIG = big_expected()


@test
def large_results_and_named_cursors():
    with proxy() as conn:
        for binary in (False, True):
            rows = conn.cursor(binary=binary).execute("SELECT * FROM big ORDER BY id").fetchall()
            check(checksum(rows) == BIG, f"binary={binary}: {checksum(rows)} vs {BIG}")
        cur = conn.cursor(name="big_cur")
        cur.itersize = 6000
        cur.execute("SELECT * FROM big ORDER BY id")
        check(checksum(cur) == BIG, "named cursor iteration")
        cur.close()
        cur = conn.cursor(name="batches", binary=True)
        cur.execute("SELECT * FROM big WHERE id <= %s ORDER BY id", [25000])
        n = 0
        while batch := cur.fetchmany(1000):
            n += len(batch)
        check(n == 25000, f"fetchmany: {n}")
        cur.close()
        cur = conn.cursor(name="scroll", scrollable=True)
        cur.execute("SELECT id FROM big WHERE id <= 100 ORDER BY id")
        cur.scroll(50, mode="absolute")
        check(cur.fetchone() == (51,), "scroll")
        cur.close()
        conn.commit()
        cur = conn.cursor(name="held", withhold=True)
        cur.execute("SELECT id FROM big ORDER BY id")
        conn.commit()
        check([r[0] for r in cur.fetchmany(10)] == list(range(1, 11)), "WITH HOLD rows")
        cur.close()


@test
def copy_to_stdout():
    outs = []
    for connect in (proxy, direct):
        with connect() as conn:
            cur = conn.cursor()
            text = []
            with cur.copy("COPY (SELECT * FROM typed ORDER BY id) TO STDOUT") as copy:
                for data in copy:
                    text.append(bytes(data))
            rows = []
            with cur.copy("COPY (SELECT id, c_float8, c_int_arr, c_bytea FROM typed ORDER BY id)"
                          " TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "float8", "int4[]", "bytea"])
                while (row := copy.read_row()) is not None:
                    rows.append(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
            h = hashlib.md5()
            with cur.copy("COPY big TO STDOUT") as copy:
                for data in copy:
                    h.update(data)
            outs.append((b"".join(text), repr(rows), h.hexdigest()))
    check(outs[0] == outs[1], f"COPY differs: {outs[0][1]} vs {outs[1][1]}")


@test
def many_connections_threads_pool_async():
    errors = []

    def worker(i):
        try:
            with proxy(application_name=f"w{i}") as conn:
                for j in range(5):
                    row = conn.execute("SELECT %s, count(*), current_setting('application_name')"
                                       " FROM big WHERE grp = %s", [i, (i + j) % 100]).fetchone()
                    check(row == (i, 1000, f"w{i}"), f"worker {i}: {row}")
                    conn.commit()
        except Exception as e:  # noqa: BLE001
            errors.append(f"{i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors, "\n".join(errors))

    if psycopg_pool is not None:
        with psycopg_pool.ConnectionPool("", min_size=20, max_size=20, open=True,
                                         kwargs={"autocommit": True}) as pool:
            pool.wait(timeout=30)

            def use(i):
                with pool.connection() as c:
                    check(c.execute("SELECT %s::int + 1", [i]).fetchone() == (i + 1,), "pool")

            ts = [threading.Thread(target=lambda k=k: [use(k * 10 + n) for n in range(10)])
                  for k in range(20)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            check(pool.get_stats().get("requests_num", 0) >= 200, str(pool.get_stats()))
    else:
        print("       (psycopg_pool not installed: ConnectionPool not tried)")

    async def one(i):
        async with await psycopg.AsyncConnection.connect("", autocommit=True) as c:
            cur = await c.execute("SELECT %s::int, pg_sleep(0.02)::text", [i])
            return (await cur.fetchone())[0]

    async def main():
        return await asyncio.gather(*(one(i) for i in range(20)))

    check(asyncio.run(main()) == list(range(20)), "async")


@test
def session_state():
    conn = proxy(autocommit=True)
    conn.execute("SET TimeZone = 'Asia/Kolkata'")
    conn.execute("SET search_path = app")
    holders = hold_other_connections(POOL_SIZE - 1)
    try:
        row = conn.execute("SELECT '2024-01-01 00:00+00'::timestamptz::text,"
                           " (SELECT count(*) FROM events)").fetchone()
        check(row == ("2024-01-01 05:30:00+05:30", 50), f"settings on another backend: {row}")
    finally:
        for h in holders:
            h.close()
    conn.close()


print(f"psycopg3 suite: {len(PASSED)} passed, {len(FAILED)} failed")
if FAILED:
    print("failed: " + ", ".join(FAILED), file=sys.stderr)
sys.exit(1 if FAILED else 0)
