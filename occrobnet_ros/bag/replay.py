"""Offline replay: a bag's frames through the estimator, in batches, as fast as it goes.

Each image is paired with the CameraInfo of the same stamp (the nearest stamp when a camera
publishes CameraInfo less often) and with the ground truth of the same stamp, if any. Frames
are independent (``Estimator.predict_batch``: full frame, no tracking, no smoothing), so the
result does not depend on the speed of the machine, and a rerun with the same batch size
gives the same numbers; other batch sizes differ only by float rounding (measured ~1e-6
relative on the CPU).
"""

import bisect
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from std_msgs.msg import Header

from occrobnet_ros.bag.io import BagError, BagReader, normalise_topic
from occrobnet_ros.prediction import Prediction
from occrobnet_ros.ros.camera_info import CameraInfoError, intrinsics_from_camera_info
from occrobnet_ros.ros.image_conversion import (
    ImageConversionError,
    compressed_to_rgb,
    image_to_rgb,
)
from occrobnet_ros.ros.messages import msg_to_prediction
from occrobnet_ros.ros.stamp_sync import stamp_to_nanoseconds

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POSE_TYPE = "occrobnet_ros/msg/HandObjectPose"


@dataclass(frozen=True)
class Topics:
    """The bag's topics the evaluation reads; ``ground_truth`` None when the bag has none."""

    image: str
    image_type: str
    camera_info: str | None  # None: no CameraInfo, the fallback intrinsics are used
    ground_truth: str | None


def resolve_topics(
    bag: BagReader,
    image: str,
    camera_info: str,
    ground_truth: str | None,
    default_gt: str,
    info_optional: bool = False,
) -> Topics:
    """Check that ``bag`` has the requested topics (BagError listing its topics otherwise).

    ``image`` may name a raw or a compressed topic; when ``image`` is absent but
    ``image/compressed`` exists (image_transport's name), that is used. ``ground_truth`` None
    means ``default_gt`` if the bag has it, else no ground truth. With ``info_optional`` (the
    caller has fallback intrinsics) a missing ``camera_info`` topic is no error.
    """
    image = normalise_topic(image)
    if image not in bag.topics and f"{image}/compressed" in bag.topics:
        image = f"{image}/compressed"
    image = bag.require(image, (IMAGE_TYPE, COMPRESSED_TYPE), "image")
    info = None
    if not info_optional or normalise_topic(camera_info) in bag.topics:
        info = bag.require(camera_info, (CAMERA_INFO_TYPE,), "camera_info")
    if ground_truth is None:
        default_gt = normalise_topic(default_gt)
        ground_truth = default_gt if default_gt in bag.topics else None
    if ground_truth is not None:
        ground_truth = bag.require(ground_truth, (POSE_TYPE,), "ground-truth")
    return Topics(image, bag.topics[image], info, ground_truth)


@dataclass
class BagFrame:
    """One decoded image of a bag, ready for the estimator."""

    header: Header
    stamp_ns: int
    time_ns: int  # receive time in the bag
    rgb: np.ndarray
    K: np.ndarray


@dataclass
class SideTopics:
    """CameraInfo intrinsics and ground truth of a bag, by header stamp."""

    info_stamps: list[int] = field(default_factory=list)
    intrinsics: list[np.ndarray] = field(default_factory=list)
    ground_truth: dict[int, Prediction] = field(default_factory=dict)
    rejected: Counter = field(default_factory=Counter)
    fallback: np.ndarray | None = None  # K when the bag has no CameraInfo

    def K_for(self, stamp_ns: int) -> np.ndarray | None:
        """The intrinsics with the nearest stamp (equal stamps for a camera's pairs), else the
        fallback."""
        if not self.info_stamps:
            return self.fallback
        i = bisect.bisect_left(self.info_stamps, stamp_ns)
        near = [j for j in (i - 1, i) if 0 <= j < len(self.info_stamps)]
        best = min(near, key=lambda j: abs(self.info_stamps[j] - stamp_ns))
        return self.intrinsics[best]


def read_side_topics(
    bag: BagReader, topics: Topics, fallback_K: np.ndarray | None = None
) -> SideTopics:
    """Every CameraInfo and ground-truth message of the bag (small: read them first)."""
    side = SideTopics(fallback=fallback_K)
    wanted = [t for t in (topics.camera_info, topics.ground_truth) if t is not None]
    infos = {}
    for topic, _, msg in bag.messages(wanted):
        stamp = stamp_to_nanoseconds(msg.header.stamp)
        if topic == topics.ground_truth:
            side.ground_truth[stamp] = msg_to_prediction(msg)
            continue
        try:
            infos[stamp] = intrinsics_from_camera_info(msg)
        except CameraInfoError as error:
            side.rejected[f"camera_info_{error.reason}"] += 1
    side.info_stamps = sorted(infos)
    side.intrinsics = [infos[stamp] for stamp in side.info_stamps]
    return side


def bag_frames(bag: BagReader, topics: Topics, side: SideTopics) -> Iterator[BagFrame]:
    """The bag's images in order, decoded to RGB with their intrinsics.

    Frames that cannot be used (bad encoding, no CameraInfo) are counted in ``side.rejected``.
    """
    if not side.intrinsics and side.fallback is None:
        raise BagError(
            f"{bag.path}: no usable CameraInfo on {topics.camera_info}; give --intrinsics"
        )
    compressed = topics.image_type == COMPRESSED_TYPE
    for _, time_ns, msg in bag.messages([topics.image]):
        try:
            rgb = compressed_to_rgb(msg) if compressed else image_to_rgb(msg)
        except ImageConversionError as error:
            side.rejected[f"image_{error.reason}"] += 1
            continue
        stamp = stamp_to_nanoseconds(msg.header.stamp)
        yield BagFrame(msg.header, stamp, time_ns, rgb, side.K_for(stamp))


@dataclass
class Timing:
    """Where offline time went: the estimator vs everything (reading, decoding, writing)."""

    frames: int = 0
    estimator_s: float = 0.0
    inference_s: list[float] = field(default_factory=list)  # per batch, the estimator's own
    stages_s: Counter = field(default_factory=Counter)  # preprocess / model / decode totals

    def stage_ms_per_frame(self) -> dict[str, float]:
        """Mean milliseconds per frame of each estimator stage."""
        return {name: 1000.0 * total / self.frames for name, total in self.stages_s.items()}


def predict_frames(
    estimator, frames: Iterable[BagFrame], batch_size: int, timing: Timing
) -> Iterator[tuple[BagFrame, Prediction]]:
    """(frame, prediction) in bag order; the next batch is read and decoded in a thread while
    the estimator runs."""
    if batch_size < 1:
        raise BagError(f"--batch-size must be >= 1, got {batch_size}")
    for batch in prefetch(batched(frames, batch_size)):
        started = time.perf_counter()
        predictions = estimator.predict_batch([f.rgb for f in batch], [f.K for f in batch])
        timing.estimator_s += time.perf_counter() - started
        timing.frames += len(batch)
        timing.inference_s.append(predictions[0].inference_time)
        timing.stages_s.update(predictions[0].timings)  # one batch's stage times
        yield from zip(batch, predictions)


def batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """``items`` produced by a background thread, up to ``depth`` ahead (errors re-raised)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(error)
        buffer.put(_DONE)

    thread = threading.Thread(target=produce, name="bag_prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get(timeout=0.1)
            except queue.Empty:
                pass
