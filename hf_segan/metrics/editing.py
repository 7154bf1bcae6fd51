"""Scores of expression edits: fidelity to a ground-truth target (PSNR, SSIM), restraint outside the edited
regions ("unwanted change"), target-expression accuracy by an independent judge, and identity preservation (ACD).

All image arguments are (B, 3, H, W) tensors in [-1, 1]; per-image scores are returned as (B,) tensors so that
callers can stream them, and ``EditingMetrics`` streams them into dataset means.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..models.validation import check_image

#: PSNR given to identical images when scores are averaged (``EditingMetrics``): their true PSNR is infinite,
#: which would swamp any mean. 100 dB is far above any real edit (8-bit rounding alone gives about 59 dB).
PSNR_CAP_DB = 100.0


def psnr(edits: torch.Tensor, targets: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB; ``inf`` for identical images (cap with ``PSNR_CAP_DB``
    before averaging)."""
    _check_pair(edits, targets)
    mse = (edits.double() - targets.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).float()


#: Side of SSIM's Gaussian window (Wang et al. 2004); its sigma is 1.5.
SSIM_WINDOW = 11


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(edits: torch.Tensor, targets: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
    averaged over channels and over the pixels whose window fits inside the image."""
    _check_pair(edits, targets)
    if min(edits.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {tuple(edits.shape[-2:])}.")
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
    if (
        not isinstance(region_masks, torch.Tensor)
        or region_masks.ndim != 4
        or region_masks.shape[0] != inputs.shape[0]
        or region_masks.shape[2:] != inputs.shape[2:]
    ):
        raise ValueError(
            f"region_masks must have shape (B, R, H, W) matching the images {tuple(inputs.shape)}, "
            f"got {tuple(getattr(region_masks, 'shape', ())) or type(region_masks).__name__}."
        )
    outside = 1.0 - region_masks.float().clamp(0, 1).amax(1, keepdim=True)
    weight = outside.flatten(1).sum(1)
    if (weight <= 0).any():
        covered = (weight <= 0).nonzero().flatten().tolist()
        raise ValueError(
            f"The region masks of image(s) {covered} cover the whole image; there is no outside to measure."
        )
    change = (edits - inputs).abs().mean(1, keepdim=True) * outside
    return change.flatten(1).sum(1) / weight


def expression_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1.0 where the judge's most likely expression is the target, else 0.0 (per image)."""
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"Expected logits (B, C) and targets (B,), got {tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    if targets.is_floating_point() or (targets.numel() and (targets.min() < 0 or targets.max() >= logits.shape[1])):
        raise ValueError(f"targets must be integer class indices in 0..{logits.shape[1] - 1}, got {targets.tolist()}.")
    return (logits.argmax(1) == targets).float()


def average_content_distance(
    embed_fn: Callable[[torch.Tensor], torch.Tensor], originals: torch.Tensor, edits: torch.Tensor
) -> torch.Tensor:
    """L2 distance per image between ``embed_fn`` vectors of the original and its edit.

    With a face-recognition network as ``embed_fn`` this is the identity-preservation ACD of GAN papers. This
    package ships no such network, so with any other embedding (e.g. FID Inception features) the score is a
    proxy and must be reported with that network's name.
    """
    _check_pair(originals, edits)
    a, b = embed_fn(originals), embed_fn(edits)
    if not isinstance(a, torch.Tensor) or a.shape[:1] != originals.shape[:1] or a.shape != b.shape:
        raise ValueError(f"embed_fn must return one embedding per image (B, ...), got {getattr(a, 'shape', a)}.")
    return (a.flatten(1) - b.flatten(1)).double().norm(dim=1).float()


class EditingMetrics:
    """Streaming means of the editing scores over a dataset.

    Each ``update`` adds a batch of ``inputs`` and their ``edits`` plus whichever references the data has:
    ``targets`` (ground-truth edited images) give ``psnr`` and ``ssim``, ``region_masks`` give
    ``unwanted_change``, ``judge_logits`` with ``target_expressions`` give ``expression_accuracy``, and an
    ``embed_fn`` passed at construction gives ``acd``. Each score is averaged over the images it was computed on.
    """

    def __init__(self, embed_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.embed_fn = embed_fn
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @torch.no_grad()
    def update(
        self,
        inputs: torch.Tensor,
        edits: torch.Tensor,
        targets: torch.Tensor | None = None,
        region_masks: torch.Tensor | None = None,
        judge_logits: torch.Tensor | None = None,
        target_expressions: torch.Tensor | None = None,
    ) -> EditingMetrics:
        _check_pair(inputs, edits)
        if (judge_logits is None) != (target_expressions is None):
            raise ValueError("judge_logits and target_expressions must be given together.")
        scores: dict[str, torch.Tensor] = {}
        if targets is not None:
            scores["psnr"] = psnr(edits, targets).clamp(max=PSNR_CAP_DB)
            scores["ssim"] = ssim(edits, targets)
        if region_masks is not None:
            scores["unwanted_change"] = unwanted_change(inputs, edits, region_masks)
        if judge_logits is not None:
            scores["expression_accuracy"] = expression_accuracy(judge_logits, target_expressions)
        if self.embed_fn is not None:
            scores["acd"] = average_content_distance(self.embed_fn, inputs, edits)
        for name, values in scores.items():
            if values.shape[0] != inputs.shape[0]:
                raise ValueError(
                    f"{name} was computed for {values.shape[0]} images but the batch has {inputs.shape[0]}."
                )
            self._sums[name] = self._sums.get(name, 0.0) + float(values.double().sum())
            self._counts[name] = self._counts.get(name, 0) + values.shape[0]
        return self

    def compute(self) -> dict[str, float]:
        """Mean of each score over the images it was computed on."""
        if not self._counts:
            raise ValueError("No images were added; call update() first.")
        return {name: self._sums[name] / self._counts[name] for name in sorted(self._sums)}


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    check_image(a, "images", value_range=None)
    check_image(b, "images", value_range=None)
    if a.shape != b.shape:
        raise ValueError(f"The two image batches must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
