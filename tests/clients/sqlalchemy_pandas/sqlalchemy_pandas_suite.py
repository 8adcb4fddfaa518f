#!/usr/bin/python3
"""SQLAlchemy 1.4 (python3-sqlalchemy) on psycopg2 and pandas 1.5 (python3-pandas) through
pgro: the stack of notebooks and BI scripts. Run by pgro_client_env with /usr/bin/python3 in
transaction and session pooling (PGRO_POOL_MODE): PG* point at pgro, PGRO_DIRECT_* at
PostgreSQL itself.

psycopg2 binds parameters on the client (text format, simple query protocol); SQLAlchemy's
own "prepared" path is its compiled-statement cache, so a Core select() is compiled once and
sent again and again with new parameters. SQLAlchemy's connection pool keeps psycopg2
connections open between uses and ends each use with ROLLBACK (reset on return).

Tried (one function each below): one compiled select() run 200 times (cache hits), and
pd.read_sql with parameters; every fixture type through pd.read_sql, pd.read_sql_table and
Core equal to the same direct, typed bind parameters; a transaction with begin_nested() (SAVEPOINT) rolled back
after an error; 100k rows streamed (stream_results: a psycopg2 named cursor) and read with
pd.read_sql(chunksize=...); errors then recovery on pooled connections; writes (Core insert,
DataFrame.to_sql) refused with 25006; statement_timeout from connect_args and a cancel from
another thread; the Inspector (schemas, tables, views, columns, keys, indexes, comments) and
MetaData.reflect equal to direct; a QueuePool of 20 with 20 threads holding a connection
each, every row checked.
Also: isolation_level / postgresql_readonly / postgresql_deferrable execution options on one
pooled connection, then its next check-out.
Fails through pgro (pgro bug; the check is the proof):
  - isolation_and_readonly_options: after a connection used postgresql_readonly=True goes
    back to the pool, psycopg2 sends `SET default_transaction_read_only TO DEFAULT` at the
    next check-out (pre-ping toggles autocommit); pgro refuses it with 42501 "READ WRITE is
    not allowed", though the default of every pgro upstream session is on (startup
    options), so the reset keeps the session read-only. The check-out fails.
Not tried: the ORM unit of work (writes), asyncpg/psycopg 3 dialects (other suites).
"""
import datetime
import decimal
import hashlib
import os
import sys
import threading
import time
import traceback
import uuid

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL
from sqlalchemy.engine.default import CACHE_HIT

PASSED = []
FAILED = []
E = os.environ
POOL_MODE = E.get("PGRO_POOL_MODE", "transaction")

PROXY_URL = URL.create("postgresql+psycopg2", username=E["PGUSER"], password=E["PGPASSWORD"],
                       host=E["PGHOST"], port=int(E["PGPORT"]), database=E["PGDATABASE"])
DIRECT_URL = URL.create("postgresql+psycopg2", username=E["PGRO_DIRECT_USER"],
                        password=E["PGRO_DIRECT_PASSWORD"], host=E["PGRO_DIRECT_HOST"],
                        port=int(E["PGRO_DIRECT_PORT"]), database=E["PGRO_DIRECT_DATABASE"])


def proxy_engine(**kw):
    return sa.create_engine(PROXY_URL, future=True, **kw)


def direct_engine(**kw):
    return sa.create_engine(DIRECT_URL, future=True, **kw)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def pgcode(error):
    return getattr(getattr(error, "orig", None), "pgcode", None)


def expect_error(code, fn, what):
    try:
        fn()
    except sa_exc.DBAPIError as e:
        check(pgcode(e) == code, f"{what}: expected {code}, got {pgcode(e)} {e!r}")
        return e
    raise AssertionError(f"{what}: no error, expected {code}")


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


ENGINE = proxy_engine(pool_size=5, pool_pre_ping=True)
DIRECT = direct_engine(pool_size=2)
META = sa.MetaData()
BIG = sa.Table("big", META, autoload_with=DIRECT)
TYPED = sa.Table("typed", META, autoload_with=DIRECT)


