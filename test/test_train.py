"""``occrobnet train`` on tiny settings: it writes a checkpoint and logs, and --resume continues
with exactly the losses of an uninterrupted run."""

import csv

import cv2
import pytest
import torch

from occrobnet_ros import cli
from occrobnet_ros.model import load_model

STEPS = 4


def train(out, *extra):
    arguments = [
        "train",
        "--dataset",
        "synthetic",
        "--out",
        str(out),
        "--steps",
        str(STEPS),
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--threads",
        "1",
        "--warmup-steps",
        "1",
        "--gt-token-fraction",
        "0.5",  # the GT-token phase ends mid-run, after the resume point
        "--synthetic-scale",
        "0.25",
        "--val-every",
        "2",
        "--val-size",
        "2",
        "--seed",
        "3",
        *extra,
    ]
    assert cli.main(arguments) == 0


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, model_yaml):
    out = tmp_path_factory.mktemp("full")
    train(out, "--model", str(model_yaml))
    return out


def test_a_run_writes_a_loadable_checkpoint_and_logs(uninterrupted):
    model, config = load_model(uninterrupted / "checkpoint.safetensors")
    assert config.name == "test_tiny"
    rows = read_csv(uninterrupted / "log.csv")
    assert [int(row["step"]) for row in rows] == list(range(1, STEPS + 1))
    assert all(float(row["total"]) > 0 for row in rows)
    validation = read_csv(uninterrupted / "val.csv")
    assert [int(row["step"]) for row in validation] == [2, 4]
    assert (uninterrupted / "train_state.safetensors").read_bytes()[:8]  # safetensors, not pickle


