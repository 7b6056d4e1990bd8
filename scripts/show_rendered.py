#!/usr/bin/env python3
"""Look at the rendered data: a contact sheet of frames with their ground truth, and timing.

    python scripts/show_rendered.py --out /tmp/rendered.jpg --seeds 0:12 --time
        [--backgrounds DIR] [--tile 0.5] [--columns 4]

Tiles as scripts/show_synthetic.py draws them (joints green / red when visible / occluded,
the left hand's cyan / magenta; the object's box; seed, scene and occlusion bucket).
``--backgrounds`` defaults to the installed photos (install_backgrounds.py). ``--time``
renders the seeds again and prints milliseconds per frame (layout and posing, rendering and
readback, camera effects, ground truth).
"""

import argparse
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from show_synthetic import annotate, contact_sheet  # noqa: E402

from occrobnet_ros.data.rendered import RenderedConfig, generate_sample  # noqa: E402
from occrobnet_ros.data.rendered.install_backgrounds import default_cache  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/rendered.jpg", help="image to write")
    parser.add_argument("--seeds", default="0:12", help="start:stop range of seeds")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--tile", type=float, default=0.5, help="tile size factor")
    parser.add_argument("--backgrounds", default=str(default_cache()), help="photo folder")
    parser.add_argument("--negatives", type=float, default=None, help="hand-free fraction")
    parser.add_argument("--time", action="store_true", help="also time the generator")
    args = parser.parse_args()
    start, stop = (int(v) for v in args.seeds.split(":"))
    config = RenderedConfig(background_dir=args.backgrounds)
    if args.negatives is not None:
        config = RenderedConfig(
            background_dir=args.backgrounds, negative_probability=args.negatives
        )
    tiles = []
    for seed in range(start, stop):
        tile = annotate(generate_sample(seed, config))
        tiles.append(
            cv2.resize(tile, None, fx=args.tile, fy=args.tile, interpolation=cv2.INTER_AREA)
        )
    cv2.imwrite(args.out, contact_sheet(tiles, args.columns), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({len(tiles)} frames)")
    if args.time:
        cv2.setNumThreads(1)
        wall, cpu = time.perf_counter(), time.process_time()
        for seed in range(start, stop):
            generate_sample(seed, config)
        count = stop - start
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{config.width}x{config.height}: {1e3 * wall / count:.1f} ms/frame wall, "
            f"{1e3 * cpu / count:.1f} ms/frame CPU (this process; llvmpipe threads included)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
