"""A 20-second soak at 60 Hz against a node process (fake estimator): the node stays up, every
frame it received is accounted for, and RSS and latency are measured (the 10-minute run and
its figures: docs/reliability.md)."""

import rclpy
from node_harness import node_command

from occrobnet_ros.tools.reliability.soak import soak

from ros_process import isolated_ros_env

RATE, DURATION = 60.0, 20.0


def test_a_short_soak_accounts_for_every_frame_and_measures_memory(tmp_path):
    rclpy.init()
    try:
        report = soak(
            node_command({"diagnostics_period": 0.5}, fake=True),
            RATE,
            DURATION,
            log=tmp_path / "node.log",
            env=isolated_ros_env(),
            size=(160, 120),
            warmup=5.0,
            sample_period=1.0,
            estimator="fake",
        )
    finally:
        rclpy.shutdown()
    log = (tmp_path / "node.log").read_text(errors="replace")[-3000:]
    assert report.alive, log
    counters = report.counters
    # Every frame the node received has a fate, and what it did not receive was lost on the
    # way (best effort), never inside the node.
    assert report.unaccounted == 0, counters
    assert report.sent > 0 and 0 <= report.lost_in_transport <= report.sent // 10
    assert counters["published"] > 0 and counters["rejected"] == counters["errors"] == 0
    assert 0 < report.answered <= counters["published"]
    latency = report.latency_ms
    assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    # RSS sampled throughout; 20 s is too short for a leak figure, but not for a runaway.
    assert len(report.rss_kib) >= DURATION - 1
    assert report.rss_baseline_kib > 0 and abs(report.rss_growth) < 0.25
