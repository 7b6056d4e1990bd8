"""``occrobnet evaluate``: the paper's metrics on prediction files, as the official code scores.

One sub-subcommand per dataset; each reads a prediction file and a ground-truth file, prints one
JSON object of metrics on stdout and, with ``--plot DIR``, writes PCK curves as PNG files::

    occrobnet evaluate ho3d --pred pred.json --gt-xyz evaluation_xyz.json [--plot DIR]
    occrobnet evaluate interhand --pred pred.json --gt gt.json [--plot DIR]
    occrobnet evaluate h2o3d --pred pred.json --gt gt.json [--plot DIR]

``ho3d`` and ``h2o3d`` also score object poses (MSSD) from the HANDS'22 files with
``--pred-obj --gt-obj-pose --obj-names --obj-verts``. The file formats are in docs/metrics.md.
A file that cannot be evaluated (unreadable, wrong length, wrong shape, NaN) ends the command
with exit code 2 and a one-line message naming the file and the problem.

Instead of ``--pred``, ``--checkpoint`` runs a model over a dataset split and writes the
official submission files into ``--out`` (predict_split.py); when the split has ground truth
they are scored as above::

    occrobnet evaluate ho3d --checkpoint CKPT --data-root DIR --out DIR [--split NAME]
        [--device auto|cpu|cuda] [--batch-size N] [--count N] [--workers N] [--no-progress]
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from occrobnet_ros import metrics
from occrobnet_ros.data.readers.record import DatasetFormatError
from occrobnet_ros.data.readers.record import load_json as read_json
from occrobnet_ros.skeleton import NUM_JOINTS, OURS_FROM_HO3D, OURS_FROM_INTERHAND, two_hand_map

EXIT_BAD_INPUT = 2
JOINT_ORDERS = {"ours": np.arange(2 * NUM_JOINTS), "interhand": two_hand_map(OURS_FROM_INTERHAND)}


class InputError(Exception):
    """A prediction or ground-truth file that cannot be evaluated; the message names it."""


# --- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    datasets = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)

    ho3d = datasets.add_parser("ho3d", help="HO-3D v2/v3 hand joints (official submission file)")
    _add_source_arguments(ho3d, "pred.json: [xyz_list, verts_list]")
    ho3d.add_argument(
        "--gt-xyz", type=Path, help="official GT joints (evaluation_xyz.json); with --pred"
    )
    _add_object_arguments(ho3d)

    interhand = datasets.add_parser("interhand", help="InterHand2.6M MPJPE and MRRPE")
    _add_source_arguments(interhand, '{"joints": N x 42 x 3}')
    interhand.add_argument(
        "--gt", type=Path, help='{"joints", "joint_valid", "hand_type"}; with --pred'
    )

    h2o3d = datasets.add_parser("h2o3d", help="H2O-3D hand MPJPE / MRRPE and object MSSD")
    _add_source_arguments(h2o3d, "[xyz_list(, verts_list)], 21x6")
    h2o3d.add_argument("--gt", type=Path, help="GT joints, N x 21 x 6; with --pred")
    _add_object_arguments(h2o3d)

    for sub in (ho3d, interhand, h2o3d):
        sub.add_argument("--plot", type=Path, metavar="DIR", help="write PCK curves (PNG) here")
        _add_checkpoint_arguments(sub)


def _add_source_arguments(parser: argparse.ArgumentParser, pred_help: str) -> None:
    """--pred FILE, or --checkpoint CKPT to write the prediction files from a dataset split."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pred", type=Path, help=pred_help)
    source.add_argument(
        "--checkpoint",
        type=Path,
        help="a .safetensors checkpoint: predict --split of --data-root, write the official "
        "files into --out and score them when the split has ground truth",
    )


