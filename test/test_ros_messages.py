"""Prediction -> HandObjectPose, TF transforms, markers and the debug image, without processes."""

import numpy as np
import pytest
from node_fixtures import sample_prediction
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from occrobnet_ros.drawing import draw_prediction
from occrobnet_ros.geometry import matrix_to_quaternion, quaternion_to_matrix
from occrobnet_ros.msg import HandPose, ObjectPose
from occrobnet_ros.ros.markers import MarkerArrayWriter, prediction_markers
from occrobnet_ros.ros.messages import (
    HandObjectPoseWriter,
    msg_to_prediction,
    prediction_to_msg,
    quaternion,
)
from occrobnet_ros.ros.tf import (
    TransformsWriter,
    expand_prefix,
    frame_names,
    prediction_transforms,
)
from occrobnet_ros.skeleton import BONES, JOINT_NAMES

K = np.array([[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]])


def header(sec: int = 1_700_000_000, nanosec: int = 250_000_000) -> Header:
    h = Header(frame_id="camera_color_optical_frame")
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def xyz(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points])


def quat(q) -> np.ndarray:
    return np.array([q.x, q.y, q.z, q.w])


# --- quaternions ---------------------------------------------------------------------------


def test_quaternion_matches_geometry_for_random_and_half_turn_rotations():
    rotations = list(Rotation.random(200, random_state=7).as_matrix())
    # Half turns about each axis and a diagonal: w = 0, where a naive formula divides by zero.
    rotations += list(Rotation.from_rotvec(np.pi * np.array([
        [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.6, 0.8, 0], [0, 0.6, 0.8]
    ])).as_matrix())  # fmt: skip
    rotations.append(np.eye(3))
    for R in rotations:
        ours, reference = np.array(quaternion(R)), matrix_to_quaternion(R)
        assert ours[3] >= 0.0
        assert np.isclose(np.linalg.norm(ours), 1.0)
        # At w = 0, q and -q are the same rotation and both have w >= 0.
        assert np.allclose(ours, reference, atol=1e-9) or np.allclose(ours, -reference, atol=1e-9)
        assert np.allclose(quaternion_to_matrix(ours), R, atol=1e-9)


# --- HandObjectPose ----------------------------------------------------------------------------


def test_message_carries_every_field_of_the_prediction():
    prediction = sample_prediction()
    prediction.right_hand.track_id, prediction.left_hand.track_id = 7, 8
    prediction.object.track_id = 9
    msg = prediction_to_msg(prediction, header(), "occrobnet_tiny", "v1@abc")
    assert msg.header.frame_id == "camera_color_optical_frame"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1_700_000_000, 250_000_000)
    assert (msg.model_name, msg.model_version) == ("occrobnet_tiny", "v1@abc")
    assert msg.inference_time == pytest.approx(0.0125)
    for hand_msg, hand in ((msg.left_hand, prediction.left_hand),
                           (msg.right_hand, prediction.right_hand)):  # fmt: skip
        assert hand_msg.detected and hand_msg.confidence == pytest.approx(0.75)
        assert np.array_equal(xyz(hand_msg.joints), hand.joints)
        assert np.array_equal(xyz(hand_msg.keypoints_2d)[:, :2], hand.keypoints_2d)
        assert not xyz(hand_msg.keypoints_2d)[:, 2].any()
        assert np.allclose(hand_msg.joint_confidence, hand.joint_confidence)
        wrist = hand_msg.wrist_pose
        assert [wrist.position.x, wrist.position.y, wrist.position.z] == hand.joints[0].tolist()
        assert np.allclose(quaternion_to_matrix(quat(wrist.orientation)), hand.wrist_rotation)
        assert np.allclose(hand_msg.joint_visibility, hand.joint_visibility)
        assert hand_msg.handedness == pytest.approx(hand.handedness)
        assert hand_msg.track_id == hand.track_id
    assert (msg.right_hand.track_id, msg.left_hand.track_id, msg.object.track_id) == (7, 8, 9)
    obj, estimate = msg.object, prediction.object
    assert obj.detected and obj.confidence == pytest.approx(0.5)
    position = obj.pose.position
    assert [position.x, position.y, position.z] == estimate.translation.tolist()
    assert np.allclose(quaternion_to_matrix(quat(obj.pose.orientation)), estimate.rotation)
    assert [obj.box_size.x, obj.box_size.y, obj.box_size.z] == estimate.box_size.tolist()
    assert np.allclose(xyz(obj.corners), estimate.corners)


def test_not_detected_parts_are_default_messages():
    msg = prediction_to_msg(sample_prediction(left=False, obj=False), header())
    assert msg.left_hand == HandPose() and not msg.left_hand.detected
    assert msg.object == ObjectPose() and not msg.object.detected
    assert msg.right_hand.detected


def test_reused_writer_leaves_nothing_stale_between_frames():
    writer = HandObjectPoseWriter()
    writer.write(sample_prediction(), header(1))
    msg = writer.write(sample_prediction(left=False, obj=False), header(2))
    assert msg.header.stamp.sec == 2
    assert msg.left_hand == HandPose() and msg.object == ObjectPose()
    fresh = prediction_to_msg(sample_prediction(left=False, obj=False), header(2))
    assert msg == fresh
    msg = writer.write(sample_prediction(), header(3))
    assert msg == prediction_to_msg(sample_prediction(), header(3))
    # The "not detected" messages it hands out were not modified by the detected frame.
    assert writer.write(sample_prediction(left=False), header(4)).left_hand == HandPose()


# --- TF ------------------------------------------------------------------------------------


