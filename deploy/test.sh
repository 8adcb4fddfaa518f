#!/usr/bin/env bash
# Builds everything with the `ci` preset (warnings are errors) and runs every test:
# README's "Quick start" test command, and what CI runs (.ci/run).
# Run as root on Debian 12 (as another user, package installation goes through sudo).
# Exits non-zero when the build or any test fails; ctest prints the summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash deploy/install-deps.sh --test
cmake --preset ci
cmake --build --preset ci
ctest --preset ci -j2 --output-on-failure
