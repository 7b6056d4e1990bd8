"""Training: ``occrobnet train`` (one process, or torchrun for DDP) on the datasets or the
synthetic generator."""