def test_transforms_hang_from_the_image_frame_at_its_stamp():
    prediction = sample_prediction()
    transforms = prediction_transforms(prediction, header(), prefix="person1/")
    assert [t.child_frame_id for t in transforms] == [
        "person1/left_hand", "person1/right_hand", "person1/object"
    ]  # fmt: skip
    for t in transforms:
        assert t.header.frame_id == "camera_color_optical_frame"
        assert (t.header.stamp.sec, t.header.stamp.nanosec) == (1_700_000_000, 250_000_000)
    left, right, obj = transforms
    translation = left.transform.translation
    assert [translation.x, translation.y, translation.z] == prediction.left_hand.joints[0].tolist()
    assert np.allclose(
        quaternion_to_matrix(quat(right.transform.rotation)), prediction.right_hand.wrist_rotation
    )
    translation = obj.transform.translation
    assert [translation.x, translation.y, translation.z] == prediction.object.translation.tolist()


def test_joint_frames_are_named_after_the_skeleton_and_skip_undetected_hands():
    prediction = sample_prediction(left=False)
    transforms = prediction_transforms(prediction, header(), joints=True)
    names = [t.child_frame_id for t in transforms]
    assert names == ["right_hand", *[f"right_hand_{n}" for n in JOINT_NAMES], "object"]
    assert "right_hand_index_tip" in names and not any(n.startswith("left") for n in names)
    tip = transforms[1 + JOINT_NAMES.index("index_tip")].transform.translation
    assert [tip.x, tip.y, tip.z] == prediction.right_hand.joints[8].tolist()


def test_reused_transforms_writer_matches_fresh_transforms():
    writer = TransformsWriter()
    writer.write(sample_prediction(), header(1), joints=True)
    again = writer.write(sample_prediction(obj=False), header(2))
    assert again == prediction_transforms(sample_prediction(obj=False), header(2))


# --- markers and debug image ---------------------------------------------------------------


def test_markers_draw_each_bone_and_the_object_box():
    prediction = sample_prediction()
    markers = {(m.ns, m.id): m for m in prediction_markers(prediction, header()).markers}
    assert set(markers) == {
        ("right_hand", 0), ("right_hand_joints", 0), ("left_hand", 0), ("left_hand_joints", 0),
        ("object", 0),
    }  # fmt: skip
    bones = markers["right_hand", 0]
    assert bones.type == Marker.LINE_LIST and bones.action == Marker.ADD
    assert bones.header.frame_id == "camera_color_optical_frame"
    ends = xyz(bones.points).reshape(-1, 2, 3)
    joints = prediction.right_hand.joints
    assert np.array_equal(ends, joints[np.array(BONES)])
    assert np.array_equal(xyz(markers["right_hand_joints", 0].points), joints)
    box = markers["object", 0]
    assert box.type == Marker.CUBE
    assert [box.scale.x, box.scale.y, box.scale.z] == prediction.object.box_size.tolist()
    assert box.pose.position.z == prediction.object.translation[2]


def test_undetected_parts_delete_their_markers_and_come_back():
    writer = MarkerArrayWriter()
    markers = writer.write(sample_prediction(left=False, obj=False), header()).markers
    actions = {m.ns: m.action for m in markers}
    assert actions["left_hand"] == actions["left_hand_joints"] == Marker.DELETE
    assert actions["object"] == Marker.DELETE and actions["right_hand"] == Marker.ADD
    markers = writer.write(sample_prediction(), header()).markers
    assert all(m.action == Marker.ADD for m in markers)
    left = next(m for m in markers if m.ns == "left_hand_joints")
    assert np.array_equal(xyz(left.points), sample_prediction().left_hand.joints)


def test_debug_image_draws_on_a_copy():
    rgb = np.zeros((120, 160, 3), dtype=np.uint8)
    rgb.flags.writeable = False  # like a zero-copy view of an Image message
    drawn = draw_prediction(rgb, sample_prediction(), K)
    assert not rgb.any()
    assert drawn.shape == rgb.shape and drawn.dtype == np.uint8
    # The right hand's first bone runs from keypoint 0 (80, 60) towards keypoint 1 (81, 60.5).
    assert drawn[60, 80].any()
    # The object box (centre 0.6 m ahead, 5 cm below the axis) projects around (79.5, 72).
    assert drawn[40:110, 40:120].any()
    assert not drawn[0, 0].any()


def test_the_default_tf_prefix_is_the_nodes_namespace_and_name():
    assert expand_prefix("~/", "/cam1/occrobnet_pose") == "cam1/occrobnet_pose/"
    assert expand_prefix("~/arm_", "/occrobnet_pose") == "occrobnet_pose/arm_"
    assert expand_prefix("person1/", "/cam1/occrobnet_pose") == "person1/"
    two_cameras = [frame_names(expand_prefix("~/", f"/{cam}/occrobnet_pose")) for cam in "ab"]
    assert not set(two_cameras[0].values()) & set(two_cameras[1].values())


def test_a_message_reads_back_into_the_same_prediction():
    prediction = sample_prediction()
    prediction.right_hand.track_id, prediction.object.track_id = 3, 4
    back = msg_to_prediction(prediction_to_msg(prediction, header()))
    for original, read in zip(prediction.hands, back.hands):
        np.testing.assert_allclose(read.joints, original.joints)
        np.testing.assert_allclose(read.joint_visibility, original.joint_visibility)
        assert read.handedness == pytest.approx(original.handedness)
        assert read.track_id == original.track_id
    assert back.object.track_id == 4
