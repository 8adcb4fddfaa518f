#!/usr/bin/env bash
# pg_dump (PostgreSQL 15) through pgro in transaction pooling mode, compared with the same
# pg_dump run directly against PostgreSQL. Run by pgro_client_env.
#
# pg_dump opens a REPEATABLE READ, READ ONLY transaction, SETs statement_timeout,
# lock_timeout, idle_in_transaction_session_timeout, extra_float_digits,
# synchronize_seqscans, row_security, restrict_nonsystem_relation_kind and
# set_config('search_path', ...), takes LOCK TABLE ... IN ACCESS SHARE MODE on every table
# and reads data with COPY ... TO STDOUT: all of that must pass pgro's policy.
#
# Tried, and expected to work (each is a check below):
#   - --schema-only: identical to direct (only the random \restrict key lines of pg_dump
#     >= 15.14 are normalised, with --restrict-key when supported)
#   - --data-only -t big (100k rows), -t typed (NaN, Infinity, arrays, bytea, NULLs)
#   - a full plain dump (schema + data of everything) identical to direct
#   - custom format (-Fc) through pgro, pg_restore -f - of it identical to the direct one
#   - --inserts / --column-inserts for one table (SELECT through a cursor instead of COPY)
#   - parallel directory dump (-Fd -j 2): works; the leader's pg_export_snapshot() and the
#     workers' SET TRANSACTION SNAPSHOT pass pgro, the leader keeps its server connection
#     for its whole transaction
# Not tried: pg_dumpall (needs other databases and pg_authid; pgro serves one database).
set -uo pipefail

passed=0
failed=0
tmp=${PGRO_CLIENT_TMP:-$(mktemp -d)}

ok() { passed=$((passed + 1)); echo "ok     $1"; }
bad() {
  failed=$((failed + 1))
  echo "FAILED $1" >&2
  shift
  for line in "$@"; do printf '       %s\n' "$line" >&2; done
}

direct_env() {
  env PGHOST="$PGRO_DIRECT_HOST" PGPORT="$PGRO_DIRECT_PORT" PGUSER="$PGRO_DIRECT_USER" \
    PGPASSWORD="$PGRO_DIRECT_PASSWORD" PGDATABASE="$PGRO_DIRECT_DATABASE" "$@"
}

# pg_dump 15.14+ writes "\restrict KEY" with a random key unless --restrict-key is given.
restrict=()
if pg_dump --help | grep -q -- '--restrict-key'; then restrict=(--restrict-key=pgroClientSuite); fi

normalise() { sed -E 's/^\\(un)?restrict [A-Za-z0-9]+$/\\\1restrict KEY/' "$1"; }

# compare_dump NAME PG_DUMP_ARGS...: plain-format dump through pgro and directly.
compare_dump() {
  local name=$1
  shift
  local err
  if ! err=$(pg_dump "${restrict[@]}" "$@" -f "$tmp/proxy.sql" 2>&1); then
    bad "$name" "pg_dump $* through pgro failed:" "$err"
    return 1
  fi
  if ! err=$(direct_env pg_dump "${restrict[@]}" "$@" -f "$tmp/direct.sql" 2>&1); then
    bad "$name" "pg_dump $* directly failed:" "$err"
    return 1
  fi
  if ! diff <(normalise "$tmp/direct.sql") <(normalise "$tmp/proxy.sql") >"$tmp/diff"; then
    bad "$name" "dump through pgro differs from direct:" "$(head -30 "$tmp/diff")"
    return 1
  fi
  ok "$name ($(wc -l <"$tmp/proxy.sql") lines)"
}

echo "== $(pg_dump --version) -> pgro $PGHOST:$PGPORT (direct: $PGRO_DIRECT_PORT)"

if compare_dump "schema-only" --schema-only; then
  for needle in 'CREATE TABLE public.big' 'CREATE TABLE public.typed' 'CREATE VIEW app.big_summary' \
    'CREATE FUNCTION app.add_one' 'CREATE INDEX big_grp_idx' 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
    'CREATE SEQUENCE app.events_id_seq'; do
    grep -qF "$needle" "$tmp/proxy.sql" || bad "schema-only contains $needle"
  done
fi
compare_dump "data-only -t big" --data-only -t big &&
  { [[ $(grep -c $'^[0-9]*\t[0-9]*\trow-' "$tmp/proxy.sql") == 100000 ]] || bad "data-only -t big has 100000 rows"; }
compare_dump "data-only -t typed" --data-only -t typed &&
  { grep -q $'\tNaN\t' "$tmp/proxy.sql" && grep -q 'Infinity' "$tmp/proxy.sql" || bad "typed dump has NaN/Infinity"; }
compare_dump "full dump" --no-comments
compare_dump "column-inserts -t typed" --data-only --column-inserts -t typed
compare_dump "inserts -t app.events" --inserts -t app.events

# Custom format through pgro, restored to SQL text, against the direct custom dump.
if err=$(pg_dump -Fc -f "$tmp/proxy.dump" 2>&1) &&
  err2=$(direct_env pg_dump -Fc -f "$tmp/direct.dump" 2>&1); then
  pg_restore "${restrict[@]}" -f "$tmp/proxy.restored.sql" "$tmp/proxy.dump"
  pg_restore "${restrict[@]}" -f "$tmp/direct.restored.sql" "$tmp/direct.dump"
  if diff <(normalise "$tmp/direct.restored.sql") <(normalise "$tmp/proxy.restored.sql") >"$tmp/diff"; then
    ok "custom format -Fc, pg_restore -f -"
  else
    bad "custom format -Fc" "$(head -20 "$tmp/diff")"
  fi
else
  bad "custom format -Fc" "${err:-} ${err2:-}"
fi

# Parallel dump: the leader exports a snapshot and keeps its transaction (so its server
# connection) open; each worker runs SET TRANSACTION SNAPSHOT in its own transaction.
rm -rf "$tmp/pdir" "$tmp/ddir"
if err=$(pg_dump -Fd -j 2 -f "$tmp/pdir" 2>&1); then
  direct_env pg_dump -Fd -j 2 -f "$tmp/ddir" >/dev/null 2>&1
  pg_restore "${restrict[@]}" -f "$tmp/p.sql" "$tmp/pdir"
  pg_restore "${restrict[@]}" -f "$tmp/d.sql" "$tmp/ddir"
  if diff <(normalise "$tmp/d.sql") <(normalise "$tmp/p.sql") >"$tmp/diff"; then
    ok "parallel directory dump -j 2"
  else
    bad "parallel directory dump -j 2" "$(head -20 "$tmp/diff")"
  fi
else
  bad "parallel directory dump -j 2" "$err"
fi

echo "pg_dump suite: $passed passed, $failed failed"
((failed == 0))
