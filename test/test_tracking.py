"""Track ids over a stream (inference/tracking.py) and handedness from token identities
(inference/decode.py): pure numpy, no model."""

import numpy as np

from occrobnet_ros.inference.decode import NO_EVIDENCE, slot_handedness
from occrobnet_ros.inference.tracking import TrackIds
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import NUM_JOINTS


def hand_at(x: float) -> HandEstimate:
    joints = np.tile([x, 0.0, 0.5], (NUM_JOINTS, 1)) + np.linspace(0, 0.05, NUM_JOINTS)[:, None]
    return HandEstimate(detected=True, confidence=0.9, joints=joints)


def frame(right: float | None, left: float | None, obj: bool = True) -> Prediction:
    return Prediction(
        right_hand=hand_at(right) if right is not None else HandEstimate(),
        left_hand=hand_at(left) if left is not None else HandEstimate(),
        object=ObjectEstimate(detected=obj, confidence=0.9 if obj else 0.0),
    )


def ids(prediction: Prediction) -> tuple[int, int, int]:
    hands = prediction.right_hand, prediction.left_hand
    return hands[0].track_id, hands[1].track_id, prediction.object.track_id


def test_a_hand_that_stays_in_view_keeps_its_id_over_a_sequence():
    tracks = TrackIds()
    seen = []
    for t in range(30):  # both hands drift 5 mm per frame, the object stays
        prediction = frame(0.10 + 0.005 * t, -0.10 - 0.005 * t)
        tracks.update(prediction)
        seen.append(ids(prediction))
    assert len(set(seen)) == 1 and len(set(seen[0])) == 3 and 0 not in seen[0]
    assert tracks.started == 3 and tracks.swaps == 0


def test_a_lost_part_gets_a_new_id_and_undetected_parts_have_id_0():
    tracks = TrackIds()
    first = frame(0.1, -0.1)
    tracks.update(first)
    gone = frame(0.1, None, obj=False)
    tracks.update(gone)
    assert ids(gone) == (first.right_hand.track_id, 0, 0)
    back = frame(0.1, -0.1)
    tracks.update(back)
    assert back.right_hand.track_id == first.right_hand.track_id
    assert back.left_hand.track_id not in ids(first) and back.object.track_id not in ids(first)
    assert tracks.started == 5
    tracks.reset()  # time jumped back: everything starts again
    again = frame(0.1, -0.1)
    tracks.update(again)
    assert set(ids(again)).isdisjoint(ids(back))


def test_hands_that_change_slots_keep_their_ids_and_the_swap_is_counted():
    tracks = TrackIds()
    before = frame(0.10, -0.10)
    tracks.update(before)
    swapped = frame(-0.10, 0.10)  # the network now calls the right hand left and vice versa
    tracks.update(swapped)
    assert swapped.right_hand.track_id == before.left_hand.track_id
    assert swapped.left_hand.track_id == before.right_hand.track_id
    assert tracks.swaps == 1 and tracks.started == 3
    alone = frame(None, -0.10)  # one hand: it was called right last frame, left now
    tracks.update(alone)
    assert alone.left_hand.track_id == swapped.right_hand.track_id and tracks.swaps == 2
    far = frame(0.60, None)  # a hand appearing far away is a new hand, not a swap
    tracks.update(far)
    assert far.right_hand.track_id not in ids(alone) and tracks.swaps == 2


def test_handedness_is_the_identity_mass_of_the_tokens_on_each_hand():
    joints = np.zeros((2 * NUM_JOINTS, 2))
    joints[:NUM_JOINTS] = [50.0, 50.0]  # the right slot's hand
    joints[NUM_JOINTS:] = [150.0, 50.0]  # the left slot's hand
    token_xy = np.array([[51.0, 50.0], [49.0, 52.0], [150.0, 51.0], [400.0, 400.0]])
    # Tokens on the right slot say right (0.9, 0.7); the one on the left slot says right too
    # (the network thinks the left slot's hand is a right hand); the far one does not count.
    mass = np.array([[0.9, 0.1], [0.7, 0.1], [0.8, 0.2], [0.0, 1.0]])
    result = slot_handedness(token_xy, mass, joints, radius=12.0)
    np.testing.assert_allclose(result, [1.6 / 1.8, 0.2 / 1.0])
    nothing_near = slot_handedness(token_xy[3:], mass[3:], joints, radius=12.0)
    np.testing.assert_array_equal(nothing_near, [NO_EVIDENCE, NO_EVIDENCE])
