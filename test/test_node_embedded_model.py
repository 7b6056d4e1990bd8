"""The node with the embedded default checkpoint (no checkpoint parameter) and its default
palm detector: it loads, names the model in its messages, reports nothing on a blank image or
a real hand-free photo, and finds the hand in a real photo."""

from pathlib import Path

import pytest
from node_harness import rgb_frame, running_node

from occrobnet_ros.geometry import intrinsics_from_fov
from occrobnet_ros.inference.estimator import HAND_RECHECK_FRAMES
from occrobnet_ros.inference.hand_detection import detect_hands, lies_on_a_hand
from occrobnet_ros.tools.predict import DEFAULT_FOV_DEG, read_rgb

pytestmark = pytest.mark.slow  # the real model on 2 cores
EMBEDDED = "occrobnet_tiny_synthetic.safetensors@"
PARAMETERS = {"device": "cpu", "max_frame_age": 10.0}
PHOTOS = Path(__file__).parent / "data" / "real_photos"


def _photo(name: str):
    """A real photo and the intrinsics `occrobnet predict` assumes for it."""
    rgb = read_rgb(PHOTOS / name)
    K = intrinsics_from_fov(rgb.shape[1], rgb.shape[0], DEFAULT_FOV_DEG)
    return rgb, tuple(float(v) for v in K.ravel())


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with running_node(tmp_path_factory.mktemp("embedded"), PARAMETERS, fake=False) as session:
        session.wait_for_subscribers(timeout=60)
        yield session


def test_a_blank_image_has_no_hand_and_no_object(node):
    pose = node.publish_until_pose(rgb_frame(fill=(128, 128, 128)), timeout=60)
    assert pose.model_version.startswith(EMBEDDED)
    assert not pose.right_hand.detected and not pose.left_hand.detected
    assert not pose.object.detected


def test_the_hand_in_a_real_photo_is_found_where_mediapipe_finds_it(node):
    rgb, k = _photo("hands/handSrc.jpg")
    palms = detect_hands(rgb)
    assert palms, "MediaPipe's palm detector finds the hand (the reference)"
    pose = node.publish_until_pose(rgb, timeout=60, k=k)
    hands = [hand for hand in (pose.right_hand, pose.left_hand) if hand.detected]
    assert hands
    for hand in hands:
        keypoints = [(point.x, point.y) for point in hand.keypoints_2d]
        assert lies_on_a_hand(keypoints, palms)


def test_no_hand_on_a_real_hand_free_photo(node):
    """Also a scene cut after the hand photo above: the hand tracked there is checked again
    within HAND_RECHECK_FRAMES frames, then nothing is reported."""
    rgb, k = _photo("no_hands/" + sorted(p.name for p in (PHOTOS / "no_hands").glob("*"))[0])
    poses = [node.publish_until_pose(rgb, timeout=60, k=k) for _ in range(HAND_RECHECK_FRAMES)]
    for pose in poses[-3:]:
        assert not pose.right_hand.detected and not pose.left_hand.detected
