"""One crop's network outputs (host arrays, model/postprocess.py ``to_host``) -> a Prediction:
metres in the camera optical frame, keypoints in raw image pixels.

- 2D joints: a joint's heatmap peak where that peak is confident, else the 2D head's
  regression, mapped from the crop back to the image.
- Each hand's absolute position: least squares from its 2D joints (undistorted), its
  wrist-relative 3D joints and K (DESIGN.md section 4.8).
- Handedness: the tokens' identity classes near the hand's joints vote (Eq. 4).
- The object: at the placed wrist plus the network's relative translation (KT's), or from its
  2D box corners the same way as a hand when no hand was placed.
"""

import numpy as np

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.prediction import VISIBILITY_UNKNOWN, HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import HAND_NAMES, LEFT, NUM_HANDS, NUM_JOINTS, RIGHT, hand_slice

# Where a joint's heatmap peak reaches this, its 2D position is the peak, else the 2D head's:
# confident peaks are the more precise 2D joints (MODEL_CARD.md, "Decoding choices").
PEAK_CONFIDENCE = 0.1
# Tokens within this many times config.identity_radius (the radius within which training labels
# a token as a joint) of a hand's joints vote on its handedness.
TOKEN_RADIUS_FACTOR = 2.0
# A joint's least-squares weight is its heatmap confidence plus this, so that a hand whose
# heatmaps are all flat still gets a translation from its 2D joints.
MIN_JOINT_WEIGHT = 1e-3
NO_EVIDENCE = 0.5  # handedness when no token is near the hand: either side


