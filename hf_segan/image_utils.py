"""Conversions between the image types users hold (PIL, numpy, torch) and model tensors in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .constants import PARSING_PALETTE


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as a (3, H, W) float tensor in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1) / 127.5 - 1.0


def tensor_to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) or (C, H, W) tensors in [-1, 1] as uint8 arrays shaped (B, H, W, C) or (H, W, C)."""
    array = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return array.movedim(-3, -1).numpy()


def tensor_to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(B, 3, H, W) tensors in [-1, 1] as a list of RGB PIL images."""
    return [Image.fromarray(array) for array in tensor_to_uint8(images)]


def colorize_labels(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """An (H, W) or (B, H, W) label map as uint8 RGB using the parsing palette."""
    if isinstance(labels, torch.Tensor):
        labels = labels.cpu().numpy()
    palette = np.asarray(PARSING_PALETTE, dtype=np.uint8)
    return palette[np.clip(labels, 0, len(palette) - 1)]


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colour-coded labels over an (H, W, 3) uint8 image; background pixels stay untouched."""
    colours = colorize_labels(labels).astype(np.float32)
    blended = image.astype(np.float32) * (1 - alpha) + colours * alpha
    keep = (labels == 0)[..., None]
    return np.where(keep, image, blended.round()).astype(np.uint8)
