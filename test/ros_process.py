"""Helpers for tests that start ROS 2 processes.

Every such test runs in its own DDS domain (ROS_DOMAIN_ID derived from the pytest process id),
discovers only on this machine, uses the project's Fast DDS profile (big images need its
shared-memory segment), and kills every process it started, even when the test fails.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from occrobnet_ros.ros.child_node import running

REPO = Path(__file__).resolve().parents[1]
FASTDDS_PROFILE = REPO / "config" / "fastdds_shm.xml"


def isolated_ros_env(extra: dict | None = None) -> dict:
    """The environment for a test's ROS processes: own domain, localhost only, our profile."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(isolated_domain_id())
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    env.update(extra or {})
    return env


def isolated_domain_id() -> int:
    # Domains 1-100 (0 is the default that real robots use). Derived from the pid so that
    # test runs started side by side on one machine do not see each other.
    return 1 + os.getpid() % 100


@contextlib.contextmanager
def ros_process(args: list[str], env: dict | None = None, **popen_kwargs):
    """`python args...` (ros/child_node.py ``running``), its output piped unless redirected."""
    popen_kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **popen_kwargs}
    command = [sys.executable, *args]
    with running(command, env or isolated_ros_env(), text=True, **popen_kwargs) as process:
        yield process
