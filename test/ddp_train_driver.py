"""One rank of a DistributedDataParallel training run, for test_train_datasets.py.

    python -m torch.distributed.run --nproc_per_node=2 test/ddp_train_driver.py WEIGHTS_DIR \\
        <occrobnet train arguments>

Builds ``trainer.Trainer`` from the arguments (it joins torchrun's process group itself), trains,
and writes this rank's parameters before and after training to
``WEIGHTS_DIR/rank<r>_initial.safetensors`` and ``rank<r>_final.safetensors``.
"""

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from occrobnet_ros.training import options, trainer


def parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone().contiguous() for name, value in model.named_parameters()}


def main(argv: list[str]) -> int:
    weights = Path(argv[0])
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    torch.set_num_threads(1)
    run = trainer.Trainer(args)
    rank = run.dist.rank
    initial = parameters(run.model)
    run.train()
    save_file(initial, str(weights / f"rank{rank}_initial.safetensors"))
    save_file(parameters(run.model), str(weights / f"rank{rank}_final.safetensors"))
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
