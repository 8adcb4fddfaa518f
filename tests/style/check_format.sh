#!/usr/bin/env bash
# Style.ClangFormat: every C++ source under dataplane/, controlplane/, admin-cli/ and tests/ is
# formatted as the repository's .clang-format says. Tracked files when the source tree is a
# git checkout (no stray build output), else every .cpp/.hpp found there.
# Usage: check_format.sh SOURCE_DIR [CLANG_FORMAT]
set -euo pipefail
root=$1
clang_format=${2:-clang-format}
cd "$root"
command -v "$clang_format" >/dev/null ||
  { echo "clang-format not found: install it (deploy/install-deps.sh --test)" >&2; exit 1; }
dirs=(dataplane controlplane admin-cli tests)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  specs=()
  for d in "${dirs[@]}"; do specs+=("$d/*.cpp" "$d/*.hpp"); done
  mapfile -t files < <(git ls-files -- "${specs[@]}")
else
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)
fi
((${#files[@]})) || { echo "no C++ sources found under $root" >&2; exit 1; }
echo "checking ${#files[@]} files with $("$clang_format" --version)"
"$clang_format" --style=file --dry-run -Werror "${files[@]}"
