#!/usr/bin/env python3
"""Look at the synthetic data: a contact sheet of frames with their ground truth, and timing.

    python scripts/show_synthetic.py --out /tmp/synthetic.png --seeds 0:16 --time

Each tile shows one frame with its joints (green: visible, red: occluded; left hand in cyan
and magenta), the object's 3D box, and the scene type and occlusion bucket. ``--time``
renders the seeds again, single-threaded, and prints milliseconds per frame.
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from occrobnet_ros.data.sample import Sample  # noqa: E402
from occrobnet_ros.data.synthetic import SyntheticConfig, iterate  # noqa: E402
from occrobnet_ros.skeleton import BONES, NUM_JOINTS  # noqa: E402

# BGR colours: (visible, occluded) per hand.
_JOINT_COLOURS = (((0, 220, 0), (0, 0, 255)), ((255, 255, 0), (255, 0, 255)))
_BOX_EDGES = [(i, i ^ bit) for i in range(8) for bit in (1, 2, 4) if i < i ^ bit]


def annotate(sample: Sample) -> np.ndarray:
    """The frame (BGR) with joints, bones, object box and a caption drawn on it."""
    image = cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR)
    if sample.object_valid:
        corners = sample.object_corners_2d
        for a, b in _BOX_EDGES:
            cv2.line(image, _point(corners[a]), _point(corners[b]), (0, 200, 255), 1, cv2.LINE_AA)
    for hand in np.flatnonzero(sample.hand_valid):
        joints = sample.joints_2d[hand * NUM_JOINTS : (hand + 1) * NUM_JOINTS]
        visible = sample.joint_visible[hand * NUM_JOINTS : (hand + 1) * NUM_JOINTS]
        for a, b in BONES:
            cv2.line(image, _point(joints[a]), _point(joints[b]), (230, 230, 230), 1, cv2.LINE_AA)
        for joint, seen in zip(joints, visible):
            colour = _JOINT_COLOURS[hand][0 if seen else 1]
            cv2.circle(image, _point(joint), 3, colour, -1, cv2.LINE_AA)
    caption = f"{sample.seed} {sample.scene} {sample.occlusion_bucket}"
    cv2.putText(image, caption, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
    cv2.putText(image, caption, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return image


def _point(uv: np.ndarray) -> tuple[int, int]:
    return int(round(float(uv[0]))), int(round(float(uv[1])))


def contact_sheet(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    blank = np.zeros_like(tiles[0])
    tiles = tiles + [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/synthetic.png", help="PNG to write")
    parser.add_argument("--seeds", default="0:16", help="start:stop range of seeds")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--scale", type=float, default=1.0, help="camera resolution factor")
    parser.add_argument("--time", action="store_true", help="also time the generator")
    args = parser.parse_args()
    start, stop = (int(v) for v in args.seeds.split(":"))
    config = SyntheticConfig().scaled(args.scale)
    tiles = [annotate(sample) for sample in iterate(range(start, stop), config)]
    cv2.imwrite(args.out, contact_sheet(tiles, args.columns))
    print(f"wrote {args.out} ({len(tiles)} frames)")
    if args.time:
        cv2.setNumThreads(1)  # the budget is one core
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in iterate(range(start, stop), config):
            pass
        count = stop - start
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{config.width}x{config.height}: {1e3 * wall / count:.1f} ms/frame wall, "
            f"{1e3 * cpu / count:.1f} ms/frame CPU"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
