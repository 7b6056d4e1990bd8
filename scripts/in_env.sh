#!/usr/bin/env bash
# Run a command in the project's environment: set up if needed (scripts/setup.sh, idempotent),
# source env.sh, then exec the command. `make test` and `make demo` go through here.
# OCCROBNET_LANE=jazzy uses the Jazzy lane (env-jazzy.sh) instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# colcon's setup scripts read unset variables: source them without -u.
set +u
# shellcheck disable=SC1091
if [[ "${OCCROBNET_LANE:-kilted}" == jazzy ]]; then source env-jazzy.sh; else source env.sh; fi
set -u
exec "$@"
