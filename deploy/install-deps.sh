#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing pgro needs.
# Idempotent and non-interactive; run as root (or through sudo).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config ccache git
  libboost-dev libssl-dev libspdlog-dev libfmt-dev
  libpqxx-dev libpq-dev libpg-query-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  nlohmann-json3-dev libhiredis-dev
)
RUN_PKGS=(
  postgresql-15 postgresql-client-15 postgresql-contrib
)
TEST_PKGS=(
  libgtest-dev libgmock-dev libbenchmark-dev clang clang-format
  pgbouncer python3 python3-psycopg2 python3-psycopg procps iproute2
  prometheus openssl
  openjdk-17-jdk-headless libpostgresql-jdbc-java python3-psycopg-pool nodejs
  python3-asyncpg golang-go golang-github-lib-pq-dev golang-github-jackc-pgx-v4-dev
  odbc-postgresql unixodbc python3-pyodbc python3-sqlalchemy python3-pandas
  libdbd-pg-perl ruby-pg php-cli php-pgsql
  redis-server
)
# Postgres.js (tests/clients/postgres-js) is installed with npm. NodeSource's nodejs brings its own
# npm and conflicts with Debian's, so Debian's npm is added only where there is none.
command -v npm >/dev/null 2>&1 || TEST_PKGS+=(npm)

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
if [[ "${1:-}" == "--test" || "${1:-}" == "--all" ]]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  # The PostgreSQL packages create a default cluster we never use; keep it from starting.
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf 2>/dev/null; then
    $SUDO mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#want[@]} packages present"
fi