def test_resume_continues_with_the_same_losses(tmp_path, model_yaml, uninterrupted):
    train(tmp_path, "--model", str(model_yaml), "--stop-at", "2")
    assert len(read_csv(tmp_path / "log.csv")) == 2
    train(tmp_path, "--resume", str(tmp_path))
    resumed = read_csv(tmp_path / "log.csv")
    expected = read_csv(uninterrupted / "log.csv")
    assert [row["step"] for row in resumed] == [row["step"] for row in expected]
    for got, want in zip(resumed, expected):
        assert float(got["total"]) == pytest.approx(float(want["total"]), rel=1e-5)
    final, _ = load_model(tmp_path / "checkpoint.safetensors")
    reference, _ = load_model(uninterrupted / "checkpoint.safetensors")
    for (name, a), (_, b) in zip(final.state_dict().items(), reference.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_init_starts_from_given_weights(tmp_path, model_yaml, uninterrupted):
    """With a zero learning rate the weights stay those of --init (running BN statistics
    aside); --model may restate the config."""
    init = uninterrupted / "checkpoint.safetensors"
    for out, extra in ((tmp_path / "a", []), (tmp_path / "b", ["--model", str(model_yaml)])):
        train(out, "--init", str(init), "--stop-at", "1", "--lr", "0", *extra)
        started, config = load_model(out / "checkpoint.safetensors")
        reference, _ = load_model(init)
        assert config.name == "test_tiny"
        for name, value in reference.named_parameters():
            torch.testing.assert_close(dict(started.named_parameters())[name], value, msg=name)


def test_time_limit_saves_the_step_reached_and_resume_finishes(tmp_path, model_yaml):
    train(tmp_path, "--model", str(model_yaml), "--time-limit-minutes", "0.0001")
    assert [int(row["step"]) for row in read_csv(tmp_path / "log.csv")] == [1]
    _, config = load_model(tmp_path / "checkpoint.safetensors")
    assert config.name == "test_tiny"
    train(tmp_path, "--resume", str(tmp_path))
    assert [int(row["step"]) for row in read_csv(tmp_path / "log.csv")] == [1, 2, 3, 4]


def test_a_wall_clock_schedule_decays_over_its_minutes_and_ends_the_run(tmp_path, model_yaml):
    """--schedule-minutes: the learning rate follows the time trained, not the step, and the
    run saves and ends once the minutes are spent (long before --steps here)."""
    from types import SimpleNamespace

    from occrobnet_ros.training.state import gt_token_phase, learning_rate

    args = SimpleNamespace(
        lr=1.0,
        warmup_steps=10,
        steps=10**6,
        final_lr_fraction=0.1,
        schedule_minutes=2.0,
        gt_token_fraction=0.25,
    )
    # The ground-truth token phase is a share of the minutes too, not of the step bound.
    assert gt_token_phase(10**5, args, elapsed=29.0) and not gt_token_phase(5, args, elapsed=31.0)
    args.schedule_minutes = None
    assert gt_token_phase(249_999, args) and not gt_token_phase(250_000, args)
    args.schedule_minutes = 2.0
    assert learning_rate(4, args, elapsed=100.0) == pytest.approx(0.5)  # still warming up
    assert learning_rate(50, args, elapsed=0.0) == pytest.approx(1.0)
    assert learning_rate(50, args, elapsed=60.0) == pytest.approx(0.55)  # half: cosine mid
    assert learning_rate(50, args, elapsed=500.0) == pytest.approx(0.1)
    train(
        tmp_path,
        "--model",
        str(model_yaml),
        "--steps",
        "1000",
        "--schedule-minutes",
        "0.0001",
        "--warmup-steps",
        "0",
        "--lr",
        "1e-3",
        "--final-lr-fraction",
        "0.1",
    )
    rows = read_csv(tmp_path / "log.csv")
    assert [int(row["step"]) for row in rows] == [1]
    assert float(rows[0]["lr"]) == pytest.approx(1e-4)
    assert [int(row["step"]) for row in read_csv(tmp_path / "val.csv")] == [1]
    load_model(tmp_path / "checkpoint.safetensors")


def test_set_overrides_the_model_config_for_an_ablation(tmp_path, model_yaml):
    """--set: Table III's switches (and a loss weight) without a new config file."""
    sets = ["ciet=false", "attention=softmax", "loss_weights.hand_presence=4"]
    train(tmp_path, "--model", str(model_yaml), "--stop-at", "1", "--set", *sets)
    model, config = load_model(tmp_path / "checkpoint.safetensors")
    assert (config.ciet, config.attention, config.loss_weights.hand_presence) == (
        False,
        "softmax",
        4.0,
    )
    assert model.ciet is None


@pytest.mark.parametrize(
    "sets, message",
    [
        (["cieet=false"], "expected KEY=VALUE"),
        (["ciet"], "expected KEY=VALUE"),
        (["loss_weights.nope=1"], "expected KEY=VALUE"),
        (["attention=nope"], "attention: one of"),
    ],
)
def test_a_bad_set_exits_with_the_reason(tmp_path, model_yaml, sets, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["train", "--model", str(model_yaml), "--out", str(tmp_path), "--set", *sets])
    assert not (tmp_path / "log.csv").exists()


def test_backbone_weights_initialise_the_resnet_body(tmp_path, model_yaml):
    """torchvision-layout ImageNet weights (a generated file: none can be downloaded here) are
    what the body starts from; the run freezes it, so the checkpoint must hold them."""
    from safetensors.torch import save_file

    from occrobnet_ros.model import OccRobNetConfig, build_model

    body = build_model(OccRobNetConfig.from_yaml(model_yaml)).backbone.body.state_dict()
    imagenet = {key: torch.randn_like(value.float()) for key, value in body.items()}
    imagenet.update({"fc.weight": torch.zeros(1000, 8), "fc.bias": torch.zeros(1000)})
    path = tmp_path / "resnet.safetensors"
    save_file(imagenet, str(path))
    out = tmp_path / "run"
    train(
        out,
        "--model",
        str(model_yaml),
        "--backbone-weights",
        str(path),
        "--train-only",
        "pose_heads",
    )
    trained, _ = load_model(out / "checkpoint.safetensors")
    for key in ("conv1.weight", "layer4.1.conv2.weight"):
        assert torch.equal(
            trained.backbone.body.state_dict()[key], imagenet[key].to(torch.float32)
        )


def test_init_parts_put_trained_parts_under_a_new_backbone(tmp_path, model_yaml, uninterrupted):
    """A config with other FPN widths cannot take --init whole; --init-parts takes the
    transformer (frozen here by --train-only, so the checkpoint must still hold it)."""
    out = tmp_path / "run"
    init = uninterrupted / "checkpoint.safetensors"
    train(
        out, "--model", str(model_yaml), "--set", "fpn_channels=16", "--init", str(init),
        "--init-parts", "transformer", "--train-only", "pose_heads",
    )  # fmt: skip
    before, _ = load_model(init)
    after, config = load_model(out / "checkpoint.safetensors")
    assert config.fpn_channels == 16
    for key, value in before.transformer.state_dict().items():
        assert torch.equal(after.transformer.state_dict()[key], value), key
    with pytest.raises(Exception, match="no tensor starts with 'transformr'"):
        train(
            tmp_path / "typo", "--model", str(model_yaml), "--init", str(init),
            "--init-parts", "transformr",
        )  # fmt: skip


def test_backbone_weights_that_are_not_weights_stop_with_why(tmp_path, model_yaml):
    pickled_code = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1), "hook": print}, pickled_code)
    not_weights = tmp_path / "resnet.safetensors"
    not_weights.write_text("hello")
    for path, message in ((pickled_code, "pickle"), (not_weights, "resnet.safetensors")):
        with pytest.raises(Exception, match=message):
            train(tmp_path / "run", "--model", str(model_yaml), "--backbone-weights", str(path))


