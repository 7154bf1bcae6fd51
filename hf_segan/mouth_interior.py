"""The inside of a mouth that an edit opens: a warp cannot show what the photo never had.

Inside the target's inner-lip contour the warp would only stretch what lay between the lips. There, the mouth is
redrawn from the face's own colours: where the source mouth was already open, its interior (teeth) as it was,
unwarped, so teeth are never stretched; where the opening is new, a dark gradient from the darkest pixels along
the source's lip meeting line (the shadow between the lips) in the middle to the lip line's median colour at the
edge, feathered into the warped lips. A painted pixel whose colour the original photo does not have (within
:data:`NEARBY_COLOUR_TOLERANCE` levels) within :data:`NEARBY_COLOUR_RADIUS` of it takes the closest colour that it
does have there, so the fill adds no colour the face did not have there (the darkest lip-line shade may lie only in
the mouth's corners, far from the middle of a smile's teeth). No new teeth or tongue
appear: a newly opened mouth reads as a dark opening, as in a shadowed photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from .landmarks import LANDMARK_GROUPS
from .nearby_colours import snap_to_nearby_colours
from .warp_field import eye_distance

INNER_LIPS = list(LANDMARK_GROUPS["inner_lips"])
#: Openings smaller than this (area in squared eye distances) are left to the warp: a sliver needs no interior.
MIN_OPENING_AREA = 0.002
#: Share of the lip line's pixels, by luminance, whose mean colour is the mouth's darkest shade.
DARKEST_SHARE = 0.1
LUMINANCE = np.array([0.299, 0.587, 0.114])
#: How far (eye distances) from a painted pixel the fill may take its colour: inside the 0.25 eye distances the
#: real-photo fidelity metric searches for a pixel's colour in the original, with room for rounding.
NEARBY_COLOUR_RADIUS = 0.2
#: Largest per-channel difference (8-bit levels) from some nearby original colour that a painted colour may keep:
#: half the metric's 16, so the gradient stays smooth where the photo has such shades and nothing new appears.
NEARBY_COLOUR_TOLERANCE = 8


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def lip_line_colors(photo: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(darkest, median)`` RGB colours (float) of the photo's pixels along the source's inner-lip contour."""
    distance = eye_distance(source)
    thickness = max(2, round(0.04 * distance))
    # the line is drawn only in the lips' bounding box (grown by the line's width): what it covers of the photo,
    # in the same row-major order, at the cost of the mouth rather than of the photo
    height, width = photo.shape[:2]
    x0, y0 = (np.floor(source[INNER_LIPS].min(0)).astype(int) - thickness - 1).clip(0, [width, height])
    x1, y1 = (np.ceil(source[INNER_LIPS].max(0)).astype(int) + thickness + 2).clip(0, [width, height])
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    line = np.round((source[INNER_LIPS] - (x0, y0)) * 16).astype(np.int32)
    cv2.polylines(mask, [line], True, 1, thickness, cv2.LINE_8, 4)
    pixels = photo[y0:y1, x0:x1][mask > 0].astype(np.float64)
    if len(pixels) == 0:
        raise ValueError("The mouth's landmarks lie outside the photo; cannot take its colours.")
    luminance = pixels @ LUMINANCE
    order = np.argsort(luminance)
    darkest = pixels[order[: max(1, round(DARKEST_SHARE * len(pixels)))]].mean(0)
    return darkest, pixels[order[len(order) // 2]]


def _polygon_mask(points: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((points - origin) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask


def fill_opened_mouth(
    warped: np.ndarray, original: np.ndarray, source: np.ndarray, target: np.ndarray, *, in_place: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Redraw the inside of the mouth of ``warped`` (photo pixels, landmarks ``target``) from ``original``
    (landmarks ``source``): where the new opening overlaps the old one, the original interior (teeth) unwarped, so
    teeth are never stretched; where it is new, the dark lip-line gradient. Returns ``(result, painted)``,
    ``painted`` the (H, W) bool mask of pixels it changed (empty when the target mouth is closed).

    ``result`` is a new photo, or with ``in_place`` ``warped`` itself, redrawn inside the mouth's box: for a
    caller that owns ``warped`` (the new photo :func:`~hf_segan.warp_field.warp_photo` returns), which saves a copy
    of the whole photo. ``original`` is only read."""
    painted = np.zeros(warped.shape[:2], bool)
    distance = eye_distance(source)
    if _area(target[INNER_LIPS]) < MIN_OPENING_AREA * distance**2:
        return warped, painted
    height, width = warped.shape[:2]
    pad = max(2, round(0.1 * distance))
    both = np.concatenate([source[INNER_LIPS], target[INNER_LIPS]])
    x0, y0 = np.floor(both.min(0)).astype(int) - pad
    x1, y1 = np.ceil(both.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return warped, painted
    shape = (y1 - y0, x1 - x0)
    opening = _polygon_mask(target[INNER_LIPS], (x0, y0), shape)
    depth = cv2.distanceTransform(opening, cv2.DIST_L2, 3)
    if depth.max() <= 0:
        return warped, painted
    feather = max(1.0, 0.03 * distance)
    # the feather lies inside the opening, so the lips' own edge stays where the warp put it
    alpha = np.clip(depth / feather, 0.0, 1.0)[..., None]
    old = cv2.GaussianBlur(_polygon_mask(source[INNER_LIPS], (x0, y0), shape).astype(np.float64), (0, 0), feather)
    darkest, median = lip_line_colors(original, source)
    shade = np.clip(depth / depth.max() * 2.0, 0.0, 1.0)[..., None]
    dark = median + (darkest - median) * (shade * shade * (3 - 2 * shade))
    interior = old[..., None] * original[y0:y1, x0:x1] + (1.0 - old[..., None]) * dark
    region = warped[y0:y1, x0:x1].astype(np.float64)
    blended = region + alpha * (interior - region)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(np.any(blended != warped[y0:y1, x0:x1], axis=-1))
    radius = max(1, int(NEARBY_COLOUR_RADIUS * distance))
    tolerance = NEARBY_COLOUR_TOLERANCE
    blended[ys, xs] = snap_to_nearby_colours(original, ys + y0, xs + x0, blended[ys, xs], radius, tolerance)
    painted[y0:y1, x0:x1] = np.any(blended != warped[y0:y1, x0:x1], axis=-1)
    result = warped if in_place else warped.copy()
    result[y0:y1, x0:x1] = blended
    return result, painted
