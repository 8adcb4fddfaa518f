#!/usr/bin/python3
"""asyncpg (Debian python3-asyncpg 0.27, its own protocol code, binary format for every
type) through pgro. Run by pgro_client_env with /usr/bin/python3 in transaction and session
pooling: PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.

Tried, and expected to work (one function each below):
  - the statement cache (named __asyncpg_stmt_N__ statements) used 200 times with two
    statement shapes; conn.prepare() reused, also after an error; statement_cache_size=0
    (the mode asyncpg documents for poolers: Parse "" + Describe + Flush, then Bind "" +
    Execute + Sync, one unit with no Sync between, seen on the wire)
  - every fixture type, binary, through pgro equal (repr) to direct; parameters of Python
    types encoded in binary
  - conn.transaction() with nested blocks (SAVEPOINT / ROLLBACK TO / RELEASE), an error
    inside the nested block; isolation and read-only options
  - a cursor (named portal, Execute with a row limit) over 100k rows and a 100k-row fetch,
    checksummed; copy_from_query equal to direct
  - errors then recovery (22012, 42P01, 42601, 22P02); writes refused with 25006
  - timeout= on a query (asyncpg sends a CancelRequest, the connection stays usable) and
    cancelling the asyncio task; statement_timeout as a server setting
  - introspection: asyncpg's type introspection query for a composite type, custom codecs
    (set_type_codec), PreparedStatement.get_attributes()/get_parameters(), server version
  - asyncpg's pool reset: `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` run by Connection.reset() on every release, and settings gone after it
  - a pool of 20 (min_size=max_size=20) with acquire/release, and 20 plain connections at
    once (half with statement_cache_size=0), each asking for rows that depend on its own
    parameters, every row checked
Not tried: copy_to_table / copy_records_to_table (writes), LISTEN (add_listener: no session
under transaction pooling), TLS (pgro has no TLS in these suites).
"""
import asyncio
import datetime
import decimal
import hashlib
import io
import json
import os
import sys
import time
import traceback
import uuid

import asyncpg

PASSED = []
FAILED = []
PROXY = dict(host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]), user=os.environ["PGUSER"],
             password=os.environ["PGPASSWORD"], database=os.environ["PGDATABASE"])
DIRECT = dict(host=os.environ["PGRO_DIRECT_HOST"], port=int(os.environ["PGRO_DIRECT_PORT"]),
              user=os.environ["PGRO_DIRECT_USER"], password=os.environ["PGRO_DIRECT_PASSWORD"],
              database=os.environ["PGRO_DIRECT_DATABASE"])
RESET_QUERY = "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"


def proxy(**kw):
    return asyncpg.connect(**PROXY, **kw)


def direct(**kw):
    return asyncpg.connect(**DIRECT, **kw)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


