"""Scores of expression edits: fidelity to a ground-truth target (PSNR, SSIM), restraint outside the edited
regions ("unwanted change"), target-expression accuracy by an independent judge, and identity preservation (ACD).

All image arguments are (B, 3, H, W) tensors in [-1, 1]; per-image scores are returned as (B,) tensors so that
callers can stream them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..models.validation import check_image


def psnr(edits: torch.Tensor, targets: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB (``inf`` for identical images)."""
    _check_pair(edits, targets)
    mse = (edits.double() - targets.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).float()


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(edits: torch.Tensor, targets: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
    averaged over channels and over the pixels whose window fits inside the image."""
    _check_pair(edits, targets)
    x, y = edits.double(), targets.double()
    channels = x.shape[1]
    window = _gaussian_window()
    kernel_h = window.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    kernel_v = window.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kernel_h, groups=channels), kernel_v, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1).float()


def unwanted_change(inputs: torch.Tensor, edits: torch.Tensor, region_masks: torch.Tensor) -> torch.Tensor:
    """Mean absolute change per image outside the union of the target regions (soft masks weigh pixels by
    ``1 - union``): what an edit altered that it should have left alone."""
    _check_pair(inputs, edits)
    if region_masks.ndim != 4 or region_masks.shape[0] != inputs.shape[0] or region_masks.shape[2:] != inputs.shape[2:]:
        raise ValueError(
            f"region_masks must have shape (B, R, H, W) matching the images {tuple(inputs.shape)}, "
            f"got {tuple(region_masks.shape)}."
        )
    outside = 1.0 - region_masks.clamp(0, 1).amax(1, keepdim=True)
    weight = outside.flatten(1).sum(1)
    if (weight <= 0).any():
        raise ValueError("A region mask covers the whole image; there is no outside to measure.")
    change = (edits - inputs).abs().mean(1, keepdim=True) * outside
    return change.flatten(1).sum(1) / weight


def expression_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1.0 where the judge's most likely expression is the target, else 0.0 (per image)."""
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"Expected logits (B, C) and targets (B,), got {tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    return (logits.argmax(1) == targets).float()


def average_content_distance(
    embed: Callable[[torch.Tensor], torch.Tensor], originals: torch.Tensor, edits: torch.Tensor
) -> torch.Tensor:
    """Average content distance: L2 distance between ``embed`` vectors of each original and its edit. With a face
    recognition network as ``embed`` this is the identity-preservation ACD of GAN papers; with another network it
    is a proxy and must be reported with that network's name."""
    _check_pair(originals, edits)
    return (embed(originals).flatten(1) - embed(edits).flatten(1)).norm(dim=1)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    check_image(a, "images", value_range=None)
    check_image(b, "images", value_range=None)
    if a.shape != b.shape:
        raise ValueError(f"The two image batches must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
