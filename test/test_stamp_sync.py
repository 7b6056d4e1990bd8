"""StampSync: pairing by stamp, slop, bounded queues, stamp order and backwards time jumps."""

import sys
import threading

import pytest
from builtin_interfaces.msg import Time
from rclpy.time import Time as RclpyTime

from occrobnet_ros.ros.stamp_sync import StampSync, stamp_to_nanoseconds

MS = 1_000_000  # nanoseconds


def test_stamps_in_every_form_agree():
    ns = 12 * 1_000_000_000 + 345
    assert stamp_to_nanoseconds(Time(sec=12, nanosec=345)) == ns
    assert stamp_to_nanoseconds(RclpyTime(nanoseconds=ns)) == ns
    assert stamp_to_nanoseconds(ns) == ns


@pytest.mark.parametrize("bad", [1.5, True, "12", None])
def test_other_stamp_types_are_refused(bad):
    with pytest.raises(TypeError):
        stamp_to_nanoseconds(bad)


def test_equal_stamps_pair_in_either_arrival_order():
    sync = StampSync()
    assert sync.add_image(Time(sec=1), "image1") is None
    assert sync.add_info(Time(sec=1), "info1") == ("image1", "info1")
    assert sync.add_info(2_000_000_000, "info2") is None
    assert sync.add_image(Time(sec=2), "image2") == ("image2", "info2")
    assert sync.matched == 2 and sync.dropped == 0 and sync.pending() == (0, 0)


def test_without_slop_stamps_must_be_equal():
    sync = StampSync(slop=0.0)
    sync.add_image(1000, "image")
    assert sync.add_info(1001, "info") is None
    assert sync.pending() == (1, 1)


def test_slop_pairs_the_nearest_message_within_it():
    sync = StampSync(slop=0.005)
    sync.add_info(100 * MS, "info100")
    sync.add_info(103 * MS, "info103")
    sync.add_info(108 * MS, "info108")
    assert sync.add_image(104 * MS, "image104") == ("image104", "info103")
    assert sync.add_image(120 * MS, "image120") is None  # 12 ms from info108: over the slop
    assert sync.add_info(125 * MS, "info125") == ("image120", "info125")  # exactly the slop


def test_queues_are_bounded_and_drop_the_oldest():
    sync = StampSync(queue_size=3)
    for k in range(5):
        sync.add_image(k, f"image{k}")
    assert sync.pending() == (3, 0) and sync.dropped == 2
    assert sync.add_info(1, "info1") is None  # image1 was dropped
    assert sync.add_info(2, "info2") == ("image2", "info2")


def test_pairs_come_out_in_stamp_order():
    sync = StampSync()
    for k in (1, 2, 3):
        sync.add_image(k, f"image{k}")
    assert sync.add_info(3, "info3") == ("image3", "info3")
    assert sync.pending() == (0, 0) and sync.dropped == 2  # image1 and image2 can never pair
    assert sync.add_image(3, "image3 again") is None  # that stamp was already paired
    assert sync.dropped == 3 and sync.jumps == 0 and sync.pending() == (0, 0)


def test_a_repeated_stamp_keeps_the_newer_message():
    sync = StampSync()
    sync.add_image(7, "first")
    sync.add_image(7, "second")
    assert sync.add_info(7, "info") == ("second", "info")
    assert sync.dropped == 1


def test_time_jumping_backwards_resets_and_is_counted():
    sync = StampSync()
    sync.add_image(Time(sec=100), "image100")
    sync.add_info(Time(sec=100), "info100")
    sync.add_image(Time(sec=101), "image101")  # waits for its info
    # The bag loops: the info stream goes back to t = 0 first, then the image stream.
    assert sync.add_info(Time(sec=0), "info0") is None
    assert sync.jumps == 1 and sync.dropped == 1  # image101 was discarded
    assert sync.add_image(Time(sec=0), "image0") == ("image0", "info0")
    assert sync.jumps == 1 and sync.matched == 2


def test_reset_discards_everything_queued():
    sync = StampSync()
    sync.add_image(5, "image5")
    sync.add_info(6, "info6")
    sync.reset()
    assert sync.pending() == (0, 0) and sync.dropped == 2 and sync.jumps == 0
    assert sync.add_info(5, "info5") is None  # image5 is gone


@pytest.mark.parametrize("queue_size, slop", [(0, 0.0), (5, -0.1), (5, float("nan"))])
def test_bad_settings_are_refused(queue_size, slop):
    with pytest.raises(ValueError):
        StampSync(queue_size=queue_size, slop=slop)


def test_two_threads_feeding_the_inputs_pair_everything():
    count = 2000
    sync = StampSync(queue_size=count)
    pairs = []

    def feed(add, name):
        for k in range(count):
            pair = add(k, f"{name}{k}")
            if pair is not None:
                pairs.append(pair)

    threads = [
        threading.Thread(target=feed, args=(sync.add_image, "image")),
        threading.Thread(target=feed, args=(sync.add_info, "info")),
    ]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make the threads interleave inside add_*()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert sorted(pairs, key=lambda p: int(p[0][5:])) == [
        (f"image{k}", f"info{k}") for k in range(count)
    ]
    assert sync.matched == count and sync.dropped == 0
