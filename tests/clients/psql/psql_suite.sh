#!/usr/bin/env bash
# psql (PostgreSQL 15 client, libpq) through pgro in transaction pooling mode.
# Run by pgro_client_env: PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.
#
# Tried, and expected to work (each is a check below):
#   - the \d family (\d, \dt, \dt+, \d+ table, \d view, \df, \df+, \dn, \dn+, \l, \du, \dx,
#     \dv, \di, \ds, \dT, \dp, \dconfig): no ERROR, output identical to psql run directly
#   - \copy (SELECT ...) TO file and \copy table TO file (COPY TO STDOUT streamed through
#     pgro), compared byte for byte with the same \copy run directly; 100k rows
#   - the same SELECT 20 times, as 20 separate `psql -c` connections and as 20 statements
#     in one session; \gset / \gexec / \if; \timing; \x; \conninfo
#   - writes refused with SQLSTATE 25006 "Write operations are not permitted" (INSERT,
#     UPDATE, DELETE, CREATE TABLE, SELECT ... FOR UPDATE); \copy ... FROM refused; no row
#     changed (checked directly); the connection stays usable after a refusal
#   - BEGIN / error / "current transaction is aborted" / ROLLBACK; SAVEPOINT and ROLLBACK TO
#   - session state under transaction pooling: SET search_path / application_name in one
#     statement, used by later statements (each may run on another server connection)
#   - \set AUTOCOMMIT off (psql sends BEGIN itself)
# Not tried: TLS (sslmode=require) — pgro has no TLS yet; psql connects with the default
# sslmode=prefer and pgro answers the SSLRequest with 'N'.
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

# psql through pgro / directly; -X: no ~/.psqlrc.
proxy() { psql -X -v ON_ERROR_STOP=1 "$@"; }
direct() {
  PGHOST=$PGRO_DIRECT_HOST PGPORT=$PGRO_DIRECT_PORT PGUSER=$PGRO_DIRECT_USER \
    PGPASSWORD=$PGRO_DIRECT_PASSWORD PGDATABASE=$PGRO_DIRECT_DATABASE \
    psql -X -v ON_ERROR_STOP=1 "$@"
}

# check_same NAME PSQL_ARGS...: runs through pgro and directly; both must exit 0 with no
# ERROR on stderr and print the same thing.
check_same() {
  local name=$1
  shift
  local p_out p_err d_out rc
  p_out=$(proxy "$@" 2>"$tmp/err")
  rc=$?
  p_err=$(cat "$tmp/err")
  d_out=$(direct "$@" 2>&1)
  if ((rc != 0)) || [[ "$p_err" == *ERROR* ]]; then
    bad "$name" "psql $* through pgro exited $rc" "stderr: $p_err"
  elif [[ "$p_out" != "$d_out" ]]; then
    bad "$name" "output through pgro differs from direct:" \
      "$(diff <(echo "$d_out") <(echo "$p_out") | head -20)"
  elif [[ -z "$p_out" ]]; then
    bad "$name" "empty output"
  else
    ok "$name"
  fi
}

echo "== psql $(psql --version) -> pgro $PGHOST:$PGPORT (direct: $PGRO_DIRECT_PORT)"

# ---- \d family ----
for meta in '\d' '\dt' '\dt+' '\d+ big' '\d typed' '\d+ app.events' '\d app.big_summary' \
  '\df' '\df app.*' '\df+ app.add_one' '\dn' '\dn+' '\l' '\du' '\dx' '\dv app.*' '\di' \
  '\di app.*' '\ds app.*' '\dT' '\dp big' '\dconfig work_mem' '\dd'; do
  # \dd lists object comments; psql prints "List of ..." even when there is nothing.
  check_same "meta $meta" -c "$meta"
done

