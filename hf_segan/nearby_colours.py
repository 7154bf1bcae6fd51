"""The closest colour an image has near a pixel: what "no colour that was not there" means for an edit of a photo.

A warp brings each pixel's colour from nearby; paint brings colours from nowhere. Both the real-photo fidelity
metric (is each changed pixel's colour one the original had nearby?) and the opened mouth's fill (take only such
colours) ask the same question, answered here once.
"""

from __future__ import annotations

import numpy as np


def closest_nearby_colours(
    original: np.ndarray, ys: np.ndarray, xs: np.ndarray, colours: np.ndarray, radius: int
) -> np.ndarray:
    """For each pixel ``(ys[i], xs[i])``, the colour of ``original`` (H, W, C uint8) within ``radius`` pixels of it
    (a disc; the photo's edge repeats past its border) closest to ``colours[i]`` by the largest channel difference.

    Returns (N, C) uint8. The cost is the disc's area times the number of pixels asked about.
    """
    if not isinstance(radius, int | np.integer) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer number of pixels, got {radius!r}.")
    height, width = original.shape[:2]
    wanted = np.asarray(colours).astype(np.int16)
    offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    offsets = [(dy, dx) for dy, dx in offsets if dy * dy + dx * dx <= radius * radius]
    closest = np.full(len(ys), np.iinfo(np.int16).max, np.int16)
    chosen = np.zeros(len(ys), np.int32)
    for index, (dy, dx) in enumerate(offsets):
        nearby = original[np.clip(ys + dy, 0, height - 1), np.clip(xs + dx, 0, width - 1)].astype(np.int16)
        difference = np.abs(nearby - wanted).max(axis=1)
        better = difference < closest
        closest = np.where(better, difference, closest)
        chosen = np.where(better, index, chosen)
    picked = np.asarray(offsets)[chosen]
    return original[np.clip(ys + picked[:, 0], 0, height - 1), np.clip(xs + picked[:, 1], 0, width - 1)]
