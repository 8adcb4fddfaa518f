#!/usr/bin/env bash
# Where pgro's forwarding time goes, in counts that a shared, noisy machine does not blur:
# system calls per transaction (strace -c over the whole process, every thread) for pgro and
# PgBouncer side by side, and pgro's user-space instructions per transaction (callgrind).
# Not part of ctest: it measures, it does not gate.
#
#   tests/bench/syscalls.sh                       # modes simple extended prepared
#   MODES=simple TRANSACTIONS=4000 tests/bench/syscalls.sh
#   CALLGRIND=0 tests/bench/syscalls.sh           # skip the (slow) instruction counts
#
# Starts, as the postgres OS user under one temp dir on 127.0.0.1: PostgreSQL 15 (pgbench
# scale 1), PgBouncer (transaction mode, pool 5; Debian's 1.18 has no -M prepared, so that
# mode is pgro only) and pgro (CACHE_ENABLED=false, POOL_SIZE=5, WORKER_THREADS=2). Each
# mode runs pgbench -S -c $CLIENTS -j 2 -t $TRANSACTIONS per client against each proxy
# while strace -c -f is attached. Everything started is stopped at exit.
# Needs root, strace, valgrind, pgbouncer and a built pgro ($PGRO_BIN; default the release
# build, else the ci build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pgro_bin=${PGRO_BIN:-}
if [[ -z "$pgro_bin" ]]; then
  for b in "$root/build/release/dataplane/pgro" "$root/build/ci/dataplane/pgro"; do
    [[ -x "$b" ]] && { pgro_bin=$b; break; }
  done
fi
[[ -x "${pgro_bin:-}" ]] || { echo "syscalls.sh: build pgro first (cmake --preset release)" >&2; exit 2; }
for tool in strace pgbouncer pgbench; do
  command -v "$tool" >/dev/null || { echo "syscalls.sh: $tool is missing" >&2; exit 2; }
done
MODES=${MODES:-"simple extended prepared"}
CLIENTS=${CLIENTS:-4}
TRANSACTIONS=${TRANSACTIONS:-2000}
CALLGRIND=${CALLGRIND:-1}
pg_port=${PG_PORT:-55881} pgb_port=${PGB_PORT:-55882} pgro_port=${PGRO_PORT:-55883}
pgbin=/usr/lib/postgresql/15/bin

tmp=$(mktemp -d /tmp/pgro-syscalls.XXXXXX)
chown postgres "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  su postgres -c "$pgbin/pg_ctl -D $tmp/data -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

su postgres -c "$pgbin/initdb -D $tmp/data -U admin --auth=trust" >/dev/null
su postgres -c "$pgbin/pg_ctl -D $tmp/data -l $tmp/pg.log -w -o '-p $pg_port -k $tmp -c listen_addresses=127.0.0.1' start" >/dev/null
psql -qX -h 127.0.0.1 -p "$pg_port" -U admin postgres -c "ALTER USER admin PASSWORD 'secret'"
pgbench -q -i -s 1 -h 127.0.0.1 -p "$pg_port" -U admin postgres >/dev/null 2>&1

