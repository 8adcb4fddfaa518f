#!/usr/bin/env bash
# Builds pgro (release preset) and runs it: README's "Quick start" run command.
#
# With UPSTREAM_HOST set (in the environment or in ./.env) it runs pgro against that server,
# configured by the environment and ./.env exactly as the binary itself would be.
# Without it, it starts a throwaway PostgreSQL 15 on 127.0.0.1 holding the demo data
# (deploy/demo/sample.sql), runs pgro in front of it with a demo login and prints how to
# connect. Ctrl-C stops pgro and PostgreSQL and deletes the throwaway server.
#
# Run as root on Debian 12 (as another user, package installation goes through sudo and
# PostgreSQL runs as that user). Arguments are passed on to pgro: ./deploy/run.sh --log-level=debug
# PGRO_BIN=/path/to/pgro skips the dependency install and the build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin

say() { printf 'run.sh: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

if [[ -n "${PGRO_BIN:-}" ]]; then
  PGRO=$PGRO_BIN
else
  bash "$ROOT/deploy/install-deps.sh"
  say "building pgro and pgro-admin (cmake --preset release)"
  (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release --target pgro pgro-admin)
  PGRO=$ROOT/build/release/dataplane/pgro
  PGRO_ADMIN=$ROOT/build/release/admin-cli/pgro-admin
fi
[[ -x "$PGRO" ]] || die "no pgro binary at $PGRO"

# pgro reads ./.env from the working directory, so look there too.
upstream_configured() {
  [[ -n "${UPSTREAM_HOST:-}" ]] && return 0
  [[ -f .env ]] &&
    grep -Eq '^[[:space:]]*(export[[:space:]]+)?UPSTREAM_HOST[[:space:]]*=[[:space:]]*[^[:space:]#]' .env
}

if upstream_configured; then
  exec "$PGRO" "$@"
fi

# ---- Demo mode: a throwaway PostgreSQL with sample data behind pgro. ----

# True when nothing accepts TCP connections on ${2:-127.0.0.1}:$1.
port_free() { ! (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 30000))
    if port_free "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found"
}

secret() { od -An -N18 -tx1 /dev/urandom | tr -d ' \n'; }

is_loopback() { [[ "$1" == 127.* || "$1" == "::1" || "$1" == "localhost" ]]; }

# PostgreSQL refuses to run as root: run its programs as the `postgres` OS user then.
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (is postgresql-15 installed?)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

[[ -x "$PGBIN/initdb" ]] || die "PostgreSQL 15 not found in $PGBIN (run deploy/install-deps.sh)"

WORK=$(mktemp -d /tmp/pgro-demo.XXXXXX)
PGRO_PID=
PG_STARTED=

# shellcheck disable=SC2317  # reached through the traps below
cleanup() {
  set +e
  trap - EXIT INT TERM
  if [[ -n "$PGRO_PID" ]] && kill -0 "$PGRO_PID" 2>/dev/null; then
    say "stopping pgro"
    kill -TERM "$PGRO_PID"
    for _ in $(seq 1 100); do
      kill -0 "$PGRO_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$PGRO_PID" 2>/dev/null
    wait "$PGRO_PID" 2>/dev/null
  fi
  if [[ -n "$PG_STARTED" ]]; then
    say "stopping PostgreSQL"
    as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $(id -u) -eq 0 ]]; then chown postgres: "$WORK"; fi

PG_PORT=$(free_port)
ADMIN_USER=pgro_admin
ADMIN_PASSWORD=$(secret)

say "starting a throwaway PostgreSQL 15 on 127.0.0.1:$PG_PORT (data in $WORK)"
(umask 077 && printf '%s\n' "$ADMIN_PASSWORD" >"$WORK/pwfile")
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$WORK/pwfile"; fi
as_pg "$PGBIN/initdb" -D "$WORK/data" -U "$ADMIN_USER" --pwfile="$WORK/pwfile" \
  --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions \
  >"$WORK/initdb.log" 2>&1 || {
  cat "$WORK/initdb.log" >&2
  die "initdb failed"
}
rm -f "$WORK/pwfile"
PG_STARTED=1
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK" start >/dev/null || {
  cat "$WORK/postgres.log" >&2
  die "PostgreSQL did not start"
}

admin_psql() {
  PGPASSWORD=$ADMIN_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$ADMIN_USER" "$@"
}
admin_psql -d postgres -c 'CREATE DATABASE demo' >/dev/null
say "loading deploy/demo/sample.sql"
admin_psql -d demo -o /dev/null -f "$ROOT/deploy/demo/sample.sql"

# pgro in front of it. LISTEN_*, PROXY_*, METRICS_LISTEN and ADMIN_LISTEN from the caller's
# environment are kept (they override ./.env, as everything exported here does); the demo
# listens on loopback unless told otherwise.
export UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT=$PG_PORT UPSTREAM_USER=$ADMIN_USER
export UPSTREAM_PASSWORD=$ADMIN_PASSWORD UPSTREAM_DATABASE=demo
export LISTEN_HOST=${LISTEN_HOST:-127.0.0.1}
export PROXY_USER=${PROXY_USER:-demo}
if [[ -z "${PROXY_PASSWORD:-}" ]]; then
  if is_loopback "$LISTEN_HOST"; then PROXY_PASSWORD=demo; else PROXY_PASSWORD=$(secret); fi
fi
export PROXY_PASSWORD
if [[ -z "${LISTEN_PORT:-}" ]]; then
  LISTEN_PORT=5433
  port_free 5433 || LISTEN_PORT=$(free_port)
fi
export LISTEN_PORT
if [[ -z "${METRICS_LISTEN:-}" ]]; then
  METRICS_LISTEN=127.0.0.1:9433
  port_free 9433 || METRICS_LISTEN=127.0.0.1:$(free_port)
fi
export METRICS_LISTEN
if [[ -z "${ADMIN_LISTEN:-}" ]]; then
  ADMIN_LISTEN=127.0.0.1:50051
  port_free 50051 || ADMIN_LISTEN=127.0.0.1:$(free_port)
fi
export ADMIN_LISTEN

"$PGRO" "$@" &
PGRO_PID=$!

connect_host=$LISTEN_HOST
if [[ "$connect_host" == "0.0.0.0" || "$connect_host" == "::" ]]; then connect_host=127.0.0.1; fi
listening=
for _ in $(seq 1 300); do
  if ! kill -0 "$PGRO_PID" 2>/dev/null; then
    status=0
    wait "$PGRO_PID" || status=$?
    PGRO_PID=
    die "pgro exited with status $status before accepting connections"
  fi
  if ! port_free "$LISTEN_PORT" "$connect_host"; then
    listening=1
    break
  fi
  sleep 0.1
done
[[ -n "$listening" ]] || say "pgro is not accepting connections on $connect_host:$LISTEN_PORT yet"

cat >&2 <<EOF

  pgro is running in front of a throwaway PostgreSQL 15 with demo data.

    psql "host=$connect_host port=$LISTEN_PORT user=$PROXY_USER dbname=demo"
    password: $PROXY_PASSWORD

  Try:  SELECT * FROM daily_revenue ORDER BY day DESC LIMIT 7;
        DELETE FROM orders;    -- refused: SQLSTATE 25006
  Metrics: http://$METRICS_LISTEN/metrics
  Admin:   ${PGRO_ADMIN:-pgro-admin} --addr $ADMIN_LISTEN stats   (also: cache reset, reload)
  Ctrl-C stops pgro and PostgreSQL and deletes $WORK.

EOF

status=0
wait "$PGRO_PID" || status=$?
PGRO_PID=
say "pgro exited with status $status"
exit "$status"
