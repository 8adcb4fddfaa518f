#!/usr/bin/env bash
# Installs Postgres.js (npm `postgres`, the version pinned in package-lock.json) for
# postgres_js_suite.mjs with `npm ci` into BUILD_DIR/node_modules, once per lock file.
#   install_deps.sh SOURCE_DIR BUILD_DIR
# Debian packages no Postgres.js; the suite imports it from BUILD_DIR/node_modules.
set -euo pipefail
src=$1
dest=$2

command -v npm >/dev/null || { echo "postgres-js: npm is not available" >&2; exit 1; }
mkdir -p "$dest"
stamp="$dest/.installed-lock"
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$src/package-lock.json" && [[ -d "$dest/node_modules/postgres" ]]; then
  echo "postgres-js: node_modules up to date in $dest"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
cp "$src/package-lock.json" "$stamp"
echo "postgres-js: installed postgres $(node -p "require('$dest/node_modules/postgres/package.json').version") into $dest"
