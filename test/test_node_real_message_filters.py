"""The node pairs frames through the real message_filters, as on every ROS install.

The PyPI wheels have no message_filters, so the node's own StampSync pairs frames everywhere
else in the suite. Here the node process gets the real library (installed, else Humble's and
Jazzy's upstream sources, see real_ros_python) with the default parameters of
config/pose.yaml, and must answer every frame a camera sends at a low rate.
"""

import pytest
from node_harness import camera_info, running_node
from real_ros_python import pythonpath, variants, why_absent

from occrobnet_ros.ros.pairing import message_filters_available

from ros_process import isolated_ros_env

FRAMES = 12
PERIOD = 0.2  # s: 5 Hz, slow enough that no frame is overwritten in the one-slot buffer


def _libraries():
    found = variants("message_filters", ("humble", "jazzy"))
    if not found:
        return [
            pytest.param([], id="absent", marks=pytest.mark.skip(why_absent("message_filters")))
        ]
    return [pytest.param(folders, id=name) for name, folders in found]


@pytest.fixture(params=_libraries())
def library(request) -> dict:
    """The environment of a node process that imports the real message_filters."""
    return pythonpath(request.param, isolated_ros_env())


def _pairing(session) -> str:
    _, _, values = session.wait_for_status(lambda level, message, v: v.get("pairing"))
    return values["pairing"]


def _send(session, info_offset_ns: int = 0) -> list:
    """FRAMES frames at 5 Hz, each CameraInfo stamped ``info_offset_ns`` after its image."""
    sent = []
    for _ in range(FRAMES):
        stamp = session.now()
        info_stamp = type(stamp)(sec=stamp.sec, nanosec=stamp.nanosec)
        total = info_stamp.nanosec + info_offset_ns
        info_stamp.sec, info_stamp.nanosec = stamp.sec + total // 10**9, total % 10**9
        session.info_pub.publish(camera_info(info_stamp))
        sent.append(session.publish_frame(stamp=stamp, info=False))
        session.spin_for(PERIOD)
    return sent


def _answered(session, sent) -> list:
    stamps = {(p.header.stamp.sec, p.header.stamp.nanosec) for p in session.poses}
    return [s for s in sent if (s.sec, s.nanosec) in stamps]


def test_default_parameters_answer_every_frame(tmp_path, library):
    with running_node(tmp_path, env=library) as session:
        session.wait_for_subscribers()
        assert _pairing(session) == "message_filters.TimeSynchronizer"
        sent = _send(session)
        session.spin_until(
            lambda: len(_answered(session, sent)) == FRAMES, 10.0, "an answer to every frame"
        )


def test_near_stamps_pair_within_sync_slop(tmp_path, library):
    with running_node(tmp_path, {"sync_slop": 0.01}, env=library) as session:
        session.wait_for_subscribers()
        assert _pairing(session) == "message_filters.ApproximateTimeSynchronizer"
        sent = _send(session, info_offset_ns=3_000_000)
        session.spin_until(
            lambda: len(_answered(session, sent)) == FRAMES, 10.0, "an answer to every frame"
        )


def _pairings():
    builtin = [] if message_filters_available() else [pytest.param(None, id="stamp_sync")]
    return [*_libraries(), *builtin]


@pytest.mark.parametrize("folders", _pairings())
def test_stamps_beyond_sync_slop_are_dropped_and_the_watchdog_says_why(tmp_path, folders):
    env = isolated_ros_env() if folders is None else pythonpath(folders, isolated_ros_env())
    parameters = {"sync_queue_size": 2, "watchdog_timeout": 1.0}
    with running_node(tmp_path, parameters, env=env) as session:
        session.wait_for_subscribers()
        sent = _send(session, info_offset_ns=3_000_000)  # 3 ms apart, sync_slop 0
        level, message, values = session.wait_for_status(
            lambda level, message, v: "nothing was published" in message
        )
        assert _answered(session, sent) == []
        assert level == b"\x02"  # ERROR
        assert "dropped unpaired" in message
        # Every image is accounted for: dropped unpaired, or still waiting in the queue.
        received = int(values["frames received"])
        waiting = int(values["images waiting for CameraInfo"])
        assert int(values["dropped: unpaired"]) + waiting == received >= FRAMES - 1
        assert "ms apart" in session.output()  # the log says how far apart the stamps are
