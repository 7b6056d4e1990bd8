"""The converted MediaPipe networks against the TFLite runtime (the conversion lane).

Needs what requirements-training.txt adds (``tflite`` to parse, ``ai-edge-litert`` to run the
.tflite files) and the ``mediapipe==0.10.21`` wheel, which is downloaded, never installed:

    pip download --no-deps mediapipe==0.10.21 -d /tmp/mp
    OCCROBNET_MEDIAPIPE_WHEEL=/tmp/mp/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl

Skipped, with the reason, where any of them is missing. Real images: the committed open palm,
plus the hand photos of Debian's opencv-doc package where its .deb is found
(``OCCROBNET_OPENCV_DOC_DEB``; read with the standard library, decoded with OpenCV).

Measured (x86-64, XNNPACK, torch 2.13 CPU) over these images: landmarks within 2.3e-4 px,
world landmarks 6.3e-7 m, presence and handedness 1.2e-6, palm box regressors 2.4e-4 px,
score logits 3.3e-5. The weights are the tflite's own float16 values, so what is left is
float32 summation order; the tolerances below leave a margin of ~20-40x.
"""

import glob
import io
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from occrobnet_ros.inference import hand_detection as hd

litert = pytest.importorskip(
    "ai_edge_litert.interpreter", reason="ai-edge-litert (requirements-training.txt) not installed"
)
pytest.importorskip("tflite", reason="tflite (requirements-training.txt) not installed")

from occrobnet_ros.tools import convert_mediapipe as cm  # noqa: E402  (needs tflite)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WHEEL = "/tmp/mp/mediapipe-0.10.21-*.whl"
DEFAULT_OPENCV_DOC_DEB = "/tmp/mp/opencv-doc_4.6.0+dfsg-12_all.deb"
OPENCV_DOC_HTML = "usr/share/doc/opencv-doc/opencv4/html/"
OPENCV_DOC_HANDS = (
    "handSrc.jpg",
    "handDst.jpg",
    "Back_Projection_Theory0.jpg",
    "Back_Projection_Theory2.jpg",
)
LANDMARK_PX_TOLERANCE = 0.01
WORLD_M_TOLERANCE = 1e-5
PROBABILITY_TOLERANCE = 1e-5
BOX_PX_TOLERANCE = 0.01
SCORE_LOGIT_TOLERANCE = 1e-3


def _wheel() -> str:
    found = os.environ.get("OCCROBNET_MEDIAPIPE_WHEEL") or next(
        iter(sorted(glob.glob(DEFAULT_WHEEL))), None
    )
    if not found or not Path(found).is_file():
        pytest.skip(
            "the mediapipe 0.10.21 wheel was not found: set OCCROBNET_MEDIAPIPE_WHEEL "
            "(pip download --no-deps mediapipe==0.10.21)"
        )
    return found


@pytest.fixture(scope="module")
def wheel() -> str:
    return _wheel()


