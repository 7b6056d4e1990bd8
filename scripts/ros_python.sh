# Sourced by setup.sh and test.sh: where the upstream pure-Python sources of launch,
# launch_ros, message_filters (and composition_interfaces, Humble's rclpy) are, for the tests
# that run the real ROS libraries (test/real_ros_python.py). Sets OCCROBNET_ROS_PYTHON to the
# first folder that exists: the variable itself, ../shared/ros-python beside this checkout, or
# the project workplace's /work/shared/ros-python (a clone elsewhere, e.g. in /tmp). Left
# unset when none exists: those tests then skip and say why.
ros_python_sources() {
  local root="$1" candidate
  for candidate in "${OCCROBNET_ROS_PYTHON:-}" "$root/../shared/ros-python" /work/shared/ros-python
  do
    if [[ -n "$candidate" && -d "$candidate" ]]; then
      OCCROBNET_ROS_PYTHON="$(cd "$candidate" && pwd)"
      export OCCROBNET_ROS_PYTHON
      return 0
    fi
  done
  unset OCCROBNET_ROS_PYTHON
}
