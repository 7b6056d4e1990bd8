"""What a person looks at in RViz: the markers of a Prediction (the debug image's drawing is
drawing.py's, in the same colours).

Markers (visualization_msgs/MarkerArray), in the image's frame at its stamp, one fixed
``(ns, id)`` per part so that each frame replaces the last:

- ``right_hand`` / ``left_hand``: the skeleton as a LINE_LIST (one segment per bone), and
  ``right_hand_joints`` / ``left_hand_joints``: the joints as a SPHERE_LIST;
- ``object``: the object's 3D box as a translucent CUBE at its pose.

A part that was not detected gets a DELETE, so RViz never shows a stale skeleton.
"""

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from occrobnet_ros.drawing import COLORS
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.ros.messages import set_points, set_pose
from occrobnet_ros.skeleton import BONES, NUM_JOINTS

BONE_LINE_WIDTH = 0.006  # m
JOINT_DIAMETER = 0.012  # m
_BONE_ENDS = np.array(BONES, dtype=np.int64).reshape(-1)  # parent, child, parent, child, ...


class MarkerArrayWriter:
    """Writes Predictions into one reused MarkerArray (as messages.HandObjectPoseWriter does:
    valid until the next call, not thread-safe)."""

    def __init__(self) -> None:
        self._hands = {side: _hand_markers(side) for side in ("right_hand", "left_hand")}
        self._object = _marker("object", Marker.CUBE)
        self._array = MarkerArray()

    def write(self, prediction: Prediction, header: Header) -> MarkerArray:
        markers = []
        for side, hand in (
            ("right_hand", prediction.right_hand),
            ("left_hand", prediction.left_hand),
        ):
            markers += self._hand(hand, side, header)
        markers.append(self._object_marker(prediction.object, header))
        self._array.markers = markers
        return self._array

    def _hand(self, hand: HandEstimate, side: str, header: Header) -> list[Marker]:
        bones, joints = self._hands[side]
        action = Marker.ADD if hand.detected else Marker.DELETE
        for marker in (bones, joints):
            marker.header, marker.action = header, action
        if hand.detected:
            # The bones' points are the joints' Point objects, listed once per bone end.
            set_points(joints.points, hand.joints)
        return [bones, joints]

    def _object_marker(self, obj: ObjectEstimate, header: Header) -> Marker:
        marker = self._object
        marker.header = header
        marker.action = Marker.ADD if obj.detected else Marker.DELETE
        if obj.detected:
            set_pose(marker.pose, obj.translation, obj.rotation)
            marker.scale.x, marker.scale.y, marker.scale.z = np.asarray(
                obj.box_size, dtype=np.float64
            ).tolist()
        return marker


def prediction_markers(prediction: Prediction, header: Header) -> MarkerArray:
    """A new MarkerArray for ``prediction`` of the image with ``header``."""
    return MarkerArrayWriter().write(prediction, header)


def _marker(ns: str, kind: int) -> Marker:
    r, g, b, a = COLORS.get(ns.removesuffix("_joints"), COLORS["object"])
    return Marker(ns=ns, id=0, type=kind, color=ColorRGBA(r=r, g=g, b=b, a=a))


def _hand_markers(side: str) -> tuple[Marker, Marker]:
    joints = _marker(f"{side}_joints", Marker.SPHERE_LIST)
    joints.points = [Point() for _ in range(NUM_JOINTS)]
    joints.scale.x = joints.scale.y = joints.scale.z = JOINT_DIAMETER
    bones = _marker(side, Marker.LINE_LIST)
    bones.points = [joints.points[i] for i in _BONE_ENDS]
    bones.scale.x = BONE_LINE_WIDTH
    return bones, joints
