"""occrobnet_ros/HandObjectPose -> Prediction: the inverse of ros/messages.py.

The bag tools read ground truth and recorded node outputs back into the same numpy form the
estimator returns, so every metric runs on Predictions. (This belongs next to
``messages.prediction_to_msg``; it lives here until it is folded into ros/messages.py.)
"""

import numpy as np

from occrobnet_ros.geometry import quaternion_to_matrix
from occrobnet_ros.msg import HandObjectPose, HandPose, ObjectPose
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction


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
