#!/usr/bin/env bash
# Forwarding cost of the audit log (AUDIT_LOG), in ONE run on this machine: pgbench -S
# -M simple through pgro with AUDIT_LOG=off and with AUDIT_LOG=<file>, alternated ROUNDS
# times so that drift of a shared machine hits both alike; prints the tps of each and the
# ratio, and the proxy's CPU time per transaction (the steadier figure on a busy machine: it
# includes the audit writer thread). Not part of ctest: timing never gates a test. Budget: the file costs < 10% tps.
#
#   tests/bench/audit_bench.sh                       # 3 rounds of 10 s each way
#   ROUNDS=5 DURATION=20 CHAIN=true tests/bench/audit_bench.sh
#
# Needs an optimised build (the `ci` or `release` preset; PGRO_BIN= to choose), PostgreSQL
# 15 and pgbench. Everything runs under one temp dir on 127.0.0.1 and is stopped at exit.
# CACHE=on measures with the result cache on (default off: every statement is forwarded).
# COMPARE=stats measures the query-shape statistics instead: AUDIT_LOG=off both ways,
# QUERY_STATS_TOP_K=0 against QUERY_STATS_TOP_K=${TOP_K:-500}. (The audit comparison runs with
# the statistics off, so that it measures the audit log alone.)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pgro_bin=$(bench_pgro audit_bench)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
SCALE=${SCALE:-10}
CHAIN=${CHAIN:-false}
cache_enabled=false
[[ "${CACHE:-off}" == "on" ]] && cache_enabled=true

tmp=$(bench_tmpdir audit-bench)
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

run() {  # $1: AUDIT_LOG value, $2: QUERY_STATS_TOP_K; prints "tps proxy-CPU-µs-per-transaction"
  local port tps ticks before
  port=$(free_port)
  env -i PATH="$PATH" UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT="$pg_port" UPSTREAM_USER=admin \
    UPSTREAM_DATABASE=bench PROXY_USER=admin PROXY_PASSWORD=pgro-bench-login AUTH=scram-sha-256 \
    LISTEN_HOST=127.0.0.1 LISTEN_PORT="$port" ADMIN_LISTEN=127.0.0.1:0 METRICS_LISTEN=127.0.0.1:0 \
    LOG_LEVEL=warn POOL_SIZE=5 CACHE_ENABLED=$cache_enabled AUDIT_LOG="$1" AUDIT_HASH_CHAIN="$CHAIN" \
    QUERY_STATS_TOP_K="$2" \
    "$pgro_bin" >>"$tmp/pgro.log" 2>&1 &
  pgro_pid=$!
  for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
  # Proxy CPU (all threads, the audit writer included): utime + stime of /proc/PID/stat.
  before=$(awk '{ print $14 + $15 }' "/proc/$pgro_pid/stat")
  tps=$(PGPASSWORD=pgro-bench-login pgbench -n -S -M simple -c "$CLIENTS" -j "$THREADS" \
    -T "$DURATION" -h 127.0.0.1 -p "$port" -U admin bench 2>/dev/null |
    awk '/^tps = / { print $3; exit }')
  ticks=$(( $(awk '{ print $14 + $15 }' "/proc/$pgro_pid/stat") - before ))
  kill "$pgro_pid" && wait "$pgro_pid" 2>/dev/null || true
  pgro_pid=""
  python3 -c 'import os, sys; t = float(sys.argv[1]); print(t, int(sys.argv[2]) * 1e6 / os.sysconf("SC_CLK_TCK") / (t * float(sys.argv[3])))' \
    "$tps" "$ticks" "$DURATION"
}

off=()
on=()
compare=${COMPARE:-audit}
for round in $(seq "$ROUNDS"); do
  rm -f "$tmp/audit.log"
  if [[ "$compare" == stats ]]; then
    off+=("$(run off 0)")
    on+=("$(run off "${TOP_K:-500}")")
    echo "round $round: QUERY_STATS_TOP_K=0 ${off[-1]}, QUERY_STATS_TOP_K=${TOP_K:-500} ${on[-1]} (tps, proxy CPU us/txn)" >&2
  else
    off+=("$(run off 0)")
    on+=("$(run "$tmp/audit.log" 0)")
    lines=$(wc -l <"$tmp/audit.log")
    echo "round $round: AUDIT_LOG=off ${off[-1]}, AUDIT_LOG=file ${on[-1]} (tps, proxy CPU us/txn; $lines lines)" >&2
  fi
done
if [[ "$compare" == stats ]]; then
  off_name="QUERY_STATS_TOP_K=0" on_name="QUERY_STATS_TOP_K=${TOP_K:-500}"
else
  off_name="AUDIT_LOG=off" on_name="AUDIT_LOG=file"
fi
OFF_NAME=$off_name ON_NAME=$on_name python3 - "${off[*]}" "${on[*]}" <<'EOF'
import os, statistics, sys
def pairs(text):
    v = [float(x) for x in text.split()]
    return v[0::2], v[1::2]
off_tps, off_cpu = pairs(sys.argv[1])
on_tps, on_cpu = pairs(sys.argv[2])
t_off, t_on = statistics.mean(off_tps), statistics.mean(on_tps)
c_off, c_on = statistics.mean(off_cpu), statistics.mean(on_cpu)
off_name, on_name = os.environ["OFF_NAME"], os.environ["ON_NAME"]
print(f"pgbench -S -M simple, {len(off_tps)} rounds: {off_name} {t_off:.0f} tps, "
      f"{on_name} {t_on:.0f} tps, ratio {t_on / t_off:.3f} "
      f"({(t_on / t_off - 1) * 100:+.1f}% tps); proxy CPU {c_off:.1f} -> {c_on:.1f} us/txn "
      f"(x{c_on / c_off:.3f})")
EOF