def _add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("with --checkpoint (predict_split.py)")
    group.add_argument("--data-root", type=Path, help="the dataset in its official layout")
    group.add_argument(
        "--split",
        help="default: evaluation (ho3d, h2o3d) or test (interhand); ho3d/h2o3d 'train' and "
        "every interhand split have ground truth",
    )
    group.add_argument("--out", type=Path, help="directory for the submission files")
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    group.add_argument("--batch-size", type=int, help="frames per forward pass (default 8)")
    group.add_argument("--count", type=int, help="only the split's first N frames")
    group.add_argument("--workers", type=int, help="image-reading processes (default 0)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_object_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("object pose (MSSD, HANDS'22 files; all four or none)")
    group.add_argument("--pred-obj", type=Path, help="[pose_list]: per frame rodrigues(3)+t(3)")
    group.add_argument("--gt-obj-pose", type=Path, help="evaluation_pose.json")
    group.add_argument("--obj-names", type=Path, help="evaluation_obj_names.json")
    group.add_argument("--obj-verts", type=Path, help="evaluation_obj_verts.json")
    group.add_argument(
        "--symmetry",
        choices=metrics.SYMMETRY_PROTOCOLS,
        default="hands22",
        help="object symmetry sets (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        _check_options(args)
        if args.checkpoint is not None:
            report, curves = evaluate_checkpoint(args)
        else:
            report, curves = EVALUATORS[args.dataset](args)
        if args.plot is not None:
            report["plots"] = [str(path) for path in write_pck_plots(curves, args.plot)]
    except InputError as error:
        print(f"occrobnet evaluate {args.dataset}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(_jsonable(report), indent=2))
    return 0


# Options that go with one source only (--pred or --checkpoint), by dataset.
GT_OPTIONS = {"ho3d": ("gt_xyz",), "interhand": ("gt",), "h2o3d": ("gt",)}
OBJECT_OPTIONS = ("pred_obj", "gt_obj_pose", "obj_names", "obj_verts")
CHECKPOINT_OPTIONS = ("data_root", "split", "out", "device", "batch_size", "count", "workers")


def _check_options(args: argparse.Namespace) -> None:
    """Each source's options, and none of the other's (argparse cannot express it)."""
    if args.checkpoint is None:
        required, refused = GT_OPTIONS[args.dataset], CHECKPOINT_OPTIONS
        source = "--pred"
    else:
        required, refused = ("data_root", "out"), GT_OPTIONS[args.dataset] + OBJECT_OPTIONS
        source = "--checkpoint"
    missing = [_flag(name) for name in required if getattr(args, name) is None]
    if missing:
        raise InputError(f"{source} needs {' and '.join(missing)}")
    extra = [_flag(name) for name in refused if getattr(args, name, None) is not None]
    if extra:
        raise InputError(f"{', '.join(extra)} cannot be used with {source}")
    for name in ("batch_size", "count", "workers"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "workers" else 1):
            raise InputError(f"{_flag(name)} must be >= {0 if name == 'workers' else 1}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# --- datasets

# name -> (errors (N, J) in metres, valid mask or None, the unit to plot in)
Curves = dict[str, tuple[np.ndarray, np.ndarray | None, str]]


def evaluate_ho3d(args: argparse.Namespace) -> tuple[dict[str, Any], Curves]:
    """HO-3D: the official ``[xyz_list, verts_list]`` against ``evaluation_xyz.json``."""
    gt = _ho3d_hand(_array(load_json(args.gt_xyz), args.gt_xyz, "joints", (NUM_JOINTS, 3)))
    pred_file = _submission(load_json(args.pred), args.pred, need_verts=True)
    pred = _array(pred_file[0], args.pred, "xyz_list", (NUM_JOINTS, 3), frames=len(gt))
    _check_frames(pred_file[1], args.pred, "verts_list", len(gt))
    pred = _ho3d_hand(pred)
    report: dict[str, Any] = {"num_frames": len(gt), **metrics.ho3d_hand_metrics(pred, gt)}
    report.update(_object_report(args))
    errors = metrics.ho3d_aligned_errors(pred, gt)
    curves = {f"pck_{name}": (err, None, "cm") for name, err in errors.items()}
    return report, curves


def evaluate_interhand(args: argparse.Namespace) -> tuple[dict[str, Any], Curves]:
    """InterHand2.6M: two-hand joints in metres (camera frame) against the annotation."""
    gt_file = _object(load_json(args.gt), args.gt, ("joints", "joint_valid", "hand_type"))
    pred_file = _object(load_json(args.pred), args.pred, ("joints",))
    shape = (2 * NUM_JOINTS, 3)
    gt = _array(gt_file["joints"], args.gt, "joints", shape)
    pred = _array(pred_file["joints"], args.pred, "joints", shape, frames=len(gt))
    gt, pred = gt[:, _order(gt_file, args.gt)], pred[:, _order(pred_file, args.pred)]
    valid = _array(gt_file["joint_valid"], args.gt, "joint_valid", (2 * NUM_JOINTS,), len(gt))
    valid = valid[:, _order(gt_file, args.gt)]
    hand_type = gt_file["hand_type"]
    _check_frames(hand_type, args.gt, "hand_type", len(gt))
    try:
        report = metrics.interhand_metrics(pred, gt, valid, hand_type)
    except ValueError as error:
        raise InputError(f"{args.gt}: {error}") from None
    errors = metrics.root_relative_errors(pred, gt)
    curves = {"pck_mpjpe": (errors, metrics.interhand_joint_valid(valid), "mm")}
    return {"num_frames": len(gt), **report}, curves


def evaluate_h2o3d(args: argparse.Namespace) -> tuple[dict[str, Any], Curves]:
    """H2O-3D: KT's challenge file (21 x 6 per frame) against full GT joints in the same layout."""
    gt = _two_hands(_array(load_json(args.gt), args.gt, "joints", (NUM_JOINTS, 6)))
    pred_file = _submission(load_json(args.pred), args.pred, need_verts=False)
    pred = _array(pred_file[0], args.pred, "xyz_list", (NUM_JOINTS, 6), frames=len(gt))
    pred = _two_hands(pred)
    report: dict[str, Any] = {"num_frames": len(gt), **metrics.h2o3d_hand_metrics(pred, gt)}
    report.update(_object_report(args))
    curves = {"pck_mpjpe": (metrics.root_relative_errors(pred, gt), None, "cm")}
    return report, curves


EVALUATORS = {"ho3d": evaluate_ho3d, "interhand": evaluate_interhand, "h2o3d": evaluate_h2o3d}


def evaluate_checkpoint(args: argparse.Namespace) -> tuple[dict[str, Any], Curves]:
    """--checkpoint: write the split's official files into --out, then score them with this
    dataset's evaluator when the split has ground truth (else report the files only)."""
    from occrobnet_ros.evaluation import predict_split  # torch and the model: this path only
    from occrobnet_ros.inference.estimator import EstimatorError

    try:
        written = predict_split.write_split_files(
            args.dataset,
            args.data_root,
            args.out,
            args.checkpoint,
            split=args.split,
            device=args.device or "auto",
            batch_size=args.batch_size or 8,
            count=args.count,
            workers=args.workers or 0,
            progress=not args.no_progress,
        )
    except (OSError, ValueError, EstimatorError) as error:
        raise InputError(str(error)) from None
    files = {name: str(path) for name, path in written.files.items()}
    if not written.has_ground_truth:
        print(
            f"occrobnet evaluate {args.dataset}: the split has no ground truth: "
            "files written, not scored",
            file=sys.stderr,
        )
        return {"num_frames": written.num_frames, "files": files}, {}
    scored = argparse.Namespace(**vars(args))
    options = GT_OPTIONS[args.dataset] + ("pred",)
    if {"pred_obj", "gt_obj_pose"} <= written.files.keys():  # every frame has an object
        options += OBJECT_OPTIONS
    for option in options:
        setattr(scored, option, written.files[option])
    report, curves = EVALUATORS[args.dataset](scored)
    return {**report, "files": files}, curves


def _object_report(args: argparse.Namespace) -> dict[str, Any]:
    """MSSD from the HANDS'22 files, or nothing when no object file is given."""
    paths = [args.pred_obj, args.gt_obj_pose, args.obj_names, args.obj_verts]
    if all(path is None for path in paths):
        return {}
    if any(path is None for path in paths):
        raise InputError("--pred-obj, --gt-obj-pose, --obj-names and --obj-verts go together")
    gt_pose = _array(load_json(args.gt_obj_pose), args.gt_obj_pose, "poses", (6,))
    pred_file = load_json(args.pred_obj)
    if not isinstance(pred_file, list) or not pred_file:
        raise InputError(f"{args.pred_obj}: expected [pose_list] (HANDS'22 format)")
    pred_pose = _array(pred_file[0], args.pred_obj, "pose_list", (6,), frames=len(gt_pose))
    names = load_json(args.obj_names)
    _check_frames(names, args.obj_names, "object names", len(gt_pose))
    if not all(isinstance(name, str) for name in names):
        raise InputError(f"{args.obj_names}: object names must be strings such as '025_mug'")
    try:
        symmetries = {name: metrics.object_symmetries(name, args.symmetry) for name in names}
    except (KeyError, ValueError) as error:
        raise InputError(f"{args.obj_names}: {error.args[0]}") from None
    models = _object(load_json(args.obj_verts), args.obj_verts, tuple(symmetries))
    vertices = {name: _vertices(models[name], args.obj_verts, name) for name in symmetries}
    errors = [
        metrics.mssd(*_pose(pred), *_pose(gt), vertices[name], symmetries[name])
        for pred, gt, name in zip(pred_pose, gt_pose, names)
    ]
    return metrics.mssd_report(np.array(errors), names)


def _pose(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of a HANDS'22 pose: a Rodrigues rotation vector then a translation (metres)."""
    return Rotation.from_rotvec(pose[:3]).as_matrix(), pose[3:]


def _ho3d_hand(joints: np.ndarray) -> np.ndarray:
    """HO-3D order -> ours. The OpenGL frame is kept: distances do not depend on it."""
    return joints[:, OURS_FROM_HO3D]


def _two_hands(joints: np.ndarray) -> np.ndarray:
    """KT's H2O-3D layout (N, 21, 6: right xyz | left xyz, HO-3D order) -> (N, 42, 3) ours."""
    return np.concatenate([_ho3d_hand(joints[..., :3]), _ho3d_hand(joints[..., 3:])], axis=1)


# --- reading and checking files


def load_json(path: Path) -> Any:
    """The parsed JSON file (data/readers/record.py reads it); any problem becomes an
    :class:`InputError` naming the file, for a one-line CLI error."""
    try:
        return read_json(path)
    except FileNotFoundError:
        raise InputError(f"{path}: cannot read the file (no such file)") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror})") from None
    except DatasetFormatError as error:
        raise InputError(str(error)) from None


def _array(
    value: Any, path: Path, what: str, shape: tuple[int, ...], frames: int | None = None
) -> np.ndarray:
    """``value`` as a finite float array of ``(frames, *shape)``, or an InputError saying why."""
    _check_frames(value, path, what, frames)
    if not value:
        raise InputError(f"{path}: {what} is empty")
    expected = "N x " + " x ".join(str(n) for n in shape)
    try:
        array = np.asarray(value, dtype=float)
    except (ValueError, TypeError):
        raise InputError(
            f"{path}: {what} must be {expected} numbers (ragged or not numbers)"
        ) from None
    if array.ndim != len(shape) + 1 or array.shape[1:] != shape:
        raise InputError(f"{path}: {what} must be {expected} numbers, got shape {array.shape}")
    bad = ~np.isfinite(array).reshape(len(array), -1).all(axis=1)
    if bad.any():
        frame = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}: {what} has NaN or infinite values ({bad.sum()} frames, "
            f"first at frame {frame})"
        )
    return array


def _check_frames(value: Any, path: Path, what: str, frames: int | None) -> None:
    """``value`` must be a JSON list, of ``frames`` entries when that is given."""
    if not isinstance(value, list):
        raise InputError(f"{path}: {what} must be a list, got {type(value).__name__}")
    if frames is not None and len(value) != frames:
        raise InputError(f"{path}: {what} has {len(value)} frames, the ground truth has {frames}")


def _submission(value: Any, path: Path, need_verts: bool) -> list:
    """The official ``[xyz_list, verts_list]`` (``verts_list`` optional for H2O-3D)."""
    sizes = (2,) if need_verts else (1, 2)
    if not isinstance(value, list) or len(value) not in sizes:
        form = "[xyz_list, verts_list]" if need_verts else "[xyz_list] or [xyz_list, verts_list]"
        raise InputError(f"{path}: expected the submission format {form}")
    return value


def _object(value: Any, path: Path, keys: tuple[str, ...]) -> dict:
    """A JSON object that has every key in ``keys``."""
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object with keys {list(keys)}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise InputError(f"{path}: missing key(s) {missing}")
    return value


def _order(file: dict, path: Path) -> np.ndarray:
    """The index map from the file's ``joint_order`` ('ours' by default) to ours."""
    order = file.get("joint_order", "ours")
    if order not in JOINT_ORDERS:
        raise InputError(f"{path}: joint_order must be one of {list(JOINT_ORDERS)}, not {order!r}")
    return JOINT_ORDERS[order]


def _vertices(value: Any, path: Path, name: str) -> np.ndarray:
    """One object model's vertices, V x 3 finite numbers."""
    if not isinstance(value, list) or not value:
        raise InputError(f"{path}: vertices of {name!r} must be a non-empty V x 3 list")
    return _array(value, path, f"vertices of {name!r}", (3,))


# --- output


def write_pck_plots(curves: Curves, directory: Path) -> list[Path]:
    """One PNG per error set: the PCK over 0-5 cm (0-50 mm), averaged over joints as EvalUtil."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{directory}: cannot create the plot directory ({error.strerror})"
        ) from None
    thresholds = metrics.auc_thresholds(metrics.HO3D_AUC_MAX_M, metrics.HO3D_AUC_STEPS)
    paths = []
    for name, (errors, valid, unit) in curves.items():
        pck = np.nanmean(metrics.pck_curve(errors, thresholds, valid), axis=0)
        scale = metrics.M_TO_CM if unit == "cm" else metrics.M_TO_MM
        figure, axes = plt.subplots(figsize=(5, 4))
        axes.plot(thresholds * scale, pck)
        area = metrics.auc(errors, metrics.HO3D_AUC_MAX_M, metrics.HO3D_AUC_STEPS, valid)
        title = f"{name} (AUC {area:.3f})"
        axes.set(xlabel=f"error threshold ({unit})", ylabel="PCK", ylim=(0, 1), title=title)
        axes.grid(True, alpha=0.3)
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths


def _jsonable(value: Any) -> Any:
    """Numbers as plain floats, NaN as null (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
