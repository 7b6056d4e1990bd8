"""``occrobnet bag-convert``: a frame source -> a ROS 2 bag a camera and a labeller could have
recorded.

    occrobnet bag-convert synthetic synthetic_bag --frames 50 [--image-format jpeg]
    occrobnet bag-convert ho3d ho3d_bag --root /data/HO3D_v3 --split train --sequence ABF10

Topics (absolute names, every header with the frame's stamp and ``--frame-id``):

- ``/image`` (sensor_msgs/Image, rgb8) or ``/image/compressed`` (CompressedImage, JPEG),
- ``/camera_info`` (sensor_msgs/CameraInfo: K, P = [K | 0], no distortion),
- ``/ground_truth/hand_object_pose`` (occrobnet_ros/HandObjectPose; model_name
  ``ground_truth``, model_version the source's name).

Stamps are a camera's: ``--rate`` Hz from ``--start`` seconds; each message's receive time in
the bag is its stamp; the sequences of a dataset follow each other 10 s apart. The bag is mcap
unless ``--storage sqlite3``. Joints a dataset does not annotate have confidence 0 in the
ground truth, and bag-eval leaves them out.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from std_msgs.msg import Header
from tqdm import tqdm

from occrobnet_ros.bag.io import STORAGES, BagError, BagWriter
from occrobnet_ros.bag.sources import (
    DEFAULT_START_NS,
    NS_PER_S,
    DatasetSource,
    FrameSource,
    SourceFrame,
    SyntheticSource,
    dataset_indices,
)
from occrobnet_ros.data.readers.record import DatasetFormatError, DatasetLayoutError, open_dataset
from occrobnet_ros.data.synthetic import SyntheticConfig
from occrobnet_ros.ros.camera_info import camera_info_msg
from occrobnet_ros.ros.image_conversion import rgb_to_compressed_msg, rgb_to_image_msg
from occrobnet_ros.ros.messages import prediction_to_msg

EXIT_BAD_INPUT = 2
CAMERA_FRAME = "camera_color_optical_frame"
IMAGE_TOPIC = "/image"
COMPRESSED_TOPIC = "/image/compressed"
CAMERA_INFO_TOPIC = "/camera_info"
GROUND_TRUTH_TOPIC = "/ground_truth/hand_object_pose"
GROUND_TRUTH_MODEL = "ground_truth"
IMAGE_FORMATS = ("raw", "jpeg")


def write_bag(
    source: FrameSource,
    path: Path,
    storage: str = "mcap",
    image_format: str = "raw",
    frame_id: str = CAMERA_FRAME,
    jpeg_quality: int = 90,
    progress: bool = True,
) -> int:
    """Write every frame of ``source`` to a new bag at ``path``; returns the frame count."""
    if image_format not in IMAGE_FORMATS:
        raise BagError(f"image format must be one of {IMAGE_FORMATS}, not {image_format!r}")
    count = 0
    with BagWriter(path, storage) as bag:
        for frame in tqdm(source, total=len(source), desc="bag-convert", disable=not progress):
            write_frame(bag, frame, source.name, image_format, frame_id, jpeg_quality)
            count += 1
    return count


def write_frame(
    bag: BagWriter,
    frame: SourceFrame,
    source_name: str,
    image_format: str,
    frame_id: str,
    jpeg_quality: int,
) -> None:
    """The image, CameraInfo and ground truth of one frame, all stamped ``frame.stamp_ns``."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(frame.stamp_ns), NS_PER_S)
    if image_format == "jpeg":
        image = rgb_to_compressed_msg(frame.rgb, header, "jpeg", jpeg_quality)
        bag.write(COMPRESSED_TOPIC, image, frame.stamp_ns)
    else:
        bag.write(
            IMAGE_TOPIC, rgb_to_image_msg(np.ascontiguousarray(frame.rgb), header), frame.stamp_ns
        )
    height, width = frame.rgb.shape[:2]
    bag.write(CAMERA_INFO_TOPIC, camera_info_msg(frame.K, width, height, header), frame.stamp_ns)
    truth = prediction_to_msg(frame.ground_truth, header, GROUND_TRUTH_MODEL, source_name)
    bag.write(GROUND_TRUTH_TOPIC, truth, frame.stamp_ns)


