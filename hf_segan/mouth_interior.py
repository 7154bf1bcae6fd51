"""The inside of a mouth that an edit opens: a warp cannot show what the photo never had.

Inside the target's inner-lip contour the warp would only stretch what lay between the lips. There, the mouth is
redrawn from the face's own pixels and colours. Where the source mouth was already open, its interior (teeth) is
moved, not stretched: the part above the gap between the teeth rows (all of it when no such gap shows, as in a
smile that shows only the upper teeth) follows the upper lip, the part below it the lower lip, so a jaw that drops
parts the teeth rows instead of leaving the teeth where they were or stretching them. What no source interior
covers is new opening: a dark gradient from the darkest pixels along the source's lip meeting line (the shadow
between the lips) in the middle to the lip line's median colour at the edge, feathered into the warped lips. A
painted pixel whose colour the original photo does not have (within :data:`NEARBY_COLOUR_TOLERANCE` levels) within
:data:`NEARBY_COLOUR_RADIUS` of it, nor anywhere in its mouth (the mouth is one place: its shadow, often seen only
in a smile's corners, is what its opening shows; :func:`~hf_segan.nearby_colours.in_mouth_zone`), takes the closest
colour that it does have there, so the fill adds no colour the face did not have there. No new teeth or tongue
appear: a newly opened mouth reads as a dark opening, as in a shadowed photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from .landmarks import LANDMARK_GROUPS
from .nearby_colours import snap_to_nearby_or_mouth_colours
from .warp_field import RESAMPLING, eye_distance, polygon_mask

INNER_LIPS = list(LANDMARK_GROUPS["inner_lips"])
#: The inner-lip contour's upper and lower halves, each from the image-left corner (60) to the right one (64).
UPPER_INNER_LIP = [60, 61, 62, 63, 64]
LOWER_INNER_LIP = [60, 67, 66, 65, 64]
#: A row of the source opening splits its interior into an upper and a lower part (two rows of teeth) only when it
#: is this much darker than the interior's median: the dark gap between parted teeth, not the shade between two
#: teeth of one row.
TEETH_GAP_DARKNESS = 0.6
#: The redrawn interior is low-passed by a Gaussian of this many pixels. Its edges are new (resampled teeth against
#: the mouth's own shadow, which may now fill the whole opening) and, drawn crisp, they were sharper than a photo
#: that had been resampled itself: on the development photos turned by 10 degrees the face box's variance of the
#: Laplacian rose to 1.11-1.15 of the original's, past the 10% bound (1.09 at most with this blur). In pixels, not eye
#: distances: it stands for a resampling's softness, which is per pixel whatever the size of the face.
INTERIOR_SOFTNESS = 0.4
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


def _mouth_frame(source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(origin, along, down)``: the inner-lip corner 60 and unit vectors from it toward corner 64 and, at a right
    angle, toward the chin (photo pixels, y down), so that the fill follows a mouth that is turned in the photo."""
    along = source[64] - source[60]
    along = along / max(float(np.linalg.norm(along)), 1e-6)
    down = np.array([-along[1], along[0]])
    if np.dot(down, source[57] - source[51]) < 0:
        down = -down
    return source[60], along, down


def _lip_moves_along(source: np.ndarray, target: np.ndarray, lip: list[int], s: np.ndarray) -> np.ndarray:
    """(..., 2) move of the ``lip`` contour (source -> target) at positions ``s`` along the mouth, interpolated
    between the contour's points (a corner's own move beyond the corners)."""
    origin, along, _ = _mouth_frame(source)
    at = (source[lip] - origin) @ along
    order = np.argsort(at)
    moves = target[lip] - source[lip]
    return np.stack([np.interp(s, at[order], moves[order, axis]) for axis in (0, 1)], -1)


def _contour_depth(source: np.ndarray, lip: list[int], s: np.ndarray) -> np.ndarray:
    """How far below the corner line (toward the chin) the ``lip`` contour runs at positions ``s`` along the
    mouth."""
    origin, along, down = _mouth_frame(source)
    at, depth = (source[lip] - origin) @ along, (source[lip] - origin) @ down
    order = np.argsort(at)
    return np.interp(s, at[order], depth[order])


def teeth_gap(original: np.ndarray, source: np.ndarray) -> float:
    """Where the source opening's interior splits into the part that moves with the upper lip and the part that
    moves with the lower lip, as a share of the opening's height (0 at the upper inner lip, 1 at the lower one):
    the darkest row of the middle half of the mouth when it is :data:`TEETH_GAP_DARKNESS` times darker than the
    interior's median (parted teeth rows), else 1 (one row of teeth, or none: all of it follows the upper lip)."""
    origin, along, down = _mouth_frame(source)
    width = float((source[64] - origin) @ along)
    s = np.linspace(0.25 * width, 0.75 * width, 16)
    top = origin + np.outer(s, along) + np.outer(_contour_depth(source, UPPER_INNER_LIP, s), down)
    bottom = origin + np.outer(s, along) + np.outer(_contour_depth(source, LOWER_INNER_LIP, s), down)
    if float(np.mean((bottom - top) @ down)) < 2.0:  # lips (nearly) together: no interior to split
        return 1.0
    shares = np.linspace(0.0, 1.0, 21)
    points = top[None] + shares[:, None, None] * (bottom - top)[None]
    colours = cv2.remap(
        original, points[..., 0].astype(np.float32), points[..., 1].astype(np.float32), cv2.INTER_LINEAR
    )
    rows = (colours.astype(np.float64) @ LUMINANCE).mean(1)
    inner = slice(4, 17)  # the middle 60% of the opening's height: the lips' own edges are not a gap
    darkest = int(np.argmin(rows[inner])) + inner.start
    return float(shares[darkest]) if rows[darkest] < TEETH_GAP_DARKNESS * float(np.median(rows)) else 1.0


