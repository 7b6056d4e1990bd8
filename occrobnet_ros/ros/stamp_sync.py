"""Pair each image with its CameraInfo by header stamp, for installs without message_filters.

Where message_filters is importable the node uses it instead (``pairing.py``);
:class:`StampSync` keeps close to it:

- ``queue_size`` bounds each input separately; a full queue drops its oldest entry.
- A new message is paired with the other input's queued message nearest in time, if that is
  within ``slop`` seconds (inclusive). ``slop = 0`` asks for equal stamps, as
  ``TimeSynchronizer`` does. Keep ``slop`` under half the frame period, or an image can pair
  with its neighbour's CameraInfo.

It differs in three ways, all in favour of a latest-frame pipeline:

- Pairs come out in stamp order. After a pair, queued messages older than it are discarded,
  and a message repeating a paired stamp is dropped (message_filters' exact-time policy does
  the same); an older pair would be stale, and the node would only skip it.
- A stamp older than the newest one on the same input means time jumped backwards (a bag
  looping, a simulator restarting): everything queued is discarded and matching starts again.
- Drops, jumps and pairs are counted (``dropped``, ``jumps``, ``matched``) for diagnostics;
  ``dropped_images`` counts the images among the drops (the node's unpaired frames).

Thread-safe: the two subscriptions may run on different executor threads.
"""

import threading
from typing import Any

from builtin_interfaces.msg import Time

IMAGE, INFO = 0, 1


def stamp_to_nanoseconds(stamp: Time | int) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (``sec``, ``nanosec``), an rclpy ``Time``
    (``nanoseconds``) or an int of nanoseconds."""
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        return stamp
    if isinstance(getattr(stamp, "nanoseconds", None), int):
        return stamp.nanoseconds
    sec, nanosec = getattr(stamp, "sec", None), getattr(stamp, "nanosec", None)
    if isinstance(sec, int) and isinstance(nanosec, int):
        return sec * 1_000_000_000 + nanosec
    raise TypeError(f"a stamp is a builtin_interfaces Time or int nanoseconds, not {stamp!r}")


class StampSync:
    """Stamp-keyed pairing of images and CameraInfo (see the module docstring)."""

    def __init__(self, queue_size: int = 10, slop: float = 0.0) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not 0.0 <= slop < float("inf"):
            raise ValueError(f"slop must be a finite number of seconds >= 0, got {slop}")
        self.queue_size = queue_size
        self.slop_ns = round(slop * 1e9)
        self.matched = 0
        self.dropped = 0
        self.dropped_images = 0
        self.jumps = 0
        self._lock = threading.Lock()
        self._clear()

    def add_image(self, stamp: Time | int, image: Any) -> tuple[Any, Any] | None:
        """Queue an image; return ``(image, info)`` when it completes a pair, else None."""
        return self._add(IMAGE, stamp_to_nanoseconds(stamp), image)

    def add_info(self, stamp: Time | int, info: Any) -> tuple[Any, Any] | None:
        """Queue a CameraInfo; return ``(image, info)`` when it completes a pair, else None."""
        return self._add(INFO, stamp_to_nanoseconds(stamp), info)

    def reset(self) -> None:
        """Discard everything queued (counted as dropped), e.g. after a time jump."""
        with self._lock:
            self._discard_all()

    def pending(self) -> tuple[int, int]:
        """How many images and CameraInfos are waiting for a partner."""
        with self._lock:
            return len(self._queues[IMAGE]), len(self._queues[INFO])

    def _add(self, side: int, stamp: int, message: Any) -> tuple[Any, Any] | None:
        with self._lock:
            newest = self._newest[side]
            if newest is not None and stamp < newest:
                self.jumps += 1
                self._discard_all()
            self._newest[side] = stamp
            if self._paired[side] is not None and stamp <= self._paired[side]:
                self._drop(side)  # a repeat of the stamp that was just paired
                return None
            partner = self._nearest(self._queues[1 - side], stamp)
            if partner is None:
                self._enqueue(side, stamp, message)
                return None
            return self._pair(side, stamp, message, partner)

    def _nearest(self, queue: dict[int, Any], stamp: int) -> int | None:
        """The queued stamp closest to ``stamp`` within the slop (the older one on a tie)."""
        candidates = [s for s in queue if abs(s - stamp) <= self.slop_ns]
        return min(candidates, key=lambda s: (abs(s - stamp), s), default=None)

    def _enqueue(self, side: int, stamp: int, message: Any) -> None:
        queue = self._queues[side]
        if stamp in queue:
            self._drop(side)  # the same stamp again: keep the newer message
            del queue[stamp]
        queue[stamp] = message  # stamps never decrease on one input, so the dict stays sorted
        while len(queue) > self.queue_size:
            del queue[next(iter(queue))]
            self._drop(side)

    def _pair(self, side: int, stamp: int, message: Any, partner: int) -> tuple[Any, Any]:
        other = 1 - side
        partner_message = self._queues[other].pop(partner)
        self._paired[side], self._paired[other] = stamp, partner
        for queue_side, newest in ((side, stamp), (other, partner)):
            queue = self._queues[queue_side]
            for old in [s for s in queue if s <= newest]:
                del queue[old]
                self._drop(queue_side)
        self.matched += 1
        return (message, partner_message) if side == IMAGE else (partner_message, message)

    def _discard_all(self) -> None:
        for side, queue in enumerate(self._queues):
            self._drop(side, len(queue))
        self._clear()

    def _drop(self, side: int, count: int = 1) -> None:
        self.dropped += count
        if side == IMAGE:
            self.dropped_images += count

    def _clear(self) -> None:
        self._queues: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        self._newest: list[int | None] = [None, None]
        self._paired: list[int | None] = [None, None]
