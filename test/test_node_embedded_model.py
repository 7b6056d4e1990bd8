"""The node with the embedded default checkpoint (no checkpoint parameter): it loads, names the
model in its messages, reports nothing on a blank image and finds the hands on a synthetic
frame of the benchmark split."""

import pytest
from node_harness import rgb_frame, running_node

from occrobnet_ros.data.synthetic import generate_sample

pytestmark = pytest.mark.slow  # the real model on 2 cores
EMBEDDED = "occrobnet_tiny_synthetic.safetensors@"
PARAMETERS = {"device": "cpu", "max_frame_age": 10.0}


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


def test_hands_on_a_benchmark_frame_are_detected(node):
    sample = generate_sample(0)  # both hands, in the held-out benchmark split
    assert sample.hand_valid.all()
    k = tuple(float(v) for v in sample.K.ravel())
    poses = [node.publish_until_pose(sample.image, timeout=60, k=k) for _ in range(3)]
    # The first frame is seen whole; later ones through the ROI of the hands found before.
    assert any(pose.right_hand.detected or pose.left_hand.detected for pose in poses)
