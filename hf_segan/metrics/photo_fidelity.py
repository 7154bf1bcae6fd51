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
- ``new_colour_fraction``: share of the region's edited pixels whose colour bin (and every neighbouring bin) is
  empty in the original region, at most ``MAX_NEW_COLOUR_FRACTION``.

``docs/real_photos.md`` says why each bound is what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from ..alignment import check_rgb
from .expression_geometry import LEFT_EYE, RIGHT_EYE

#: Growth of the landmark hull, in inter-ocular distances, that an edit may reach: a geometric edit moves skin
#: around the features (forehead above raised brows, cheeks beside a widened mouth), not only the hull itself.
EDITABLE_MARGIN = 0.5
#: The issue's bound: the face's Laplacian variance stays within 10% of the original's.
SHARPNESS_TOLERANCE = 0.10
#: CIELAB Delta-E 1976 of about 2.3 is the just-noticeable difference of two flat colours; a mean over a face
#: must stay below it.
MAX_MEAN_COLOUR_SHIFT = 2.0
#: Side of a colour bin in 8-bit levels for ``new_colour_fraction``.
COLOUR_BIN = 16
#: Share of a face's pixels that may land in colour bins far from every colour of the original face.
MAX_NEW_COLOUR_FRACTION = 0.005


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
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"points must be 68 (x, y) landmarks, shape (68, 2); got {points.shape}.")
    height, width = int(shape[0]), int(shape[1])
    distance = float(np.linalg.norm(points[list(RIGHT_EYE)].mean(0) - points[list(LEFT_EYE)].mean(0)))
    hull = cv2.convexHull(np.round(points).astype(np.int32))
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
    original: np.ndarray, edited: np.ndarray, region: np.ndarray, bin_size: int = COLOUR_BIN
) -> float:
    """Share of ``region``'s pixels in the edit whose colour is new to the face.

    Colours are binned in RGB cubes of ``bin_size`` levels; the original region's occupied bins, grown by one bin
    in every direction (so the blends of neighbouring pixels that any resampling makes, and 8-bit noise, are not
    new), are the face's colours. A pixel of the edit outside them is a colour the face did not have.
    """
    _check_pair(original, edited)
    mask = _check_mask(region, original.shape)
    if not isinstance(bin_size, int) or not 1 <= bin_size <= 128:
        raise ValueError(f"bin_size must be an integer from 1 to 128 levels, got {bin_size!r}.")
    bins = -(-256 // bin_size)
    known = np.zeros((bins,) * 3, bool)
    index = original[mask].astype(np.int64) // bin_size
    known[index[:, 0], index[:, 1], index[:, 2]] = True
    known = ndimage.binary_dilation(known, np.ones((3, 3, 3), bool))
    edited_index = edited[mask].astype(np.int64) // bin_size
    return float((~known[edited_index[:, 0], edited_index[:, 1], edited_index[:, 2]]).mean())


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
    return FidelityReport(
        outside_unchanged=outside_unchanged_fraction(original, edited, region),
        sharpness_ratio=sharpness_ratio(original, edited, face_box),
        mean_colour_shift=mean_colour_shift(original, edited, region),
        new_colour_fraction=new_colour_fraction(original, edited, region),
    )
