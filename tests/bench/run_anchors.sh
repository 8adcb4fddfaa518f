#!/usr/bin/env bash
# Side-by-side benchmark of pgro against PostgreSQL direct, PgBouncer and Pgpool-II (query
# cache on) in ONE run of ../shared/bench/anchors.sh, on this machine (ratios, not absolute
# figures: the machine is shared and noisy). Not part of ctest: timing never gates a test.
#
#   tests/bench/run_anchors.sh                 # workloads a-e, pgro with its cache on
#   CACHE=off tests/bench/run_anchors.sh       # pgro with CACHE_ENABLED=false
#   WORKLOADS="a" TARGETS="proxy" CACHE=off tests/bench/run_anchors.sh   # miss-heavy -S
#
# Needs a release build (cmake --preset release && cmake --build --preset release) and, for
# the Pgpool-II target, Debian's pgpool2 (installed here if missing). Results go to
# $RESULTS (default /tmp/pgro-anchors.md).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
anchors=${ANCHORS:-$root/../shared/bench/anchors.sh}
pgro_bin=${PGRO_BIN:-$root/build/release/dataplane/pgro}
[[ -x "$pgro_bin" ]] || { echo "run_anchors: build pgro first ($pgro_bin missing)" >&2; exit 2; }
[[ -f "$anchors" ]] || { echo "run_anchors: $anchors not found (set ANCHORS=)" >&2; exit 2; }
if ! command -v pgpool >/dev/null 2>&1 && [[ " ${TARGETS:-direct pgbouncer pgpool proxy} " == *" pgpool "* ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgpool2 >/dev/null
fi

cache_enabled=true
[[ "${CACHE:-on}" == "off" ]] && cache_enabled=false
proxy_password=pgro-bench-login  # must differ from the upstream password (pgro refuses that)

# anchors.sh starts PostgreSQL, loads the data, then runs this with ANCHORS_PG_* set.
proxy_cmd="UPSTREAM_HOST=\$ANCHORS_PG_HOST UPSTREAM_PORT=\$ANCHORS_PG_PORT \
UPSTREAM_USER=\$ANCHORS_PG_USER UPSTREAM_PASSWORD=\$ANCHORS_PG_PASSWORD \
UPSTREAM_DATABASE=\$ANCHORS_PG_DB PROXY_USER=admin PROXY_PASSWORD=$proxy_password \
LISTEN_HOST=127.0.0.1 LISTEN_PORT=${PROXY_PORT:-6432} LOG_LEVEL=warn \
ADMIN_LISTEN=127.0.0.1:0 METRICS_LISTEN=127.0.0.1:0 CACHE_ENABLED=$cache_enabled \
POOL_SIZE=${PGB_POOL_SIZE:-5} exec $pgro_bin"

export TARGETS=${TARGETS:-"direct pgbouncer pgpool proxy"}
export WORKLOADS=${WORKLOADS:-"a b c d e"}
export RESULTS=${RESULTS:-/tmp/pgro-anchors.md}
export PROXY_PORT=${PROXY_PORT:-6432} PROXY_PASSWORD=$proxy_password PROXY_CMD=$proxy_cmd
exec bash "$anchors"
