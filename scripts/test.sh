#!/usr/bin/env bash
# The test command (README): lint, the whole suite on the Kilted lane (run through
# scripts/in_env.sh), then the Jazzy lane: the package built against ROS 2 Jazzy's wheels with
# Noble's numpy 1.26, running the tests that touch rclpy, messages, bags and metrics.
# OCCROBNET_JAZZY_LANE=0 skips the Jazzy lane (a quicker local run; CI runs both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/ros_python.sh
source scripts/ros_python.sh
ros_python_sources "$PWD"
if [[ -n "${OCCROBNET_ROS_PYTHON:-}" ]]; then
  echo "[test] real launch, launch_ros, message_filters sources: $OCCROBNET_ROS_PYTHON"
else
  echo "[test] no real launch / message_filters sources found (set OCCROBNET_ROS_PYTHON):" \
    "the tests that need them skip"
fi
echo "[test] ruff (99 columns, like ament_flake8)"
ruff check .
echo "[test] pytest, Kilted lane"
pytest "$@"
if [[ "${OCCROBNET_JAZZY_LANE:-1}" == 0 ]]; then
  echo "[test] Jazzy lane skipped (OCCROBNET_JAZZY_LANE=0)"
  exit 0
fi
echo "[test] pytest, Jazzy lane (requirements-jazzy.txt)"
jazzy_tests=(
  test/test_node_*.py test/test_launch_*.py test/test_ros_messages.py test/test_messages.py
  test/test_camera_info.py test/test_image_conversion.py test/test_stamp_sync.py
  test/test_bag_*.py test/test_metrics_*.py test/test_install_layout.py test/test_colcon_test.py
  test/test_package_xml.py
)
# A clean environment: nothing of the Kilted lane's (PYTHONPATH, AMENT_PREFIX_PATH, ...) leaks.
exec env -i HOME="$HOME" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 OCCROBNET_LANE=jazzy \
  ${OCCROBNET_ROS_PYTHON:+OCCROBNET_ROS_PYTHON="$OCCROBNET_ROS_PYTHON"} \
  bash scripts/in_env.sh pytest "${jazzy_tests[@]}"