# ---- \copy ... TO file ----
copy_check() {
  local name=$1 copy=$2 options=${3:-}
  rm -f "$tmp/p.out" "$tmp/d.out"
  local err
  if ! err=$(proxy -q -c "\\copy $copy to '$tmp/p.out' $options" 2>&1); then
    bad "$name" "through pgro: $err"
    return
  fi
  if ! err=$(direct -q -c "\\copy $copy to '$tmp/d.out' $options" 2>&1); then
    bad "$name" "direct: $err"
    return
  fi
  if ! cmp -s "$tmp/p.out" "$tmp/d.out"; then
    bad "$name" "files differ: $(wc -c <"$tmp/p.out") vs $(wc -c <"$tmp/d.out") bytes" \
      "$(diff "$tmp/d.out" "$tmp/p.out" | head -10)"
  elif [[ ! -s "$tmp/p.out" ]]; then
    bad "$name" "empty file"
  else
    ok "$name ($(wc -l <"$tmp/p.out") lines)"
  fi
}
copy_check "copy query 100k rows" "(select * from big order by id)"
copy_check "copy typed table" "typed"
copy_check "copy query csv header" "(select * from typed order by id)" "with (format csv, header)"
copy_check "copy binary" "(select * from typed order by id)" "with (format binary)"
copy_check "copy view" "(select * from app.big_summary order by grp)"
if [[ $(proxy -At -c "\\copy (select * from big) to stdout" | wc -l) == 100000 ]]; then
  ok "copy to stdout 100000 lines"
else
  bad "copy to stdout 100000 lines"
fi

# ---- repeated query loop (\watch-style) ----
q="select count(*), sum(amount), min(label) from big where grp = 7"
expected=$(direct -At -c "$q")
bad_runs=0
for i in $(seq 1 20); do
  got=$(proxy -At -c "$q" 2>&1)
  [[ "$got" == "$expected" ]] || { bad_runs=$((bad_runs + 1)); last="$got"; }
done
if ((bad_runs == 0)); then ok "same select 20 times, 20 connections"; else
  bad "same select 20 times, 20 connections" "$bad_runs wrong; last: ${last:-}" "expected: $expected"
fi
for i in $(seq 1 20); do echo "$q;"; done >"$tmp/loop.sql"
got=$(proxy -At -f "$tmp/loop.sql" 2>&1)
if [[ "$(echo "$got" | sort -u)" == "$expected" && $(echo "$got" | wc -l) == 20 ]]; then
  ok "same select 20 times, one session"
else
  bad "same select 20 times, one session" "got: $(echo "$got" | head -5)"
fi
# psql 15's \watch has no iteration count: run it for a moment and count its results.
printf '%s\n' "select count(*) from big where grp = 3 \\watch 0.2" >"$tmp/watch.sql"
got=$(timeout -s INT 3 psql -X -At -f "$tmp/watch.sql" 2>&1)
n=$(echo "$got" | grep -c '^1000$')
if ((n >= 5)) && ! grep -q ERROR <<<"$got"; then ok "\\watch 0.2 for 3 s ($n results)"; else
  bad "\\watch 0.2 for 3 s" "$n results; output: $(echo "$got" | head -5)"
fi

# ---- writes are refused with 25006 ----
write_check() {
  local name=$1 sql=$2
  local out rc
  out=$(psql -X -v VERBOSITY=verbose -c "$sql" 2>&1)
  rc=$?
  if ((rc == 0)); then
    bad "$name" "write succeeded through pgro: $out"
  elif [[ "$out" != *"ERROR:  25006:"* || "$out" != *"Write operations are not permitted"* ]]; then
    bad "$name" "expected 25006 'Write operations are not permitted', got: $out"
  else
    ok "$name"
  fi
}
write_check "insert refused" "insert into big values (100001, 1, 'x', 1)"
write_check "update refused" "update big set label = 'x' where id = 1"
write_check "delete refused" "delete from big where id = 1"
write_check "create table refused" "create table t_new (a int)"
write_check "select for update refused" "select * from big where id = 1 for update"
write_check "writable cte refused" "with d as (delete from big where id = 2 returning *) select count(*) from d"
out=$(psql -X -v VERBOSITY=verbose -v ON_ERROR_STOP=0 2>&1 <<'EOF'
insert into big values (100002, 1, 'x', 1);
select 'still-usable', count(*) from big;
EOF
)
if [[ "$out" == *25006* && "$out" == *"still-usable | 100000"* ]]; then
  ok "connection usable after a refused write"
else
  bad "connection usable after a refused write" "$out"
fi
printf '1\t1\tx\t1\n' >"$tmp/in.tsv"
out=$(psql -X -c "\\copy big from '$tmp/in.tsv'" 2>&1)
if (($? != 0)) && [[ "$out" == *ERROR* ]]; then ok "\\copy from refused"; else
  bad "\\copy from refused" "$out"
