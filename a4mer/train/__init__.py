"""Training: configs, loop, checkpoints."""