async def expect(exc, coro, what):
    try:
        await coro
    except exc as e:
        return e
    except Exception as e:  # noqa: BLE001 - report what came instead
        raise AssertionError(f"{what}: expected {exc.__name__}, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"{what}: expected {exc.__name__}, got success")


async def statement_cache_many_times():
    for kw in ({}, {"statement_cache_size": 0}):
        conn = await proxy(**kw)
        try:
            for i in range(200):
                row = await conn.fetchrow("SELECT count(*), $1::int, min(id) FROM big WHERE grp = $2",
                                          i, i % 100)
                check(tuple(row) == (1000, i, i % 100 or 100), f"{kw} run {i}: {row!r}")
                a = await conn.fetchval("SELECT $1::text || '-a'", str(i))
                check(a == f"{i}-a", f"{kw} second shape: {a!r}")
            await expect(asyncpg.DivisionByZeroError, conn.fetchval("SELECT 100 / $1::int", 0), "div 0")
            check(await conn.fetchval("SELECT 100 / $1::int", 5) == 20, f"{kw}: reuse after error")
        finally:
            await conn.close()
    conn = await proxy()
    try:
        stmt = await conn.prepare("SELECT $1::text || ':' || count(*), $2::int FROM big WHERE grp = $2")
        for i in range(100):
            row = await stmt.fetchrow("p", i % 100)
            check(tuple(row) == ("p:1000", i % 100), f"prepared run {i}: {row!r}")
        div = await conn.prepare("SELECT 100 / $1::int")
        check(await div.fetchval(4) == 25, "div 4")
        await expect(asyncpg.DivisionByZeroError, div.fetchval(0), "prepared div 0")
        check(await div.fetchval(5) == 20, "prepared reuse after error")
        for i in range(10):
            async with conn.transaction():
                check(await stmt.fetchval("t", i) == f"t:1000", "prepared in transaction")
        # executemany: one Bind/Execute per row, one Sync.
        await conn.executemany("SELECT $1::int, $2::text", [(i, str(i)) for i in range(50)])
    finally:
        await conn.close()


async def types_binary_round_trip():
    p, d = await proxy(), await direct()
    try:
        for sql, args in (("SELECT * FROM typed ORDER BY id", ()),
                          ("SELECT * FROM typed WHERE id > $1 ORDER BY id", (0,)),
                          ("SELECT 'NaN'::numeric, '-Infinity'::float4, 1e308::float8, 'infinity'::timestamptz,"
                           " '{{1,2},{3,4}}'::int[], 'x'::char(3), 12::oid, '1.2.3.4/32'::inet, '(1,2)'::point,"
                           " B'1010'::bit(4), '1 day'::interval * $1, 'a & b'::tsquery, '[1,5)'::int4range",
                           (3,))):
            pr, dr = await p.fetch(sql, *args), await d.fetch(sql, *args)
            check(len(pr) > 0 and repr(pr) == repr(dr), f"{sql}:\n proxy  {pr!r}\n direct {dr!r}")
        r = await p.fetchrow("SELECT * FROM typed WHERE id = 2")
        check(r["c_bigint"] == 2**63 - 1 and r["c_float8"] != r["c_float8"] and r["c_bytea"] == b"\x00\xff\x10",
              f"row 2: {r!r}")
        check(r["c_int_arr"] == [1, None, 3] and r["c_text_arr"] == ["a b", None, "c,d", '"q"'], "arrays")
        values = [42, 2**62, -(2**31), decimal.Decimal("12345678901234567890.123456789"), decimal.Decimal("NaN"),
                  1.5, float("inf"), "it's \"quoted\" \\ tab\t\u00e9\u2713", "", b"\x00\x01\xff'", True,
                  datetime.date(2024, 2, 29),
                  datetime.datetime(2024, 2, 29, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
                  datetime.timedelta(days=3, seconds=7, microseconds=1), uuid.UUID(int=12345),
                  json.dumps({"k": [1, "two", None]}), [1, 2, None], ["a", "b,c"], None]
        casts = ["int4", "int8", "int4", "numeric", "numeric", "float8", "float8", "text", "text", "bytea", "bool",
                 "date", "timestamptz", "interval", "uuid", "jsonb", "int4[]", "text[]", "text"]
        sql = "SELECT " + ", ".join(f"${i + 1}::{c}" for i, c in enumerate(casts))
        pr, dr = await p.fetchrow(sql, *values), await d.fetchrow(sql, *values)
        check(repr(pr) == repr(dr), f"parameters:\n proxy  {pr!r}\n direct {dr!r}")
        check(pr[0] == 42 and pr[9] == b"\x00\x01\xff'" and pr[14] == uuid.UUID(int=12345), f"values {pr!r}")
        big = "y" * 2_000_000
        check(await p.fetchval("SELECT length($1)", big) == 2_000_000, "2 MB parameter")
    finally:
        await p.close()
        await d.close()


async def transaction_savepoint():
    conn = await proxy()
    try:
        async with conn.transaction():
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            check(await conn.fetchval("SELECT count(*) FROM big WHERE grp = $1", 3) == 1000, "count")
            check(await conn.fetchval("SELECT pg_backend_pid()") == pid, "one backend per transaction")
            try:
                async with conn.transaction():  # SAVEPOINT
                    await conn.execute("SELECT 1/0")
            except asyncpg.DivisionByZeroError:
                pass  # ROLLBACK TO SAVEPOINT
            check(await conn.fetchval("SELECT count(*) FROM app.events WHERE kind = $1", "kind-1") == 17,
                  "after rollback to savepoint")
            try:
                async with conn.transaction():
                    await conn.execute("INSERT INTO big VALUES ($1, 1, 'x', 1)", 100001)
            except asyncpg.ReadOnlySQLTransactionError:
                pass
            async with conn.transaction():
                async with conn.transaction():
                    check(await conn.fetchval("SELECT 3") == 3, "two levels (RELEASE)")
        check(not conn.is_in_transaction(), "committed")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            check(await conn.fetchval("SHOW transaction_isolation") == "repeatable read", "isolation")
        async with conn.transaction(isolation="serializable", readonly=True, deferrable=True):
            check(await conn.fetchval("SHOW transaction_deferrable") == "on", "deferrable")
        tr = conn.transaction()
        await tr.start()
        await expect(asyncpg.UndefinedTableError, conn.fetch("SELECT * FROM no_such_table"), "missing table")
        await tr.rollback()
        check(await conn.fetchval("SELECT 'after rollback'") == "after rollback", "after manual rollback")
    finally:
        await conn.close()


async def big_expected():
    d = await direct()
    try:
        row = await d.fetchrow("SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id))"
                               " FROM big")
        out = io.BytesIO()
        await d.copy_from_query("SELECT * FROM big ORDER BY id", output=out, format="binary")
        return tuple(row), out.getvalue()
    finally:
        await d.close()


def checksum(rows):
    count, id_sum, amount, labels = 0, 0, decimal.Decimal(0), []
    for r in rows:
        count += 1
        id_sum += r["id"]
        amount += r["amount"]
        labels.append(r["label"])
    return (count, id_sum, amount, hashlib.md5(",".join(labels).encode()).hexdigest())


async def cursor_and_100k_rows():
    expected, copy_direct = await big_expected()
    conn = await proxy()
    try:
        rows = await conn.fetch("SELECT * FROM big WHERE id > $1 ORDER BY id", 0)
        check(checksum(rows) == expected, f"fetch: {checksum(rows)} vs {expected}")
        async with conn.transaction(readonly=True):
            got = [r async for r in conn.cursor("SELECT * FROM big ORDER BY id", prefetch=5000)]
            check(checksum(got) == expected, f"cursor iteration: {checksum(got)}")
            cur = await conn.cursor("SELECT * FROM big WHERE id > $1 ORDER BY id", 99000)
            first = await cur.fetch(10)
            await cur.forward(500)
            row = await cur.fetchrow()
            check([r["id"] for r in first] == list(range(99001, 99011)) and row["id"] == 99511,
                  f"cursor fetch/forward: {first[:2]} {row}")
        out = io.BytesIO()
        status = await conn.copy_from_query("SELECT * FROM big ORDER BY id", output=out, format="binary")
        check(status == "COPY 100000" and out.getvalue() == copy_direct, f"COPY: {status}, {len(out.getvalue())} bytes")
    finally:
        await conn.close()


async def error_then_recovery():
    for kw in ({}, {"statement_cache_size": 0}):
        conn = await proxy(**kw)
        try:
            for sql, args, exc in (("SELECT 1/0", (), asyncpg.DivisionByZeroError),
                                   ("SELECT * FROM no_such_table", (), asyncpg.UndefinedTableError),
                                   ("SELEKT 1", (), asyncpg.PostgresSyntaxError),
                                   ("SELECT $1::text::int", ("x",), asyncpg.InvalidTextRepresentationError),
                                   ("SELECT 1/$1::int", (0,), asyncpg.DivisionByZeroError)):
                await expect(exc, conn.fetch(sql, *args), sql)
                check(await conn.fetchval("SELECT count(*) FROM typed WHERE id <= $1", 4) == 4, f"after {sql}")
                check(await conn.fetchval("SELECT count(*) FROM typed") == 5, f"after {sql}")
        finally:
            await conn.close()


async def writes_refused():
    conn = await proxy()
    try:
        for sql, args in (("INSERT INTO big VALUES (100001, 1, 'x', 1)", ()), ("DELETE FROM typed", ()),
                          ("UPDATE big SET label = $1 WHERE id = $2", ("y", 1)),
                          ("INSERT INTO app.events (kind) VALUES ($1)", ("k",)), ("CREATE TABLE t_new (x int)", ())):
            e = await expect(asyncpg.ReadOnlySQLTransactionError, conn.execute(sql, *args), sql)
            check(e.sqlstate == "25006", f"{sql}: {e.sqlstate}")
    finally:
        await conn.close()
    d = await direct()
    try:
        check(await d.fetchval("SELECT (SELECT count(*) FROM big) + (SELECT count(*) FROM app.events)") == 100050,
              "nothing written")
    finally:
        await d.close()


async def sleeping_backends(d):
    for _ in range(30):
        n = await d.fetchval("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                             " AND query LIKE 'SELECT pg_sleep(%'")
        if n == 0:
            return 0
        await asyncio.sleep(0.1)
    return n


async def cancel_and_timeout():
    d = await direct()
    conn = await proxy()
    try:
        for sql, args in (("SELECT pg_sleep(10)", ()), ("SELECT pg_sleep($1)", (10,))):
            start = time.monotonic()
            await expect(asyncio.TimeoutError, conn.fetch(sql, *args, timeout=0.5), f"{sql} timeout")
            check(time.monotonic() - start < 5, f"timeout took {time.monotonic() - start:.1f}s")
            check(await sleeping_backends(d) == 0, "backend still sleeping after asyncpg's CancelRequest")
            check(await conn.fetchval("SELECT 'alive'") == "alive", "usable after timeout")
        task = asyncio.ensure_future(conn.fetch("SELECT pg_sleep(10)"))
        await asyncio.sleep(0.5)
        task.cancel()
        await expect(asyncio.CancelledError, task, "task.cancel()")
        check(await sleeping_backends(d) == 0, "backend still sleeping after task.cancel()")
        check(await conn.fetchval("SELECT $1::int + 1", 1) == 2, "usable after task.cancel()")
    finally:
        await conn.close()
        await d.close()
    conn = await proxy(server_settings={"statement_timeout": "300", "application_name": "asyncpg-suite"})
    try:
        check(await conn.fetchval("SELECT current_setting('application_name')") == "asyncpg-suite", "app name")
        await expect(asyncpg.QueryCanceledError, conn.fetch("SELECT pg_sleep(3)"), "statement_timeout")
    finally:
        await conn.close()


async def introspection():
    p, d = await proxy(), await direct()
    try:
        # The row type of `typed` is not a builtin codec: asyncpg runs its introspection query.
        pr = await p.fetch("SELECT t FROM typed t ORDER BY id")
        dr = await d.fetch("SELECT t FROM typed t ORDER BY id")
        check(repr(pr) == repr(dr) and pr[0]["t"]["c_text"] == "plain text", f"composite:\n {pr!r}\n {dr!r}")
        check(await p.fetchval("SELECT ROW(1, 'a', NULL)") == (1, "a", None), "record")
        await p.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        check(await p.fetchval("SELECT c_json FROM typed WHERE id = 1") == {"a": 1, "b": [True, None]}, "json codec")
        check(await p.fetchval("SELECT $1::json", {"x": [1]}) == {"x": [1]}, "json encoder")
        meta = []
        for conn in (p, d):
            stmt = await conn.prepare("SELECT id, label, amount, $1::uuid AS u, $2::int[] AS a FROM big WHERE id = $3")
            meta.append((repr(stmt.get_attributes()), repr(stmt.get_parameters()), stmt.get_query()))
        check(meta[0] == meta[1], f"statement metadata:\n {meta[0]}\n {meta[1]}")
        check(p.get_server_version().major == 15, repr(p.get_server_version()))
        check(p.get_settings().server_encoding == d.get_settings().server_encoding == "UTF8", "settings")
        for sql in ("SELECT table_schema, table_name FROM information_schema.tables"
                    " WHERE table_schema = ANY($1::text[]) ORDER BY 1, 2",
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                    " WHERE a.attrelid = 'app.events'::regclass AND a.attnum > 0 AND $1::text[] IS NOT NULL"
                    " ORDER BY a.attnum"):
            pr, dr = await p.fetch(sql, ["public", "app"]), await d.fetch(sql, ["public", "app"])
            check(pr and repr(pr) == repr(dr), f"{sql}:\n {pr!r}\n {dr!r}")
    finally:
        await p.close()
        await d.close()


async def pool_reset_query():
    conn = await proxy()
    try:
        check(conn._get_reset_query() == RESET_QUERY, f"asyncpg's reset query is {conn._get_reset_query()!r}")
        await conn.execute("SET application_name = 'before-reset'")
        await conn.execute(RESET_QUERY)
        check(await conn.fetchval("SELECT current_setting('application_name')") == "", "RESET ALL")
        await conn.execute("SET TimeZone = 'Asia/Kolkata'")
        await conn.reset()  # what Pool.release() calls
        check(await conn.fetchval("SHOW TimeZone") != "Asia/Kolkata", "settings survive Connection.reset()")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(**PROXY, min_size=1, max_size=1)
    try:
        async with pool.acquire() as c:
            await c.execute("SET search_path = app")
            check(await c.fetchval("SELECT count(*) FROM events") == 50, "search_path")
        async with pool.acquire() as c:  # the same connection, reset on release
            check(await c.fetchval("SHOW search_path") == '"$user", public', "search_path after release")
    finally:
        await pool.close()


async def ask_and_check(conn, who, g, r, problems):
    """Rows that depend on (g, r) only; returns the number of rows checked."""
    grp, limit = (g * 7 + r) % 100, 1000 * (1 + (g + r) % 5)
    # The statement text is this client's own too (the literal owner column): another client's
    # statement bound with these parameters shows as a wrong owner.
    rows = await conn.fetch(f"SELECT id, grp, label, $1::int AS who, {g} AS owner FROM big"
                            " WHERE grp = $2 AND id <= $3 ORDER BY id", g, grp, limit)
    want = [i for i in range(grp, limit + 1, 100) if i > 0]
    for row, wid in zip(rows, want):
        if tuple(row) != (wid, grp, f"row-{wid}", g, g):
            problems.append(f"{who} round {r}: asked grp={grp} id<={limit} who={g} owner={g}, got {tuple(row)}")
    if len(rows) != len(want):
        problems.append(f"{who} round {r}: {len(rows)} rows, want {len(want)}")
    lo = g * 1000 + r * 10 + 1
    prefix = f"{who}-r{r}"
    rows2 = await conn.fetch("SELECT $1::text || ':' || id, amount FROM big WHERE id BETWEEN $2 AND $3 ORDER BY id",
                             prefix, lo, lo + 9)
    for i, row in enumerate(rows2):
        wid = lo + i
        if tuple(row) != (f"{prefix}:{wid}", decimal.Decimal(wid * 125) / 100):
            problems.append(f"{who} round {r}: asked {prefix} id={wid}, got {tuple(row)}")
    if len(rows2) != 10:
        problems.append(f"{who} round {r}: second shape {len(rows2)} rows, want 10")
    return len(rows) + len(rows2)


async def run_and_check(label, coros, problems):
    results = await asyncio.gather(*coros, return_exceptions=True)
    checked = 0
    for i, res in enumerate(results):
        if isinstance(res, BaseException):
            problems.append(f"{label} {i}: {type(res).__name__}: {res}")
        else:
            checked += res
    print(f"       ({label}: {checked} rows checked, {len(problems)} wrong rows or errors)", flush=True)
    check(not problems, f"{len(problems)} wrong rows or errors:\n  " + "\n  ".join(problems[:15]))
    return checked


async def pool_of_20():
    pool = await asyncpg.create_pool(**PROXY, min_size=20, max_size=20)
    problems = []
    try:
        async def task(g):
            checked = 0
            for r in range(15):
                async with pool.acquire() as conn:  # release runs the reset query
                    checked += await ask_and_check(conn, f"task{g}", g, r, problems)
            return checked

        await run_and_check("pool of 20, 300 acquire/release", [task(g) for g in range(20)], problems)
        check(pool.get_size() == 20, f"pool size {pool.get_size()}")
    finally:
        await pool.close()


async def twenty_concurrent_connections():
    conns = [await proxy(**({"statement_cache_size": 0} if g % 2 else {})) for g in range(20)]
    problems = []
    try:
        async def task(g):
            checked = 0
            for r in range(25):
                checked += await ask_and_check(conns[g], f"conn{g}{'/unnamed' if g % 2 else ''}", g, r, problems)
            return checked

        await run_and_check("20 connections", [task(g) for g in range(20)], problems)
    finally:
        for c in conns:
            await c.close()


async def main():
    print(f"== asyncpg {asyncpg.__version__} through pgro ({os.environ.get('PGRO_POOL_MODE')} pooling,"
          f" POOL_SIZE={os.environ.get('PGRO_POOL_SIZE')})", flush=True)
    for fn in (statement_cache_many_times, types_binary_round_trip, transaction_savepoint, cursor_and_100k_rows,
               error_then_recovery, writes_refused, cancel_and_timeout, introspection, pool_reset_query,
               pool_of_20, twenty_concurrent_connections):
        name = fn.__name__
        start = time.monotonic()
        try:
            await asyncio.wait_for(fn(), 60)
            PASSED.append(name)
            print(f"ok     {name} ({time.monotonic() - start:.2f}s)", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, none stops the suite
            FAILED.append(name)
            print(f"FAILED {name}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    print(f"asyncpg suite: {len(PASSED)} passed, {len(FAILED)} failed")
    if FAILED:
        print("failed: " + ", ".join(FAILED), file=sys.stderr)
    return 1 if FAILED else 0


sys.exit(asyncio.run(main()))
