"""``occrobnet train`` on the dataset readers: tiny datasets in the official layouts (written by
test_data_readers.py's fixtures), the targets they make, resume, and a real 2-process
DistributedDataParallel run on CPU (gloo)."""

import argparse
import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_data_readers import write_ho3d
from train_fixtures import TINY, WRITERS

from occrobnet_ros import cli
from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import RecordDataset, split_sequences
from occrobnet_ros.data.readers.record import open_dataset
from occrobnet_ros.model import load_model
from occrobnet_ros.training.datasets import build_dataset

REPO = Path(__file__).resolve().parents[1]
SIZE = TINY["input_size"]
FLIP = AugmentConfig(flip_probability=1.0)
DDP_TIMEOUT_S = 180


def train_arguments(dataset, root, out, *extra, steps=4):
    """Tiny-run arguments; ``steps=None`` leaves the schedule's length to ``extra``."""
    length = [] if steps is None else ["--steps", str(steps)]
    return [
        "--dataset",
        dataset,
        "--data-root",
        str(root),
        "--out",
        str(out),
        *length,
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--warmup-steps",
        "1",
        "--gt-token-fraction",
        "0.5",
        "--val-every",
        "2",
        "--val-size",
        "2",
        "--seed",
        "5",
        *map(str, extra),
    ]


def train(*arguments) -> int:
    return cli.main(["train", "--threads", "1", *map(str, arguments)])


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


# --- training runs on every reader ------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(WRITERS))
def test_training_on_each_dataset_writes_finite_losses(tmp_path, roots, model_yaml, dataset):
    arguments = train_arguments(dataset, roots[dataset], tmp_path, "--model", model_yaml)
    assert train(*arguments, "--steps", "3") == 0
    rows = read_csv(tmp_path / "log.csv")
    assert [int(row["step"]) for row in rows] == [1, 2, 3]
    for row in rows:
        assert math.isfinite(float(row["total"])) and float(row["total"]) > 0
        assert math.isfinite(float(row["joint_3d"])) and float(row["joint_3d"]) > 0
    if dataset != "interhand":  # HO-3D and H2O-3D frames hold a YCB object
        assert all(float(row["object_translation"]) > 0 for row in rows)
    assert [int(row["step"]) for row in read_csv(tmp_path / "val.csv")] == [2, 3]
    _, config = load_model(tmp_path / "checkpoint.safetensors")
    assert config.name == "test_tiny"
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["dataset"], saved["data_root"], saved["split"]) == (
        dataset,
        str(roots[dataset]),
        "train",
    )


def test_resume_on_a_dataset_continues_with_the_same_losses(tmp_path, roots, model_yaml):
    """Batches span several shuffled epochs of the 2-frame split; a resumed run draws them and
    their augmentation exactly as the uninterrupted one."""
    full, split = tmp_path / "full", tmp_path / "split"
    assert train(*train_arguments("ho3d", roots["ho3d"], full, "--model", model_yaml)) == 0
    first = train_arguments("ho3d", roots["ho3d"], split, "--model", model_yaml, "--stop-at", 2)
    assert train(*first) == 0
    assert train("--resume", split) == 0  # the run's own --steps and --out
    resumed, expected = read_csv(split / "log.csv"), read_csv(full / "log.csv")
    assert [row["step"] for row in resumed] == ["1", "2", "3", "4"]
    for got, want in zip(resumed, expected):
        assert float(got["total"]) == pytest.approx(float(want["total"]), rel=1e-5)


@pytest.mark.parametrize("epochs, frames_seen", [(1, 1), (3, 3)])
def test_epochs_set_the_schedule_from_the_split_size(
    tmp_path, roots, model_yaml, epochs, frames_seen
):
    """--epochs E: ceil(E x frames / batch) steps, whatever the split's size."""
    frames = len(open_dataset("ho3d", roots["ho3d"], "train", skip_unannotated=True))
    arguments = train_arguments(
        "ho3d", roots["ho3d"], tmp_path, "--model", model_yaml, "--epochs", epochs, steps=None
    )
    assert train(*arguments) == 0
    steps = [int(row["step"]) for row in read_csv(tmp_path / "log.csv")]
    assert steps[-1] == math.ceil(epochs * frames / 2)  # --batch-size 2
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == steps[-1]


