"""Prediction -> TF frames, and the one object that sends them.

Frames (REP 105 / REP 155 style: everything hangs from the sensor frame, the image's
``frame_id``; connecting that frame to the robot is someone else's job):

- ``<prefix>left_hand``, ``<prefix>right_hand``: the wrist pose (position = wrist joint,
  orientation = palm frame, as ``HandPose.wrist_pose``);
- ``<prefix>object``: the object pose (box centre, object axes);
- with ``joints=True`` also ``<prefix>left_hand_<joint>`` for every joint name of skeleton.py
  (``left_hand_index_tip``, ...), at the joint and oriented like the palm frame, so a
  fingertip frame carries the hand's orientation for teleoperation.

Only what was detected is sent: a part that is not found keeps its last transform in TF
listeners' buffers, and lookups at newer stamps fail instead of returning a stale pose.
"""

import numpy as np
from geometry_msgs.msg import TransformStamped
from std_msgs.msg import Header

from occrobnet_ros.prediction import Prediction
from occrobnet_ros.ros.messages import quaternion
from occrobnet_ros.skeleton import JOINT_NAMES, WRIST

TF_QOS_DEPTH = 100  # what tf2_ros.TransformBroadcaster uses


def expand_prefix(prefix: str, node_name: str) -> str:
    """``prefix`` with a leading ``~/`` replaced by the node's fully qualified name (without
    its leading '/'): ``~/`` on ``/cam1/occrobnet_pose`` gives ``cam1/occrobnet_pose/``."""
    if not prefix.startswith("~/"):
        return prefix
    return f"{node_name.strip('/')}/{prefix[2:]}"


def frame_names(prefix: str = "") -> dict[str, str]:
    """The child frame of each part: left_hand, right_hand, object."""
    return {part: f"{prefix}{part}" for part in ("left_hand", "right_hand", "object")}


def joint_frame_names(hand: str, prefix: str = "") -> list[str]:
    """The 21 joint frames of ``hand`` ('left_hand' or 'right_hand'), in skeleton order."""
    return [f"{prefix}{hand}_{name}" for name in JOINT_NAMES]


class TransformsWriter:
    """Writes a Prediction's transforms into reused TransformStamped messages.

    Like messages.HandObjectPoseWriter (filling existing messages is several times faster
    than building new ones in rclpy): the list :meth:`write` returns is valid until the next
    call. Not thread-safe.
    """

    def __init__(self) -> None:
        self._transforms: dict[str, TransformStamped] = {}

    def write(
        self, prediction: Prediction, header: Header, prefix: str = "", joints: bool = False
    ) -> list[TransformStamped]:
        """The transforms of every detected part, parent = ``header.frame_id``, at its stamp."""
        transforms = []
        for side, hand in (
            ("left_hand", prediction.left_hand),
            ("right_hand", prediction.right_hand),
        ):
            if not hand.detected:
                continue
            q = quaternion(hand.wrist_rotation)
            positions = np.asarray(hand.joints, dtype=np.float64).tolist()
            transforms.append(self._set(f"{prefix}{side}", header, positions[WRIST], q))
            if joints:
                names = joint_frame_names(side, prefix)
                transforms += [self._set(n, header, p, q) for n, p in zip(names, positions)]
        obj = prediction.object
        if obj.detected:
            position = np.asarray(obj.translation, dtype=np.float64).tolist()
            transforms.append(
                self._set(f"{prefix}object", header, position, quaternion(obj.rotation))
            )
        return transforms

    def _set(
        self, child: str, header: Header, position: list[float], q: list[float]
    ) -> TransformStamped:
        transform = self._transforms.get(child)
        if transform is None:
            transform = self._transforms[child] = TransformStamped(child_frame_id=child)
        transform.header = header
        translation, rotation = transform.transform.translation, transform.transform.rotation
        translation.x, translation.y, translation.z = position
        rotation.x, rotation.y, rotation.z, rotation.w = q
        return transform


def prediction_transforms(
    prediction: Prediction, header: Header, prefix: str = "", joints: bool = False
) -> list[TransformStamped]:
    """New transforms of every detected part of ``prediction`` (see TransformsWriter.write)."""
    return TransformsWriter().write(prediction, header, prefix, joints)


class TfSender:
    """Sends a list of transforms as one TFMessage on /tf.

    tf2_ros.TransformBroadcaster where it is importable; otherwise (PyPI installs,
    ENVIRONMENT.md) the same thing it does: a tf2_msgs/TFMessage publisher on the absolute
    ``/tf`` topic with depth 100, so namespacing the node does not move TF.
    """

    def __init__(self, node) -> None:
        self._node = node
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            from tf2_msgs.msg import TFMessage

            self._message = TFMessage
            self._publisher = node.create_publisher(TFMessage, "/tf", TF_QOS_DEPTH)
            self._broadcaster = None
        else:
            self._broadcaster = TransformBroadcaster(node, qos=TF_QOS_DEPTH)
            self._publisher = self._broadcaster.pub_tf

    def send(self, transforms: list[TransformStamped]) -> None:
        if not transforms:
            return
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(transforms)
        else:
            self._publisher.publish(self._message(transforms=transforms))

    def destroy(self) -> None:
        self._node.destroy_publisher(self._publisher)