# --- command line: one sub-subcommand per source

# name -> (add its arguments, build the source from the parsed arguments)
SourceParser = tuple[Callable[[argparse.ArgumentParser], None], Callable[..., FrameSource]]


def _add_synthetic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=50, help="frames (default %(default)s)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first frame")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="image size x 640x480 (default %(default)s)"
    )


def _synthetic_source(args: argparse.Namespace, start_ns: int, rate_hz: float) -> FrameSource:
    if args.frames < 1 or args.scale <= 0:
        raise BagError("--frames must be >= 1 and --scale > 0")
    config = SyntheticConfig()
    if args.scale != 1.0:
        config = config.scaled(args.scale)
    seeds = range(args.first_seed, args.first_seed + args.frames)
    return SyntheticSource(seeds, config, start_ns=start_ns, rate_hz=rate_hz)


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        required=True,
        help="the dataset's root directory (laid out as docs/datasets.md says)",
    )
    parser.add_argument("--split", default="train", help="(default %(default)s)")
    parser.add_argument("--sequence", help="only this sequence (default: all, 10 s apart)")
    parser.add_argument("--camera", help="only this camera (InterHand2.6M)")
    parser.add_argument("--stride", type=int, default=1, help="every N-th frame")
    parser.add_argument("--frames", type=int, help="at most this many frames")


def _dataset_source(name: str) -> Callable[..., FrameSource]:
    def build(args: argparse.Namespace, start_ns: int, rate_hz: float) -> FrameSource:
        if args.stride < 1 or (args.frames is not None and args.frames < 1):
            raise BagError("--stride and --frames must be >= 1")
        try:
            reader = open_dataset(name, args.root, args.split)
        except ValueError as error:  # an unknown split, a malformed annotation
            raise BagError(str(error)) from None
        indices = dataset_indices(reader, args.sequence, args.camera, args.stride, args.frames)
        if not indices:
            raise BagError(f"no {name} {args.split} frame matches --sequence / --camera")
        return DatasetSource(reader, indices, start_ns, rate_hz, name=f"{name}/{args.split}")

    return build


SOURCES: dict[str, SourceParser] = {
    "synthetic": (_add_synthetic_arguments, _synthetic_source),
    **{
        dataset: (_add_dataset_arguments, _dataset_source(dataset))
        for dataset in ("ho3d", "h2o3d", "interhand")
    },
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, (add_source_arguments, _) in SOURCES.items():
        sub = sources.add_parser(name, help=f"frames from the {name} source")
        sub.add_argument("output", type=Path, help="the bag directory to create")
        add_source_arguments(sub)
        sub.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
        sub.add_argument(
            "--image-format",
            choices=IMAGE_FORMATS,
            default="raw",
            help="raw rgb8 on /image or JPEG on /image/compressed",
        )
        sub.add_argument("--jpeg-quality", type=int, default=90)
        sub.add_argument("--rate", type=float, default=30.0, help="camera rate, Hz")
        sub.add_argument(
            "--start",
            type=float,
            default=DEFAULT_START_NS / NS_PER_S,
            help="stamp of the first frame, seconds (default %(default)s)",
        )
        sub.add_argument("--frame-id", default=CAMERA_FRAME, help="header.frame_id")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        if args.rate <= 0:
            raise BagError("--rate must be > 0")
        build = SOURCES[args.source][1]
        source = build(args, int(round(args.start * NS_PER_S)), args.rate)
        count = write_bag(
            source,
            args.output,
            args.storage,
            args.image_format,
            args.frame_id,
            args.jpeg_quality,
            progress=not args.no_progress,
        )
    except (BagError, DatasetLayoutError, DatasetFormatError, FileNotFoundError) as error:
        print(f"occrobnet bag-convert: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {count} frames to {args.output} ({args.storage})")
    return 0
