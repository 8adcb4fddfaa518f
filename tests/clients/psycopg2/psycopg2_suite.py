#!/usr/bin/python3
"""psycopg2 (Debian python3-psycopg2, libpq, text format) through pgro in transaction
pooling mode. Run by pgro_client_env with /usr/bin/python3: PG* point at pgro,
PGRO_DIRECT_* at PostgreSQL itself.

Tried, and expected to work (one function each below):
  - every column type of the fixture (int, bigint, numeric incl. NaN, float8 incl. NaN and
    +-Infinity, text with unicode/quotes/tabs/newlines, bytea, bool, date, timestamptz,
    interval, uuid, json (whitespace kept), jsonb, int[] / text[] with NULL elements, NULL)
    fetched through pgro equal (repr) to the same fetched directly; cursor.description too
  - query parameters of every adapted Python type (client-side interpolation), named
    parameters, ANY(%s) with a list, executemany
  - psycopg2's default non-autocommit mode: implicit BEGIN, the transaction keeps one
    server backend (pg_backend_pid constant), commit / rollback, isolation levels,
    read-only session characteristics
  - SAVEPOINT / error / ROLLBACK TO SAVEPOINT / continue / COMMIT
  - errors and recovery: division by zero (22012), undefined table (42P01), syntax error
    (42601) then a good query on the same connection, in both autocommit modes
  - writes refused with 25006 ReadOnlySqlTransaction; COPY FROM STDIN refused; the
    connection recovers
  - cancel: conn.cancel() from another thread during pg_sleep(10) -> QueryCanceled in < 5 s,
    then the connection is usable
  - server-side named cursors (DECLARE/FETCH inside the transaction): iteration with
    itersize, fetchmany batches, scroll; 100k rows with count and checksum
  - a large client-side result (100k rows) with count and checksum against the direct one
  - COPY ... TO STDOUT (copy_expert / copy_to) equal to direct
  - 30 threads with a connection each at once (pool of 4: they queue), all results right
  - session state with transaction pooling: SET in autocommit mode, connect options
    (-c search_path=...), application_name, DateStyle / TimeZone affecting output
  - a WITH HOLD named cursor used after its transaction committed: pgro keeps the
    session's server connection until the cursor is closed; every row checked
Fails through pgro (pgro bugs, the checks are the proof):
  - startup_options_search_path_list: options='-c search_path=app,public' becomes the single
    schema "app,public" (pgro replays it as SET "search_path" TO 'app,public')
  - search_path_list_on_another_backend / session_state: after SET search_path = app, public
    a statement on another server connection sees search_path '"app, public"' (same replay)
Not tried: TLS (pgro has no TLS yet; libpq's default sslmode=prefer gets 'N'),
LISTEN/NOTIFY (no session to deliver notifications to under transaction pooling).
"""
import datetime
import decimal
import hashlib
import io
import os
import sys
import threading
import time
import traceback
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

psycopg2.extras.register_uuid()

PASSED = []
FAILED = []


def proxy(**kw):
    return psycopg2.connect("", **kw)  # PG* environment: pgro


