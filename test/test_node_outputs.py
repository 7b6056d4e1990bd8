"""The node process with a fake estimator that always finds both hands and the object:
HandObjectPose content, TF frames and their parent, markers, live output switches, estimator
failures. (node_fixtures.FakeEstimator: the real model cannot be made to fail on demand.)
"""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from node_fixtures import FAIL_PIXEL, sample_prediction
from node_harness import FRAME_ID, rgb_frame, running_node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with running_node(tmp_path_factory.mktemp("outputs"), {"diagnostics_period": 0.25}) as session:
        session.wait_for_subscribers()
        yield session


def tf_for(node, stamp) -> dict[str, object]:
    """Every transform the node sent for the frame with ``stamp``, by child frame."""
    return {
        t.child_frame_id: t for message in node.tf for t in message.transforms
        if t.header.stamp == stamp
    }  # fmt: skip


def test_pose_tf_and_markers_describe_the_frame(node):
    pose = node.publish_until_pose()
    stamp = pose.header.stamp
    expected = sample_prediction()
    assert pose.header.frame_id == FRAME_ID
    assert pose.right_hand.detected and pose.left_hand.detected and pose.object.detected
    joints = np.array([[p.x, p.y, p.z] for p in pose.right_hand.joints])
    assert np.array_equal(joints, expected.right_hand.joints)
    node.spin_until(lambda: len(tf_for(node, stamp)) == 3, 10, "TF for the frame")
    transforms = tf_for(node, stamp)
    # The default prefix is the node's name: two cameras' nodes never share a frame.
    names = {"occrobnet_pose/left_hand", "occrobnet_pose/right_hand", "occrobnet_pose/object"}
    assert set(transforms) == names
    assert all(t.header.frame_id == FRAME_ID for t in transforms.values())
    wrist = transforms["occrobnet_pose/left_hand"].transform.translation
    assert [wrist.x, wrist.y, wrist.z] == expected.left_hand.joints[0].tolist()
    node.spin_until(
        lambda: any(m.markers and m.markers[0].header.stamp == stamp for m in node.markers),
        10,
        "markers for the frame",
    )


def test_live_tf_settings_apply_to_the_next_frames(node):
    assert node.set_parameter("tf_prefix", "person1/").successful
    assert node.set_parameter("publish_joint_tf", True).successful
    stamp = node.publish_until_pose().header.stamp
    node.spin_until(lambda: len(tf_for(node, stamp)) == 3 + 42, 10, "joint TF")
    names = set(tf_for(node, stamp))
    assert {"person1/right_hand", "person1/object", "person1/left_hand_index_tip"} <= names
    assert "person1/right_hand_wrist" in names and "left_hand" not in names

    assert node.set_parameter("publish_tf", False).successful  # applied before the reply
    stamps = [node.publish_until_pose().header.stamp for _ in range(2)]
    node.spin_for(0.5)
    assert not any(tf_for(node, s) for s in stamps)
    assert node.set_parameter("publish_tf", True).successful


def test_the_debug_image_shows_the_estimate_when_switched_on(node):
    assert node.set_parameter("publish_debug_image", True).successful
    stamp = node.publish_until_pose(rgb_frame(fill=(0, 0, 0))).header.stamp
    node.spin_until(
        lambda: any(i.header.stamp == stamp for i in node.debug_images), 10, "a debug image"
    )
    image = next(i for i in node.debug_images if i.header.stamp == stamp)
    assert (image.width, image.height, image.encoding) == (160, 120, "rgb8")
    assert image.header.frame_id == FRAME_ID
    pixels = np.frombuffer(image.data, np.uint8).reshape(120, 160, 3)
    # Drawn on a black frame: the right hand's wrist keypoint (80, 60) is coloured, a corner
    # far from everything stays black.
    assert pixels[60, 80].any() and not pixels[0, 0].any()
    assert node.set_parameter("publish_debug_image", False).successful


def test_invalid_values_are_rejected_and_change_nothing(node):
    result = node.set_parameter("tf_prefix", "/robot/")
    assert not result.successful and "leading '/'" in result.reason
    result = node.set_parameter("hand_threshold", 1.5)
    assert not result.successful
    result = node.set_parameter("checkpoint", "/models/other.safetensors.good")
    assert not result.successful and "unconfigured" in result.reason
    result = node.set_parameter("max_frame_age", "soon")  # wrong type
    assert not result.successful
    assert node.set_parameter("hand_threshold", 0.7).successful  # a valid live change


def test_an_estimator_failure_skips_the_frame_and_the_node_keeps_serving(node):
    stamp = node.publish_frame(rgb_frame(fill=FAIL_PIXEL))
    level, message, values = node.wait_for_status(
        lambda level, message, values: level == DiagnosticStatus.ERROR, timeout=20
    )
    assert "fake estimator failure" in message and int(values["estimator errors"]) >= 1
    node.publish_until_pose()
    node.wait_for_status(lambda level, message, values: level == DiagnosticStatus.OK)
    assert not any(p.header.stamp == stamp for p in node.poses)


def test_visibility_handedness_and_track_ids_reach_the_message(node):
    expected = sample_prediction()
    poses = [node.publish_until_pose() for _ in range(3)]
    for pose in poses:
        np.testing.assert_allclose(
            pose.right_hand.joint_visibility, expected.right_hand.joint_visibility
        )
        assert pose.right_hand.handedness == pytest.approx(0.875)
    # The same hands and object in every frame: the same three ids, none 0, all different.
    ids = {(p.right_hand.track_id, p.left_hand.track_id, p.object.track_id) for p in poses}
    assert len(ids) == 1
    ((right, left, obj),) = ids
    assert 0 not in (right, left, obj) and len({right, left, obj}) == 3
    _, _, values = node.latest_status()
    assert int(values["tracks started"]) >= 3 and values["hand swaps"] == "0"
