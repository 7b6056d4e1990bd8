"""The node's command line and its child process (ros/child_node.py)."""

import sys
import time

from occrobnet_ros.ros.child_node import NODE_MODULE, node_command, running


def test_overrides_follow_the_params_file_so_that_they_win():
    # rcl applies --params-file and -p in order, the later winning (checked with rclpy).
    command = node_command(
        {"use_sim_time": True, "fallback_intrinsics": (500.0, 500.0, 319.5, 239.5)},
        {"image": "/camera/image_raw"},
        namespace="/cam1",
        params_file="config/pose.yaml",
        extra=["--log-level", "warn"],
    )
    assert command[:4] == [sys.executable, *NODE_MODULE, "--ros-args"]
    assert command.index("--params-file") < command.index("-p")
    assert "use_sim_time:=true" in command
    assert "fallback_intrinsics:=[500.0, 500.0, 319.5, 239.5]" in command
    assert ["-r", "__ns:=/cam1"] == command[4:6]
    assert ["-r", "image:=/camera/image_raw"] == command[-4:-2]
    assert command[-2:] == ["--log-level", "warn"]


def test_the_child_leads_its_own_process_group_and_is_stopped_on_exit(tmp_path):
    log = tmp_path / "child.log"
    report = "import os; print(os.getpgid(0) == os.getpid(), os.environ['PYTHONUNBUFFERED'])"
    with running([sys.executable, "-c", report + "; import time; time.sleep(60)"], log=log) as p:
        while "True" not in log.read_text():
            assert p.poll() is None, log.read_text()
            time.sleep(0.01)
    assert p.returncode is not None
    assert log.read_text().splitlines()[0] == "True 1"  # then SIGINT's KeyboardInterrupt