def test_epochs_are_refused_where_they_mean_nothing(tmp_path, roots, model_yaml, capsys):
    synthetic = ["--model", model_yaml, "--dataset", "synthetic", "--out", tmp_path]
    assert train(*synthetic, "--epochs", 2) == 2
    assert "synthetic frames are unlimited" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --steps and --epochs are one choice
        train(*synthetic, "--epochs", 2, "--steps", 5)


def test_a_missing_or_foreign_data_root_exits_2_naming_the_path(tmp_path, roots, capsys):
    assert train("--model", "unused.yaml", "--dataset", "ho3d", "--out", tmp_path) == 2
    assert "--data-root" in capsys.readouterr().err
    absent = tmp_path / "no_such_root"
    assert train(*train_arguments("ho3d", absent, tmp_path / "run", "--model", "x.yaml")) == 2
    assert str(absent) in capsys.readouterr().err
    foreign = train_arguments("interhand", roots["ho3d"], tmp_path / "run", "--model", "x.yaml")
    assert train(*foreign) == 2
    error = capsys.readouterr().err
    assert "InterHand2.6M_train_data.json" in error and str(roots["ho3d"]) in error
    evaluation = train_arguments("ho3d", roots["ho3d"], tmp_path / "run", "--split", "evaluation")
    assert train(*evaluation, "--model", "x.yaml") == 2
    assert "only the wrists" in capsys.readouterr().err
    empty = tmp_path / "empty"
    write_ho3d(empty)
    (empty / "train.txt").write_text("")
    assert train(*train_arguments("ho3d", empty, tmp_path / "run", "--model", "x.yaml")) == 2
    assert "has no frames" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written before the data is known good


def two_sequence_ho3d(root):
    """HO-3D's fixture with its sequence ABF10 copied as MC1: 4 frames, 2 sequences."""
    write_ho3d(root)
    shutil.copytree(root / "train" / "ABF10", root / "train" / "MC1")
    names = (root / "train.txt").read_text()
    (root / "train.txt").write_text(names + names.replace("ABF10", "MC1"))
    return root


def test_val_sequences_are_held_out_of_training_and_validated_on(tmp_path, model_yaml, capsys):
    root = two_sequence_ho3d(tmp_path / "ho3d")
    reader = open_dataset("ho3d", root, "train")
    training, held = split_sequences(reader, ["MC1"])
    assert {info.sequence for info in training.frames} == {"ABF10"} and len(training) == 2
    assert {info.sequence for info in held.frames} == {"MC1"} and len(held) == 2
    assert held.record(0).info.sequence == "MC1"  # records come from the reader, re-indexed
    arguments = train_arguments("ho3d", root, tmp_path / "run", "--model", model_yaml, steps=2)
    assert train(*arguments, "--val-sequences", "MC1") == 0
    assert "held-out sequences" in capsys.readouterr().out
    assert [row["step"] for row in read_csv(tmp_path / "run" / "val.csv")] == ["2"]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["val_sequences"] == ["MC1"]
    trained = build_dataset(argparse.Namespace(**saved), SIZE, count=8, start=0)
    visited = {trained.reader.frames[trained.frame(i)].sequence for i in range(8)}
    assert visited == {"ABF10"}  # 4 epochs of the training part: never a held-out frame
    for wrong, words in (
        (["NOPE"], "no sequence NOPE (its sequences: ABF10, MC1)"),
        (["ABF10", "MC1"], "every HO-3D sequence"),
    ):
        assert train(*arguments, "--val-sequences", *wrong) == 2
        assert words in capsys.readouterr().err


# --- what the datasets feed the losses ---------------------------------------------------------


def test_unannotated_joints_are_not_supervised(roots):
    """The InterHand2.6M fixture leaves our right index tip (8) unannotated, and frame 11's
    left hand without its wrist (so the whole hand is invalid)."""
    reader = open_dataset("interhand", roots["interhand"], "train")
    dataset = RecordDataset(reader, SIZE)
    _, both = dataset[0]
    valid = both["joint_valid"].numpy()
    assert not valid[8] and valid.sum() == 41
    assert np.allclose(both["joints_3d"][8].numpy(), 0) and np.allclose(both["joints_2d"][8], 0)
    _, right_only = dataset[2]
    assert right_only["hand_valid"].tolist() == [True, False]
    assert right_only["joint_valid"][21:].sum() == 0 and right_only["joint_valid"][:21].sum() == 20


