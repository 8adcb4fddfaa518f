# Shared by the benchmark scripts in tests/bench (sourced, not run): finding an optimised
# pgro, a temp dir PostgreSQL can use, free ports, and a throwaway PostgreSQL 15 with
# pgbench data. The sourcing script sets `set -euo pipefail` and its own cleanup trap.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# bench_pgro NAME: $PGRO_BIN, else the ci or release build; exits naming NAME if none.
bench_pgro() {
  local bin=${PGRO_BIN:-}
  if [[ -z "$bin" ]]; then
    for preset in ci release; do
      [[ -x "$bench_root/build/$preset/dataplane/pgro" ]] && { bin=$bench_root/build/$preset/dataplane/pgro; break; }
    done
  fi
  [[ -x "$bin" ]] || { echo "$1: build pgro with the ci or release preset first" >&2; exit 2; }
  echo "$bin"
}

# bench_tmpdir NAME: a new temp dir that PostgreSQL (the postgres OS user under root) can use.
bench_tmpdir() {
  local dir
  dir=$(mktemp -d "/tmp/pgro-$1.XXXXXX")
  chmod 755 "$dir"
  [[ $(id -u) == 0 ]] && chown postgres "$dir"  # PostgreSQL runs as postgres, its socket is here
  echo "$dir"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# bench_postgres DIR SCALE [postgres -c settings...]: PostgreSQL in DIR on a free port with
# database `bench` at pgbench scale SCALE; sets pg_port and pg_pid.
bench_postgres() {
  local dir=$1 scale=$2
  shift 2
  local settings=()
  for s in "$@"; do settings+=(-c "$s"); done
  pg_port=$(free_port)
  as_pg "$PGBIN/initdb" -D "$dir/data" -U admin --auth=trust >/dev/null
  as_pg "$PGBIN/postgres" -D "$dir/data" -p "$pg_port" -k "$dir" -c listen_addresses=127.0.0.1 \
    -c fsync=off "${settings[@]}" >"$dir/pg.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break; sleep 0.1; done
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" || { cat "$dir/pg.log" >&2; exit 1; }
  "$PGBIN/createdb" -h 127.0.0.1 -p "$pg_port" -U admin bench
  pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U admin bench >/dev/null 2>&1
}