@test
def compiled_statement_reused_many_times():
    stmt = (sa.select(sa.func.count(), sa.bindparam("tag", type_=sa.Text))
            .where(BIG.c.grp == sa.bindparam("g")))
    hits = 0
    with ENGINE.connect() as conn:
        for i in range(200):
            result = conn.execute(stmt, {"g": i % 100, "tag": f"t{i}"})
            hits += result.context.cache_hit is CACHE_HIT
            check(tuple(result.one()) == (1000, f"t{i}"), f"run {i}")
            if i % 20 == 19:
                conn.commit()
    check(hits >= 199, f"compiled cache hits {hits} of 200")
    sql = sa.text("SELECT id, label FROM big WHERE grp = :g AND id <= :n ORDER BY id")
    for i in range(30):
        with ENGINE.connect() as conn:
            df = pd.read_sql(sql, conn, params={"g": i, "n": 1000})
        check(df["id"].tolist() == list(range(i or 100, 1001, 100))
              and df["label"].tolist() == [f"row-{x}" for x in df["id"]], f"read_sql {i}")


def frames(sql, **kw):
    out = []
    for engine in (ENGINE, DIRECT):
        with engine.connect() as conn:
            out.append(pd.read_sql(sql, conn, **kw))
    return out


@test
def types_round_trip():
    p, d = frames(sa.text("SELECT * FROM typed ORDER BY id"), coerce_float=False)
    pd.testing.assert_frame_equal(p, d)
    check(str(p["c_timestamptz"].dtype) == "datetime64[ns, UTC]", f"dtypes {p.dtypes.to_dict()}")
    check(p.loc[1, "c_bigint"] == 2**63 - 1 and p.loc[0, "c_numeric"] == decimal.Decimal("3.14159")
          and bytes(p.loc[0, "c_bytea"]) == b"\x01\x02" and p.loc[1, "c_int_arr"] == [1, None, 3]
          and p.loc[0, "c_jsonb"] == {"k": "v", "n": 1.5}
          and p.loc[1, "c_text_arr"] == ["a b", None, "c,d", '"q"'], f"values\n{p.iloc[:2].T}")
    check(p.loc[0, "c_uuid"] == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
          and p.loc[0, "c_interval"] == datetime.timedelta(days=1, seconds=7384), "uuid, interval")
    # read_sql_table: pandas reflects the table, then selects it (pandas 1.5 needs a 1.x-style
    # engine here: with future=True it raises NotImplementedError, direct too).
    p, d = (pd.read_sql_table("events", sa.create_engine(url), schema="app", index_col="id",
                              parse_dates=["at"]) for url in (PROXY_URL, DIRECT_URL))
    pd.testing.assert_frame_equal(p, d)
    check(len(p) == 50 and str(p["at"].dtype) == "datetime64[ns, UTC]", f"{p.dtypes.to_dict()}")
    rows = []
    for engine in (ENGINE, DIRECT):
        with engine.connect() as conn:
            rows.append(repr(conn.execute(sa.select(TYPED).order_by(TYPED.c.id)).all()))
    check(rows[0] == rows[1], f"Core rows\n proxy  {rows[0]}\n direct {rows[1]}")
    values = {"i": 2**62, "n": decimal.Decimal("12345678901234567890.123456789"),
              "f": float("inf"), "t": "it's \"quoted\" \\ \u00e9\u2713", "b": b"\x00\xff'",
              "d": datetime.date(2024, 2, 29),
              "ts": datetime.datetime(2024, 2, 29, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
              "u": uuid.UUID(int=12345), "a": [1, None, 3], "j": {"k": [1, "two", None]}}
    types = {"i": sa.BigInteger, "n": sa.Numeric, "f": sa.Float, "t": sa.Text,
             "b": sa.LargeBinary, "d": sa.Date, "ts": sa.DateTime(timezone=True),
             "u": pg.UUID(as_uuid=True), "a": pg.ARRAY(sa.Integer), "j": pg.JSONB}
    stmt = sa.select(*(sa.cast(sa.bindparam(k, type_=t), t) for k, t in types.items()))
    got = []
    for engine in (ENGINE, DIRECT):
        with engine.connect() as conn:
            got.append(tuple(conn.execute(stmt, values).one()))
    check(got[0] == got[1] == tuple(values.values()), f"parameters\n {got[0]}\n {got[1]}")


@test
def transaction_with_savepoint():
    with ENGINE.begin() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        nested = conn.begin_nested()  # SAVEPOINT sa_savepoint_1
        try:
            conn.execute(sa.text("SELECT * FROM no_such_table"))
            raise AssertionError("no error")
        except sa_exc.ProgrammingError as e:
            check(pgcode(e) == "42P01", repr(e))
            nested.rollback()  # ROLLBACK TO SAVEPOINT
        check(conn.execute(sa.text("SELECT count(*) FROM app.events")).scalar() == 50, "after")
        with conn.begin_nested():
            check(conn.execute(sa.select(sa.literal(3))).scalar() == 3, "second savepoint")
        check(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == pid, "one backend")
        check(conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on", "read-only")
    with orm.Session(ENGINE) as session:  # the ORM Session's begin_nested
        with session.begin():
            with session.begin_nested():
                check(session.execute(sa.select(sa.func.count()).select_from(BIG)).scalar()
                      == 100000, "ORM session")


@test
def isolation_and_readonly_options():
    # One pooled psycopg2 connection (pool_size=1, pre-ping) through every transaction
    # characteristic SQLAlchemy offers, in this order:
    #  - isolation_level: BEGIN ISOLATION LEVEL ...
    #  - postgresql_readonly=False: psycopg2 opens BEGIN READ WRITE; pgro accepts it, the
    #    transaction stays read-only and a write in it gets 25006
    #  - postgresql_readonly=True (+ deferrable): BEGIN ... READ ONLY DEFERRABLE
    #  - then the next check-out: returning the connection put readonly back to its default,
    #    and psycopg2 sends `SET default_transaction_read_only TO DEFAULT` when the pre-ping
    #    switches autocommit (upstream, the default of a pgro session is on)
    #  - isolation_level="AUTOCOMMIT"
    engine = proxy_engine(pool_size=1, max_overflow=0, pool_pre_ping=True)
    steps = ((({"isolation_level": "REPEATABLE READ"}), "repeatable read"),
             (({"postgresql_readonly": False}), "read committed"),
             (({"isolation_level": "SERIALIZABLE", "postgresql_readonly": True,
                "postgresql_deferrable": True}), "serializable"),
             (({}), "read committed"))
    for options, isolation in steps:
        try:
            conn = engine.connect()
        except sa_exc.DBAPIError as e:
            raise AssertionError(f"check-out after the previous step ({options}): {e!r}") from e
        with conn:
            conn = conn.execution_options(**options)
            with conn.begin():
                check(conn.execute(sa.text("SHOW transaction_isolation")).scalar() == isolation,
                      f"{options}: isolation")
                check(conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on",
                      f"{options}: read-only")
                check(conn.execute(sa.select(sa.func.count()).select_from(TYPED)).scalar() == 5,
                      f"{options}: select")
            with conn.begin():
                expect_error("25006", lambda: conn.execute(sa.delete(BIG)), f"{options}: write")
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        check(conn.execute(sa.text("SELECT count(*) FROM big")).scalar() == 100000, "AUTOCOMMIT")
        expect_error("25006", lambda: conn.execute(sa.delete(BIG)), "AUTOCOMMIT write")
    engine.dispose()


def big_expected():
    with DIRECT.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id))"
            " FROM big")).one())


