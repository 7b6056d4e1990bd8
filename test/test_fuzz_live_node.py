"""Hostile camera messages to a live node process (fake estimator): the node survives, still
answers a good frame, and its /diagnostics counters account for every image it received."""

import pytest
import rclpy
from node_harness import node_command

from occrobnet_ros.ros.child_node import running
from occrobnet_ros.tools.reliability.fuzz import fuzz_live_node
from occrobnet_ros.tools.reliability.node_process import Camera

from ros_process import isolated_ros_env

MESSAGES = 150


@pytest.mark.parametrize("kind", ["raw", "compressed"])
def test_a_live_node_survives_hostile_frames_and_counts_every_one(tmp_path, kind):
    parameters = {"diagnostics_period": 0.25, "use_compressed": kind == "compressed"}
    rclpy.init()
    try:
        command = node_command(parameters, fake=True)
        with running(command, isolated_ros_env(), tmp_path / "node.log") as process:
            camera = Camera()
            try:
                report = fuzz_live_node(camera, process, MESSAGES, kind=kind, seed=1)
            finally:
                camera.destroy()
    finally:
        rclpy.shutdown()
    log = (tmp_path / "node.log").read_text(errors="replace")[-3000:]
    assert report.hostile == MESSAGES
    assert report.alive and report.answered_after, log
    counters = report.counters
    assert counters["received"] > MESSAGES // 2  # best effort may lose a few, not most
    assert report.unaccounted == 0, counters
    assert report.lost_in_transport >= 0
    assert counters["rejected"] > 0 and counters["published"] >= 2
    assert "Traceback" not in log
