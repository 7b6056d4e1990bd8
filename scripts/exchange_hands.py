"""Exchange a checkpoint's right and left hands (model/hand_sides.py says why and how).

    python scripts/exchange_hands.py IN.safetensors OUT.safetensors

For networks trained on procedural frames made before the generator labelled its hands by
their anatomy (December 2026), such as the embedded checkpoint until then. The copy keeps the
tensors' dtype and the metadata, and records the exchange.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from occrobnet_ros.model import load_model, save_model  # noqa: E402
from occrobnet_ros.model.checkpoint import CONFIG_KEY, FORMAT_KEY, read_safetensors  # noqa: E402
from occrobnet_ros.model.hand_sides import exchange_hands  # noqa: E402

RECORD_KEY = "hands_exchanged"


def main(source: str, destination: str) -> None:
    metadata, tensors = read_safetensors(source)
    if RECORD_KEY in metadata:
        raise SystemExit(f"{source}: its hands were exchanged already ({metadata[RECORD_KEY]})")
    model, _ = load_model(source)
    exchange_hands(model)
    dtype = next(iter(tensors.values())).dtype
    extra = {k: v for k, v in metadata.items() if k != FORMAT_KEY}
    config = json.loads(metadata[CONFIG_KEY])  # as stored: keys it lacks keep meaning defaults
    config["object_reference_hand"] = model.config.object_reference_hand
    extra[CONFIG_KEY] = json.dumps(config)
    extra[RECORD_KEY] = "right and left hands exchanged by scripts/exchange_hands.py"
    save_model(model.to(dtype), destination, extra)
    load_model(destination)  # refuse to hand over a file that does not load
    reference = model.config.object_reference_hand
    print(f"{destination}: hands exchanged, object offsets from the {reference} wrist")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
