"""Pair each image with the CameraInfo of the same instant, and count the images left alone.

Every ROS install has ``message_filters``, so that is what pairs frames there (DESIGN.md
section 5); :class:`~occrobnet_ros.ros.stamp_sync.StampSync` pairs them where it is missing
(the PyPI wheels). Both adapters below give the node one interface: ``add_image``,
``add_info``, ``reset``, ``dropped`` (images that can no longer pair), ``waiting`` (images
queued for a partner) and ``stamp_gap`` (for the log line that says why frames go unpaired).

With message_filters, ``sync_slop = 0`` selects ``TimeSynchronizer`` (equal stamps):
``ApproximateTimeSynchronizer`` pairs only when ``max - min < slop``, so with a slop of 0 it
never pairs, not even equal stamps. A positive ``sync_slop`` selects
``ApproximateTimeSynchronizer``. message_filters counts nothing it discards, so the adapter
counts images in and images paired: the rest, less what is still queued, were dropped.
"""

import threading

from occrobnet_ros.ros.stamp_sync import StampSync, stamp_to_nanoseconds


class _StampGap:
    """The newest image and CameraInfo stamps, to say how far apart the two streams are."""

    def __init__(self) -> None:
        self._image_ns: int | None = None
        self._info_ns: int | None = None

    def image(self, msg) -> None:
        self._image_ns = stamp_to_nanoseconds(msg.header.stamp)

    def info(self, msg) -> None:
        self._info_ns = stamp_to_nanoseconds(msg.header.stamp)

    def seconds(self) -> float | None:
        """Newest image stamp minus newest CameraInfo stamp (None before one of each)."""
        if self._image_ns is None or self._info_ns is None:
            return None
        return (self._image_ns - self._info_ns) * 1e-9


class StampSyncPairing:
    """Pairs with stamp_sync.StampSync (installs without message_filters)."""

    def __init__(self, queue_size: int, slop: float, on_pair) -> None:
        self._sync = StampSync(queue_size, slop)
        self._on_pair = on_pair
        self._gap = _StampGap()
        self.name = "stamp_sync.StampSync"

    def add_image(self, msg) -> None:
        self._gap.image(msg)
        if (pair := self._sync.add_image(msg.header.stamp, msg)) is not None:
            self._on_pair(*pair)

    def add_info(self, msg) -> None:
        self._gap.info(msg)
        if (pair := self._sync.add_info(msg.header.stamp, msg)) is not None:
            self._on_pair(*pair)

    def reset(self) -> None:
        self._sync.reset()

    @property
    def dropped(self) -> int:
        """Images dropped unpaired (CameraInfos dropped are not frames)."""
        return self._sync.dropped_images

    @property
    def waiting(self) -> int:
        return self._sync.pending()[0]

    def stamp_gap(self) -> float | None:
        return self._gap.seconds()


class MessageFiltersPairing:
    """Pairs with message_filters' TimeSynchronizer (slop 0) or ApproximateTimeSynchronizer,
    fed by the node's own subscription callbacks."""

    def __init__(self, queue_size: int, slop: float, on_pair) -> None:
        import message_filters

        self._inputs = (message_filters.SimpleFilter(), message_filters.SimpleFilter())
        if slop > 0.0:
            self._sync = message_filters.ApproximateTimeSynchronizer(
                self._inputs, queue_size, slop
            )
        else:
            self._sync = message_filters.TimeSynchronizer(self._inputs, queue_size)
        self.name = f"message_filters.{type(self._sync).__name__}"
        self._sync.registerCallback(self._paired)
        self._on_pair = on_pair
        self._lock = threading.Lock()  # the counters and the synchroniser change together
        self._images_in = 0
        self._images_paired = 0
        self._gap = _StampGap()

    def _paired(self, image, info) -> None:
        self._images_paired += 1
        self._on_pair(image, info)

    def add_image(self, msg) -> None:
        with self._lock:
            self._gap.image(msg)
            self._images_in += 1
            self._inputs[0].signalMessage(msg)

    def add_info(self, msg) -> None:
        with self._lock:
            self._gap.info(msg)
            self._inputs[1].signalMessage(msg)

    def reset(self) -> None:
        with self._lock, self._sync.lock:
            for queue in self._sync.queues:
                queue.clear()

    @property
    def dropped(self) -> int:
        """Images that left the synchroniser's queue without a partner (overflow, a repeated
        stamp, reset)."""
        with self._lock:
            return self._images_in - self._images_paired - len(self._sync.queues[0])

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._sync.queues[0])

    def stamp_gap(self) -> float | None:
        return self._gap.seconds()


def message_filters_available() -> bool:
    try:
        import message_filters
    except ImportError:
        return False
    return hasattr(message_filters, "TimeSynchronizer")


def make_pairing(queue_size: int, slop: float, on_pair):
    """message_filters where installed, else StampSync."""
    if message_filters_available():
        return MessageFiltersPairing(queue_size, slop, on_pair)
    return StampSyncPairing(queue_size, slop, on_pair)
