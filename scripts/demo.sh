#!/usr/bin/env bash
# The main job (README): set up if needed, then stream synthetic camera frames through the node
# with the embedded checkpoint and report what comes out. Extra arguments go to `occrobnet demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# colcon's setup scripts read unset variables: source them without -u.
set +u
# shellcheck disable=SC1091
source env.sh
set -u
exec occrobnet demo "$@"
