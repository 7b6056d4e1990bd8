"""model/hand_sides.py: exchanging a network's hands changes which hand is which, nothing else.

The embedded checkpoint was made so (scripts/exchange_hands.py) when the procedural generator
started to label its hands by their anatomy: these tests hold the exchange to being exact
(test_model_frontend pins the checkpoint's own outputs)."""

import copy

import numpy as np
import pytest
import torch

from occrobnet_ros.model import build_model
from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.model.hand_sides import exchange_hands, exchanged_classes, exchanged_joints
from occrobnet_ros.model.heads import NUM_JOINT_QUERIES
from occrobnet_ros.model.losses import object_offsets_from


def small_model(**overrides) -> torch.nn.Module:
    fields = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml").to_dict()
    fields.update(input_size=64, heatmap_size=16, num_keypoint_tokens=24, num_object_tokens=8)
    fields.update(enc_layers=1, dec_layers=2, fpn_channels=32, hidden_dim=64, ffn_dim=64)
    fields.update(visibility_head=True, peak_threshold=0.0, **overrides)
    torch.manual_seed(0)
    return build_model(OccRobNetConfig.from_dict(fields)).eval()


def as_if_exchanged(outputs: dict) -> dict:
    """What the exchanged network must answer, from the original's outputs."""
    expected = dict(outputs)
    for key, value in outputs.items():  # one row per joint (right 0-20, left 21-41)
        if torch.is_tensor(value) and value.dim() > 1 and value.shape[1] == NUM_JOINT_QUERIES:
            expected[key] = value[:, exchanged_joints(NUM_JOINT_QUERIES)]
    expected["hand_presence"] = outputs["hand_presence"].flip(-1)
    expected["rel_root"] = -outputs["rel_root"]
    logits = outputs["identity_logits"]
    expected["identity_logits"] = logits[..., exchanged_classes(logits.shape[-1])]
    return expected


@pytest.mark.parametrize("representation", ["3d", "2.5d"])
def test_every_output_moves_to_the_other_hand(representation):
    model = small_model(pose_representation=representation)
    exchanged = copy.deepcopy(model)
    exchange_hands(exchanged)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before, after = model(images), exchanged(images)
    assert before["token_valid"].any()  # tokens reach the transformer: the test means something
    expected = as_if_exchanged(before)
    for key, value in after.items():
        if torch.is_tensor(value):
            torch.testing.assert_close(value, expected[key], atol=1e-5, rtol=1e-5, msg=key)
    assert not torch.allclose(after["joints_3d"], before["joints_3d"])
    assert exchanged.config.object_reference_hand == "left"


def test_exchanging_twice_gives_the_network_back():
    model = small_model()
    twice = copy.deepcopy(model)
    exchange_hands(twice)
    exchange_hands(twice)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(twice.state_dict()[key], value, msg=key)
    assert twice.config.object_reference_hand == "right"


def test_a_weak_perspective_camera_is_refused():
    with pytest.raises(ValueError, match="weak-perspective"):
        exchange_hands(small_model(weak_perspective_camera=True))


def test_object_offsets_are_scored_and_trained_from_the_wrist_the_model_names():
    # Two frames: both hands (object 0.2 m right of the right wrist, left wrist 0.3 m further
    # right), and the right hand alone.
    gt = {
        "hand_valid": np.array([[True, True], [True, False]]),
        "rel_root": np.array([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        "object_translation": np.array([[0.2, 0.0, 0.0], [0.1, 0.0, 0.0]]),
    }
    assert object_offsets_from(gt, "right") is gt
    from_left = object_offsets_from(gt, "left")
    np.testing.assert_allclose(from_left["object_translation"], [[-0.1, 0, 0], [0.1, 0, 0]])
    np.testing.assert_array_equal(gt["object_translation"][0], [0.2, 0.0, 0.0])  # a copy
    # The same for a training batch (torch): the losses train a "left" network from there.
    batch = {key: torch.as_tensor(value) for key, value in gt.items()}
    shifted = object_offsets_from(batch, "left")["object_translation"]
    torch.testing.assert_close(shifted, torch.as_tensor(from_left["object_translation"]))
