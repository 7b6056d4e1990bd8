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