def decode_prediction(
    outputs,
    i,
    transform,
    K,
    lens,
    hand_threshold,
    object_threshold,
    token_radius=12.0,
    object_reference_hand="right",
) -> Prediction:
    """The Prediction of batch item ``i`` of ``outputs``, cropped from the image by the affine
    ``transform``; ``lens``: the raw image's distortion or None. ``token_radius`` (crop px)
    is TOKEN_RADIUS_FACTOR x the identity radius (12 px for a 256-px input);
    ``object_reference_hand``: the model config's (the wrist its object offsets start at)."""
    to_image = geometry.invert_affine(transform)
    # The network sees a rolled crop's 3D turned by the roll (crop_policy.roll_matrix): rows
    # times this turn it back to the camera frame (the identity for an unrolled crop).
    unroll = crop_policy.roll_matrix(crop_policy.crop_roll(transform))
    prediction = Prediction()
    hand_probability = _sigmoid(outputs["hand_presence"][i])
    joints_crop = outputs["joints_2d"][i]
    if "joint_peaks" in outputs:  # confident heatmap peaks are the better 2D joints
        confident = outputs["joint_confidence"][i] >= PEAK_CONFIDENCE
        joints_crop = np.where(confident[:, None], outputs["joint_peaks"][i], joints_crop)
    joints_2d = geometry.apply_affine(to_image, joints_crop)
    handedness = np.full(NUM_HANDS, NO_EVIDENCE)
    if "token_hand_mass" in outputs:
        handedness = slot_handedness(
            outputs["token_xy"][i], outputs["token_hand_mass"][i], joints_crop, token_radius
        )
    for hand in range(NUM_HANDS):
        if hand_probability[hand] < hand_threshold:
            continue
        estimate = _decode_hand(
            hand,
            float(hand_probability[hand]),
            joints_2d[hand_slice(hand)],
            outputs["joints_3d"][i][hand_slice(hand)].astype(np.float64) @ unroll,
            outputs["joint_confidence"][i][hand_slice(hand)].astype(np.float64),
            K,
            lens,
        )
        if estimate is not None:
            estimate.handedness = float(handedness[hand])
            estimate.joint_visibility = (
                outputs["joint_visibility"][i][hand_slice(hand)].astype(np.float64)
                if "joint_visibility" in outputs
                else np.full(NUM_JOINTS, VISIBILITY_UNKNOWN)
            )
            setattr(prediction, f"{HAND_NAMES[hand]}_hand", estimate)
    if "object_presence" in outputs:
        probability = float(_sigmoid(outputs["object_presence"][i]))
        if probability >= object_threshold:
            wrist = _reference_wrist(prediction, object_reference_hand)
            prediction.object = _decode_object(
                outputs, i, to_image, unroll, K, lens, probability, wrist
            )
    return prediction


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def slot_handedness(
    token_xy: np.ndarray, hand_mass: np.ndarray, joints_2d: np.ndarray, radius: float
) -> np.ndarray:
    """[right, left]: the probability that each slot's hand is the hand the slot says.

    The encoder classifies every keypoint token as background, one of the 42 joints or the
    object; the tokens lying on a slot's joints say which hand they think it is: their
    probability mass on that slot's side, over their mass on both sides.

    ``token_xy`` [P, 2] and ``joints_2d`` [42, 2] in the same pixels; ``hand_mass`` [P, 2]:
    each token's identity probability summed over the right and over the left joints (zero
    for padded tokens). A token counts for the slot whose nearest joint is nearer, when that
    is within ``radius`` px.
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


def _reference_wrist(prediction: Prediction, first: str) -> np.ndarray | None:
    """The wrist the object translation head is relative to: the ``first`` one ("right", as
    data/targets.py trains it), else the other, or None when no hand was placed."""
    hands = (prediction.right_hand, prediction.left_hand)
    for hand in hands if first == "right" else hands[::-1]:
        if hand.detected:
            return hand.joints[0]
    return None


def _pinhole(uv: np.ndarray, K: np.ndarray, lens: geometry.LensDistortion | None) -> np.ndarray:
    """Raw-image pixels as a pinhole camera with ``K`` sees them (the 3D fit is pinhole)."""
    return uv if lens is None else lens.undistort(uv, K)


def _decode_hand(hand, probability, uv, joints_rel, confidence, K, lens) -> HandEstimate | None:
    try:
        root = geometry.solve_translation(
            _pinhole(uv, K, lens), joints_rel, K, weights=confidence + MIN_JOINT_WEIGHT
        )
    except ValueError:
        return None  # degenerate 2D/3D: not a usable detection
    joints = joints_rel + root
    if not np.isfinite(joints).all() or root[2] <= 0:
        return None  # behind the camera: not a physical hand
    try:
        wrist_rotation = geometry.palm_orientation(joints, left=hand == LEFT)
    except ValueError:
        wrist_rotation = np.eye(3)
    return HandEstimate(
        detected=True,
        confidence=probability,
        joints=joints,
        keypoints_2d=uv,
        joint_confidence=confidence,
        wrist_rotation=wrist_rotation,
    )


def _decode_object(
    outputs, i, to_image, unroll, K, lens, probability, wrist=None
) -> ObjectEstimate:
    """The object's pose. Its origin is the placed wrist plus the translation head's offset
    (KT's relative translation) when a hand was placed, else solved from its 2D box corners,
    which are coarser (MODEL_CARD.md, "Decoding choices"). ``unroll``: as decode_prediction's."""
    rotation = unroll.T @ outputs["object_rotation"][i].astype(np.float64)
    if wrist is not None and "object_translation" in outputs:
        origin = wrist + outputs["object_translation"][i].astype(np.float64) @ unroll
    else:
        corners_2d = geometry.apply_affine(to_image, outputs["object_corners_2d"][i])
        corners_rel = outputs["object_corners_rel"][i].astype(np.float64) @ unroll
        try:
            origin = geometry.solve_translation(_pinhole(corners_2d, K, lens), corners_rel, K)
        except ValueError:
            return ObjectEstimate()
    centre = origin + rotation @ outputs["object_box_centre"][i].astype(np.float64)
    if not np.isfinite(centre).all() or centre[2] <= 0:
        return ObjectEstimate()
    return ObjectEstimate(
        detected=True,
        confidence=probability,
        rotation=rotation,
        translation=centre,
        box_size=2.0 * np.abs(outputs["object_box_half_extent"][i].astype(np.float64)),
    )
