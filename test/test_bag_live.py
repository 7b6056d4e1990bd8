"""bag-eval --live: a short bag played into a real occrobnet_pose process, outputs recorded."""

import json

import pytest
from bag_fixtures import small_source, tiny_checkpoint

from occrobnet_ros import cli
from occrobnet_ros.bag.convert import write_bag
from occrobnet_ros.bag.io import BagReader

FRAMES = 8


@pytest.fixture(scope="module")
def live_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bag_live")
    bag = directory / "synthetic"
    write_bag(small_source(FRAMES), bag, progress=False)
    report_dir = directory / "report"
    # 15 Hz: the node still drops frames on a CPU, and the test does not depend on how busy
    # the machine is to deliver every frame.
    args = ["bag-eval", str(bag), "-o", str(report_dir), "--live", "--rate", "0.5"]
    args += ["--checkpoint", str(tiny_checkpoint(directory)), "--device", "cpu"]
    args += ["--hand-threshold", "0", "--no-progress", "--startup-timeout", "90", "--drain", "1"]
    code = cli.main(args)
    assert code == 0, (report_dir / "node.log").read_text()
    return report_dir, json.loads((report_dir / "report.json").read_text())


def test_every_frame_is_processed_or_dropped_as_the_node_counts(live_report):
    _, report = live_report
    live = report["live"]
    assert live["frames_published"] == FRAMES
    assert live["frames_processed"] >= 1
    assert live["frames_processed"] + live["frames_dropped"] == FRAMES
    assert live["unmatched_outputs"] == 0
    # The node's own counters (its last /diagnostics) tell the same story.
    node = live["node_counters"]
    assert int(node["frames received"]) == FRAMES
    assert int(node["frames published"]) == live["frames_processed"]
    dropped = int(node["frames dropped"]) + int(node["frames rejected"])
    assert dropped == live["frames_dropped"]


def test_report_has_latency_and_the_recorded_outputs(live_report):
    report_dir, report = live_report
    latency = report["live"]["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["max"]
    assert report["live"]["drop_rate"] == report["live"]["frames_dropped"] / FRAMES
    assert report["frames_scored"] == report["live"]["frames_processed"]
    assert "## Live replay" in (report_dir / "report.md").read_text()
    with BagReader(report_dir / "predictions" / "synthetic") as bag:
        outputs = list(bag.messages(["/hand_object_pose"]))
    assert len(outputs) == report["live"]["frames_processed"]