cat >"$tmp/pgb.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$pg_port user=admin password=secret
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
auth_type = trust
auth_file = $tmp/users.txt
pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
logfile = $tmp/pgb.log
pidfile = $tmp/pgb.pid
EOF
echo '"admin" "secret"' >"$tmp/users.txt"
chown postgres "$tmp"/*
su postgres -s /bin/bash -c "exec pgbouncer $tmp/pgb.ini" >/dev/null 2>&1 &
pids+=($!)

start_pgro() {  # command prefix (e.g. valgrind ...) as arguments
  env UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT="$pg_port" UPSTREAM_USER=admin \
    UPSTREAM_PASSWORD=secret UPSTREAM_DATABASE=postgres PROXY_USER=admin \
    PROXY_PASSWORD=pgro-bench-login LISTEN_HOST=127.0.0.1 LISTEN_PORT="$pgro_port" \
    LOG_LEVEL=warn ADMIN_LISTEN=127.0.0.1:0 METRICS_LISTEN=127.0.0.1:0 CACHE_ENABLED=false \
    POOL_SIZE=5 WORKER_THREADS=2 "$@" "$pgro_bin" >"$tmp/pgro.log" 2>&1 &
  pgro_pid=$!
  pids+=("$pgro_pid")
  for _ in $(seq 1 200); do
    PGPASSWORD=pgro-bench-login psql -qXAt -h 127.0.0.1 -p "$pgro_port" -U admin postgres \
      -c 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "syscalls.sh: pgro did not start" >&2
  cat "$tmp/pgro.log" >&2
  exit 1
}

run_pgbench() {  # port password mode -> transactions processed
  PGPASSWORD=$2 pgbench -n -S -M "$3" -c "$CLIENTS" -j 2 -t "$TRANSACTIONS" -h 127.0.0.1 \
    -p "$1" -U admin postgres 2>/dev/null |
    awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }'
}

syscalls_per_tx() {  # pid port password mode
  strace -c -f -p "$1" -o "$tmp/strace.txt" 2>/dev/null &
  local tracer=$!
  sleep 1
  local tx
  tx=$(run_pgbench "$2" "$3" "$4")
  kill -INT "$tracer"
  wait "$tracer" 2>/dev/null || true
  # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
  awk -v tx="$tx" '
    $NF == "total" { total = $4 }
    $NF ~ /^(recvfrom|sendto|epoll_wait|epoll_ctl|read|write|futex)$/ { per[$NF] = $4 }
    END {
      printf "%.2f", total / tx
      for (s in per) if (per[s] / tx >= 0.05) printf " %s=%.2f", s, per[s] / tx
    }' "$tmp/strace.txt"
}

start_pgro
pgb_pid=$(cat "$tmp/pgb.pid")
echo "pgro: $pgro_bin (built $(date -r "$pgro_bin" "+%F %T"))"
echo "PgBouncer: $(pgbouncer --version | head -1)"
echo "pgbench -S -c $CLIENTS -j 2 -t $TRANSACTIONS per client, syscalls per transaction:"
echo
echo "| mode | pgro | PgBouncer | ratio | pgro by call | PgBouncer by call |"
echo "|---|--:|--:|--:|---|---|"
for mode in $MODES; do
  read -r p_total p_detail <<<"$(syscalls_per_tx "$pgro_pid" "$pgro_port" pgro-bench-login "$mode")"
  if [[ "$mode" == prepared ]]; then
    b_total=n/a b_detail="(1.18 cannot run -M prepared)" ratio=n/a
  else
    read -r b_total b_detail <<<"$(syscalls_per_tx "$pgb_pid" "$pgb_port" secret "$mode")"
    ratio=$(awk -v a="$p_total" -v b="$b_total" 'BEGIN { printf "%.2fx", a / b }')
  fi
  echo "| $mode | $p_total | $b_total | $ratio | $p_detail | $b_detail |"
done

if [[ "$CALLGRIND" == 1 ]] && command -v valgrind >/dev/null; then
  kill "$pgro_pid" 2>/dev/null || true
  wait "$pgro_pid" 2>/dev/null || true
  echo
  echo "pgro user-space instructions per transaction (callgrind, whole process, all threads;"
  echo "startup excluded by taking the difference of two run lengths):"
  echo
  echo "| mode | Ir per transaction |"
  echo "|---|--:|"
  for mode in $MODES; do
    irs=()
    for tx in 200 1200; do
      start_pgro valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" --dump-instr=no
      TRANSACTIONS=$tx run_pgbench "$pgro_port" pgro-bench-login "$mode" >/dev/null || true
      kill -INT "$pgro_pid"
      wait "$pgro_pid" 2>/dev/null || true
      local_out=$(ls -t "$tmp"/cg.* | head -1)
      irs+=("$(callgrind_annotate "$local_out" | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')")
      rm -f "$tmp"/cg.*
    done
    awk -v a="${irs[0]}" -v b="${irs[1]}" -v m="$mode" -v c="$CLIENTS" \
      'BEGIN { printf "| %s | %.0f |\n", m, (b - a) / (1000 * c) }'
  done
fi
