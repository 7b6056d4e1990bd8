"""`colcon test` runs the suite: CMakeLists.txt registers it with ament_cmake_pytest.

colcon test builds with BUILD_TESTING on (scripts/setup.sh turns it off: the suite is run
directly there) and runs ctest in the build folder; this configures the package the same way
and asks ctest what it would run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_build_testing_registers_the_pytest_suite_with_ctest(tmp_path):
    prefix = os.environ.get("VIRTUAL_ENV") or sys.prefix  # where the ROS CMake packages live
    env = dict(os.environ)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(
        p for p in (env.get("AMENT_PREFIX_PATH"), prefix) if p
    )
    build = tmp_path / "build"
    configure = subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(build), "-DBUILD_TESTING=ON",
         f"-DPython3_EXECUTABLE={sys.executable}", f"-DCMAKE_PREFIX_PATH={prefix}"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert configure.returncode == 0, configure.stdout[-3000:] + configure.stderr[-3000:]
    listing = subprocess.run(
        ["ctest", "--test-dir", str(build), "-N", "-V"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Total Tests: 1" in listing.stdout
    command = next(line for line in listing.stdout.splitlines() if "Test command:" in line)
    assert '"-m" "pytest"' in command and f'"{REPO / "test"}"' in command
