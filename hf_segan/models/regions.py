"""Region masks for the hierarchical editor: which pixels each local generator (and local critic) is about.

Two ways to turn a face parser's per-pixel class probabilities into one mask per region group:

* :func:`soft_region_masks` sums the probabilities of a group's classes. The result is differentiable in the
  probabilities, so editor and critic losses flow back into the parser: this is what makes end-to-end training
  of parser and editor possible.
* :func:`box_region_masks` draws a hard axis-aligned box around each region and is detached: the landmark-box
  baseline, in which the regions carry location but neither shape nor gradient.

And where a local generator works when it decodes a window instead of the whole image: :func:`window_origins`
centres a window on each region, :func:`crop_windows` and :func:`paste_windows` move tensors into and out of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from ..constants import DEFAULT_REGION_GROUPS, FACE_PARSING_CLASSES, class_indices


def resolve_region_groups() -> dict[str, list[str]]:
    """The editor's region groups, :data:`DEFAULT_REGION_GROUPS` as JSON data sorted by name: mask channel ``r``
    is the ``r``-th group in name order, the order every editor was trained in (saved configs kept it, since
    diffusers writes them with sorted keys)."""
    return {name: list(classes) for name, classes in sorted(DEFAULT_REGION_GROUPS.items())}


def region_group_indices(
    region_groups: Mapping[str, Sequence[str]], classes: Sequence[str] = FACE_PARSING_CLASSES
) -> list[list[int]]:
    """Class indices of each group, in the groups' order (unknown class names raise a ValueError)."""
    return [class_indices(list(names), tuple(classes)) for names in region_groups.values()]


def dilate(masks: torch.Tensor, pixels: int) -> torch.Tensor:
    """Grow (B, C, H, W) ``masks`` by ``pixels`` in every direction: a (2p+1)x(2p+1) stride-1 max-pool.

    Done as a vertical then a horizontal pass, which gives exactly the same values as the square window (a max over
    a rectangle is a max of column maxima) for a fraction of the work: the square pool was a tenth of a fast-path
    edit's time. Max-pooling routes the gradient to an arg-max pixel, so dilated masks stay differentiable.
    """
    if pixels == 0:
        return masks
    masks = F.max_pool2d(masks, kernel_size=(2 * pixels + 1, 1), stride=1, padding=(pixels, 0))
    return F.max_pool2d(masks, kernel_size=(1, 2 * pixels + 1), stride=1, padding=(0, pixels))


def soft_region_masks(probs: torch.Tensor, group_indices: Sequence[Sequence[int]], dilation: int = 0) -> torch.Tensor:
    """One soft mask per group: the sum of the group's class probabilities, clamped to [0, 1].

    Args:
        probs: (B, C, H, W) class probabilities (softmax of a parser's logits).
        group_indices: for each group, the class indices it gathers.
        dilation: grow each mask by this many pixels (:func:`dilate`; differentiable).

    Returns:
        (B, R, H, W) masks, R = ``len(group_indices)``.
    """
    if probs.ndim != 4:
        raise ValueError(f"`probs` must have shape (B, C, H, W), got shape {tuple(probs.shape)}.")
    if not isinstance(dilation, int) or dilation < 0:
        raise ValueError(f"`dilation` must be an integer >= 0 (pixels), got {dilation!r}.")
    num_classes = probs.shape[1]
    for indices in group_indices:
        if len(indices) == 0:
            raise ValueError("Every region group needs at least one class index; got an empty group.")
        if any(not 0 <= index < num_classes for index in indices):
            raise ValueError(f"Class indices {list(indices)} out of range for `probs` with {num_classes} classes.")
    if not group_indices:
        return probs.new_zeros(probs.shape[0], 0, *probs.shape[2:])
    masks = torch.stack([probs[:, list(indices)].sum(1) for indices in group_indices], dim=1).clamp(0.0, 1.0)
    return dilate(masks, dilation)