def checksum(rows):
    count, id_sum, amount, labels = 0, 0, decimal.Decimal(0), []
    for r in rows:
        count += 1
        id_sum += r[0]
        amount += decimal.Decimal(str(r[3]))
        labels.append(r[2])
    return (count, id_sum, amount, hashlib.md5(",".join(labels).encode()).hexdigest())


BIG_SUM = big_expected()


@test
def streamed_100k_rows():
    with ENGINE.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=2000).execute(
            sa.select(BIG).order_by(BIG.c.id))
        got = checksum(result)
        check(got == BIG_SUM, f"stream_results: {got} vs {BIG_SUM}")
        conn.commit()
    with ENGINE.connect() as conn:
        chunks = pd.read_sql(sa.text("SELECT id, grp, label, amount FROM big ORDER BY id"),
                             conn.execution_options(stream_results=True), chunksize=20000,
                             coerce_float=False)
        sizes, all_rows = [], []
        for chunk in chunks:
            sizes.append(len(chunk))
            all_rows.extend(chunk.itertuples(index=False))
        check(sizes == [20000] * 5, f"chunks {sizes}")
        check(checksum(all_rows) == BIG_SUM, f"read_sql chunks: {checksum(all_rows)}")


@test
def errors_and_recovery():
    for sql, code in (("SELECT 1/0", "22012"), ("SELECT * FROM no_such_table", "42P01"),
                      ("SELEKT 1", "42601"), ("SELECT 'x'::int", "22P02")):
        with ENGINE.connect() as conn:
            expect_error(code, lambda: conn.execute(sa.text(sql)), sql)
            conn.rollback()
            check(conn.execute(sa.text("SELECT count(*) FROM typed")).scalar() == 5, sql)
    # The pool hands the same psycopg2 connections out again: all still good.
    for i in range(10):
        with ENGINE.connect() as conn:
            check(conn.execute(sa.select(sa.literal(i))).scalar() == i, f"pooled {i}")


