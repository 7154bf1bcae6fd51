"""Input checks for the public forward methods.

A wrong tensor handed to a model should fail at the door with a sentence that names the argument, what it
got and what is accepted, not three layers deep inside ``conv2d``.
"""

from __future__ import annotations

import torch

#: Slack on the [-1, 1] contract, so that values produced by float arithmetic (e.g. 1.0000001) pass.
RANGE_TOLERANCE = 1e-3


def check_image(
    images: torch.Tensor,
    name: str = "images",
    channels: int = 3,
    value_range: tuple[float, float] | None = (-1.0, 1.0),
) -> None:
    """Require a floating tensor shaped (B, channels, H, W), optionally with values inside ``value_range``."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(
            f"`{name}` must be a torch.Tensor of shape (B, {channels}, H, W), got {type(images).__name__}."
        )
    if images.ndim != 4:
        raise ValueError(f"`{name}` must have shape (B, {channels}, H, W), got shape {tuple(images.shape)}.")
    if images.shape[1] != channels:
        raise ValueError(
            f"`{name}` must have {channels} channels in dim 1 (B, {channels}, H, W), got shape {tuple(images.shape)}."
        )
    if not images.is_floating_point():
        raise ValueError(f"`{name}` must be a floating-point tensor, got dtype {images.dtype}.")
    if value_range is not None and images.numel() > 0:
        low, high = value_range
        lo, hi = float(images.detach().min()), float(images.detach().max())
        if lo < low - RANGE_TOLERANCE or hi > high + RANGE_TOLERANCE:
            raise ValueError(f"`{name}` values must lie in [{low}, {high}], got min {lo:.4g} and max {hi:.4g}.")


def check_condition(condition: torch.Tensor, batch_size: int, width: int, name: str = "condition") -> None:
    """Require a floating tensor shaped (batch_size, width): one expression vector per image."""
    if not isinstance(condition, torch.Tensor):
        raise ValueError(f"`{name}` must be a torch.Tensor of shape (B, {width}), got {type(condition).__name__}.")
    if condition.ndim != 2 or condition.shape[1] != width:
        raise ValueError(f"`{name}` must have shape (B, {width}), got shape {tuple(condition.shape)}.")
    if condition.shape[0] != batch_size:
        raise ValueError(f"`{name}` has batch size {condition.shape[0]} but the images have {batch_size}.")
    if not condition.is_floating_point():
        raise ValueError(f"`{name}` must be a floating-point tensor, got dtype {condition.dtype}.")
