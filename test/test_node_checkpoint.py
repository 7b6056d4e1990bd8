"""A bad checkpoint: configure fails with a clear log, the node stays up, and a good checkpoint
set afterwards brings it into service. The real estimator and its checkpoint checks."""

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from node_fixtures import random_checkpoint
from node_harness import running_node

pytestmark = pytest.mark.slow  # the real model: ~20 s on 2 cores


def test_a_bad_checkpoint_fails_configure_and_a_good_one_recovers(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)  # not a safetensors file
    good = random_checkpoint(tmp_path / "tiny_random.safetensors")
    parameters = {
        "checkpoint": str(broken), "device": "cpu", "max_frame_age": 10.0,
        "diagnostics_period": 0.25,
    }  # fmt: skip
    with running_node(tmp_path, parameters, fake=False) as node:
        level, message, _ = node.wait_for_status(
            lambda level, message, values: level == DiagnosticStatus.ERROR, timeout=60
        )
        assert "model not loaded" in message
        assert node.state() == "unconfigured"
        assert "could not load the model from" in node.output()
        assert str(broken) in node.output()

        assert node.set_parameter("checkpoint", good).successful
        assert node.change_state("configure") and node.change_state("activate")
        node.wait_for_subscribers(timeout=30)
        pose = node.publish_until_pose(timeout=60)
        assert pose.model_version.startswith("tiny_random.safetensors@")
        node.wait_for_status(lambda level, message, values: level != DiagnosticStatus.ERROR)
