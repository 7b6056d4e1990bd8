"""The ``occrobnet`` command: one entry point, one module per subcommand.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int`` (and optionally ``parse_arguments(parser, argv) -> args``). Modules are
imported only when their subcommand runs, so ``occrobnet --help`` stays fast and a missing
optional dependency (torch, rclpy) only affects the subcommands that need it.
"""

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS = {
    "predict": (
        "occrobnet_ros.tools.predict",
        "Run the model on image files; JSON and annotated images.",
    ),
    "evaluate": (
        "occrobnet_ros.evaluation.evaluate",
        "Score prediction files, or run a checkpoint on a dataset split and write them.",
    ),
    "real-photos": (
        "occrobnet_ros.tools.real_photos",
        "Check a checkpoint on real photos against MediaPipe's hands.",
    ),
    "train": (
        "occrobnet_ros.training.train",
        "Train OccRobNet (one process, or torchrun for DDP).",
    ),
    "bag-convert": ("occrobnet_ros.bag.convert", "Write a dataset or synthetic frames to a bag."),
    "bag-eval": ("occrobnet_ros.bag.bag_eval", "Replay bags through OccRobNet and report."),
    "demo": ("occrobnet_ros.tools.demo", "Stream synthetic camera frames through the node."),
    "bench": ("occrobnet_ros.tools.bench", "Measure model forward latency, parameters and FLOPs."),
    "fuzz": (
        "occrobnet_ros.tools.reliability.fuzz",
        "Send malformed camera messages to the node.",
    ),
    "soak": (
        "occrobnet_ros.tools.reliability.soak",
        "Stream frames at a rate; RSS, latency, counts.",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occrobnet", description="OccRobNet 3D hand and object pose estimation."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        # Arguments are added lazily in main() for the chosen subcommand only.
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)  # prints help / usage errors
        parser.print_help()
        return 2
    name = argv[0]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"occrobnet {name}", description=SUBCOMMANDS[name][1])
    module.add_arguments(sub)
    # A module may parse in its own way (train: a recipe's values as the defaults).
    parse = getattr(module, "parse_arguments", None)
    args = parse(sub, argv[1:]) if parse else sub.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
