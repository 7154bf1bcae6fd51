"""Region masks for the hierarchical editor: which pixels each local generator (and local critic) is about.

Two ways to turn a face parser's per-pixel class probabilities into one mask per region group:

* :func:`soft_region_masks` sums the probabilities of a group's classes. The result is differentiable in the
  probabilities, so editor and critic losses flow back into the parser: this is what makes end-to-end training
  of parser and editor possible.
* :func:`box_region_masks` draws a hard axis-aligned box around each region and is detached: the landmark-box
  baseline, in which the regions carry location but neither shape nor gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from ..constants import DEFAULT_REGION_GROUPS, FACE_PARSING_CLASSES, class_indices


def resolve_region_groups(
    region_groups: Mapping[str, Sequence[str]] | None, classes: Sequence[str] = FACE_PARSING_CLASSES
) -> dict[str, list[str]]:
    """Validate a ``{group name: [class names]}`` mapping (``None`` -> ``DEFAULT_REGION_GROUPS``) as JSON data.

    Groups come back sorted by name: diffusers writes configs with sorted keys, so any other order would not
    survive ``save_pretrained``/``from_pretrained`` and local generators would be reloaded onto the wrong regions.
    """
    groups = DEFAULT_REGION_GROUPS if region_groups is None else region_groups
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(
            f"`region_groups` must be a non-empty dict of group name -> list of class names, got {groups!r}."
        )
    resolved = {}
    for name, names in sorted(groups.items()):
        if isinstance(names, str) or not names:
            raise ValueError(f"Region group {name!r} must be a non-empty list of class names, got {names!r}.")
        class_indices(list(names), tuple(classes))
        resolved[str(name)] = list(names)
    return resolved


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
