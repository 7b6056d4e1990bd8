"""Shared pytest setup: every in-process ROS participant is isolated like the spawned ones."""

import os

from ros_process import isolated_ros_env

# rclpy reads these when a test calls rclpy.init(); set them before any test runs.
for _key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE"):
    os.environ[_key] = isolated_ros_env()[_key]

# Fixtures shared by several test modules.
from train_fixtures import model_yaml, roots  # noqa: E402, F401