def box_region_masks(masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard axis-aligned bounding boxes of the pixels where each mask exceeds ``threshold``; detached.

    Args:
        masks: (B, R, H, W) region masks (e.g. from :func:`soft_region_masks`).
        threshold: a pixel belongs to a region when its mask value is strictly greater than this.

    Returns:
        (B, R, H, W) masks of 0/1 in ``masks``' dtype: 1 inside the box spanning the region's first to last row
        and first to last column; all zeros for a region with no pixel above the threshold.
    """
    if masks.ndim != 4:
        raise ValueError(f"`masks` must have shape (B, R, H, W), got shape {tuple(masks.shape)}.")
    inside = masks.detach() > threshold
    rows = _span(inside.any(dim=-1))
    cols = _span(inside.any(dim=-2))
    return (rows.unsqueeze(-1) & cols.unsqueeze(-2)).to(masks.dtype)


def _span(hits: torch.Tensor) -> torch.Tensor:
    """Along the last dim, mark everything from the first to the last ``True`` (both included)."""
    hits = hits.to(torch.uint8)
    after_first = hits.cummax(dim=-1).values
    before_last = hits.flip(-1).cummax(dim=-1).values.flip(-1)
    return (after_first & before_last).bool()


def window_origins(
    masks: torch.Tensor, size: tuple[int, int], stride: int = 1, threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corners of a window of ``size`` (rows, columns) cells of ``stride`` x ``stride`` pixels, centred
    on where each mask exceeds ``threshold``.

    The centre is the mean position weighted by ``mask - threshold`` where positive: a parser's small
    probabilities spread over the whole face would otherwise pull every window toward the image centre. It is
    taken at full resolution: averaged into cells, a lip two pixels high no longer exceeds the threshold.

    Args:
        masks: (B, H, W) soft masks, H and W multiples of ``stride``; only where they are, not their gradient,
            places the window.
        size: window height and width in cells, at most H / stride and W / stride.
        stride: cell side in pixels; windows start on cell boundaries.
        threshold: mask values at or below it do not place the window.

    Returns:
        (B,) first rows and (B,) first columns in cells, integers, clamped so that every window lies inside the
        image. A mask nowhere above the threshold (a region the parser did not find) gets the top-left window.
    """
    masks = (masks.detach().float() - threshold).clamp(min=0.0)
    height, width = (int(n) for n in masks.shape[-2:])
    total = masks.sum((-2, -1)).clamp(min=1e-6)
    centres = []
    for profile, length in ((masks.sum(-1), height), (masks.sum(-2), width)):
        coordinates = torch.arange(length, device=masks.device, dtype=torch.float32) + 0.5
        centres.append((profile * coordinates).sum(-1) / total / stride)
    return tuple(
        torch.round(centre - extent / 2).clamp(0, length // stride - extent).long()
        for centre, extent, length in zip(centres, size, (height, width), strict=True)
    )


def _gather_grid(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, h, w): for each image the rows ``rows[b]`` (B, h) and columns ``cols[b]`` (B, w).
    An index gather, so the gradient flows back to the gathered entries of ``x``."""
    batch, channels = x.shape[:2]
    x = x.gather(2, rows[:, None, :, None].expand(batch, channels, rows.shape[1], x.shape[3]))
    return x.gather(3, cols[:, None, None, :].expand(batch, channels, rows.shape[1], cols.shape[1]))


def crop_windows(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, *size): each image's window whose top-left corner is (``top[b]``, ``left[b]``)."""
    rows = top[:, None] + torch.arange(size[0], device=x.device)
    cols = left[:, None] + torch.arange(size[1], device=x.device)
    return _gather_grid(x, rows, cols)


def paste_windows(
    windows: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`crop_windows`: (B, C, h, w) windows placed in a zero (B, C, *size) canvas.

    Returns the canvas and (B, 1, *size) 0/1 indicators of where each window lies.
    """
    height, width = windows.shape[-2:]
    rows = torch.arange(size[0], device=windows.device) - top[:, None]
    cols = torch.arange(size[1], device=windows.device) - left[:, None]
    inside = ((rows >= 0) & (rows < height))[:, None, :, None] & ((cols >= 0) & (cols < width))[:, None, None, :]
    canvas = _gather_grid(windows, rows.clamp(0, height - 1), cols.clamp(0, width - 1))
    inside = inside.to(windows.dtype)
    return canvas * inside, inside
