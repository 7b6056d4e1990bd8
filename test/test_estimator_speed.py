"""The estimator's fast paths: folded BatchNorm, the device-side crop warp, zero-copy inputs,
packed outputs. Each must give what the plain path gives."""

import cv2
import numpy as np
import pytest
import torch

from occrobnet_ros import crop_policy
from occrobnet_ros.inference import preprocess
from occrobnet_ros.inference.estimator import Estimator, EstimatorError
from occrobnet_ros.inference.preprocess import fold_batchnorm, warp_on_device
from occrobnet_ros.model import postprocess
from occrobnet_ros.model.checkpoint import save_random_model
from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.model.occrobnet import build_model

K = np.array([[615.0, 0.0, 320.0], [0.0, 615.0, 240.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml")
    config.input_size, config.heatmap_size = 128, 16
    path = tmp_path_factory.mktemp("ckpt") / "tiny_random.safetensors"
    return save_random_model(config, path)


def _frame(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (5, 5), 0)
    frame[100:200, 300:420] = 255  # sharp edges, where interpolation differences show
    return frame


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("crop", ["full_frame", "roi"])
def test_device_warp_matches_opencv(size, crop):
    frame = _frame()
    if crop == "full_frame":
        A = crop_policy.full_frame_transform(640, 480, size)
    else:  # a zoomed ROI that also reaches past the image's top edge (zero border)
        A = crop_policy.roi_transform(np.array([[300.0, 0.0], [380.0, 120.0]]), size)
    expected = cv2.warpAffine(frame, A, (size, size), flags=cv2.INTER_LINEAR) / 255.0
    crops = warp_on_device(torch.from_numpy(frame)[None], [A], size)
    assert crops.shape == (1, 3, size, size) and crops.dtype == torch.float32
    # OpenCV rounds to uint8 (and quantises weights to 1/32 px): within one grey level.
    np.testing.assert_allclose(crops[0].permute(1, 2, 0).numpy(), expected, atol=1.0 / 255)


def test_device_warp_takes_a_batch_with_one_transform_per_frame():
    frames = np.stack([_frame(0), _frame(1)])
    A = [crop_policy.full_frame_transform(640, 480, 64), np.array([[0.2, 0, 10], [0, 0.2, 5.0]])]
    crops = warp_on_device(torch.from_numpy(frames), A, 64)
    for index in range(2):
        single = warp_on_device(torch.from_numpy(frames[index])[None], [A[index]], 64)
        torch.testing.assert_close(crops[index], single[0])


def test_both_warps_feed_the_network_the_same_crop(checkpoint):
    cv2_warp = Estimator(checkpoint, device="cpu", warp="cv2")
    torch_warp = Estimator(checkpoint, device="cpu", warp="torch")
    frame = _frame()
    A = [crop_policy.full_frame_transform(640, 480, 128)]
    a, b = cv2_warp._preprocess([frame], A), torch_warp._preprocess([frame], A)
    assert a.shape == b.shape == (1, 3, 128, 128)
    torch.testing.assert_close(a, b, atol=1.0 / 255, rtol=0)


def test_a_read_only_strided_view_is_accepted_without_a_copy_by_the_caller(checkpoint):
    """What image_conversion hands over for rgb8 with row padding: a read-only view."""
    frame = _frame()
    padded = np.zeros((480, 640 * 3 + 64), dtype=np.uint8)
    padded[:, : 640 * 3] = frame.reshape(480, -1)
    view = padded[:, : 640 * 3].reshape(480, 640, 3)
    view.flags.writeable = False
    for warp in ("cv2", "torch"):
        model = Estimator(checkpoint, device="cpu", warp=warp, hand_threshold=0.0)
        from_view = model.predict_batch([view], [K])[0]
        from_copy = model.predict_batch([frame.copy()], [K])[0]
        np.testing.assert_array_equal(
            from_view.right_hand.keypoints_2d, from_copy.right_hand.keypoints_2d
        )


def test_outputs_match_the_network_run_directly(checkpoint):
    """One packed device-to-host copy returns what the model computed, in the right places."""
    model = Estimator(checkpoint, device="cpu")
    batch = torch.rand(2, 3, 128, 128)
    outputs = model._forward(batch, None)
    with torch.inference_mode():
        raw = model.model(batch)
    for key in postprocess.HOST_OUTPUTS:
        np.testing.assert_array_equal(outputs[key], raw[key].numpy(), err_msg=key)
    peaks = raw["heatmaps"].amax(dim=(2, 3)).clamp(0, 1).numpy()
    np.testing.assert_array_equal(outputs["joint_confidence"], peaks)


def test_warp_option_is_checked_and_falls_back_without_opencv(checkpoint, monkeypatch):
    with pytest.raises(EstimatorError, match="warp"):
        Estimator(checkpoint, device="cpu", warp="nearest")
    assert Estimator(checkpoint, device="cpu").warp == "cv2"  # measured faster on CPUs
    monkeypatch.setattr(preprocess, "cv2", None)
    assert Estimator(checkpoint, device="cpu").warp == "torch"
    assert Estimator(checkpoint, device="cpu", warp="cv2").warp == "torch"


def test_folding_batchnorm_keeps_the_outputs():
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml")
    config.input_size, config.heatmap_size = 128, 16
    torch.manual_seed(0)
    model = build_model(config).eval()
    for module in model.modules():  # trained-looking statistics, not the identity defaults
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    images = torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        expected = model(images)
        folded = fold_batchnorm(model)
        actual = folded(images.contiguous(memory_format=torch.channels_last))
    remaining = [m for m in folded.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert remaining == [folded.ciet.dynamic_norm]  # the one BN that follows no convolution
    for key in ("heatmaps", "joints_2d", "joints_3d", "object_rotation", "hand_presence"):
        torch.testing.assert_close(actual[key], expected[key], atol=1e-4, rtol=1e-4, msg=key)
