"""Which hand is which: a hand slot's handedness from the tokens' identity classes (Eq. 4).

The encoder classifies every keypoint token as background, one of the 42 joints (right 0-20,
left 21-41) or the object. The tokens lying on a decoded hand's joints say which hand they
think it is: the slot's handedness is their probability mass on that slot's side, over their
mass on both sides.
"""

import numpy as np

from occrobnet_ros.skeleton import LEFT, RIGHT, hand_slice

NO_EVIDENCE = 0.5  # no token near the hand: either side


def slot_handedness(
    token_xy: np.ndarray, hand_mass: np.ndarray, joints_2d: np.ndarray, radius: float
) -> np.ndarray:
    """[right, left]: the probability that each slot's hand is the hand the slot says.

    ``token_xy`` [P, 2] and ``joints_2d`` [42, 2] in the same pixels; ``hand_mass`` [P, 2]:
    each token's identity probability summed over the right and over the left joints (zero
    for padded tokens). A token counts for the slot whose
    nearest joint is nearer, when that is within ``radius`` px.
    """
    distance = np.linalg.norm(token_xy[:, None, :] - joints_2d[None, :, :], axis=-1)
    nearest = np.stack([distance[:, hand_slice(s)].min(1) for s in (RIGHT, LEFT)], -1)
    result = np.full(2, NO_EVIDENCE)
    for slot in (RIGHT, LEFT):
        near = (nearest[:, slot] <= radius) & (nearest[:, slot] <= nearest[:, 1 - slot])
        mass = hand_mass[near].sum(0)
        if mass.sum() > 1e-6:
            result[slot] = mass[slot] / mass.sum()
    return result
