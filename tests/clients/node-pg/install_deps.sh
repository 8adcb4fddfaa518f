#!/usr/bin/env bash
# Makes require('pg') and require('pg-cursor') work for node_pg_suite.js.
#   install_deps.sh SOURCE_DIR BUILD_DIR
# Debian's node-pg (which also provides pg-cursor) is used when it is installed and loads
# with this machine's Node.js. Otherwise (the machine's Node.js is not Debian's and
# conflicts with node-pg) the versions pinned in package-lock.json are installed with
# `npm ci` into BUILD_DIR/node_modules, once per lock file.
set -euo pipefail
src=$1
dest=$2

if NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs node -e "require('pg'); require('pg-cursor')" 2>/dev/null; then
  echo "node-pg: using the system's pg (Debian node-pg)"
  exit 0
fi
command -v npm >/dev/null || { echo "node-pg: neither Debian's node-pg nor npm is available" >&2; exit 1; }

mkdir -p "$dest"
stamp="$dest/.installed-lock"
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$src/package-lock.json" && [[ -d "$dest/node_modules/pg" ]]; then
  echo "node-pg: node_modules up to date in $dest"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
cp "$src/package-lock.json" "$stamp"
NODE_PATH="$dest/node_modules" node -e "require('pg'); require('pg-cursor')"
echo "node-pg: installed pinned pg and pg-cursor into $dest"
