"""Is an edited photo still the same photo? Fidelity checks that need no ground truth.

An expression edit of a photo may move the face's own pixels, but it must not touch anything else, blur the face,
tint it, or paint colours that were not in it (the synthetic textures a SynthFaces-trained colour branch would
add). Each check compares the edit with the original photo only, in regions fixed by the *original* face's
landmarks, so an edit cannot move the goalposts:

- ``editable_region``: the landmarks' convex hull grown by ``EDITABLE_MARGIN`` inter-ocular distances; every pixel
  outside it must be bit-identical (``outside_unchanged_fraction`` = 1);
- ``sharpness_ratio``: variance of the Laplacian inside the face box, edit over original, within
  ``SHARPNESS_TOLERANCE`` of 1;
- ``mean_colour_shift``: CIELAB distance of the mean colour inside the editable region, at most
  ``MAX_MEAN_COLOUR_SHIFT``;
- ``new_colour_fraction``: share of the region's pixels whose edited colour is more than ``COLOUR_TOLERANCE``
  levels from every original colour within ``COLOUR_SEARCH_RADIUS`` inter-ocular distances of it, at most
  ``MAX_NEW_COLOUR_FRACTION``. A warp only brings colours from nearby; paint brings colours from nowhere, or from
  elsewhere in the face (grey "brows" on a forehead are colours of the face, but not of the forehead). The mouth
  is one place: near it, every colour of the original mouth counts as nearby (an opening mouth shows its own
  shadow across the opening; :func:`~hf_segan.nearby_colours.in_mouth_zone`).

``docs/real_photos.md`` says why each bound is what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..alignment import check_rgb
from ..nearby_colours import snap_to_nearby_colours, snap_to_nearby_or_mouth_colours
from .expression_geometry import eye_centres

#: Growth of the landmark hull, in inter-ocular distances, that an edit may reach: a geometric edit moves skin
#: around the features (forehead above raised brows, cheeks beside a widened mouth), not only the hull itself.
EDITABLE_MARGIN = 0.5
#: The issue's bound: the face's Laplacian variance stays within 10% of the original's.
SHARPNESS_TOLERANCE = 0.10
#: CIELAB Delta-E 1976 of about 2.3 is the just-noticeable difference of two flat colours; a mean over a face
#: must stay below it.
MAX_MEAN_COLOUR_SHIFT = 2.0
#: How far (inter-ocular distances) a geometric edit may bring a colour from: twice the mouth-corner movement
#: known to read clearly as happy (0.12).
COLOUR_SEARCH_RADIUS = 0.25
#: Largest per-channel difference (8-bit levels) between an edited pixel and some nearby original pixel for its
#: colour to count as already there: the change the issue counted as visible paint is "more than 16 levels".
COLOUR_TOLERANCE = 16
#: Share of the editable region's pixels that may carry new colours: resampling blends across the sharpest
#: edges (teeth against lips) may be a little further from both sides than the tolerance.
MAX_NEW_COLOUR_FRACTION = 0.001


def _check_pair(original: np.ndarray, edited: np.ndarray) -> None:
    check_rgb(original, "original")
    check_rgb(edited, "edited")
    if original.shape != edited.shape:
        raise ValueError(f"The edit must have the original's shape {original.shape}, got {edited.shape}.")


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(mask)
    if array.shape != shape[:2] or array.dtype != bool:
        raise ValueError(
            f"The region must be a boolean (H, W) mask of shape {shape[:2]}, got {array.dtype} {array.shape}."
        )
    if not array.any():
        raise ValueError("The region is empty; there is no face to measure.")
    return array


def editable_region(shape: Sequence[int], points: np.ndarray, margin: float = EDITABLE_MARGIN) -> np.ndarray:
    """Boolean (H, W) mask: the convex hull of the face's 68 landmarks grown by ``margin`` inter-ocular
    distances (a disc-shaped dilation), clipped to the photo."""
    left, right = eye_centres(points)
    height, width = int(shape[0]), int(shape[1])
    distance = float(np.linalg.norm(right - left))
    hull = cv2.convexHull(np.round(np.asarray(points)).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    radius = max(0, round(margin * distance))
    if radius:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, disc)
    return mask.astype(bool)


def box_mask(shape: Sequence[int], box: Sequence[float]) -> np.ndarray:
    """Boolean (H, W) mask of an (x, y, width, height) box, clipped to the photo."""
    height, width = int(shape[0]), int(shape[1])
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[0] + box[2]))), min(height, int(np.ceil(box[1] + box[3])))
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def outside_unchanged_fraction(original: np.ndarray, edited: np.ndarray, region: np.ndarray) -> float:
    """Share of the pixels outside ``region`` whose three channels are all bit-identical in the edit."""
    _check_pair(original, edited)
    outside = ~_check_mask(region, original.shape)
    if not outside.any():
        raise ValueError("The region covers the whole photo; there is no outside to compare.")
    same = (original == edited).all(axis=2)
    return float(same[outside].mean())


def laplacian_variance(rgb: np.ndarray, region: np.ndarray) -> float:
    """Variance of the grey image's 3x3 Laplacian over ``region``: the usual focus measure."""
    check_rgb(rgb, "rgb")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F, ksize=1)[_check_mask(region, rgb.shape)].var())


