"""What every face parser shares: its output type and the input normalisation it owns.

Parsers take images in [-1, 1] (the same tensor the editor takes) and normalise them internally with the
mean/std stored in their config, so no caller ever has to know which statistics a checkpoint was trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers.utils import BaseOutput

from .validation import check_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class FaceParserOutput(BaseOutput):
    """Per-pixel class logits at input resolution.

    Args:
        logits: (B, num_classes, H, W) main-head logits.
        aux_logits: auxiliary-head logits at the same shape (training only; empty otherwise).

    Parsers always fill ``aux_logits``. It defaults to ``None`` only so that the output can be rebuilt from its own
    mapping, which Accelerate's mixed precision does (``type(output)(dict(output))``, see BaseOutput).
    """

    logits: torch.Tensor
    aux_logits: tuple[torch.Tensor, ...] | None = None


def normalization_lists(
    image_mean: Sequence[float], image_std: Sequence[float], in_channels: int
) -> tuple[list[float], list[float]]:
    """A parser's ``image_mean``/``image_std`` as JSON lists (what a saved config holds), one per input channel."""
    if len(image_mean) != in_channels or len(image_std) != in_channels:
        raise ValueError(f"image_mean and image_std need {in_channels} values (one per input channel).")
    return list(image_mean), list(image_std)


def check_input_resolution(input_resolution: int | None) -> None:
    """``input_resolution`` (the square side a parser was trained at, which the pipeline parses faces at) must be a
    positive integer, or None when it is not known."""
    if input_resolution is not None and (
        isinstance(input_resolution, bool) or not isinstance(input_resolution, int) or input_resolution < 1
    ):
        raise ValueError(f"input_resolution must be a positive integer or None, got {input_resolution!r}.")


def normalize_parser_input(
    images: torch.Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]
) -> torch.Tensor:
    """Validate [-1, 1] images and map them to the parser's normalised space ``((x + 1) / 2 - mean) / std``."""
    check_image(images, "images", channels=len(mean))
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return ((images + 1) * 0.5 - mean_t) / std_t
