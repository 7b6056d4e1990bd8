"""Start-up with bad values in the params file: out of range stops the process with the reason;
a value only the node can judge fails configure, and the node waits to be fixed. Fake estimator.
"""

from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import running_node


def test_an_out_of_range_value_in_the_params_file_stops_the_node_with_the_reason(tmp_path):
    with running_node(tmp_path, {"hand_threshold": 3.0}) as node:
        node.process.wait(timeout=30)
        assert node.process.returncode == 2
        assert "hand_threshold out of range" in node.output()


def test_an_invalid_value_in_the_params_file_fails_configure_until_fixed(tmp_path):
    with running_node(tmp_path, {"device": "gpu", "diagnostics_period": 0.25}) as node:
        level, message, _ = node.wait_for_status(
            lambda level, message, values: level == DiagnosticStatus.ERROR
        )
        assert "device must be auto, cpu or cuda" in message
        assert node.state() == "unconfigured"
        assert node.set_parameter("device", "cpu").successful
        assert node.change_state("configure") and node.change_state("activate")
        node.wait_for_subscribers()
        node.publish_until_pose()