fi
counts=$(direct -At -c "select count(*), max(id), sum(length(label)) from big")
if [[ "$counts" == "$(direct -At -c "select 100000, 100000, sum(length('row-' || g)) from generate_series(1,100000) g")" ]]; then
  ok "no row changed (checked directly)"
else
  bad "no row changed (checked directly)" "$counts"
fi

# ---- transactions ----
out=$(psql -X -At -v ON_ERROR_STOP=0 2>&1 <<'EOF'
begin;
select 1/0;
select 'after-error';
rollback;
select 'after-rollback';
begin;
select count(*) from typed;
savepoint s1;
select * from no_such_table;
rollback to savepoint s1;
select 'after-rollback-to', count(*) from app.events;
commit;
EOF
)
if [[ "$out" == *"division by zero"* && "$out" == *"current transaction is aborted"* &&
  "$out" == *"after-rollback"* && "$out" == *"after-rollback-to|50"* && "$out" != *"after-error"$'\n'* ]]; then
  ok "transaction error, rollback, savepoint"
else
  bad "transaction error, rollback, savepoint" "$out"
fi

# ---- session state across transactions (each statement may run on another server connection) ----
out=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'EOF'
set search_path = app, public;
set application_name = 'psql-suite';
select count(*) from events;
select current_setting('application_name');
select count(*) from big;
show search_path;
reset search_path;
select count(*) from pg_class where relname = 'events' and pg_table_is_visible(oid);
EOF
)
expected_state=$'50\npsql-suite\n100000\napp, public\n0'
if [[ "$out" == "$expected_state" ]]; then ok "SET kept across transactions"; else
  bad "SET kept across transactions" "got: $out"
fi
# 6 sessions with different search_paths at once (pool of 4): none sees another's.
for i in 1 2 3 4 5 6; do
  if ((i % 2)); then sp=app; else sp=public; fi
  printf 'set search_path = %s;\nselect pg_sleep(0.3);\nselect count(*) from events;\n' "$sp" |
    psql -X -At -v ON_ERROR_STOP=1 >"$tmp/sp.$i" 2>&1 &
done
wait
sp_bad=0
for i in 1 2 3 4 5 6; do
  got=$(cat "$tmp/sp.$i")
  if ((i % 2)); then want=$'\n50'; else want='relation "events" does not exist'; fi
  [[ "$got" == *"$want"* ]] || { sp_bad=1; sp_got="$i: $got"; }
done
if ((sp_bad == 0)); then ok "6 concurrent sessions keep their own search_path"; else
  bad "6 concurrent sessions keep their own search_path" "${sp_got:-}"
fi

# ---- psql features ----
out=$(psql -X -At -v ON_ERROR_STOP=1 2>&1 <<'EOF'
select count(*) as n, max(id) as top from big \gset
\echo n=:n top=:top
\if :{?n}
\echo gset-worked
\endif
select format('select %s * 2', g) from generate_series(1, 3) g \gexec
\x on
select id, c_text from typed where id = 1;
\x off
\timing on
select 'timed';
\timing off
\conninfo
\set AUTOCOMMIT off
select count(*) from app.events;
select 'in-implicit-tx';
rollback;
\set AUTOCOMMIT on
select 'done';
EOF
)
if [[ "$out" == *"n=100000 top=100000"* && "$out" == *gset-worked* && "$out" == *$'2\n4\n6'* &&
  "$out" == *"c_text|plain text"* && "$out" == *"Time:"* && "$out" == *"in-implicit-tx"* &&
  "$out" == *"port \"$PGPORT\""* && "$out" == *done && "$out" != *ERROR* ]]; then
  ok "\\gset \\if \\gexec \\x \\timing \\conninfo AUTOCOMMIT off"
else
  bad "\\gset \\if \\gexec \\x \\timing \\conninfo AUTOCOMMIT off" "$out"
fi

# Single transaction (-1) over a file with several statements.
printf 'select 1;\nselect count(*) from typed;\nselect app.add_one(41);\n' >"$tmp/one.sql"
out=$(proxy -At -1 -f "$tmp/one.sql" 2>&1)
if [[ "$out" == $'1\n5\n42' ]]; then ok "psql -1 -f"; else bad "psql -1 -f" "$out"; fi

echo "psql suite: $passed passed, $failed failed"
((failed == 0))