def test_interhand_flips_swap_hands_and_their_annotations(roots):
    reader = open_dataset("interhand", roots["interhand"], "train")
    _, flipped = RecordDataset(reader, SIZE, FLIP)[2]
    assert flipped["hand_valid"].tolist() == [False, True]  # the right hand became a left one
    valid = flipped["joint_valid"].numpy()
    assert valid[:21].sum() == 0 and not valid[21 + 8] and valid[21:].sum() == 20
    record = reader[2]
    joints = record.joints_3d[:21] - record.joints_3d[0]
    mirrored = flipped["joints_3d"][21:].numpy()
    # A mirror and a roll keep every bone length (flips do not stretch the hand).
    np.testing.assert_allclose(
        np.linalg.norm(mirrored, axis=1)[valid[21:]],
        np.linalg.norm(joints, axis=1)[valid[21:]],
        atol=1e-5,
    )


@pytest.mark.parametrize("dataset", ["ho3d", "h2o3d"])
def test_ycb_datasets_are_never_flipped(roots, dataset):
    """Even when asked to flip every sample: a flip would swap the hands."""
    reader = open_dataset(dataset, roots[dataset], "train")
    items = RecordDataset(reader, SIZE, FLIP, count=8, shuffle=True)
    for index in range(len(items)):
        _, example = items[index]
        frame = reader.record(items.frame(index), load_image=False)
        assert example["hand_valid"].tolist() == frame.hand_valid.tolist()
        right = frame.joints_3d[:21] - frame.joints_3d[0]  # the roll keeps the distances
        np.testing.assert_allclose(
            np.linalg.norm(example["joints_3d"][:21].numpy(), axis=1),
            np.linalg.norm(right, axis=1),
            atol=1e-5,
        )
        assert np.linalg.det(example["object_rotation"].numpy()) == pytest.approx(1, abs=1e-5)


def test_epochs_visit_every_frame_once_in_a_new_order():
    class Reader:
        dataset, title, split = "ho3d", "HO-3D", "train"

        def __len__(self):
            return 10

    items = RecordDataset(Reader(), SIZE, count=30, shuffle=True)
    epochs = [[items.frame(p) for p in range(e * 10, e * 10 + 10)] for e in range(3)]
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) == 3
    assert [items.frame(p) for p in range(10)] == epochs[0]  # the same order when asked again
    in_order = RecordDataset(Reader(), SIZE, count=12)
    assert [in_order.frame(p) for p in range(12)] == [*range(10), 0, 1]


# --- DistributedDataParallel on CPU -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_ddp_ends_with_identical_weights(tmp_path, roots, model_yaml):
    """torchrun with 2 CPU processes (gloo) trains 3 steps on the HO-3D fixture; each rank reads
    its own half of every batch, yet DDP's all-reduced gradients keep the ranks' parameters
    identical. (BatchNorm running statistics are per rank, as in any DDP run; rank 0's go to
    the checkpoint.)"""
    weights = tmp_path / "weights"
    weights.mkdir()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port()}",
        str(REPO / "test" / "ddp_train_driver.py"),
        str(weights),
        *train_arguments("ho3d", roots["ho3d"], tmp_path / "run", "--model", model_yaml, steps=3),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # torchrun and its workers share a process group to kill
    )
    try:
        output, _ = process.communicate(timeout=DDP_TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output[-3000:]
    ranks = [
        {when: load_file(weights / f"rank{r}_{when}.safetensors") for when in ("initial", "final")}
        for r in (0, 1)
    ]
    assert ranks[0]["final"].keys() == ranks[1]["final"].keys()
    initial, final = ranks[0]["initial"], ranks[0]["final"]
    for name, value in final.items():
        assert torch.equal(value, ranks[1]["final"][name]), name
    changed = [name for name, value in final.items() if not torch.equal(value, initial[name])]
    assert len(changed) > len(final) // 2  # trained (frozen BatchNorm affines stay)
    assert [int(row["step"]) for row in read_csv(tmp_path / "run" / "log.csv")] == [1, 2, 3]
    final, _ = load_model(tmp_path / "run" / "checkpoint.safetensors")
    for name, value in final.named_parameters():
        assert torch.equal(value.detach(), ranks[0]["final"][name]), name