def direct(**kw):
    return psycopg2.connect(
        host=os.environ["PGRO_DIRECT_HOST"], port=os.environ["PGRO_DIRECT_PORT"],
        user=os.environ["PGRO_DIRECT_USER"], password=os.environ["PGRO_DIRECT_PASSWORD"],
        dbname=os.environ["PGRO_DIRECT_DATABASE"], **kw)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def norm(value):
    """repr-comparable form: memoryview (bytea) as bytes, containers recursively."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return type(value)(norm(v) for v in value)
    return value


def fetch_both(sql, params=None):
    out = []
    for connect in (proxy, direct):
        with connect() as conn:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                out.append((norm(cur.fetchall()), [(d.name, d.type_code) for d in cur.description]))
        conn.close()
    return out


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


@test
def types_round_trip():
    (p_rows, p_desc), (d_rows, d_desc) = fetch_both("SELECT * FROM typed ORDER BY id")
    check(len(p_rows) == 5, f"5 rows expected, got {len(p_rows)}")
    check(p_desc == d_desc, f"description differs: {p_desc} vs {d_desc}")
    for p, d in zip(p_rows, d_rows):
        check(repr(p) == repr(d), f"row differs:\n proxy  {p!r}\n direct {d!r}")
    row2 = p_rows[1]
    check(str(row2[4]) == "nan" and isinstance(row2[4], float), f"float8 NaN: {row2[4]!r}")
    check(p_rows[2][4] == float("inf") and p_rows[3][4] == float("-inf"), "float8 +-Infinity")
    check(p_rows[2][3].is_nan(), "numeric NaN")
    check(bytes(row2[6]) == b"\x00\xff\x10", f"bytea: {bytes(row2[6])!r}")
    check(row2[13] == {"a": [1, 2], "b": 1}, "jsonb")
    check(row2[12] == {"a": [1, 2], "b": 1}, "json parsed")
    check(row2[14] == [1, None, 3] and row2[15] == ["a b", None, "c,d", '"q"'], "arrays")
    check(all(v is None for v in p_rows[4][1:]), "NULL row")
    # json keeps its text exactly: compare the raw text too.
    (p, _), (d, _) = fetch_both("SELECT c_json::text, c_text FROM typed ORDER BY id")
    check(p == d and p[1][0] == '{"b": 1,  "a": [1, 2]}', f"json text {p[1]!r}")
    (p, _), (d, _) = fetch_both(
        "SELECT 'NaN'::numeric, 'Infinity'::numeric, '-Infinity'::float8, 1e308::float8, 5e-324::float8,"
        " 0.1::float8, 1/3::float4, '2024-01-01 12:00+05:30'::timestamptz, 'infinity'::timestamp::text")
    check(repr(p) == repr(d), f"{p!r} vs {d!r}")


@test
def parameters():
    values = [
        42, 2**62, -(2**31), decimal.Decimal("12345678901234567890.123456789"),
        decimal.Decimal("NaN"), 1.5, float("nan"), float("inf"), float("-inf"),
        "it's \"quoted\" \\ back\tslash \u00e9\u2713", "", psycopg2.Binary(b"\x00\x01\xff'"),
        True, False, datetime.date(2024, 2, 29),
        datetime.datetime(2024, 2, 29, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
        datetime.timedelta(days=3, seconds=7, microseconds=1), uuid.UUID(int=12345),
        psycopg2.extras.Json({"k": [1, "two", None]}), [1, 2, None], ["a", "b,c"], None,
    ]
    sql = "SELECT " + ", ".join(["%s"] * len(values))
    (p, _), (d, _) = fetch_both(sql, values)
    check(repr(p) == repr(d), f"\n proxy  {p!r}\n direct {d!r}")
    check(p[0][0] == 42 and p[0][9] == values[9] and bytes(p[0][11]) == b"\x00\x01\xff'",
          f"values {p[0]!r}")
    (p, _), _ = fetch_both("SELECT id FROM big WHERE id = ANY(%(ids)s) AND grp = %(g)s ORDER BY id",
                           {"ids": [1, 101, 201, 202], "g": 1})
    check(p == [(1,), (101,), (201,)], f"ANY/named: {p}")
    with proxy() as conn, conn.cursor() as cur:
        cur.executemany("SELECT %s::int + 1", [(i,) for i in range(20)])  # results discarded
        check(cur.rowcount == 20, f"executemany rowcount {cur.rowcount}")
        cur.execute("SELECT app.add_one(%s)", (41,))
        check(cur.fetchone() == (42,), "function call with parameter")
        cur.execute("SELECT %s || repeat('x', 1000000)", ("big:",))
        check(len(cur.fetchone()[0]) == 1000004, "1 MB text result")
        big_param = "y" * 2_000_000
        cur.execute("SELECT length(%s)", (big_param,))
        check(cur.fetchone() == (2_000_000,), "2 MB parameter")


@test
def default_transaction_mode():
    conn = proxy()
    check(not conn.autocommit, "psycopg2 default is non-autocommit")
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    pid1 = cur.fetchone()[0]
    check(conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS,
          "implicit BEGIN: in transaction")
    cur.execute("SELECT count(*) FROM big")
    cur.execute("SELECT pg_backend_pid()")
    check(cur.fetchone()[0] == pid1, "one backend for the whole transaction")
    cur.execute("SHOW transaction_read_only")
    check(cur.fetchone()[0] == "on", "upstream transaction is read-only")
    conn.commit()
    check(conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE, "idle")
    cur.execute("SELECT 1")
    conn.rollback()
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    cur.execute("SHOW transaction_isolation")
    check(cur.fetchone()[0] == "repeatable read", "isolation level applied")
    conn.commit()
    conn.set_session(isolation_level="SERIALIZABLE", readonly=True, deferrable=True)
    cur.execute("SELECT count(*) FROM typed")
    check(cur.fetchone()[0] == 5, "serializable deferrable read")
    conn.commit()
    conn.close()


@test
def savepoints():
    conn = proxy()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM typed")
    cur.execute("SAVEPOINT s1")
    try:
        cur.execute("SELECT 1/0")
        raise AssertionError("division by zero did not fail")
    except psycopg2.errors.DivisionByZero:
        pass
    try:
        cur.execute("SELECT 1")
        raise AssertionError("aborted transaction accepted a query")
    except psycopg2.errors.InFailedSqlTransaction:
        pass
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.execute("SELECT count(*) FROM app.events")
    check(cur.fetchone() == (50,), "query after ROLLBACK TO")
    cur.execute("SAVEPOINT s2")
    cur.execute("RELEASE SAVEPOINT s2")
    conn.commit()
    cur.execute("SELECT 'after commit'")
    check(cur.fetchone() == ("after commit",), "after commit")
    conn.rollback()
    conn.close()


@test
def errors_and_recovery():
    for autocommit in (False, True):
        conn = proxy()
        conn.autocommit = autocommit
        cur = conn.cursor()
        for sql, exc, state in (
            ("SELECT 1/0", psycopg2.errors.DivisionByZero, "22012"),
            ("SELECT * FROM no_such_table", psycopg2.errors.UndefinedTable, "42P01"),
            ("SELEKT 1", psycopg2.errors.SyntaxError, "42601"),
            ("SELECT 'x'::int", psycopg2.errors.InvalidTextRepresentation, "22P02"),
        ):
            try:
                cur.execute(sql)
                raise AssertionError(f"{sql} did not fail")
            except exc as e:
                check(e.pgcode == state, f"{sql}: {e.pgcode}")
            if not autocommit:
                conn.rollback()
            cur.execute("SELECT count(*) FROM typed")
            check(cur.fetchone() == (5,), f"good query after {sql}")
            if not autocommit:
                conn.commit()
        conn.close()


@test
def writes_refused():
    conn = proxy()
    conn.autocommit = True
    cur = conn.cursor()
    for sql in ("INSERT INTO big VALUES (100001, 1, 'x', 1)", "UPDATE typed SET c_int = 1",
                "DELETE FROM app.events", "CREATE TABLE t (a int)", "TRUNCATE big",
                "SELECT nextval('app.events_id_seq')"):
        try:
            cur.execute(sql)
            raise AssertionError(f"write accepted: {sql}")
        except psycopg2.Error as e:
            check(e.pgcode in ("25006", "42501"), f"{sql}: {e.pgcode} {e.pgerror}")
            if e.pgcode == "25006":
                check("Write operations are not permitted" in str(e), f"message: {e}")
    try:
        cur.copy_expert("COPY big FROM STDIN", io.StringIO("1\t1\tx\t1\n"))
        raise AssertionError("COPY FROM STDIN accepted")
    except psycopg2.Error:
        pass
    cur.execute("SELECT count(*), max(id) FROM big")
    check(cur.fetchone() == (100000, 100000), "usable after refusals, nothing written")
    conn.close()


@test
def cancel():
    conn = proxy()
    conn.autocommit = True
    result = {}

    def run():
        start = time.monotonic()
        try:
            conn.cursor().execute("SELECT pg_sleep(10)")
            result["error"] = None
        except Exception as e:  # noqa: BLE001
            result["error"] = e
        result["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.7)
    conn.cancel()
    t.join(15)
    check(not t.is_alive(), "query still running 15 s after cancel")
    check(isinstance(result["error"], psycopg2.errors.QueryCanceled),
          f"expected QueryCanceled, got {result['error']!r}")
    check(result["elapsed"] < 5, f"cancel took {result['elapsed']:.1f}s")
    cur = conn.cursor()
    cur.execute("SELECT 'alive'")
    check(cur.fetchone() == ("alive",), "connection usable after cancel")
    # Cancel inside a transaction (non-autocommit): the transaction is aborted, not the session.
    conn2 = proxy()
    timer = threading.Timer(0.5, conn2.cancel)
    timer.start()
    try:
        conn2.cursor().execute("SELECT pg_sleep(10)")
        raise AssertionError("not cancelled")
    except psycopg2.errors.QueryCanceled:
        pass
    conn2.rollback()
    cur2 = conn2.cursor()
    cur2.execute("SELECT 2")
    check(cur2.fetchone() == (2,), "usable after cancel in a transaction")
    conn2.close()
    conn.close()


def expected_big_checksum():
    with direct() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(id), sum(amount),"
                    " md5(string_agg(label, ',' ORDER BY id)) FROM big")
        return cur.fetchone()


def checksum(rows):
    count = 0
    id_sum = 0
    amount_sum = decimal.Decimal(0)
    labels = []
    for r in rows:
        count += 1
        id_sum += r[0]
        amount_sum += r[3]
        labels.append(r[2])
    return (count, id_sum, amount_sum, hashlib.md5(",".join(labels).encode()).hexdigest())


BIG_EXPECTED = expected_big_checksum()


@test
def large_result():
    conn = proxy()
    cur = conn.cursor()
    cur.execute("SELECT * FROM big ORDER BY id")
    rows = cur.fetchall()
    check(checksum(rows) == BIG_EXPECTED, f"{checksum(rows)} vs {BIG_EXPECTED}")
    conn.rollback()
    conn.close()


@test
def named_cursor():
    conn = proxy()
    cur = conn.cursor(name="big_cur")
    cur.itersize = 7000
    cur.execute("SELECT * FROM big ORDER BY id")
    check(checksum(cur) == BIG_EXPECTED, "itersize iteration checksum")
    cur.close()
    cur = conn.cursor(name="batch_cur")
    cur.execute("SELECT * FROM big WHERE id <= %s ORDER BY id", (25000,))
    batches = 0
    rows = []
    while True:
        batch = cur.fetchmany(1000)
        if not batch:
            break
        batches += 1
        rows.extend(batch)
    check(batches == 25 and len(rows) == 25000 and rows[-1][0] == 25000, f"{batches} batches")
    cur.close()
    cur = conn.cursor(name="scroll_cur", scrollable=True)
    cur.execute("SELECT id FROM big WHERE id <= 100 ORDER BY id")
    cur.scroll(50, mode="absolute")
    check(cur.fetchone() == (51,), "scroll absolute")
    cur.scroll(-11)
    check(cur.fetchone() == (41,), "scroll relative")
    cur.close()
    conn.commit()
    conn.close()


@test
def with_hold_cursor():
    # WITH HOLD keeps the cursor after COMMIT, on the server connection that declared it:
    # with transaction pooling pgro keeps that connection for the session until the cursor
    # is closed.
    conn = proxy()
    cur = conn.cursor(name="held", withhold=True)
    cur.execute("SELECT id FROM big WHERE id <= 3000 ORDER BY id")
    conn.commit()
    got = [r[0] for r in cur.fetchmany(2000)] + [r[0] for r in cur.fetchall()]
    check(got == list(range(1, 3001)), f"WITH HOLD cursor rows wrong: {len(got)}")
    cur.close()
    conn.close()


@test
def copy_to_stdout():
    outs = []
    for connect in (proxy, direct):
        conn = connect()
        buf = io.StringIO()
        conn.cursor().copy_expert("COPY (SELECT * FROM typed ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", buf)
        big = io.StringIO()
        conn.cursor().copy_to(big, "big")
        outs.append((buf.getvalue(), hashlib.md5(big.getvalue().encode()).hexdigest(),
                     big.getvalue().count("\n")))
        conn.rollback()
        conn.close()
    check(outs[0] == outs[1], "COPY output differs")
    check(outs[0][2] == 100000, f"{outs[0][2]} lines")


@test
def many_connections():
    errors = []
    results = []
    lock = threading.Lock()

    def worker(i):
        try:
            conn = proxy(application_name=f"worker-{i}")
            cur = conn.cursor()
            for j in range(5):
                cur.execute("SELECT %s, count(*), current_setting('application_name') FROM big WHERE grp = %s",
                            (i, (i + j) % 100))
                row = cur.fetchone()
                if row != (i, 1000, f"worker-{i}"):
                    raise AssertionError(f"worker {i} got {row}")
                conn.commit()
            cur.execute("SELECT pg_sleep(0.05)")
            conn.commit()
            conn.close()
            with lock:
                results.append(i)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"worker {i}: {e!r}")

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors, "\n".join(errors))
    check(sorted(results) == list(range(30)), f"{len(results)} of 30 workers finished")
    print(f"       (30 connections through a pool of {os.environ.get('PGRO_POOL_SIZE')}: "
          f"{time.monotonic() - start:.2f}s)")


@test
def startup_options_search_path_list():
    # libpq `options=-c search_path=app,public`: PostgreSQL takes the value as the raw list
    # `app,public` (SHOW prints app,public and app.events is visible as `events`).
    outs = []
    for connect in (proxy, direct):
        conn = connect(options="-c search_path=app,public")
        cur = conn.cursor()
        cur.execute("SHOW search_path")
        outs.append(cur.fetchone()[0])
        conn.close()
    check(outs[0] == outs[1], f"search_path from startup options: pgro {outs[0]!r}, "
          f"PostgreSQL {outs[1]!r}")
    conn = proxy(options="-c search_path=app,public")
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM events")
    check(cur.fetchone() == (50,), "events visible through search_path")
    conn.close()


@test
def search_path_list_on_another_backend():
    # SET search_path = app, public; then force the next statement onto another server
    # connection (three other clients hold transactions, one of them on the connection
    # that ran the SET). pgro must apply the same list there.
    conn = proxy()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET search_path = app, public")
    cur.execute("SELECT pg_backend_pid(), current_setting('search_path')")
    first_pid, value = cur.fetchone()
    check(value == "app, public", f"search_path right after SET: {value!r}")
    holders = []
    held = []
    for _ in range(int(os.environ.get("PGRO_POOL_SIZE", "4")) - 1):
        h = proxy()  # non-autocommit: stays in its transaction, holding a server connection
        c = h.cursor()
        c.execute("SELECT pg_backend_pid()")
        held.append(c.fetchone()[0])
        holders.append(h)
    try:
        cur.execute("SELECT pg_backend_pid(), current_setting('search_path')")
        pid, value = cur.fetchone()
        check(pid != first_pid or first_pid not in held, "did not move to another backend")
        check(value == "app, public",
              f"search_path on backend {pid} (SET ran on {first_pid}): {value!r}, "
              "expected 'app, public'")
        cur.execute("SELECT count(*) FROM events")
        check(cur.fetchone() == (50,), "app.events visible")
    finally:
        for h in holders:
            h.close()
        conn.close()


@test
def session_state():
    conn = proxy(options="-c search_path=app -c statement_timeout=5000",
                 application_name="psycopg2-suite")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM events")  # only visible through search_path
    check(cur.fetchone() == (50,), "startup options search_path")
    cur.execute("SET search_path = app, public")
    cur.execute("SHOW statement_timeout")
    check(cur.fetchone() == ("5s",), "startup options statement_timeout")
    cur.execute("SET TimeZone = 'Asia/Kolkata'")
    cur.execute("SET DateStyle = 'SQL, DMY'")
    cur.execute("SELECT '2024-01-01 00:00:00+00'::timestamptz::text, current_setting('application_name')")
    check(cur.fetchone() == ("01/01/2024 05:30:00 IST", "psycopg2-suite"), "SET applied on later statements")
    # Other clients meanwhile use the pool: their settings must not leak into ours.
    others = [proxy() for _ in range(6)]
    for o in others:
        o.autocommit = True
        o.cursor().execute("SET TimeZone = 'UTC'; SET search_path = public")
    for _ in range(8):
        cur.execute("SELECT current_setting('TimeZone'), current_setting('search_path'),"
                    " current_setting('DateStyle')")
        got = cur.fetchone()
        check(got == ("Asia/Kolkata", "app, public", "SQL, DMY"), f"settings leaked: {got}")
        for o in others:
            c = o.cursor()
            c.execute("SELECT current_setting('TimeZone')")
            got = c.fetchone()
            check(got == ("UTC",), f"others' settings: {got}")
    cur.execute("RESET ALL")
    cur.execute("SELECT current_setting('TimeZone') <> 'Asia/Kolkata'")
    check(cur.fetchone() == (True,), "RESET ALL")
    for o in others:
        o.close()
    conn.close()


print(f"psycopg2 suite: {len(PASSED)} passed, {len(FAILED)} failed")
if FAILED:
    print("failed: " + ", ".join(FAILED), file=sys.stderr)
sys.exit(1 if FAILED else 0)
