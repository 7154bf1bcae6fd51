"""The inside of a mouth that an edit opens: a warp cannot show what the photo never had.

When the inner-lip contour of the target encloses more area than the source's, the new gap is filled with a dark
gradient made only from the face's own colours: the darkest pixels along the source's lip meeting line (the
shadow between the lips) in the middle, shading to the lip line's median colour at the gap's edge, feathered into
the warped lips. There are no teeth or tongue: an open mouth reads as a dark opening, as in a shadowed photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from .landmarks import LANDMARK_GROUPS
from .warp_field import eye_distance

INNER_LIPS = list(LANDMARK_GROUPS["inner_lips"])
#: Openings smaller than this (area in squared eye distances) are left to the warp: a sliver needs no interior.
MIN_OPENING_AREA = 0.002
#: Share of the lip line's pixels, by luminance, whose mean colour is the mouth's darkest shade.
DARKEST_SHARE = 0.1
LUMINANCE = np.array([0.299, 0.587, 0.114])


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def lip_line_colors(photo: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(darkest, median)`` RGB colours (float) of the photo's pixels along the source's inner-lip contour."""
    distance = eye_distance(source)
    mask = np.zeros(photo.shape[:2], np.uint8)
    line = np.round(source[INNER_LIPS] * 16).astype(np.int32)
    cv2.polylines(mask, [line], True, 1, max(2, round(0.04 * distance)), cv2.LINE_8, 4)
    pixels = photo[mask > 0].astype(np.float64)
    if len(pixels) == 0:
        raise ValueError("The mouth's landmarks lie outside the photo; cannot take its colours.")
    luminance = pixels @ LUMINANCE
    order = np.argsort(luminance)
    darkest = pixels[order[: max(1, round(DARKEST_SHARE * len(pixels)))]].mean(0)
    return darkest, pixels[order[len(order) // 2]]


def fill_opened_mouth(
    warped: np.ndarray, original: np.ndarray, source: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Paint the newly opened part of the mouth of ``warped`` (photo pixels, landmarks ``target``) with the dark
    lip-line colours of ``original`` (landmarks ``source``). Returns ``(result, painted)``, ``painted`` the (H, W)
    bool mask of pixels it changed (empty when the mouth did not open)."""
    painted = np.zeros(warped.shape[:2], bool)
    distance = eye_distance(source)
    source_area, target_area = _area(source[INNER_LIPS]), _area(target[INNER_LIPS])
    if target_area <= source_area or target_area < MIN_OPENING_AREA * distance**2:
        return warped, painted
    opened = 1.0 - source_area / target_area
    height, width = warped.shape[:2]
    pad = max(2, round(0.1 * distance))
    x0, y0 = np.floor(target[INNER_LIPS].min(0)).astype(int) - pad
    x1, y1 = np.ceil(target[INNER_LIPS].max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return warped, painted
    polygon = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(polygon, [np.round((target[INNER_LIPS] - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    depth = cv2.distanceTransform(polygon, cv2.DIST_L2, 3)
    if depth.max() <= 0:
        return warped, painted
    # the feather lies inside the opening, so the lips' own edge stays where the warp put it
    alpha = opened * np.clip(depth / max(1.0, 0.03 * distance), 0.0, 1.0)
    darkest, median = lip_line_colors(original, source)
    shade = np.clip(depth / depth.max() * 2.0, 0.0, 1.0)[..., None]
    color = median + (darkest - median) * (shade * shade * (3 - 2 * shade))
    region = warped[y0:y1, x0:x1].astype(np.float64)
    blended = region + alpha[..., None] * (color - region)
    result = warped.copy()
    result[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    painted[y0:y1, x0:x1] = alpha > 0
    return result, painted
