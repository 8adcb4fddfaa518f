#!/usr/bin/python3
"""Latency of small queries while another client sends large statements (issue 13, section 5).

One client sends statements of STATEMENT_MB megabytes in a loop (refused by pgro's policy, so
PostgreSQL never sees them: only pgro's parse is measured), another times `SELECT 1` on the
same pgro. Prints the median and p95 of `SELECT 1` without and with the large statements.
Not part of ctest: timing never gates a test.

  PGHOST=127.0.0.1 PGPORT=5433 PGUSER=reader PGPASSWORD=... PGDATABASE=postgres \\
    tests/bench/large_statement_latency.py

Run pgro with WORKER_THREADS=1 to put both clients on one event loop (the worst case).
"""
import os
import statistics
import threading
import time

import psycopg

SECONDS = float(os.environ.get("SECONDS_PER_PHASE", "5"))
# Under the classifier's 4 MB limit (longer texts are refused before any parse).
STATEMENT_MB = float(os.environ.get("STATEMENT_MB", "3.5"))
# One element of the IN list; function calls make the walk costlier than numbers.
ITEM = os.environ.get("ITEM", ",abs(%d)")


def large_statement(megabytes):
    parts = ["SELECT 1 WHERE 0 IN (0"]
    size, i = len(parts[0]), 1
    while size < megabytes * (1 << 20):
        item = ITEM % i
        parts.append(item)
        size += len(item)
        i += 1
    parts.append("); INSERT INTO nowhere VALUES (1)")
    return "".join(parts)


def time_select_one(seconds):
    samples = []
    with psycopg.connect(autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            samples.append(time.perf_counter() - started)
            time.sleep(0.005)
    return samples


def stream_large(stop, sent):
    sql = large_statement(STATEMENT_MB)
    with psycopg.connect(autocommit=True) as conn:
        while not stop.is_set():
            try:
                conn.execute(sql)
            except psycopg.Error:
                pass  # refused, as intended
            sent[0] += 1


def report(name, samples):
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print("%-28s n=%5d  median %8.2f ms  p95 %8.2f ms  max %8.2f ms" % (
        name, len(samples), statistics.median(samples) * 1e3, p95 * 1e3, samples[-1] * 1e3))


def main():
    report("SELECT 1 alone", time_select_one(SECONDS))
    stop, sent = threading.Event(), [0]
    streamer = threading.Thread(target=stream_large, args=(stop, sent))
    streamer.start()
    time.sleep(0.5)
    samples = time_select_one(SECONDS)
    stop.set()
    streamer.join()
    report("SELECT 1 + %.1f MB statements" % STATEMENT_MB, samples)
    print("large statements sent: %d" % sent[0])


if __name__ == "__main__":
    main()
