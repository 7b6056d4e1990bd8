#!/usr/bin/env bash
# Set up occrobnet_ros on a machine without a ROS 2 install (x86-64 Linux, Python 3.11):
#   1. a virtual environment .venv from requirements.txt (ROS 2 Kilted wheels, colcon, torch, ...)
#   2. the fixes ENVIRONMENT.md lists for the ROS wheels' CMake files
#   3. `colcon build` of this package (and of tf2_msgs where none exists), as a ROS user builds
#   4. env.sh: the one file to source (venv, install/setup.bash, the Fast DDS profile)
# Idempotent: a second run with nothing changed only checks and rebuilds what colcon finds stale.
# On a ROS 2 install use colcon directly instead (README, "Build on a ROS 2 install").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
log() { printf '[setup] %s\n' "$*"; }

# The lane: kilted (requirements.txt: .venv, build/, install/, log/, env.sh) or jazzy
# (requirements-jazzy.txt: the same names with a -jazzy suffix), side by side in one checkout.
LANE="${OCCROBNET_LANE:-kilted}"
case "$LANE" in
  kilted) SUFFIX="" ; REQUIREMENTS=(requirements.txt requirements-training.txt) ;;
  jazzy) SUFFIX="-jazzy" ; REQUIREMENTS=(requirements-jazzy.txt) ;;
  *) log "unknown OCCROBNET_LANE '$LANE': kilted or jazzy" ; exit 2 ;;
esac
LINK=".venv$SUFFIX" BUILD="build$SUFFIX" INSTALL="install$SUFFIX" LOGS="log$SUFFIX"
ENV_FILE="env$SUFFIX.sh"

# 1. The virtual environment. It lives outside the source tree, keyed by its requirements'
#    hash, and .venv links to it. The Kilted lane adds requirements-training.txt (rendering and
#    the MediaPipe conversion, which CI tests too); the node itself needs requirements.txt only.
#    Keyed and linked: CMake refuses to export include paths that lie inside the
#    source directory (the generated Python bindings export numpy's include path), and clones
#    with the same requirements share one environment.
want="$(cat "${REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1)"
VENV_STORE="${OCCROBNET_VENV_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/occrobnet_ros}"
VENV="$VENV_STORE/venv-${want:0:16}"
STAMP="$VENV/.requirements.sha256"
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  log "creating $VENV from ${REQUIREMENTS[*]} (first time: a few minutes)"
  mkdir -p "$VENV_STORE"
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQUIREMENTS[@]/#/--requirement=}" 2>&1 \
    | grep -v -e '^WARNING: Location' || true
  "$VENV/bin/pip" check >/dev/null || { "$VENV/bin/pip" check; exit 1; }
  echo "$want" >"$STAMP"
  rm -f "$VENV/.cmake-paths-fixed"
else
  log "virtual environment up to date ($VENV)"
fi
if [[ "$(readlink "$LINK" 2>/dev/null)" != "$VENV" ]]; then
  [[ -L "$LINK" || ! -e "$LINK" ]] || { log "$LINK exists and is not a link: remove it"; exit 1; }
  ln -sfn "$VENV" "$LINK"
fi

# 1b. The MediaPipe wheel that test/test_mediapipe_conversion.py reads its .tflite networks from
#     (downloaded, never installed: it pins numpy < 2). Without it that test skips, saying why.
MEDIAPIPE_WHEELS="$VENV_STORE/downloads"
if [[ "$LANE" == kilted ]] && ! compgen -G "$MEDIAPIPE_WHEELS/mediapipe-0.10.21-*.whl" >/dev/null; then
  log "downloading mediapipe==0.10.21 (read by the conversion test, not installed)"
  "$VENV/bin/pip" download --quiet --no-deps mediapipe==0.10.21 -d "$MEDIAPIPE_WHEELS" 2>&1 \
    | grep -v -e '^WARNING: Location' || true
  compgen -G "$MEDIAPIPE_WHEELS/mediapipe-0.10.21-*.whl" >/dev/null \
    || log "could not download it: the conversion test will skip"
fi

# 2. The message wheels' CMake files carry the wheel builder's Python include paths; point
#    them at this venv's, or building any interface that uses std_msgs fails.
if [[ ! -f "$VENV/.cmake-paths-fixed" ]]; then
  log "pointing the ROS wheels' CMake files at this venv's Python"
  "$VENV/bin/python" - "$VENV" <<'PYEOF'
import glob, os, sys, sysconfig
import numpy
venv = sys.argv[1]
py_include = os.path.realpath(sysconfig.get_paths()["include"])
numpy_include = os.path.realpath(numpy.get_include())
replacements = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include":
        numpy_include,
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/core/include":
        numpy_include,
    "/opt/python/cp311-cp311/include/python3.11": py_include,
}
for path in glob.glob(f"{venv}/share/*/cmake/*.cmake"):
    text = open(path).read()
    fixed = text
    for old, new in replacements.items():
        fixed = fixed.replace(old, new)
    if fixed != text:
        open(path, "w").write(fixed)
PYEOF
  touch "$VENV/.cmake-paths-fixed"
fi

# 3. Build with colcon, like any ROS workspace. tf2_msgs is not on PyPI: build the one-message
#    fallback only where no tf2_msgs is installed.
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
mkdir -p "$LOGS"
base_paths=(.)
if [[ ! -d "$VENV/share/tf2_msgs" ]]; then base_paths+=(compat/tf2_msgs); fi
# The test lane with the real launch_ros (test/real_ros_python.py) needs its
# composition_interfaces messages: build them from the upstream package in the ros-python
# sources (scripts/ros_python.sh says where it looks; without them those tests skip).
# shellcheck source=scripts/ros_python.sh
source "$ROOT/scripts/ros_python.sh"
ros_python_sources "$ROOT"
ROS_PYTHON="${OCCROBNET_ROS_PYTHON:-}"
if [[ ! -d "$VENV/share/composition_interfaces" && -n "$ROS_PYTHON" \
      && -d "$ROS_PYTHON/composition_interfaces_jazzy" ]]; then
  base_paths+=("$ROS_PYTHON/composition_interfaces_jazzy")
fi
log "colcon build (${base_paths[*]})"
"$VENV/bin/colcon" --log-base "$LOGS" build --base-paths "${base_paths[@]}" --symlink-install \
  --build-base "$BUILD" --install-base "$INSTALL" \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  >"$LOGS/colcon-build.txt" 2>&1 \
  || { tail -50 "$LOGS/colcon-build.txt"; log "colcon build failed"; exit 1; }

# 4. One file to source.
cat >"$ENV_FILE" <<ENVEOF
# Generated by scripts/setup.sh ($LANE): source this file to use occrobnet_ros from this checkout.
source "$ROOT/$LINK/bin/activate"
source "$ROOT/$INSTALL/setup.bash"
# Big images between processes need a large shared-memory segment (config/fastdds_shm.xml).
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
export FASTDDS_DEFAULT_PROFILES_FILE="$ROOT/config/fastdds_shm.xml"
ENVEOF
wheel="$(compgen -G "$MEDIAPIPE_WHEELS/mediapipe-0.10.21-*.whl" | head -1 || true)"
if [[ "$LANE" == kilted && -n "$wheel" ]]; then
  echo "export OCCROBNET_MEDIAPIPE_WHEEL=\"$wheel\"" >>"$ENV_FILE"
fi
log "done: source $ENV_FILE"
