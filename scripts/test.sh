#!/usr/bin/env bash
# The test command (README): set up if needed, lint, run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# colcon's setup scripts read unset variables: source them without -u.
set +u
# shellcheck disable=SC1091
source env.sh
set -u
echo "[test] ruff (99 columns, like ament_flake8)"
ruff check .
echo "[test] pytest"
exec pytest "$@"
