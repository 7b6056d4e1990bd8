"""Bags from other writers, both storages, compressed images, and clear errors on bad bags."""

import json
from pathlib import Path

import numpy as np
import pytest
from bag_fixtures import small_source, tiny_checkpoint
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from mcap_ros2.writer import Writer as McapWriter

from occrobnet_ros import cli
from occrobnet_ros.bag import io
from occrobnet_ros.bag.convert import write_bag
from occrobnet_ros.bag.io import BagReader

FRAMES = 4


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _eval(bag, report_dir, checkpoint, *extra) -> int:
    args = ["bag-eval", str(bag), "-o", str(report_dir), "--checkpoint", str(checkpoint)]
    return cli.main([*args, "--device", "cpu", "--no-progress", *extra])


def _robot_bag(path, with_camera_info: bool = True) -> None:
    """What a camera driver + `ros2 bag record` might leave, written with the mcap library
    (a bare .mcap file, no metadata.yaml, its own topic names, no ground truth)."""
    store = io.typestore()
    rng = np.random.default_rng(0)
    with open(path, "wb") as stream:
        writer = McapWriter(stream)
        image_schema, info_schema = (
            writer.register_msgdef(name, store.generate_msgdef(name, ros_version=2)[0])
            for name in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo")
        )
        for i in range(FRAMES):
            stamp = {"sec": 100, "nanosec": i * 33_000_000}
            header = {"stamp": stamp, "frame_id": "camera_color_optical_frame"}
            pixels = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
            image = {"header": header, "height": 96, "width": 128, "encoding": "rgb8",
                     "is_bigendian": 0, "step": 384, "data": pixels.tobytes()}  # fmt: skip
            info = {
                "header": header,
                "height": 96,
                "width": 128,
                "distortion_model": "plumb_bob",
                "d": [0.0] * 5,
                "k": [120.0, 0, 64, 0, 120.0, 48, 0, 0, 1],
                "r": [1.0, 0, 0, 0, 1, 0, 0, 0, 1],
                "p": [120.0, 0, 64, 0, 0, 120.0, 48, 0, 0, 0, 1, 0],
                "binning_x": 0,
                "binning_y": 0,
                "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": 0},
            }
            time_ns = 100_000_000_000 + i * 33_000_000 + 2_000_000  # received 2 ms later
            writer.write_message("/camera/color/image_raw", image_schema, image, time_ns)
            if with_camera_info:
                writer.write_message("/camera/color/camera_info", info_schema, info, time_ns)
        writer.finish()


def test_bag_from_the_mcap_library_is_read_without_ground_truth(tmp_path, checkpoint):
    bag = tmp_path / "robot.mcap"
    _robot_bag(bag)
    topics = ["--image-topic", "/camera/color/image_raw"]
    topics += ["--camera-info-topic", "camera/color/camera_info"]  # relative works too
    assert _eval(bag, tmp_path / "report", checkpoint, *topics) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["frames"] == FRAMES
    assert report["metrics"] is None  # no ground truth: throughput only
    assert report["topics"]["ground_truth"] is None
    assert report["throughput"]["frames"] == FRAMES
    with BagReader(tmp_path / "report" / "predictions" / "robot") as predictions:
        stamps = [
            m.header.stamp.nanosec for _, _, m in predictions.messages(["/hand_object_pose"])
        ]
    assert stamps == [i * 33_000_000 for i in range(FRAMES)]
    assert "throughput" in (tmp_path / "report" / "report.md").read_text().lower()


def test_missing_topics_exit_2_listing_the_bags_topics(tmp_path, checkpoint, capsys):
    bag = tmp_path / "robot.mcap"
    _robot_bag(bag)
    assert _eval(bag, tmp_path / "report", checkpoint) == 2
    error = capsys.readouterr().err
    assert "no image topic /image" in error
    assert "/camera/color/image_raw (sensor_msgs/msg/Image, 4 msgs)" in error
    assert "/camera/color/camera_info" in error
    assert "Traceback" not in error
    # An explicitly requested ground-truth topic must exist.
    extra = ["--image-topic", "/camera/color/image_raw"]
    extra += ["--camera-info-topic", "/camera/color/camera_info", "--gt-topic", "/gt"]
    assert _eval(bag, tmp_path / "report2", checkpoint, *extra) == 2
    assert "no ground-truth topic /gt" in capsys.readouterr().err


def test_bag_without_camera_info_needs_and_uses_fallback_intrinsics(tmp_path, checkpoint, capsys):
    bag = tmp_path / "no_info.mcap"
    _robot_bag(bag, with_camera_info=False)
    image = ["--image-topic", "/camera/color/image_raw"]
    assert _eval(bag, tmp_path / "report", checkpoint, *image) == 2
    assert "no camera_info topic /camera_info" in capsys.readouterr().err
    intrinsics = ["--intrinsics", "120", "120", "64", "48"]
    assert _eval(bag, tmp_path / "report", checkpoint, *image, *intrinsics) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["frames"] == FRAMES and report["topics"]["camera_info"] is None


def test_not_a_bag_is_a_clear_error(tmp_path, checkpoint, capsys):
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not a bag at all")
    assert _eval(junk, tmp_path / "report", checkpoint) == 2
    error = capsys.readouterr().err
    assert "cannot open as a ROS 2 bag" in error and "Traceback" not in error


