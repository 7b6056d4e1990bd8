"""Lifecycle transitions from a client, the enable service, CameraInfo-less cameras, and
parameters that apply on configure (here: switching to compressed input). Fake estimator."""

import pytest
from node_harness import running_node
from std_srvs.srv import SetBool


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with running_node(tmp_path_factory.mktemp("lifecycle"), {"diagnostics_period": 0.25}) as s:
        s.wait_for_subscribers()
        yield s


def answered(node, stamps) -> bool:
    return any(p.header.stamp in stamps for p in node.poses)


def test_without_camera_info_frames_are_rejected_until_a_fallback_is_set(node):
    node.publish_for(1.5, info=False)  # longer than the node's wait for a first CameraInfo
    level, message, values = node.wait_for_status(
        lambda level, message, values: int(values.get("rejected: no_camera_info", 0)) > 0
    )
    assert not node.poses
    assert node.set_parameter("fallback_intrinsics", [150.0, 150.0, 79.5, 59.5]).successful
    node.publish_until_pose(info=False)


def test_deactivate_stops_the_output_and_activate_resumes_it(node):
    assert node.state() == "active"
    assert node.change_state("deactivate")
    assert node.state() == "inactive"
    reply = node.call("enable", SetBool.Request(data=True))  # nothing will be processed
    assert not reply.success and "inactive" in reply.message
    stamps = node.publish_for(0.5)
    node.wait_for_status(lambda level, message, values: values["state"] == "inactive")
    assert not answered(node, stamps)
    assert node.change_state("activate")
    assert node.state() == "active"
    node.publish_until_pose()


def test_enable_false_pauses_and_true_resumes(node):
    node.enable(False)
    stamps = node.publish_for(0.5)
    level, message, values = node.wait_for_status(
        lambda level, message, values: int(values.get("dropped: paused", 0)) > 0
    )
    assert values["state"] == "active, paused"
    assert not answered(node, stamps)
    node.enable(True)
    node.publish_until_pose()


def test_configure_time_parameters_change_after_cleanup(node):
    result = node.set_parameter("use_compressed", True)
    assert not result.successful and "unconfigured" in result.reason
    assert node.change_state("deactivate") and node.change_state("cleanup")
    assert node.state() == "unconfigured"
    assert node.set_parameter("use_compressed", True).successful
    assert node.change_state("configure") and node.change_state("activate")
    pose = node.publish_until_pose(compressed=True)
    assert pose.right_hand.detected
