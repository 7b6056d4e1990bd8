"""MediaPipe's hand networks in PyTorch with the committed weights: torch, numpy, safetensors.

No tflite, no OpenCV: the real photo is ``test/data/mediapipe/open_palm_128.npz`` (see the
README beside it). Also unit tests of the palm decoding on hand-made numbers.
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from occrobnet_ros.inference import hand_detection as hd
from occrobnet_ros.model.checkpoint import CheckpointError
from occrobnet_ros.model.mediapipe_hand import MediaPipeHandLandmark, same_padding
from occrobnet_ros.model.palm_detector import MediaPipePalmDetector

REPO = Path(__file__).resolve().parents[1]
PALM_IMAGE = REPO / "test" / "data" / "mediapipe" / "open_palm_128.npz"
# Hand-annotated on the 128 x 128 photo: the centre of the palm (between wrist crease and
# knuckles) and which way the fingers point (up: rotation 0).
PALM_CENTRE = np.array([64.0, 88.0])
# Parameters of the converted networks (what the tflite files hold).
PARAMETERS = {
    "hand_landmark_full": 2_715_680,
    "hand_landmark_lite": 1_011_712,
    "palm_detection_full": 1_132_056,
    "palm_detection_lite": 959_608,
}


def open_palm() -> np.ndarray:
    with np.load(PALM_IMAGE) as archive:
        return archive["rgb"]


@pytest.fixture(scope="module", params=["full", "lite"])
def detector(request):
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return hd.HandDetector(request.param)


# ----------------------------------------------------------------- the committed weights


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_committed_weights_load_with_their_provenance(name):
    model = hd.load_mediapipe_model(name)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[name]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    metadata, _ = hd.read_safetensors(hd.mediapipe_weights_path(name))
    assert metadata["source_wheel"].startswith("mediapipe-0.10.21-")
    assert metadata["source_file"].endswith(f"/{name}.tflite")
    assert len(metadata["source_sha256"]) == 64
    assert (REPO / "weights" / "mediapipe" / "NOTICE").is_file()


def test_a_file_of_another_format_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "hand_landmark_full.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a converted MediaPipe model"):
        hd.load_mediapipe_model("hand_landmark_full", path)


# ------------------------------------------------------------------------- on a real hand


def test_the_palm_detector_finds_the_one_palm(detector):
    image = open_palm()
    detections = detector.detect(image)
    assert len(detections) == 1
    palm = detections[0]
    assert palm.score > 0.9
    xmin, ymin, xmax, ymax = palm.box
    assert xmin < PALM_CENTRE[0] < xmax and ymin < PALM_CENTRE[1] < ymax
    assert 30 < xmax - xmin < 90 and 30 < ymax - ymin < 90
    assert abs(palm.roi_rotation) < math.radians(15)  # fingers up
    assert palm.roi_center[1] < (ymin + ymax) / 2  # shifted towards the fingers


def test_the_landmark_net_finds_the_hand_in_the_palms_crop(detector):
    image = open_palm()
    palm = detector.detect(image)[0]
    hand = detector.landmarks(image, palm)
    assert hand["presence"] > 0.5
    assert hand["landmarks"].shape == (21, 3) and hand["world_landmarks"].shape == (21, 3)
    # The wrist and the four finger MCPs (MediaPipe's 0, 5, 9, 13, 17) lie in the palm box
    # (10 % margin), the fingertips above the knuckles.
    margin = 0.1 * (palm.box[2:] - palm.box[:2])
    palm_points = hand["landmarks"][[0, 5, 9, 13, 17], :2]
    assert np.all(palm_points > palm.box[:2] - margin)
    assert np.all(palm_points < palm.box[2:] + margin)
    assert np.all(hand["landmarks"][[8, 12, 16, 20], 1] < hand["landmarks"][[5, 9, 13, 17], 1])
    # A hand is ~10-25 cm across: the world landmarks are metres.
    extent = np.ptp(hand["world_landmarks"], axis=0)
    assert 0.05 < extent.max() < 0.3


def test_an_empty_image_has_no_palm(detector):
    assert detector.detect(np.full((120, 160, 3), 127, np.uint8)) == []


# ------------------------------------------------------------------------ the networks


@pytest.mark.parametrize("variant", ["full", "lite"])
def test_landmark_backbone_features(variant):
    model = MediaPipeHandLandmark(variant).eval()
    with torch.no_grad():
        features = model.forward_features(torch.zeros(1, 3, 224, 224))
    assert [f.shape[1] for f in features] == list(model.stage_channels)
    assert [224 // f.shape[-1] for f in features] == list(model.strides) == [4, 8, 16, 32]


def test_palm_detector_output_shapes():
    with torch.no_grad():
        out = MediaPipePalmDetector("lite").eval()(torch.zeros(2, 3, 192, 192))
    assert out["boxes"].shape == (2, 2016, 18) and out["scores"].shape == (2, 2016, 1)


def test_tflite_same_padding_puts_the_extra_pixel_after():
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(192, 5, 2) == (1, 2)
    assert same_padding(56, 5, 2) == (1, 2)
    assert same_padding(7, 5, 1) == (2, 2)
    assert same_padding(7, 3, 2) == (1, 1)


# -------------------------------------------------------------------------------- anchors


def test_palm_anchors_are_mediapipes_2016():
    anchors = hd.ssd_anchors(hd.PALM_ANCHORS)
    assert anchors.shape == (2016, 4)
    # Stride 8: 24 x 24 cells, 2 anchors each; then stride 16: 12 x 12 cells, 6 anchors each.
    np.testing.assert_allclose(anchors[0], [0.5 / 24, 0.5 / 24, 1, 1])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 24, 0.5 / 24, 1, 1])
    np.testing.assert_allclose(anchors[1151], [23.5 / 24, 23.5 / 24, 1, 1])
    np.testing.assert_allclose(anchors[1152:1158], [[0.5 / 12, 0.5 / 12, 1, 1]] * 6)
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12, 1, 1])


def test_anchor_sizes_when_not_fixed():
    options = hd.SsdAnchorOptions(192, 0.1484375, 0.75, (8, 16, 16, 16), (1.0,))
    anchors = hd.ssd_anchors(options)
    scales = [0.1484375 + (0.75 - 0.1484375) * i / 3 for i in range(4)]
    # Each layer: its scale, then the geometric mean with the next one (1.0 after the last).
    np.testing.assert_allclose(anchors[0, 2:], [scales[0]] * 2, rtol=1e-6)
    np.testing.assert_allclose(anchors[1, 2:], [math.sqrt(scales[0] * scales[1])] * 2, rtol=1e-6)
    cell = anchors[1152:1158, 2]
    expected = [
        scales[1],
        math.sqrt(scales[1] * scales[2]),
        scales[2],
        math.sqrt(scales[2] * scales[3]),
        scales[3],
        math.sqrt(scales[3]),
    ]
    np.testing.assert_allclose(cell, expected, rtol=1e-6)
    wide = hd.ssd_anchors(hd.SsdAnchorOptions(64, 0.2, 0.2, (32,), (4.0,)))
    np.testing.assert_allclose(wide[0, 2:], [0.4, 0.1], rtol=1e-6)  # w = s sqrt(r), h = s/sqrt(r)


# ------------------------------------------------------------------------------ decoding


def test_decode_on_hand_made_numbers():
    anchors = np.array([[0.5, 0.5, 1, 1], [0.25, 0.75, 1, 1], [0.5, 0.5, 1, 1]], np.float32)
    raw = np.zeros((3, 18), np.float32)
    raw[0, :4] = [19.2, -9.6, 38.4, 19.2]  # centre +0.1, -0.05; size 0.2 x 0.1
    raw[0, 4:6] = [-19.2, 19.2]  # keypoint 0 at -0.1, +0.1 from the anchor
    raw[1, :4] = [0, 0, 19.2, 19.2]
    raw[2, :4] = [0, 0, -19.2, 19.2]  # negative width: dropped
    scores, boxes, keypoints = hd.decode_palms(raw, np.array([0.0, 1000.0, 5.0]), anchors)
    np.testing.assert_allclose(scores, [0.5, 1.0])  # logit 1000 clipped to 100
    np.testing.assert_allclose(boxes[0], [0.5, 0.4, 0.7, 0.5], atol=1e-6)
    np.testing.assert_allclose(boxes[1], [0.2, 0.7, 0.3, 0.8], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [0.4, 0.6], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 1], [0.5, 0.5], atol=1e-6)
    low, _, _ = hd.decode_palms(raw, np.array([-0.1, -1.0, -5.0]), anchors)
    assert low.size == 0  # below 0.5


def test_weighted_nms_merges_overlaps_and_keeps_the_rest():
    boxes = np.array([[0, 0, 1, 1], [0.5, 0, 1.5, 1], [0.6, 0, 1.6, 1], [5, 5, 6, 6]], float)
    scores = np.array([0.9, 0.6, 0.3, 0.8])
    keypoints = np.arange(4 * 7 * 2, dtype=float).reshape(4, 7, 2)
    kept = hd.weighted_nms(scores, boxes, keypoints, iou_threshold=0.3)
    assert [score for score, _, _ in kept] == [0.9, 0.8, 0.3]
    # IoU(box0, box1) = 0.5 / 1.5 > 0.3: merged, weights 0.9 and 0.6; box2: 0.4 / 1.6 < 0.3.
    merged = (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5
    np.testing.assert_allclose(kept[0][1], merged)
    np.testing.assert_allclose(kept[0][2], (0.9 * keypoints[0] + 0.6 * keypoints[1]) / 1.5)
    np.testing.assert_allclose(kept[1][1], boxes[3])
    np.testing.assert_allclose(kept[2][1], boxes[2])  # box1 went with box0, box2 stays


def test_box_iou():
    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 3, 3], [0, 0, 0, 0]], float)
    np.testing.assert_allclose(hd.box_iou(boxes[0], boxes), [1, 1 / 7, 0, 0])


# ----------------------------------------------------------------------------------- ROI


@pytest.mark.parametrize(
    ("middle_mcp", "degrees"),
    [((0, -10), 0), ((10, 0), 90), ((-10, 0), -90), ((0, 10), -180), ((10, -10), 45)],
)
def test_palm_rotation_turns_the_hand_upright(middle_mcp, degrees):
    keypoints = np.zeros((7, 2))
    keypoints[2] = middle_mcp  # wrist at the origin
    assert math.degrees(hd.palm_rotation(keypoints)) == pytest.approx(degrees)


def test_hand_roi_shifts_towards_the_fingers_and_squares_the_long_side():
    box = np.array([100.0, 200.0, 160.0, 300.0])  # 60 wide, 100 high, centre (130, 250)
    keypoints = np.zeros((7, 2))
    keypoints[0], keypoints[2] = (130, 280), (130, 220)  # fingers up
    centre, size, rotation = hd.hand_roi(box, keypoints)
    np.testing.assert_allclose(centre, [130, 200])  # up by half the height
    assert size == pytest.approx(260) and rotation == pytest.approx(0)
    keypoints[0], keypoints[2] = (100, 250), (160, 250)  # fingers to the right
    centre, size, rotation = hd.hand_roi(box, keypoints)
    np.testing.assert_allclose(centre, [180, 250])  # right by half the height
    assert rotation == pytest.approx(math.pi / 2)


# --------------------------------------------------------------------------------- crops


def test_letterbox_of_a_wide_image_has_black_bands_and_maps_back():
    image = np.full((100, 200, 3), 200, np.uint8)
    tensor, centre, side = hd.letterbox(image)
    assert tensor.shape == (192, 192, 3) and side == 200
    np.testing.assert_allclose(centre, [100, 50])
    # The image covers input rows 48..144; the bands above and below are black.
    assert np.all(tensor[:47] == 0) and np.all(tensor[-47:] == 0)
    np.testing.assert_allclose(tensor[49:143], 200 / 255, atol=1e-6)
    # A normalised point n of the input is at centre + (n - 0.5) * side in the image.
    detection = hd.palm_in_image(
        0.9, np.array([0.25, 0.5, 0.75, 0.75]), np.full((7, 2), 0.5), centre, side
    )
    np.testing.assert_allclose(detection.box, [50, 50, 150, 100])


def test_warp_rect_rotates_crop_up_to_the_palms_direction():
    image = np.zeros((101, 101, 3), np.uint8)
    image[50, 90] = 255  # a dot right of the centre (50.5, 50.5)
    # Rotation +90 degrees: the crop's "up" is the image's "right".
    crop = hd.warp_rect(image, np.array([50.5, 50.5]), 101, math.pi / 2, 101, False)
    row, column = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    assert (row, column) == (10, 50)
    plain = hd.warp_rect(image, np.array([50.5, 50.5]), 101, 0.0, 101, False)
    np.testing.assert_allclose(plain, image / 255.0, atol=1e-6)


def test_warp_rect_border_modes():
    image = np.full((10, 10, 3), 255, np.uint8)
    zero = hd.warp_rect(image, np.array([5.0, 5.0]), 40, 0.0, 40, replicate_border=False)
    replicate = hd.warp_rect(image, np.array([5.0, 5.0]), 40, 0.0, 40, replicate_border=True)
    assert zero[0, 0, 0] == 0 and zero[20, 20, 0] == 1
    assert np.all(replicate == 1)
