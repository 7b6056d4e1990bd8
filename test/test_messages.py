"""The generated messages: every field survives a trip between two OS processes."""

import time
from pathlib import Path

import rclpy

from occrobnet_ros.msg import HandObjectPose, HandPose, ObjectPose

from message_fixtures import full_hand_object_pose
from ros_process import ros_process

HERE = Path(__file__).resolve().parent


def test_fixed_sizes_and_constants():
    msg = HandObjectPose()
    assert HandPose.NUM_JOINTS == 21
    assert len(msg.left_hand.joints) == 21
    assert len(msg.right_hand.keypoints_2d) == 21
    assert len(msg.right_hand.joint_confidence) == 21
    assert len(msg.object.corners) == 8
    assert not msg.left_hand.detected and not msg.object.detected


def test_every_field_crosses_processes():
    expected = full_hand_object_pose()
    received = []
    rclpy.init()
    node = rclpy.create_node("full_message_subscriber")
    node.create_subscription(HandObjectPose, "hand_object_pose", received.append, 10)
    try:
        with ros_process([str(HERE / "publish_full_message.py")], cwd=HERE) as publisher:
            deadline = time.monotonic() + 30.0
            while not received and time.monotonic() < deadline:
                assert publisher.poll() is None, publisher.stdout.read()
                rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert received, "no HandObjectPose arrived from the publisher process within 30 s"
    assert received[0] == expected
    # == on ROS messages compares every field recursively; spot-check a few by hand so a
    # broken __eq__ could not hide a difference.
    assert received[0].right_hand.joints[20] == expected.right_hand.joints[20]
    assert list(received[0].left_hand.joint_confidence) == list(
        expected.left_hand.joint_confidence
    )
    assert received[0].object.corners[7] == expected.object.corners[7]
    assert received[0].header.stamp.nanosec == 123_456_789
    assert isinstance(received[0].object, ObjectPose)
