"""Blend two checkpoints of one network: (1 - ALPHA) x START + ALPHA x FINETUNED, weight by weight.

    python scripts/interpolate_checkpoints.py START FINETUNED ALPHA OUT

Why: a fine-tune on new images (data/rendered/'s hands on real photos) gains there and loses
some of what the start knew (the synthetic benchmark); the weights between the two keep much
of both (Wortsman et al., "Robust fine-tuning of zero-shot models", 2022: WiSE-FT). Both
files must hold the same network (config and tensor shapes); the result keeps FINETUNED's
config and metadata, in its dtype, and records the blend. Integer tensors (batch-norm step
counters) are FINETUNED's.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from safetensors.torch import save_file  # noqa: E402

from occrobnet_ros.model import load_model  # noqa: E402
from occrobnet_ros.model.checkpoint import CONFIG_KEY, read_safetensors  # noqa: E402
from occrobnet_ros.model.config import OccRobNetConfig  # noqa: E402

RECORD_KEY = "interpolated"


def main(start: str, finetuned: str, alpha: str, destination: str) -> None:
    weight = float(alpha)
    if not 0.0 <= weight <= 1.0:
        raise SystemExit(f"ALPHA must be in [0, 1], got {alpha}")
    start_metadata, start_tensors = read_safetensors(start)
    metadata, tensors = read_safetensors(finetuned)
    configs = [
        OccRobNetConfig.from_dict(json.loads(m[CONFIG_KEY])) for m in (start_metadata, metadata)
    ]
    if configs[0] != configs[1] or set(start_tensors) != set(tensors):
        raise SystemExit(f"{start} and {finetuned} do not hold the same network")
    blended = {}
    for key, tuned in tensors.items():
        begin = start_tensors[key]
        if begin.shape != tuned.shape:
            raise SystemExit(f"{key}: {tuple(begin.shape)} vs {tuple(tuned.shape)}")
        if tuned.is_floating_point():
            mixed = (1.0 - weight) * begin.double() + weight * tuned.double()
            blended[key] = mixed.to(tuned.dtype).contiguous()
        else:
            blended[key] = tuned.contiguous()
    record = {"start": Path(start).name, "finetuned": Path(finetuned).name, "alpha": weight}
    save_file(blended, destination, metadata={**metadata, RECORD_KEY: json.dumps(record)})
    load_model(destination)  # refuse to hand over a file that does not load
    print(f"{destination}: {1 - weight:g} x {start} + {weight:g} x {finetuned}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
