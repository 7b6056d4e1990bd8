"""Prediction <-> occrobnet_ros/HandObjectPose, without a node.

Every frame gets a message; a hand or object that was not found is all defaults
(``detected = false``, zero arrays), as HandPose.msg and ObjectPose.msg promise.

Speed matters here (the node's whole ROS overhead budget is 1 ms per frame), and two things
in rclpy's generated Python classes are slow:

- A constructor builds every default sub-message before looking at its arguments:
  ``HandObjectPose()`` makes ~100 ``Point`` objects (~0.2 ms) that a filled message throws
  away. :class:`HandObjectPoseWriter` therefore fills the same message objects every frame.
  Setting the fields of existing ``Point`` objects is also ~3x faster than making new ones.
- scipy's ``Rotation.from_matrix`` costs ~0.1 ms per call; :func:`quaternion` does the same
  conversion for one matrix in plain Python.

:func:`msg_to_prediction` reads a message back (the bag tools score recorded outputs and
ground truth as Predictions, the demo its answers).
"""

import math

import numpy as np
from geometry_msgs.msg import Point, Pose
from std_msgs.msg import Header

from occrobnet_ros.geometry import quaternion_to_matrix
from occrobnet_ros.msg import HandObjectPose, HandPose, ObjectPose
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import WRIST


class HandObjectPoseWriter:
    """Writes Predictions into one reused HandObjectPose (see the module docstring).

    The message :meth:`write` returns stays valid until the next call: publish it (rclpy
    serialises on ``publish``) before writing the next frame. Not thread-safe.
    """

    def __init__(self) -> None:
        self._msg = HandObjectPose()
        self._hands = {"left": HandPose(), "right": HandPose()}
        self._object = ObjectPose()
        self._nothing = (HandPose(), ObjectPose())  # never modified: "not detected"

    def write(
        self, prediction: Prediction, header: Header, model_name: str = "", model_version: str = ""
    ) -> HandObjectPose:
        """The HandObjectPose of ``prediction`` for the image with ``header``."""
        msg = self._msg
        msg.header = header
        msg.left_hand = self._hand(prediction.left_hand, "left")
        msg.right_hand = self._hand(prediction.right_hand, "right")
        msg.object = self._object_pose(prediction.object)
        msg.model_name, msg.model_version = model_name, model_version
        msg.inference_time = float(prediction.inference_time)
        return msg

    def _hand(self, hand: HandEstimate, side: str) -> HandPose:
        if not hand.detected:
            return self._nothing[0]
        msg = self._hands[side]
        msg.detected = True
        msg.confidence = float(hand.confidence)
        set_points(msg.joints, hand.joints)
        set_points(msg.keypoints_2d, hand.keypoints_2d)
        msg.joint_confidence = np.asarray(hand.joint_confidence, dtype=np.float32)
        set_pose(msg.wrist_pose, hand.joints[WRIST], hand.wrist_rotation)
        msg.joint_visibility = np.asarray(hand.joint_visibility, dtype=np.float32)
        msg.handedness = float(hand.handedness)
        msg.track_id = int(hand.track_id)
        return msg

    def _object_pose(self, obj: ObjectEstimate) -> ObjectPose:
        if not obj.detected:
            return self._nothing[1]
        msg = self._object
        msg.detected = True
        msg.confidence = float(obj.confidence)
        set_pose(msg.pose, obj.translation, obj.rotation)
        msg.box_size.x, msg.box_size.y, msg.box_size.z = np.asarray(obj.box_size, float).tolist()
        set_points(msg.corners, obj.corners)
        msg.track_id = int(obj.track_id)
        return msg


def prediction_to_msg(
    prediction: Prediction, header: Header, model_name: str = "", model_version: str = ""
) -> HandObjectPose:
    """A new HandObjectPose for ``prediction`` of the image with ``header``."""
    return HandObjectPoseWriter().write(prediction, header, model_name, model_version)


