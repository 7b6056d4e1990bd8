"""A one-slot buffer between the subscription callback and the inference worker.

Teleoperation wants the newest frame, never a queue of stale ones (DESIGN.md section 5): a
camera at 30 Hz and a model at 10 Hz must give 10 Hz of *current* poses, not 10 Hz of poses
that fall further behind every second. So the callback only :meth:`~LatestFrameBuffer.put`\\ s
the newest frame, replacing (and counting) one the worker has not taken yet, and the worker
:meth:`~LatestFrameBuffer.take`\\ s whatever is newest when it is free.
"""

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrameBuffer(Generic[T]):
    """Thread-safe single slot: ``put`` never blocks, ``take`` waits for the newest item."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.received = 0  # items put
        self.overwritten = 0  # items replaced before the worker took them
        self.cleared = 0  # items discarded by clear()

    def put(self, item: T) -> bool:
        """Store ``item`` as the newest; return True when it replaced an untaken one."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self.received += 1
            self.overwritten += replaced
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, emptying the slot; None after ``timeout`` seconds or when closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def clear(self) -> bool:
        """Discard the waiting item, if any (time jumped backwards, the node paused); return
        True when there was one."""
        with self._condition:
            discarded = self._item is not None
            self.cleared += discarded
            self._item = None
            return discarded

    def close(self) -> None:
        """Wake every waiting ``take`` for good: the worker is shutting down."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