def test_set_needs_a_model(tmp_path, uninterrupted):
    init = str(uninterrupted / "checkpoint.safetensors")
    with pytest.raises(SystemExit, match="give --model"):
        cli.main(["train", "--init", init, "--out", str(tmp_path), "--set", "ciet=false"])


def test_a_long_schedule_costs_the_workers_no_startup(tmp_path):
    """Every DataLoader worker gets a pickled copy of the training set: a 1 M-step schedule at
    batch 128 (64 M frames) must not pickle 64 M seeds (that took ~100 s on 15 GPU workers)."""
    import argparse
    import pickle

    from occrobnet_ros.data.synthetic import TRAIN_SEED_START
    from occrobnet_ros.training.datasets import build_dataset
    from occrobnet_ros.training.options import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path)])
    frames = 64_000_000
    dataset = build_dataset(args, 64, frames, 5)
    assert len(dataset) == frames
    assert len(pickle.dumps(dataset)) < 10_000
    assert int(dataset.seeds[0]) == TRAIN_SEED_START + 5


def test_dataloader_workers_render_after_the_parent_did(tmp_path, model_yaml):
    """GPU training's setting: frames rendered in DataLoader workers started after the trainer
    rendered its validation frames with OpenCV. A forked worker inherited OpenCV's thread pool
    and crashed (when it set cv2's thread count) or hung now and then (seen in CI); workers
    now start from a fork server."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(8)  # as on a 16-core GPU machine: the pool holds threads when forking
    try:
        train(tmp_path, "--model", str(model_yaml), "--workers", "2", "--stop-at", "2")
    finally:
        cv2.setNumThreads(threads)
    assert [int(row["step"]) for row in read_csv(tmp_path / "log.csv")] == [1, 2]


def test_batch_reuse_trains_each_batch_for_that_many_steps():
    """Data echoing: step k trains on batch k // reuse, also when a run resumes mid-batch."""
    from types import SimpleNamespace

    from occrobnet_ros.training.trainer import Trainer

    def steps(reuse, resumed_at, total=100):
        args = SimpleNamespace(batch_reuse=reuse, steps=total)
        trainer = SimpleNamespace(args=args, step=resumed_at)
        batches = []
        for batch in Trainer.echoed(trainer, iter("abc")):
            batches.append(batch)
            trainer.step += 1
        return batches

    assert steps(1, 0) == ["a", "b", "c"]
    assert steps(3, 0) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    # Resumed at step 4 of a reuse-3 run: the loader restarts at batch 4 // 3 = 1 ("b" here),
    # which has one of its three steps behind it.
    assert steps(3, 4) == ["a"] * 2 + ["b"] * 3 + ["c"] * 3
    # 8 steps at reuse 3 load 3 batches and leave the last one's third step unused.
    assert steps(3, 0, total=8) == ["a"] * 3 + ["b"] * 3 + ["c"] * 2


def test_batch_reuse_resumes_with_the_same_losses(tmp_path, model_yaml):
    full, parts = tmp_path / "full", tmp_path / "parts"
    train(full, "--model", str(model_yaml), "--batch-reuse", "2")
    train(parts, "--model", str(model_yaml), "--batch-reuse", "2", "--stop-at", "1")
    train(parts, "--resume", str(parts))
    expected, resumed = read_csv(full / "log.csv"), read_csv(parts / "log.csv")
    assert [row["step"] for row in resumed] == ["1", "2", "3", "4"]
    assert [row["step"] for row in expected] == ["1", "2", "3", "4"]
    for got, want in zip(resumed, expected):
        assert float(got["total"]) == pytest.approx(float(want["total"]), rel=1e-5)


def test_a_compiled_forward_trains_like_the_eager_one(tmp_path, model_yaml, uninterrupted):
    """--compile BACKEND: the same losses as eager (aot_eager: traced forward and backward,
    no code generation, so it runs in seconds on a CPU)."""
    train(tmp_path, "--model", str(model_yaml), "--compile", "aot_eager")
    compiled, eager = read_csv(tmp_path / "log.csv"), read_csv(uninterrupted / "log.csv")
    assert [row["step"] for row in compiled] == [row["step"] for row in eager]
    for got, want in zip(compiled, eager):
        assert float(got["total"]) == pytest.approx(float(want["total"]), rel=1e-4)
    load_model(tmp_path / "checkpoint.safetensors")  # saved from the plain module
