"""The node process with the real estimator: frames in, one HandObjectPose per processed frame.

The checkpoint is a randomly initialised tiny model (node_fixtures.random_checkpoint): the whole
real path runs (conversion, intrinsics, estimator, messages) and it detects nothing, so every
message must say detected = false. One node process serves every test in this file; each test
compares diagnostics counters before and after what it does.
"""

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from node_fixtures import random_checkpoint
from node_harness import FRAME_ID, rgb_frame, running_node
from sensor_msgs.msg import Image

from occrobnet_ros.msg import HandObjectPose, HandPose, ObjectPose
from occrobnet_ros.ros.image_conversion import rgb_to_image_msg

# Frames wait behind one inference of ~0.5 s on a busy 2-core CPU; do not age them out here.
PARAMETERS = {"max_frame_age": 10.0, "device": "cpu", "diagnostics_period": 0.25}

pytestmark = pytest.mark.slow  # the real model: ~20 s on 2 cores


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pipeline")
    checkpoint = random_checkpoint(directory / "tiny_random.safetensors")
    with running_node(directory, {**PARAMETERS, "checkpoint": checkpoint}, fake=False) as session:
        session.wait_for_subscribers(timeout=60)
        session.publish_until_pose(timeout=60)  # the model is loaded and the node active
        yield session


def counters(node) -> dict[str, int]:
    _, _, values = node.latest_status()
    return {key: int(value) for key, value in values.items() if value.isdigit()}


def test_each_frame_gets_a_pose_with_its_stamp_and_frame(node):
    stamp = node.publish_frame(rgb_frame(1))
    node.spin_until(lambda: any(p.header.stamp == stamp for p in node.poses), 30, "the pose")
    pose = next(p for p in node.poses if p.header.stamp == stamp)
    assert isinstance(pose, HandObjectPose)
    assert pose.header.frame_id == FRAME_ID
    assert pose.model_name == "occrobnet_tiny"
    assert pose.model_version.startswith("tiny_random.safetensors@")
    assert pose.inference_time > 0.0
    # A random network finds nothing, and says so in every message.
    assert pose.left_hand == HandPose() and pose.right_hand == HandPose()
    assert pose.object == ObjectPose()
    _, _, values = node.latest_status()
    assert values["device"] == "cpu" and values["model"].startswith("occrobnet_tiny")


def test_best_effort_and_reliable_cameras_are_both_received(node):
    for qos in ("reliable", "best_effort"):
        pose = node.publish_until_pose(rgb_frame(2), timeout=30, qos=qos)
        assert pose.header.frame_id == FRAME_ID


def test_bad_frames_are_counted_and_skipped_and_the_node_keeps_serving(node):
    unknown = rgb_to_image_msg(rgb_frame(3))
    unknown.encoding = "rgb7"
    short_step = rgb_to_image_msg(rgb_frame(3))
    short_step.step = 100  # < 160 px * 3 bytes
    empty = Image(encoding="rgb8", width=0, height=0, step=0)
    cases = [
        ("rejected: image_unknown_encoding", {"image": unknown}),
        ("rejected: image_step_mismatch", {"image": short_step}),
        ("rejected: image_zero_size", {"image": empty}),
        ("rejected: camera_info_not_finite", {"k": (float("nan"),) + (0.0,) * 8}),
        ("rejected: image_no_frame_id", {"frame_id": ""}),  # a pose in no frame is useless
    ]
    for key, frame in cases:
        # One at a time: frames in a quick row would overwrite each other in the
        # one-slot buffer before the worker looks at them.
        before = counters(node).get(key, 0)
        node.publish_frame(rgb_frame(3), **frame)
        level, message, values = node.wait_for_status(
            lambda level, message, values: int(values.get(key, 0)) > before, timeout=30
        )
        assert level == DiagnosticStatus.WARN and "rejected" in message
    node.publish_until_pose(rgb_frame(4), timeout=30)  # still serving


def test_a_burst_is_answered_with_the_newest_frame_and_the_rest_counted(node):
    node.spin_for(1.0)  # let the worker go idle
    before = counters(node)
    first_pose = len(node.poses)
    image = rgb_to_image_msg(rgb_frame(5))  # made once: the burst is only publishing
    stamps = [node.publish_frame(image=image) for _ in range(100)]
    newest = stamps[-1]
    node.spin_until(lambda: any(p.header.stamp == newest for p in node.poses), 60, "newest")
    node.spin_for(1.0)  # anything still in flight would show up now
    answered = [p.header.stamp for p in node.poses[first_pose:]]
    # The newest frame and the few the worker took while the burst went on (each inference
    # outlasts many frames): never a queue of old ones.
    assert len(answered) <= 10, answered
    assert answered[-1] == newest
    assert all(stamps.index(a) < stamps.index(b) for a, b in zip(answered, answered[1:]))
    after = counters(node)
    received = after["frames received"] - before["frames received"]
    published = after["frames published"] - before["frames published"]
    overwritten = after.get("dropped: overwritten", 0) - before.get("dropped: overwritten", 0)
    assert published == len(answered)
    assert overwritten >= 1 and overwritten + published <= received <= 100
