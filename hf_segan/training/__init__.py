"""Library helpers shared by the training scripts in ``training/``: configs, data, checkpoints, logging, runtime."""