def _deb_members(deb: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """Files of a .deb's data.tar.xz, by base name (an ar archive of tar files)."""
    raw = deb.read_bytes()
    offset, data = 8, None  # after the "!<arch>\n" magic
    while offset < len(raw):
        header = raw[offset : offset + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        if name.startswith("data.tar"):
            data = raw[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
    if data is None:
        return {}
    wanted = {OPENCV_DOC_HTML + name: name for name in names}
    found = {}
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(data))) as archive:
        for member in archive:
            key = member.name.removeprefix("./")
            if key in wanted:
                found[wanted[key]] = archive.extractfile(member).read()
    return found


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    """The committed open palm, plus opencv-doc's hand photos where available."""
    with np.load(REPO / "test" / "data" / "mediapipe" / "open_palm_128.npz") as archive:
        found = {"open_palm_128": archive["rgb"]}
    deb = Path(os.environ.get("OCCROBNET_OPENCV_DOC_DEB", DEFAULT_OPENCV_DOC_DEB))
    try:
        import cv2
    except ImportError:
        return found
    if deb.is_file():
        for name, data in _deb_members(deb, OPENCV_DOC_HANDS).items():
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            found[name] = np.ascontiguousarray(bgr[:, :, ::-1])
    return found


def _run_tflite(wheel: str, name: str, inputs: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    data = cm.read_wheel_member(wheel, cm.MODELS[name].member)
    interpreter = litert.Interpreter(model_content=data)
    interpreter.allocate_tensors()
    results = []
    for image in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
        interpreter.invoke()
        outputs = interpreter.get_output_details()
        results.append({d["name"]: interpreter.get_tensor(d["index"]) for d in outputs})
    return results


def _run_torch(name: str, inputs: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    model = hd.load_mediapipe_model(name)
    with torch.no_grad():
        batch = torch.from_numpy(np.stack(inputs)).permute(0, 3, 1, 2)
        out = {key: value.numpy() for key, value in model(batch).items()}
    return [{key: value[i] for key, value in out.items()} for i in range(len(inputs))]


def _inputs(name: str, images: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Each image as the net sees it in the pipeline: letterboxed for the palm detector,
    the rotated crop of each palm the torch detector finds for the landmark net."""
    if name.startswith("palm_detection"):
        return [hd.letterbox(image)[0] for image in images.values()]
    detector = hd.HandDetector("full")
    return [
        detector.crop(image, palm) for image in images.values() for palm in detector.detect(image)
    ]


def _max_differences(name: str, torch_out: list[dict], tflite_out: list[dict]) -> dict:
    """Largest |torch - tflite| per output over all inputs (tflite output names as in
    hand_landmark_cpu.pbtxt / palm_detection_cpu.pbtxt)."""
    if name.startswith("palm_detection"):
        pairs = {"boxes": "Identity", "scores": "Identity_1"}
    else:
        pairs = {
            "landmarks": "Identity",
            "presence": "Identity_1",
            "handedness": "Identity_2",
            "world_landmarks": "Identity_3",
        }
    return {
        key: max(
            float(np.abs(t[key].reshape(-1) - r[output].reshape(-1)).max())
            for t, r in zip(torch_out, tflite_out)
        )
        for key, output in pairs.items()
    }


@pytest.mark.parametrize("name", sorted(cm.MODELS))
def test_torch_matches_the_tflite_runtime_on_real_images(wheel, images, name):
    inputs = _inputs(name, images)
    assert len(inputs) >= len(images)  # a palm in every photo
    worst = _max_differences(name, _run_torch(name, inputs), _run_tflite(wheel, name, inputs))
    print(f"{name}: max |torch - tflite| over {len(inputs)} inputs: {worst}")
    if name.startswith("palm_detection"):
        assert worst["boxes"] < BOX_PX_TOLERANCE
        assert worst["scores"] < SCORE_LOGIT_TOLERANCE
    else:
        assert worst["landmarks"] < LANDMARK_PX_TOLERANCE
        assert worst["world_landmarks"] < WORLD_M_TOLERANCE
        assert worst["presence"] < PROBABILITY_TOLERANCE
        assert worst["handedness"] < PROBABILITY_TOLERANCE


@pytest.mark.parametrize("name", sorted(cm.MODELS))
def test_converting_the_wheel_reproduces_the_committed_weights(wheel, name):
    state, metadata = cm.convert(wheel, name)
    committed_metadata, committed = hd.read_safetensors(hd.mediapipe_weights_path(name))
    assert sorted(state) == sorted(committed)
    for key, value in state.items():
        assert torch.equal(committed[key].float(), value), key
    for key in ("format", "source_file", "source_sha256"):
        assert committed_metadata[key] == metadata[key]
    with zipfile.ZipFile(wheel) as archive:
        assert cm.MODELS[name].member in archive.namelist()


def test_a_graph_that_does_not_fit_the_module_is_refused(wheel):
    graph = cm.TfliteGraph(cm.read_wheel_member(wheel, cm.MODELS["hand_landmark_lite"].member))
    with pytest.raises(cm.ConversionError, match="weight shape"):
        cm.map_weights(graph, hd.MediaPipeHandLandmark("full"), cm.LANDMARK_OUTPUTS)
    swapped = dict(cm.LANDMARK_OUTPUTS, presence_head="Identity_2", handedness_head="Identity_1")
    graph = cm.TfliteGraph(cm.read_wheel_member(wheel, cm.MODELS["hand_landmark_full"].member))
    with pytest.raises(cm.ConversionError, match="feeds"):
        cm.map_weights(graph, hd.MediaPipeHandLandmark("full"), swapped)


def test_the_command_line_writes_the_four_files(wheel, tmp_path):
    assert cm.main(["--wheel", wheel, "--out", str(tmp_path)]) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(f"{name}.safetensors" for name in cm.MODELS)
