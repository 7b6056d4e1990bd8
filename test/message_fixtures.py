"""A HandObjectPose with every field set to a distinct value, for round-trip tests."""

from geometry_msgs.msg import Point

from occrobnet_ros.msg import HandObjectPose, HandPose, ObjectPose


def _point(base: float) -> Point:
    # Multiples of 1/8 are exact in float32 and float64, so equality is a fair comparison.
    return Point(x=base + 0.125, y=base + 0.25, z=base + 0.5)


def full_hand_pose(offset: float) -> HandPose:
    hand = HandPose()
    hand.detected = True
    hand.confidence = 0.875
    hand.joints = [_point(offset + j) for j in range(HandPose.NUM_JOINTS)]
    hand.keypoints_2d = [_point(offset + 100 + j) for j in range(HandPose.NUM_JOINTS)]
    hand.joint_confidence = [j / 32.0 for j in range(HandPose.NUM_JOINTS)]
    hand.wrist_pose.position = _point(offset)
    hand.wrist_pose.orientation.x = 0.5
    hand.wrist_pose.orientation.y = -0.5
    hand.wrist_pose.orientation.z = 0.5
    hand.wrist_pose.orientation.w = 0.5
    return hand


def full_object_pose() -> ObjectPose:
    obj = ObjectPose()
    obj.detected = True
    obj.confidence = 0.625
    obj.pose.position = _point(7.0)
    obj.pose.orientation.w = 1.0
    obj.box_size.x, obj.box_size.y, obj.box_size.z = 0.0625, 0.125, 0.25
    obj.corners = [_point(20.0 + i) for i in range(8)]
    return obj


def full_hand_object_pose() -> HandObjectPose:
    msg = HandObjectPose()
    msg.header.stamp.sec = 1_700_000_000
    msg.header.stamp.nanosec = 123_456_789
    msg.header.frame_id = "camera_color_optical_frame"
    msg.left_hand = full_hand_pose(1.0)
    msg.right_hand = full_hand_pose(2.0)
    msg.object = full_object_pose()
    msg.model_name = "occrobnet_tiny"
    msg.model_version = "occrobnet_tiny_synthetic.safetensors@0123abcd"
    msg.inference_time = 0.03125
    return msg