def quaternion(R: np.ndarray) -> list[float]:
    """A rotation matrix [3, 3] -> unit quaternion [x, y, z, w] with w >= 0.

    Same result as geometry.matrix_to_quaternion, in plain Python floats (for one matrix that
    is ~30x faster than scipy or vectorised numpy). Each candidate below is 4 q_i * q for one
    i in (x, y, z, w), made of sums and differences of the matrix entries; the one with the
    largest 4 q_i^2 is the best conditioned, and normalising it gives q.
    """
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = np.asarray(R, dtype=np.float64).tolist()
    trace = m00 + m11 + m22
    candidates = (
        (1.0 + 2.0 * m00 - trace, m01 + m10, m02 + m20, m21 - m12),
        (m01 + m10, 1.0 + 2.0 * m11 - trace, m12 + m21, m02 - m20),
        (m02 + m20, m12 + m21, 1.0 + 2.0 * m22 - trace, m10 - m01),
        (m21 - m12, m02 - m20, m10 - m01, 1.0 + trace),
    )
    best = max(range(4), key=lambda i: candidates[i][i])
    q = candidates[best]
    norm = math.sqrt(sum(v * v for v in q))
    sign = -1.0 if q[3] < 0.0 else 1.0
    return [sign * v / norm for v in q]


def set_points(targets: list[Point], values: np.ndarray) -> None:
    """Write rows [N, 2 or 3] into N existing Points (z = 0 for 2D rows)."""
    rows = np.asarray(values, dtype=np.float64).tolist()
    for target, row in zip(targets, rows, strict=True):
        target.x, target.y = row[0], row[1]
        target.z = row[2] if len(row) == 3 else 0.0


def set_pose(pose: Pose, position: np.ndarray, rotation: np.ndarray) -> None:
    """Write a position [3] and a rotation matrix [3, 3] into an existing Pose."""
    pose.position.x, pose.position.y, pose.position.z = np.asarray(
        position, dtype=np.float64
    ).tolist()
    q = pose.orientation
    q.x, q.y, q.z, q.w = quaternion(rotation)


# --- HandObjectPose -> Prediction ------------------------------------------------------------


def msg_to_prediction(msg: HandObjectPose) -> Prediction:
    """The Prediction a HandObjectPose carries; undetected parts keep their defaults."""
    return Prediction(
        right_hand=msg_to_hand(msg.right_hand),
        left_hand=msg_to_hand(msg.left_hand),
        object=msg_to_object(msg.object),
        inference_time=float(msg.inference_time),
    )


def msg_to_hand(msg: HandPose) -> HandEstimate:
    if not msg.detected:
        return HandEstimate()
    orientation = msg.wrist_pose.orientation
    return HandEstimate(
        detected=True,
        confidence=float(msg.confidence),
        joints=point_array(msg.joints),
        keypoints_2d=point_array(msg.keypoints_2d)[:, :2],
        joint_confidence=np.asarray(msg.joint_confidence, dtype=np.float64),
        wrist_rotation=_rotation(orientation),
        joint_visibility=np.asarray(msg.joint_visibility, dtype=np.float64),
        handedness=float(msg.handedness),
        track_id=int(msg.track_id),
    )


def msg_to_object(msg: ObjectPose) -> ObjectEstimate:
    if not msg.detected:
        return ObjectEstimate()
    size = msg.box_size
    return ObjectEstimate(
        detected=True,
        confidence=float(msg.confidence),
        rotation=_rotation(msg.pose.orientation),
        translation=point_array([msg.pose.position])[0],
        box_size=np.array([size.x, size.y, size.z], dtype=np.float64),
        track_id=int(msg.track_id),
    )


def point_array(points) -> np.ndarray:
    """geometry_msgs/Point list -> ``[N, 3]`` float64."""
    return np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64).reshape(-1, 3)


def _rotation(q) -> np.ndarray:
    quaternion = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.linalg.norm(quaternion) > 0:
        return np.eye(3)  # an unset orientation (all zero) means "no rotation given"
    return quaternion_to_matrix(quaternion)
