"""Dataset readers -> bag: ground truth as the reader gives it, unannotated joints marked."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from bag_fixtures import tiny_checkpoint
from test_data_readers import write_interhand

from occrobnet_ros import cli
from occrobnet_ros.bag.io import BagReader
from occrobnet_ros.bag.sources import NS_PER_S, SEQUENCE_GAP_S, DatasetSource, dataset_indices
from occrobnet_ros.data.readers.record import open_dataset
from occrobnet_ros.ros.messages import point_array

START_S = 1000.0


@pytest.fixture(scope="module")
def interhand_bag(tmp_path_factory):
    """InterHand2.6M's camera 400001: frame 10 (both hands), frame 11 (right hand only)."""
    directory = tmp_path_factory.mktemp("bag_interhand")
    truth = write_interhand(directory / "InterHand2.6M")
    bag = directory / "interhand_bag"
    code = cli.main(
        [
            "bag-convert",
            "interhand",
            str(bag),
            "--root",
            str(directory / "InterHand2.6M"),
            "--camera",
            "400001",
            "--start",
            str(START_S),
            "--no-progress",
        ]  # fmt: skip
    )
    assert code == 0
    return directory, bag, [truth[0], truth[2]]  # the annotations of camera 400001


def test_ground_truth_is_the_readers_with_unannotated_joints_at_confidence_0(interhand_bag):
    _, bag, truth = interhand_bag
    with BagReader(bag) as reader:
        assert reader.counts["/image"] == 2
        messages = [m for _, _, m in reader.messages(["/ground_truth/hand_object_pose"])]
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in messages]
    assert stamps == pytest.approx([START_S, START_S + 1 / 30])
    first, second = messages
    assert first.right_hand.detected and first.left_hand.detected
    assert not second.left_hand.detected  # its wrist is not annotated: no hand (IH's rule)
    confidence = np.asarray(first.right_hand.joint_confidence)
    assert confidence[8] == 0.0 and np.all(np.delete(confidence, 8) == 1.0)
    annotated = np.delete(np.arange(21), 8)
    directory, _, _ = interhand_bag
    record = open_dataset("interhand", directory / "InterHand2.6M", "train").record(0)
    right, left = point_array(first.right_hand.joints), point_array(first.left_hand.joints)
    np.testing.assert_array_equal(right[annotated], record.joints_3d[annotated])
    np.testing.assert_array_equal(left, record.joints_3d[21:])
    # ... which is the test's truth up to the float32 world coordinates of the file
    np.testing.assert_allclose(right[annotated], truth[0]["camera_joints"][annotated], atol=1e-6)


def test_dataset_bag_is_evaluated(interhand_bag, capsys):
    directory, bag, _ = interhand_bag
    report_dir = directory / "report"
    code = cli.main(
        [
            "bag-eval",
            str(bag),
            "-o",
            str(report_dir),
            "--checkpoint",
            str(tiny_checkpoint(directory)),
            "--device",
            "cpu",
            "--hand-threshold",
            "0",
            "--sequence-by",
            "gap",
            "--no-progress",
        ]  # fmt: skip
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((report_dir / "report.json").read_text())
    assert report["frames_with_ground_truth"] == 2
    assert list(report["sequences"]) == ["interhand_bag#0"]
    assert report["metrics"]["right_hands_in_ground_truth"] == 2
    assert report["metrics"]["left_hands_in_ground_truth"] == 1


def test_bad_dataset_root_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["bag-convert", "ho3d", str(tmp_path / "bag"), "--root", str(tmp_path)])
    assert code == 2
    error = capsys.readouterr().err
    assert "not laid out as HO-3D expects" in error and "Traceback" not in error


class _Reader:
    """Just enough of a dataset reader: frames with sequence names, records on demand."""

    def __init__(self, sequences: list[str]) -> None:
        self.frames = [SimpleNamespace(sequence=s, camera="c") for s in sequences]

    def record(self, index: int):
        return SimpleNamespace(
            image=np.zeros((4, 4, 3), np.uint8),
            K=np.eye(3),
            joint_valid=np.zeros(42, bool),
            hand_valid=np.zeros(2, bool),
            object_valid=False,
        )


def test_sequences_follow_each_other_with_a_gap():
    reader = _Reader(["a", "a", "b", "b", "b"])
    assert dataset_indices(reader, "b", None, 2, None) == [2, 4]
    assert dataset_indices(reader, None, None, 1, 3) == [0, 1, 2]
    stamps = [f.stamp_ns for f in DatasetSource(reader, [0, 1, 2], start_ns=0, rate_hz=10.0)]
    assert stamps == [0, NS_PER_S // 10, 2 * NS_PER_S // 10 + SEQUENCE_GAP_S * NS_PER_S]
