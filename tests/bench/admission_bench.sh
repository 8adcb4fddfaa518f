#!/usr/bin/env bash
# Cache admission on a mixed workload, in ONE run on this machine: pgbench (scale 10) through
# pgro with CACHE_ADMISSION=frequency (TinyLFU on frequency alone, LRU eviction: the policy
# before costs counted) and with CACHE_ADMISSION=cost, each against a fresh pgro with a cache
# smaller than the working set. The mix: point lookups of pgbench_accounts on a Zipfian key
# (hot keys asked very often, ~0.1 ms upstream each) and range aggregates over 50,000 accounts
# (a few ms each, 200 distinct ranges, asked 1/21 of the time). Prints, for each policy, tps,
# the hit ratio of lookups, the upstream time the cache saved (pgro_cache_saved_seconds_total),
# the statements sent upstream and their total time (pgro_query_duration_seconds, forwarded),
# and each script's mean latency. Not part of ctest: timing never gates a test.
#
#   tests/bench/admission_bench.sh                        # 30 s per policy
#   DURATION=60 ENTRIES=300 tests/bench/admission_bench.sh
#   MIN_COST_MS=1 tests/bench/admission_bench.sh          # a third run: cost + CACHE_MIN_COST_MS
#
# Needs an optimised build (the `ci` or `release` preset; PGRO_BIN= to choose), PostgreSQL 15
# and pgbench. Everything runs under one temp dir on 127.0.0.1 and is stopped at exit.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pgro_bin=$(bench_pgro admission_bench)
DURATION=${DURATION:-30}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
SCALE=${SCALE:-10}
ENTRIES=${ENTRIES:-200}  # MAX_CACHE_ENTRIES: fewer than the distinct statements asked
MIN_COST_MS=${MIN_COST_MS:-}

tmp=$(bench_tmpdir admission-bench)
pg_pid=""
pgro_pid=""
cleanup() {
  [[ -n "$pgro_pid" ]] && kill "$pgro_pid" 2>/dev/null && wait "$pgro_pid" 2>/dev/null || true
  [[ -n "$pg_pid" ]] && kill -INT "$pg_pid" 2>/dev/null || true
  sleep 1
  rm -rf "$tmp"
}
trap cleanup EXIT

bench_postgres "$tmp" "$SCALE" shared_buffers=256MB

cat >"$tmp/point.sql" <<'EOF'
\set aid random_zipfian(1, 100000 * :scale, 1.1)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
EOF
cat >"$tmp/aggregate.sql" <<'EOF'
\set lo random(0, 199) * 4000 + 1
SELECT count(*), sum(abalance), avg(abalance), max(filler) FROM pgbench_accounts WHERE aid BETWEEN :lo AND :lo + 49999;
EOF
workload=(-f "$tmp/point.sql@20" -f "$tmp/aggregate.sql@1")

# Warm PostgreSQL's buffers directly, so that the first policy measured is not the one that
# reads the table from disk.
pgbench -n -M simple "${workload[@]}" -c "$CLIENTS" -j "$THREADS" -T 10 \
  -h 127.0.0.1 -p "$pg_port" -U admin bench >/dev/null 2>&1

metric() {  # $1: exposition, $2: sample name with labels; 0 when absent
  awk -v name="$2" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }' <<<"$1"
}

run() {  # $1: CACHE_ADMISSION, $2: CACHE_MIN_COST_MS; prints one line of figures
  local port metrics_port out m
  port=$(free_port)
  metrics_port=$(free_port)
  env -i PATH="$PATH" UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT="$pg_port" UPSTREAM_USER=admin \
    UPSTREAM_DATABASE=bench PROXY_USER=admin PROXY_PASSWORD=pgro-bench-login AUTH=scram-sha-256 \
    LISTEN_HOST=127.0.0.1 LISTEN_PORT="$port" ADMIN_LISTEN=127.0.0.1:0 \
    METRICS_LISTEN=127.0.0.1:$metrics_port LOG_LEVEL=warn POOL_SIZE=5 \
    MAX_CACHE_ENTRIES="$ENTRIES" CACHE_ADMISSION="$1" CACHE_MIN_COST_MS="$2" \
    "$pgro_bin" >>"$tmp/pgro.log" 2>&1 &
  pgro_pid=$!
  for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
  out=$(PGPASSWORD=pgro-bench-login pgbench -n -M simple "${workload[@]}" -c "$CLIENTS" \
    -j "$THREADS" -T "$DURATION" -h 127.0.0.1 -p "$port" -U admin bench 2>&1)
  m=$(curl -s "http://127.0.0.1:$metrics_port/metrics")
  kill "$pgro_pid" && wait "$pgro_pid" 2>/dev/null || true
  pgro_pid=""
  local tps hits misses coalesced saved forwarded upstream refused cheap lat
  tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
  # "SQL script 1: /tmp/.../point.sql" then " - latency average = 0.123 ms"
  lat=$(awk '/^SQL script [0-9]+:/ { n = split($4, p, "/"); name = p[n] }
             /latency average/ && name { printf "%s %s ms, ", name, $5; name = "" }' <<<"$out")
  hits=$(metric "$m" pgro_cache_hits_total)
  misses=$(metric "$m" pgro_cache_misses_total)
  coalesced=$(metric "$m" pgro_cache_coalesced_total)
  saved=$(metric "$m" pgro_cache_saved_seconds_total)
  forwarded=$(metric "$m" 'pgro_queries_total{outcome="forwarded"}')
  upstream=$(metric "$m" 'pgro_query_duration_seconds_sum{outcome="forwarded"}')
  refused=$(metric "$m" 'pgro_cache_admissions_refused_total{reason="outranked"}')
  cheap=$(metric "$m" 'pgro_cache_admissions_refused_total{reason="below_min_cost"}')
  python3 -c '
import sys
a, tps, hits, misses, coalesced, saved, fwd, up, refused, cheap, lat = sys.argv[1:]
hits, misses, coalesced = float(hits), float(misses), float(coalesced)
ratio = (hits + coalesced) / max(hits + misses + coalesced, 1)
lat = lat.rstrip(", ")
print(f"{a}: {float(tps):.0f} tps, hit ratio {ratio:.3f} ({hits:.0f} hits), "
      f"upstream time saved {float(saved):.1f} s, sent upstream {float(fwd):.0f} statements "
      f"taking {float(up):.1f} s, refused {float(refused):.0f} outranked + {float(cheap):.0f} "
      f"below min cost; mean latency {lat}")
' "$1${2:+ min_cost=${2}ms}" "$tps" "$hits" "$misses" "$coalesced" "$saved" "$forwarded" \
    "$upstream" "$refused" "$cheap" "$lat"
}

echo "pgbench -M simple, scale $SCALE, $CLIENTS clients, $DURATION s per policy, MAX_CACHE_ENTRIES=$ENTRIES;" \
  "point lookups (Zipfian 1.1) : range aggregates (200 ranges) = 20 : 1"
run frequency 0
run cost 0
[[ -n "$MIN_COST_MS" ]] && run cost "$MIN_COST_MS"
exit 0
