"""The psycopg runs of AuditTest.Psycopg3RunAppearsOnceWithLoginAndRows and
AuditTest.Psycopg2RunAppearsOnceWithLoginAndRows (audit_test.cpp): a fixed set of statements
through the real driver, connected with PG*. The test knows what each returns.

  audit_psycopg.py psycopg3   extended protocol: parameters bound server-side, prepared
                              after prepare_threshold (5) runs, executemany in a pipeline
  audit_psycopg.py psycopg2   simple protocol: parameters interpolated by the client, a
                              string of two statements in one execute()
"""
import sys


def run_psycopg3():
    import psycopg

    with psycopg.connect(application_name="audit-psycopg3") as conn:
        with conn.cursor() as cur:
            for i in range(1, 8):
                cur.execute("SELECT g FROM generate_series(1, %s) g /* audit-pg3-param */", (i,))
                assert len(cur.fetchall()) == i
            cur.executemany("SELECT %s::int /* audit-pg3-many */", [(i,) for i in range(5)])
        conn.commit()


def run_psycopg2():
    import psycopg2

    conn = psycopg2.connect(application_name="audit-psycopg2")
    with conn.cursor() as cur:
        for i in range(1, 4):
            cur.execute("SELECT g FROM generate_series(1, %s) g /* audit-pg2-param */", (i,))
            assert len(cur.fetchall()) == i
        cur.execute(
            "SELECT 1 /* audit-pg2-multi-a */; SELECT g FROM generate_series(1, %s) g "
            "/* audit-pg2-multi-b */", (6,))
        assert len(cur.fetchall()) == 6
    conn.commit()
    conn.close()


{"psycopg3": run_psycopg3, "psycopg2": run_psycopg2}[sys.argv[1]]()
