#!/usr/bin/env bash
# Install real photos and textures for the rendered training data (issue 18) into a cache
# folder, from Debian packages (apt-get download + dpkg-deb -x; nothing is installed system-wide).
#
#   scripts/get_backgrounds.sh [--cache DIR] [--debs DIR] [--extra]
#
# Default folder: ~/.cache/occrobnet_ros/backgrounds (or $OCCROBNET_BACKGROUNDS). --extra adds
# mate-backgrounds and plasma-workspace-wallpapers (GPL: training only, never commit them).
# Licences per file: DIR/ATTRIBUTION.tsv. Then train with RenderedConfig(background_dir=DIR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m occrobnet_ros.data.rendered.install_backgrounds "$@"
