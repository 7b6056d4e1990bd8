"""The one-slot latest-frame buffer between the subscription callback and the worker."""

import threading
import time

from occrobnet_ros.ros.frame_buffer import LatestFrameBuffer


def test_take_returns_only_the_newest_and_counts_what_was_overwritten():
    buffer = LatestFrameBuffer()
    assert buffer.put(1) is False
    assert buffer.put(2) is True
    assert buffer.put(3) is True
    assert buffer.take(timeout=0) == 3
    assert buffer.take(timeout=0) is None  # taken: the slot is empty
    assert (buffer.received, buffer.overwritten) == (3, 2)


def test_clear_discards_the_waiting_frame():
    buffer = LatestFrameBuffer()
    buffer.put("stale")
    buffer.clear()
    buffer.clear()
    assert buffer.take(timeout=0) is None
    assert buffer.cleared == 1


def test_a_waiting_worker_wakes_for_a_frame_and_for_close():
    buffer = LatestFrameBuffer()
    taken = []
    worker = threading.Thread(target=lambda: taken.append(buffer.take(timeout=30)))
    worker.start()
    buffer.put("frame")
    worker.join(timeout=30)
    assert taken == ["frame"]
    worker = threading.Thread(target=lambda: taken.append(buffer.take(timeout=30)))
    worker.start()
    buffer.close()
    worker.join(timeout=30)
    assert not worker.is_alive() and taken == ["frame", None] and buffer.closed


def test_a_slow_consumer_sees_every_frame_counted_once():
    # Producer and consumer race; every frame is either taken or counted as overwritten.
    buffer = LatestFrameBuffer()
    taken = []

    def consume():
        while (item := buffer.take(timeout=30)) is not None:
            taken.append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(2000):
        buffer.put(i)
    deadline = time.monotonic() + 30
    while buffer.received - buffer.overwritten != len(taken) and time.monotonic() < deadline:
        time.sleep(0.001)
    buffer.close()
    consumer.join(timeout=30)
    assert taken == sorted(taken) and taken[-1] == 1999
    assert len(taken) + buffer.overwritten == 2000
