"""The hand skeleton: joint order, names, parents, and maps to other datasets' orders.

Our order (DESIGN.md section 6, the order of every message and every tensor in this package):
21 joints per hand, wrist first, then each finger from the palm to the tip, thumb to pinky::

    0 wrist
    1 thumb_cmc    2 thumb_mcp    3 thumb_ip     4 thumb_tip
    5 index_mcp    6 index_pip    7 index_dip    8 index_tip
    9 middle_mcp  10 middle_pip  11 middle_dip  12 middle_tip
   13 ring_mcp    14 ring_pip    15 ring_dip    16 ring_tip
   17 pinky_mcp   18 pinky_pip   19 pinky_dip   20 pinky_tip

Two-hand tensors stack the right hand (0-20) before the left hand (21-41), as InterHand2.6M
and Keypoint Transformer do, so channel ``RIGHT * 21 + j`` is joint ``j`` of the right hand.
"""

import numpy as np

NUM_JOINTS = 21
NUM_HANDS = 2
RIGHT, LEFT = 0, 1
HAND_NAMES = ("right", "left")

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_THUMB_JOINTS = ("cmc", "mcp", "ip", "tip")
_FINGER_JOINTS = ("mcp", "pip", "dip", "tip")

JOINT_NAMES = ("wrist",) + tuple(
    f"{finger}_{joint}"
    for finger in FINGERS
    for joint in (_THUMB_JOINTS if finger == "thumb" else _FINGER_JOINTS)
)
WRIST = 0
MIDDLE_MCP = 9
FINGERTIPS = (4, 8, 12, 16, 20)

# Each joint's parent in the kinematic tree (-1 for the wrist): a finger's first joint hangs
# from the wrist, every other joint from the one before it.
PARENTS = np.array(
    [-1] + [WRIST if j % 4 == 1 else j - 1 for j in range(1, NUM_JOINTS)], dtype=np.int64
)
BONES = tuple((int(PARENTS[j]), j) for j in range(1, NUM_JOINTS))


def hand_slice(hand: int) -> slice:
    """Indices of one hand's joints in a two-hand (42-joint) array."""
    return slice(hand * NUM_JOINTS, (hand + 1) * NUM_JOINTS)


assert len(JOINT_NAMES) == NUM_JOINTS


# --- Order maps to other datasets ---------------------------------------------------------------
# Convention: ``OURS_FROM_X[i]`` is the index, in X's order, of our joint ``i``, so
# ``joints_ours = joints_x[..., OURS_FROM_X, :]``; ``X_FROM_OURS`` is its inverse permutation,
# ``joints_x = joints_ours[..., X_FROM_OURS, :]``.

# InterHand2.6M (and Keypoint Transformer for every dataset): per hand, each finger tip first
# (thumb4..thumb1, index4..index1, ..., pinky4..pinky1), wrist last (20); thumb1 is the CMC.
# Source: KT tool/hand_skeleton/skeleton.txt, IH data/InterHand2.6M/dataset.py.
OURS_FROM_INTERHAND = np.array(
    [20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16], dtype=np.int64
)
INTERHAND_ROOT = 20  # the wrist; the left hand's is 20 + 21 = 41

# HO-3D / H2O-3D annotations and the HO-3D submission: MANO's 16 joints (wrist; index, middle,
# pinky, ring, thumb from the palm out), then the five tips thumb..pinky.
# Source: KT data/dataset_ho3d.py jointsMapManoToDefault / jointsNormalToManoMap.
OURS_FROM_HO3D = np.array(
    [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20], dtype=np.int64
)
HO3D_ROOT = 0  # the wrist
HO3D_MIDDLE_MCP = 4  # the end of the bone HO-3D's scale-translation alignment measures

# MediaPipe Hands landmarks: wrist, then each finger from the palm to the tip, thumb to pinky,
# which is exactly our order.
OURS_FROM_MEDIAPIPE = np.arange(NUM_JOINTS, dtype=np.int64)


def inverse_map(index_map: np.ndarray) -> np.ndarray:
    """The inverse permutation: ``x[m][inverse_map(m)] == x`` for a permutation ``m``."""
    inverse = np.empty_like(index_map)
    inverse[index_map] = np.arange(len(index_map))
    return inverse


def two_hand_map(index_map: np.ndarray) -> np.ndarray:
    """A 21-joint map applied to both halves of a right-then-left 42-joint array."""
    return np.concatenate([index_map, index_map + NUM_JOINTS])


INTERHAND_FROM_OURS = inverse_map(OURS_FROM_INTERHAND)
HO3D_FROM_OURS = inverse_map(OURS_FROM_HO3D)
MEDIAPIPE_FROM_OURS = inverse_map(OURS_FROM_MEDIAPIPE)

assert JOINT_NAMES[MIDDLE_MCP] == "middle_mcp"
assert OURS_FROM_HO3D[MIDDLE_MCP] == HO3D_MIDDLE_MCP
