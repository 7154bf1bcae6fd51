"""Tensorboard logging through accelerate's trackers: scalars every few steps, image grids now and then.

Only the main process writes (accelerate's trackers are no-ops elsewhere), so scripts call these helpers
unconditionally on every process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator

from ..image_utils import colorize_labels, tensor_to_uint8


def start_tracking(accelerator: Accelerator, run_name: str, config: Mapping[str, Any]) -> None:
    """Open the trackers and record the flattened config as hyper-parameters (tensorboard takes scalars only)."""
    flat = _flatten(config)
    accelerator.init_trackers(
        run_name, config={k: v for k, v in flat.items() if isinstance(v, (int, float, str, bool))}
    )


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def log_scalars(accelerator: Accelerator, values: Mapping[str, float | torch.Tensor], step: int) -> None:
    """Log losses, metrics and learning rates (tensors are turned into Python floats)."""
    accelerator.log(
        {k: float(v.detach().float()) if isinstance(v, torch.Tensor) else v for k, v in values.items()}, step
    )


def attention_as_image(attention: torch.Tensor) -> torch.Tensor:
    """A (B, 1, H, W) attention mask in [0, 1] as a grey (B, 3, H, W) image in [-1, 1] (white = pixel kept)."""
    return attention.clamp(0, 1).expand(-1, 3, -1, -1) * 2.0 - 1.0


def labels_as_image(labels: torch.Tensor) -> torch.Tensor:
    """A (B, H, W) label map in the parsing palette, as a (B, 3, H, W) image in [-1, 1]."""
    colours = torch.from_numpy(colorize_labels(labels.cpu())).permute(0, 3, 1, 2).float()
    return colours / 127.5 - 1.0


def image_grid(columns: Sequence[torch.Tensor]) -> np.ndarray:
    """Columns of (B, 3, H, W) images in [-1, 1] side by side, one sample per row, as an (H*B, W*n, 3) uint8 array."""
    rows = torch.cat([column.detach().float().cpu() for column in columns], dim=-1)
    return np.concatenate(list(tensor_to_uint8(rows)), axis=0)


def log_image_grid(accelerator: Accelerator, tag: str, columns: Sequence[torch.Tensor], step: int) -> None:
    """Log :func:`image_grid` of ``columns`` to tensorboard (when it is an active tracker)."""
    if not accelerator.is_main_process:
        return
    grid = image_grid(columns)
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.log_images({tag: grid[None]}, step=step, dataformats="NHWC")
