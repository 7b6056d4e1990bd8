"""The colcon install tree has what a ROS user looks for, where they look for it."""

import importlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _package_prefix() -> Path:
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if (
            Path(prefix)
            / "share"
            / "ament_index"
            / "resource_index"
            / "packages"
            / "occrobnet_ros"
        ).exists():
            return Path(prefix)
    pytest.fail("occrobnet_ros is not in AMENT_PREFIX_PATH: source env.sh (or install/setup.bash)")


def test_share_has_launch_config_and_manifest():
    share = _package_prefix() / "share" / "occrobnet_ros"
    assert (share / "package.xml").is_file()
    assert (share / "launch" / "pose.launch.py").is_file()
    assert (share / "config" / "pose.yaml").is_file()
    assert (share / "config" / "fastdds_shm.xml").is_file()
    for name in ("HandObjectPose", "HandPose", "ObjectPose"):
        assert (share / "msg" / f"{name}.msg").is_file()
        assert (share / "msg" / f"{name}.idl").is_file()


def test_node_executable_is_where_ros2_run_looks():
    executable = _package_prefix() / "lib" / "occrobnet_ros" / "occrobnet_pose"
    assert executable.is_file() and os.access(executable, os.X_OK)


def test_generated_message_module_is_installed_and_importable():
    prefix = _package_prefix()
    site = next(prefix.glob("lib/python3*/site-packages"))
    assert (site / "occrobnet_ros" / "msg" / "__init__.py").is_file()
    assert (site / "occrobnet_ros" / "skeleton.py").exists()  # the Python package beside it
    msg = importlib.import_module("occrobnet_ros.msg")
    assert Path(msg.__file__).is_relative_to(site)  # not resolved: --symlink-install
    # The source package and the generated one combine into one importable package.
    skeleton = importlib.import_module("occrobnet_ros.skeleton")
    assert skeleton.NUM_JOINTS == 21