@test
def writes_refused_25006():
    with ENGINE.connect() as conn:
        for stmt in (sa.insert(BIG).values(id=100001, grp=1, label="x", amount=1),
                     sa.update(TYPED).values(c_text="y").where(TYPED.c.id == 1),
                     sa.delete(BIG), sa.text("CREATE TABLE t_new (x int)")):
            e = expect_error("25006", lambda: conn.execute(stmt), str(stmt))
            check("Write operations are not permitted" in str(e), str(e))
            conn.rollback()
    frame = pd.DataFrame({"x": [1, 2, 3]})
    e = expect_error("25006", lambda: frame.to_sql("t_frame", ENGINE), "DataFrame.to_sql")
    check("Write operations are not permitted" in str(e), str(e))
    with ENGINE.connect() as conn:
        check(conn.execute(sa.text("SELECT count(*) FROM big")).scalar() == 100000, "after")


@test
def timeout_and_cancel():
    engine = proxy_engine(pool_size=1, connect_args={"options": "-c statement_timeout=1000"})
    with engine.connect() as conn:
        start = time.monotonic()
        expect_error("57014", lambda: conn.execute(sa.text("SELECT pg_sleep(10)")), "timeout")
        check(time.monotonic() - start < 5, "statement_timeout took too long")
        conn.rollback()
        check(conn.execute(sa.text("SHOW statement_timeout")).scalar() == "1s", "setting")
    engine.dispose()
    with ENGINE.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        timer = threading.Timer(0.7, dbapi.cancel)
        timer.start()
        start = time.monotonic()
        expect_error("57014", lambda: conn.execute(sa.text("SELECT pg_sleep(10)")), "cancel")
        check(time.monotonic() - start < 5, "cancel took too long")
        conn.rollback()
        check(conn.execute(sa.text("SELECT 'alive'")).scalar() == "alive", "usable")


