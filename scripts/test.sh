#!/usr/bin/env bash
# The test command (README): lint, then the whole test suite (run through scripts/in_env.sh).
set -euo pipefail
echo "[test] ruff (99 columns, like ament_flake8)"
ruff check .
echo "[test] pytest"
exec pytest "$@"