def fill_opened_mouth(
    warped: np.ndarray, original: np.ndarray, source: np.ndarray, target: np.ndarray, *, in_place: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Redraw the inside of the mouth of ``warped`` (photo pixels, landmarks ``target``) from ``original``
    (landmarks ``source``): the original interior (teeth) moved with the lips, never stretched (see
    :func:`teeth_gap`); where no original interior reaches, the dark lip-line gradient. Returns ``(result, painted)``,
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
    opening = polygon_mask(target[INNER_LIPS], (x0, y0), shape)
    depth = cv2.distanceTransform(opening, cv2.DIST_L2, 3)
    if depth.max() <= 0:
        return warped, painted
    feather = max(1.0, 0.03 * distance)
    # the feather lies inside the opening, so the lips' own edge stays where the warp put it
    alpha = np.clip(depth / feather, 0.0, 1.0)[..., None]
    darkest, median = lip_line_colors(original, source)
    shade = np.clip(depth / depth.max() * 2.0, 0.0, 1.0)[..., None]
    dark = median + (darkest - median) * (shade * shade * (3 - 2 * shade))
    interior = _moved_interior(original, source, target, (x0, y0, x1, y1), feather, dark)
    interior = cv2.GaussianBlur(interior, (0, 0), INTERIOR_SOFTNESS)
    region = warped[y0:y1, x0:x1].astype(np.float64)
    blended = region + alpha * (interior - region)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    radius = max(1, int(NEARBY_COLOUR_RADIUS * distance))
    tolerance = NEARBY_COLOUR_TOLERANCE
    ys, xs = np.nonzero(np.any(blended != warped[y0:y1, x0:x1], axis=-1))
    blended[ys, xs] = snap_to_nearby_or_mouth_colours(
        original, ys + y0, xs + x0, blended[ys, xs], radius, tolerance, source
    )
    painted[y0:y1, x0:x1] = np.any(blended != warped[y0:y1, x0:x1], axis=-1)
    result = warped if in_place else warped.copy()
    result[y0:y1, x0:x1] = blended
    return result, painted


def _moved_interior(
    original: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    box: tuple[int, int, int, int],
    feather: float,
    dark: np.ndarray,
) -> np.ndarray:
    """(h, w, 3) float: the mouth's interior inside ``box`` = (x0, y0, x1, y1) of the photo, its source interior
    moved with the lips (the part above :func:`teeth_gap` with the upper inner lip, the rest with the lower one),
    over ``dark`` where no source interior reaches. The source opening's edge is feathered by ``feather`` pixels."""
    x0, y0, x1, y1 = box
    origin, along, down = _mouth_frame(source)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    pixels = np.stack([xs, ys], -1)
    s = (pixels - origin) @ along
    # the source opening, feathered, on the box (which holds both the source and the target mouth)
    opening = polygon_mask(source[INNER_LIPS], (x0, y0), xs.shape).astype(np.float32)
    opening = cv2.GaussianBlur(opening, (0, 0), feather)
    gap = teeth_gap(original, source)
    # sampling overshoot is clipped to the colours of the source pixels around the mouth, as in the warp itself
    low, high = original[y0:y1, x0:x1].reshape(-1, 3).min(0), original[y0:y1, x0:x1].reshape(-1, 3).max(0)
    interior = dark.copy()
    covered = np.zeros(xs.shape)
    top, bottom = _contour_depth(source, UPPER_INNER_LIP, s), _contour_depth(source, LOWER_INNER_LIP, s)
    parts = [(UPPER_INNER_LIP, "upper")] + ([(LOWER_INNER_LIP, "lower")] if gap < 1.0 else [])
    for lip, part in parts:
        came_from = pixels - _lip_moves_along(source, target, lip, s)
        map_x, map_y = came_from[..., 0].astype(np.float32), came_from[..., 1].astype(np.float32)
        share = ((came_from - origin) @ down - top) / np.maximum(bottom - top, 1e-6)
        side = share < gap if part == "upper" else share >= gap
        in_box_x, in_box_y = (map_x - np.float32(x0)), (map_y - np.float32(y0))
        weight = cv2.remap(opening, in_box_x, in_box_y, cv2.INTER_LINEAR, borderValue=0.0) * side
        weight = np.minimum(weight, 1.0 - covered)
        colours = cv2.remap(original, map_x, map_y, RESAMPLING, borderMode=cv2.BORDER_REFLECT)
        colours = np.clip(colours, low, high).astype(np.float64)
        interior += weight[..., None] * (colours - dark)
        covered += weight
    return interior