def sharpness_ratio(original: np.ndarray, edited: np.ndarray, region: np.ndarray) -> float:
    """``laplacian_variance`` of the edit over that of the original, inside ``region`` (1 = as sharp)."""
    _check_pair(original, edited)
    reference = laplacian_variance(original, region)
    if reference <= 0:
        raise ValueError("The original face is perfectly flat (zero Laplacian variance); sharpness has no ratio.")
    return laplacian_variance(edited, region) / reference


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).astype(np.float64)


def mean_colour_shift(original: np.ndarray, edited: np.ndarray, region: np.ndarray) -> float:
    """CIELAB Delta-E 1976 between the mean colours of ``region`` in the original and in the edit."""
    _check_pair(original, edited)
    mask = _check_mask(region, original.shape)
    return float(np.linalg.norm(_lab(original)[mask].mean(0) - _lab(edited)[mask].mean(0)))


def new_colour_fraction(
    original: np.ndarray,
    edited: np.ndarray,
    region: np.ndarray,
    radius: int,
    tolerance: int = COLOUR_TOLERANCE,
    points: np.ndarray | None = None,
) -> float:
    """Share of ``region``'s pixels whose edited colour is new where it is: more than ``tolerance`` levels (in
    some channel) from every original pixel within ``radius`` pixels (a disc) and, with the face's landmarks
    ``points``, for a pixel in the mouth's zone, from every colour of the original mouth.

    Only changed pixels can be new; each is looked for among the original's colours in its disc
    (:func:`~hf_segan.nearby_colours.snap_to_nearby_colours`).
    """
    _check_pair(original, edited)
    mask = _check_mask(region, original.shape)
    if not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer number of pixels, got {radius!r}.")
    ys, xs = np.nonzero(mask & (original != edited).any(axis=2))
    if len(ys) == 0:
        return 0.0
    colours = edited[ys, xs]
    if points is None:
        snapped = snap_to_nearby_colours(original, ys, xs, colours, radius, tolerance)
    else:
        snapped = snap_to_nearby_or_mouth_colours(original, ys, xs, colours, radius, tolerance, points)
    new = np.any(snapped != colours, axis=1)
    return float(new.sum() / mask.sum())


@dataclass(frozen=True)
class FidelityReport:
    """The four fidelity numbers of one edited photo and whether each is within its bound."""

    outside_unchanged: float
    sharpness_ratio: float
    mean_colour_shift: float
    new_colour_fraction: float

    @property
    def outside_passed(self) -> bool:
        return self.outside_unchanged == 1.0

    @property
    def sharpness_passed(self) -> bool:
        return abs(self.sharpness_ratio - 1.0) <= SHARPNESS_TOLERANCE

    @property
    def colour_passed(self) -> bool:
        return self.mean_colour_shift <= MAX_MEAN_COLOUR_SHIFT and self.new_colour_fraction <= MAX_NEW_COLOUR_FRACTION


def photo_fidelity(
    original: np.ndarray, edited: np.ndarray, points: np.ndarray, box: Sequence[float]
) -> FidelityReport:
    """All fidelity checks of ``edited`` against ``original`` for the face whose landmarks (``points``) and box
    (x, y, width, height) were found on the original."""
    region = editable_region(original.shape, points)
    face_box = box_mask(original.shape, box)
    left, right = eye_centres(points)
    radius = round(COLOUR_SEARCH_RADIUS * float(np.linalg.norm(right - left)))
    return FidelityReport(
        outside_unchanged=outside_unchanged_fraction(original, edited, region),
        sharpness_ratio=sharpness_ratio(original, edited, face_box),
        mean_colour_shift=mean_colour_shift(original, edited, region),
        new_colour_fraction=new_colour_fraction(original, edited, region, radius, points=points),
    )