def introspect(engine):
    insp = sa.inspect(engine)
    meta = sa.MetaData()
    meta.reflect(engine, schema="app", views=True)
    return {
        "schemas": [s for s in insp.get_schema_names() if s != "information_schema"],
        "tables": insp.get_table_names(),
        "app_tables": insp.get_table_names(schema="app"),
        "app_views": insp.get_view_names(schema="app"),
        "view_def": insp.get_view_definition("big_summary", schema="app"),
        "columns": [(c["name"], repr(c["type"]), c["nullable"], c["default"])
                    for c in insp.get_columns("typed")],
        "event_columns": [(c["name"], repr(c["type"]), c["nullable"], c["default"])
                          for c in insp.get_columns("events", schema="app")],
        "pk": insp.get_pk_constraint("big"),
        "indexes": insp.get_indexes("big"),
        "checks": insp.get_check_constraints("events", schema="app"),
        "fks": insp.get_foreign_keys("typed"),
        "comment": insp.get_table_comment("big"),
        "reflected": sorted((t.fullname, [c.name for c in t.columns])
                            for t in meta.sorted_tables),
        "version": engine.dialect.server_version_info,
    }


@test
def inspector_metadata():
    engine = proxy_engine()
    p, d = introspect(engine), introspect(direct_engine())
    engine.dispose()
    for key in p:
        check(p[key] == d[key], f"{key}\n proxy  {p[key]}\n direct {d[key]}")
    check(p["tables"] == ["big", "typed"] and p["app_tables"] == ["events"]
          and p["app_views"] == ["big_summary"], f"{p['tables']} {p['app_tables']}")
    check({"app", "public"} <= set(p["schemas"]), f"schemas {p['schemas']}")
    check(p["pk"]["constrained_columns"] == ["id"], f"pk {p['pk']}")
    check([i["name"] for i in p["indexes"]] == ["big_grp_idx"], f"indexes {p['indexes']}")
    check(p["comment"]["text"] == "100k rows for large-result tests", f"{p['comment']}")
    check(len(p["columns"]) == 16 and p["columns"][9][1] == "TIMESTAMP(timezone=True)",
          f"columns {p['columns']}")
    check(p["version"][0] == 15, f"server version {p['version']}")


@test
def pool_of_20_concurrent():
    engine = proxy_engine(pool_size=20, max_overflow=0, pool_timeout=60, pool_pre_ping=True)
    errors = []
    barrier = threading.Barrier(20, timeout=60)

    def worker(i):
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
                conn.commit()
                barrier.wait()  # all 20 pooled connections checked out at once
                for j in range(5):
                    grp, limit = (i * 7 + j) % 100, 2000 + i * 100 + j
                    # The text is this connection's own (the literal owner column): another
                    # connection's statement run with these parameters shows as a wrong owner.
                    sql = sa.text(f"SELECT id, grp, label, :tag AS tag, {i} AS owner FROM big"
                                  " WHERE grp = :g AND id <= :n ORDER BY id")
                    df = pd.read_sql(sql, conn, params={"tag": f"c{i}", "g": grp, "n": limit})
                    got = list(df.itertuples(index=False, name=None))
                    want = [(g, grp, f"row-{g}", f"c{i}", i) for g in range(1, limit + 1)
                            if g % 100 == grp]
                    check(len(got) == len(want), f"conn {i} query {j}: {len(got)} rows")
                    for k, (g, w) in enumerate(zip(got, want)):
                        check(g == w, f"conn {i} query {j} row {k}: got {g}, asked for {w}")
                    conn.commit()
            for j in range(5):  # check-out / reset-on-return cycles
                with engine.connect() as conn:
                    got = conn.execute(sa.text("SELECT :i * 1000 + :j"), {"i": i, "j": j}).scalar()
                    check(got == i * 1000 + j, f"conn {i} cycle {j}: {got}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not any(t.is_alive() for t in threads), "threads still running after 120 s")
    check(not errors, "\n".join(sorted(errors)))
    check(engine.pool.checkedin() == 20, f"pool: {engine.pool.status()}")
    engine.dispose()


print(f"sqlalchemy_pandas suite ({POOL_MODE} pooling): {len(PASSED)} passed, {len(FAILED)} failed")
if FAILED:
    print("failed: " + ", ".join(FAILED), file=sys.stderr)
sys.exit(1 if FAILED else 0)
