"""Copy a training run's checkpoint to a float16 safetensors file for shipping.

    python scripts/export_checkpoint.py runs/NAME/checkpoint.safetensors weights/OUT.safetensors

float16 halves the file (the embedded checkpoint must stay under 25 MB); ``load_model`` casts
it back to float32. The copy keeps the config and records the run's step and arguments.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from occrobnet_ros.model import load_model, save_model  # noqa: E402
from occrobnet_ros.model.checkpoint import read_safetensors  # noqa: E402


def main(source: str, destination: str) -> None:
    metadata, _ = read_safetensors(source)
    model, _ = load_model(source)
    extra = {"step": metadata["step"], "train_args": metadata["train_args"]}
    save_model(model.half(), destination, extra)
    load_model(destination)  # refuse to hand over a file that does not load
    size_mb = Path(destination).stat().st_size / 1e6
    print(f"{destination}: step {metadata['step']}, {size_mb:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