def test_sqlite3_bag_with_jpeg_images_is_evaluated(tmp_path, checkpoint):
    bag = tmp_path / "jpeg_bag"
    write_bag(small_source(FRAMES), bag, storage="sqlite3", image_format="jpeg", progress=False)
    assert (bag / "jpeg_bag.db3").is_file()
    with BagReader(bag) as reader:
        assert reader.topics["/image/compressed"] == "sensor_msgs/msg/CompressedImage"
    assert _eval(bag, tmp_path / "report", checkpoint, "--hand-threshold", "0") == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["topics"]["image"] == "/image/compressed"  # found from the default /image
    assert report["frames_with_ground_truth"] == FRAMES
    assert report["metrics"]["frames"] == FRAMES


def test_our_bags_decode_with_the_mcap_library_alone(tmp_path):
    """What Foxglove and other MCAP tools see: our schemas are complete .msg definitions."""
    source = small_source(2)
    write_bag(source, tmp_path / "bag", progress=False)
    truth = [frame.ground_truth for frame in source]
    by_topic = {}
    with open(tmp_path / "bag" / "bag.mcap", "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for _, channel, _, msg in reader.iter_decoded_messages():
            by_topic.setdefault(channel.topic, []).append(msg)
    assert sorted(by_topic) == ["/camera_info", "/ground_truth/hand_object_pose", "/image"]
    assert by_topic["/image"][0].encoding == "rgb8"
    for msg, expected in zip(by_topic["/ground_truth/hand_object_pose"], truth):
        assert msg.right_hand.detected == expected.right_hand.detected
        if expected.right_hand.detected:
            wrist = msg.right_hand.joints[0]
            assert [wrist.x, wrist.y, wrist.z] == expected.right_hand.joints[0].tolist()


def test_our_message_types_carry_the_generated_hashes():
    """The typestore registered from msg/*.msg gives the RIHS01 hashes rosidl generated, so
    other ROS tools accept our bags."""
    from ament_index_python.packages import get_package_share_directory

    share = Path(get_package_share_directory("occrobnet_ros")) / "msg"
    for name in ("HandObjectPose", "HandPose", "ObjectPose"):
        generated = json.loads((share / f"{name}.json").read_text())["type_hashes"][0]
        assert generated["type_name"] == f"occrobnet_ros/msg/{name}"
        assert io.typestore().hash_rihs01(generated["type_name"]) == generated["hash_string"]


LEGACY_MSG = Path(__file__).parent / "data" / "msg_v0_1"  # msg/*.msg before issue 20


def _legacy_typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(LEGACY_MSG.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"occrobnet_ros/msg/{path.stem}"))
    store.register(types)
    return store


def _downgrade(msg, store):
    """A rosbags message of today's definition -> the same message in ``store``'s older one."""
    import dataclasses

    kind = getattr(msg, "__msgtype__", "")
    if not kind.startswith("occrobnet_ros/"):
        return msg
    cls = store.types[kind]
    return cls(
        **{f.name: _downgrade(getattr(msg, f.name), store) for f in dataclasses.fields(cls)}
    )


def test_a_bag_recorded_with_the_previous_messages_still_evaluates(tmp_path, checkpoint):
    from rosbags.rosbag2 import Reader, Writer

    current, previous = tmp_path / "current", tmp_path / "previous"
    write_bag(small_source(FRAMES), current, progress=False)
    legacy, today = _legacy_typestore(), io.typestore()
    with Reader(current) as reader, Writer(previous, version=io.BAG_VERSION) as writer:
        connections = {
            c.topic: writer.add_connection(
                c.topic, c.msgtype, typestore=legacy if "occrobnet" in c.msgtype else today
            )
            for c in reader.connections
        }
        for connection, time_ns, data in reader.messages():
            if connection.msgtype.startswith("occrobnet_ros/"):
                old = _downgrade(today.deserialize_cdr(data, connection.msgtype), legacy)
                data = legacy.serialize_cdr(old, connection.msgtype)
            writer.write(connections[connection.topic], time_ns, data)

    with BagReader(previous) as reader:
        truth = [m for _, _, m in reader.messages(["/ground_truth/hand_object_pose"])]
    assert len(truth) == FRAMES
    hands = [h for m in truth for h in (m.right_hand, m.left_hand) if h.detected]
    assert hands and all((np.asarray(h.joint_visibility) == -1.0).all() for h in hands)
    assert all(h.handedness == 0.5 and h.track_id == 0 for h in hands)

    for bag in (current, previous):
        assert (
            _eval(bag, tmp_path / f"report_{bag.name}", checkpoint, "--hand-threshold", "0") == 0
        )
    reports = [
        json.loads((tmp_path / f"report_{name}" / "report.json").read_text())["metrics"]
        for name in ("current", "previous")
    ]
    # The poses score the same; only the visible / occluded split needs the new field.
    assert reports[1]["mpjpe_right_mm"] == reports[0]["mpjpe_right_mm"]
    assert reports[1]["objects_found"] == reports[0]["objects_found"]
    assert reports[0]["mpjpe_occluded_mm"] > 0 and reports[1]["mpjpe_occluded_mm"] is None
