"""The joint order and the maps to InterHand2.6M, HO-3D/MANO and MediaPipe."""

import numpy as np
import pytest

from occrobnet_ros import skeleton as sk

# The official index lists, as printed in KT data/dataset_ho3d.py (model_reference.md 3.1).
KT_INTERHAND_FROM_HO3D = [16, 15, 14, 13, 17, 3, 2, 1, 18, 6, 5, 4, 19, 12, 11, 10, 20, 9, 8, 7, 0]
KT_HO3D_FROM_INTERHAND = [20, 7, 6, 5, 11, 10, 9, 19, 18, 17, 15, 14, 13, 3, 2, 1, 0, 4, 8, 12, 16]

# Joint names of the other orders, written out by hand from their documentation.
INTERHAND_NAMES = [
    f"{finger}_{joint}"
    for finger in sk.FINGERS
    for joint in (
        ("tip", "ip", "mcp", "cmc") if finger == "thumb" else ("tip", "dip", "pip", "mcp")
    )
] + ["wrist"]
HO3D_NAMES = (
    ["wrist"]
    + [f"{f}_{j}" for f in ("index", "middle", "pinky", "ring") for j in ("mcp", "pip", "dip")]
    + ["thumb_cmc", "thumb_mcp", "thumb_ip"]
    + [f"{f}_tip" for f in sk.FINGERS]
)
MEDIAPIPE_NAMES = [  # mediapipe HandLandmark, lower-cased, FINGER dropped
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
]  # fmt: skip

MAPS = {
    "interhand": (sk.OURS_FROM_INTERHAND, sk.INTERHAND_FROM_OURS, INTERHAND_NAMES),
    "ho3d": (sk.OURS_FROM_HO3D, sk.HO3D_FROM_OURS, HO3D_NAMES),
    "mediapipe": (sk.OURS_FROM_MEDIAPIPE, sk.MEDIAPIPE_FROM_OURS, MEDIAPIPE_NAMES),
}


def test_our_order_names_and_parents():
    assert sk.JOINT_NAMES[:5] == ("wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip")
    assert sk.JOINT_NAMES[sk.MIDDLE_MCP] == "middle_mcp"
    assert [sk.JOINT_NAMES[j] for j in sk.FINGERTIPS] == [f"{f}_tip" for f in sk.FINGERS]
    assert [int(sk.PARENTS[j]) for j in (1, 5, 9, 13, 17)] == [sk.WRIST] * 5
    assert sk.PARENTS[8] == 7 and sk.PARENTS[0] == -1


@pytest.mark.parametrize("name", MAPS)
def test_maps_are_inverse_bijections(name):
    ours_from, from_ours, _ = MAPS[name]
    assert sorted(ours_from.tolist()) == list(range(sk.NUM_JOINTS))
    assert sorted(from_ours.tolist()) == list(range(sk.NUM_JOINTS))
    joints = np.random.default_rng(0).normal(size=(4, sk.NUM_JOINTS, 3))
    np.testing.assert_array_equal(joints[:, ours_from][:, from_ours], joints)
    np.testing.assert_array_equal(joints[:, from_ours][:, ours_from], joints)


@pytest.mark.parametrize("name", MAPS)
def test_maps_move_each_named_joint_to_its_name(name):
    ours_from, from_ours, other_names = MAPS[name]
    assert [other_names[i] for i in ours_from] == list(sk.JOINT_NAMES)
    assert [sk.JOINT_NAMES[i] for i in from_ours] == other_names


def test_mediapipe_order_is_ours():
    np.testing.assert_array_equal(sk.OURS_FROM_MEDIAPIPE, np.arange(sk.NUM_JOINTS))


def test_maps_agree_with_keypoint_transformer_lists():
    # ours = ho3d[KT_INTERHAND_FROM_HO3D][OURS_FROM_INTERHAND]
    np.testing.assert_array_equal(
        np.array(KT_INTERHAND_FROM_HO3D)[sk.OURS_FROM_INTERHAND], sk.OURS_FROM_HO3D
    )
    np.testing.assert_array_equal(
        sk.OURS_FROM_INTERHAND[sk.HO3D_FROM_OURS], KT_HO3D_FROM_INTERHAND
    )
    assert sk.OURS_FROM_INTERHAND[sk.WRIST] == sk.INTERHAND_ROOT
    assert sk.OURS_FROM_HO3D[sk.WRIST] == sk.HO3D_ROOT
    assert sk.OURS_FROM_HO3D[sk.MIDDLE_MCP] == sk.HO3D_MIDDLE_MCP


def test_two_hand_map_keeps_hands_apart():
    two = sk.two_hand_map(sk.OURS_FROM_INTERHAND)
    assert sorted(two.tolist()) == list(range(2 * sk.NUM_JOINTS))
    assert two[sk.hand_slice(sk.RIGHT)].max() < sk.NUM_JOINTS
    assert two[21] == sk.INTERHAND_ROOT + 21  # left wrist: InterHand index 41
    np.testing.assert_array_equal(two[sk.inverse_map(two)], np.arange(42))
