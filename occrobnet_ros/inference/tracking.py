"""Track ids: the same hand and the same object from frame to frame.

A consumer (teleoperation, grasp learning) wants to know that this frame's right hand is the
hand it followed last frame. Ids follow the physical hands, not the slots:

- a part detected in consecutive frames keeps its id; one that was not detected in the
  previous frame (or after :meth:`TrackIds.reset`) gets a new id, counted in ``started``;
- when the network puts a hand in the other slot (it calls last frame's right hand left),
  the hand keeps its id in its new slot and the swap is counted in ``swaps``. A swap is when
  pairing this frame's wrists with last frame's crosswise is nearer than straight, and the
  crossed pairs are within ``max_jump`` metres.

Ids start at 1; 0 means "not detected". Pure numpy, no ROS.
"""

import numpy as np

from occrobnet_ros.prediction import Prediction
from occrobnet_ros.skeleton import LEFT, RIGHT

MAX_JUMP = 0.15  # m a wrist may move between frames and still be the same hand after a swap


class TrackIds:
    """Assigns ``track_id`` to each detected part of successive predictions."""

    def __init__(self, max_jump: float = MAX_JUMP) -> None:
        self.max_jump = max_jump
        self.started = 0  # tracks begun (hands and objects), for diagnostics
        self.swaps = 0  # frames where the hands changed slots
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: every part detected next gets a new id."""
        self._hands: list[tuple[int, np.ndarray] | None] = [None, None]  # (id, wrist) by slot
        self._object: int = 0

    def update(self, prediction: Prediction) -> None:
        """Set ``track_id`` on ``prediction``'s hands and object, in place."""
        hands = prediction.hands  # (right, left)
        previous = self._hands
        now = [hand.joints[0] if hand.detected else None for hand in hands]
        if self._swapped(previous, now):
            self.swaps += 1
            previous = [previous[LEFT], previous[RIGHT]]
        self._hands = [None, None]
        for slot in (RIGHT, LEFT):
            if now[slot] is None:
                hands[slot].track_id = 0
                continue
            track = previous[slot][0] if previous[slot] is not None else self._new()
            hands[slot].track_id = track
            self._hands[slot] = (track, now[slot])
        obj = prediction.object
        self._object = (self._object or self._new()) if obj.detected else 0
        obj.track_id = self._object

    def _new(self) -> int:
        track, self._next_id = self._next_id, self._next_id + 1
        self.started += 1
        return track

    def _swapped(self, previous, now) -> bool:
        def distance(a, b) -> float:
            return float(np.linalg.norm(a[1] - b)) if a is not None and b is not None else np.inf

        crossed = [distance(previous[LEFT], now[RIGHT]), distance(previous[RIGHT], now[LEFT])]
        straight = [distance(previous[RIGHT], now[RIGHT]), distance(previous[LEFT], now[LEFT])]
        near = [d for d in crossed if d <= self.max_jump]
        if not near:
            return False
        # Only the crossed pairs that exist compete with the straight ones they replace.
        crossed_cost = sum(d for d in crossed if np.isfinite(d))
        straight_cost = sum(d for d in straight if np.isfinite(d))
        straight_pairs = sum(np.isfinite(d) for d in straight)
        crossed_pairs = sum(np.isfinite(d) for d in crossed)
        if crossed_pairs > straight_pairs:
            return True  # one hand that moved slot, none that stayed
        return crossed_pairs == straight_pairs and crossed_cost < straight_cost
