#!/usr/bin/env bash
# Two pgro replicas in front of one PostgreSQL, with and without the fleet cache
# (CACHE_L2_URL on a redis-server of the script's own), in ONE run on this machine: pgbench
# on each replica at once, a mix of KEYS aggregate queries with a short TTL so that entries
# keep expiring. Prints, each way, the upstream executions of the benchmark's queries
# (PostgreSQL's statement log) and the tps of both replicas together. Not part of ctest.
#
#   tests/bench/fleet_bench.sh                       # 10 s each way, 40 keys, TTL 2 s
#   DURATION=20 KEYS=100 TTL=5 tests/bench/fleet_bench.sh
#
# Needs an optimised build (the `ci` or `release` preset; PGRO_BIN= to choose), PostgreSQL
# 15, pgbench and redis-server. Everything runs under one temp dir on 127.0.0.1.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pgro_bin=$(bench_pgro fleet_bench)
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-4}
KEYS=${KEYS:-40}
TTL=${TTL:-2}

tmp=$(bench_tmpdir fleet-bench)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bench_postgres "$tmp" 5 log_statement=all log_destination=stderr
pids+=("$pg_pid")

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --requirepass bench-secret --save "" \
  --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" -a bench-secret ping >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$tmp/mix.sql" <<SQL
\set k random(0, $((KEYS - 1)))
SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE aid % $KEYS = :k /* fleet-bench */;
SQL

replica() {  # $1: CACHE_L2_URL; sets $port (and adds the pid to pids)
  port=$(free_port)
  env -i PATH="$PATH" UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT="$pg_port" UPSTREAM_USER=admin \
    UPSTREAM_DATABASE=bench PROXY_USER=admin PROXY_PASSWORD=pgro-bench-login AUTH=scram-sha-256 \
    LISTEN_HOST=127.0.0.1 LISTEN_PORT="$port" ADMIN_LISTEN=127.0.0.1:0 METRICS_LISTEN=127.0.0.1:0 \
    LOG_LEVEL=warn POOL_SIZE=4 WORKER_THREADS=1 CACHE_TTL_SECONDS="$TTL" CACHE_L2_URL="$1" \
    "$pgro_bin" >>"$tmp/pgro.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
}

run() {  # $1: CACHE_L2_URL ("" = off); prints "upstream-executions total-tps"
  local a b before after ta tb
  replica "$1"
  a=$port
  replica "$1"
  b=$port
  sleep 0.5
  before=$(grep -c 'fleet-bench' "$tmp/pg.log" || true)
  PGPASSWORD=pgro-bench-login pgbench -n -M simple -f "$tmp/mix.sql" -c "$CLIENTS" -j 1 \
    -T "$DURATION" -h 127.0.0.1 -p "$a" -U admin bench >"$tmp/a.out" 2>&1 &
  local pa=$!
  PGPASSWORD=pgro-bench-login pgbench -n -M simple -f "$tmp/mix.sql" -c "$CLIENTS" -j 1 \
    -T "$DURATION" -h 127.0.0.1 -p "$b" -U admin bench >"$tmp/b.out" 2>&1
  wait "$pa"
  after=$(grep -c 'fleet-bench' "$tmp/pg.log" || true)
  ta=$(awk '/^tps = / { print $3; exit }' "$tmp/a.out")
  tb=$(awk '/^tps = / { print $3; exit }' "$tmp/b.out")
  kill "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
  wait "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
  unset 'pids[-1]'
  unset 'pids[-1]'
  redis-cli -p "$redis_port" -a bench-secret flushall >/dev/null 2>&1 || true
  python3 -c 'import sys; print(int(sys.argv[1]) - int(sys.argv[2]), round(float(sys.argv[3]) + float(sys.argv[4])))' \
    "$after" "$before" "$ta" "$tb"
}

run "" >"$tmp/off"
run "redis://:bench-secret@127.0.0.1:$redis_port" >"$tmp/on"
off=$(cat "$tmp/off")
on=$(cat "$tmp/on")
echo "two replicas, $CLIENTS clients each, $KEYS keys, TTL ${TTL}s, ${DURATION}s:"
echo "  without L2: upstream executions, tps = $off"
echo "  with L2:    upstream executions, tps = $on"
