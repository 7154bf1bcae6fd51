"""A second instrument for the two expression measures the landmark net is blind to: the original landmarks'
image neighbourhoods tracked from the photo into its edit.

face-api's landmark net, run again on an edited photo, places the eyelid points where an average open eye of that
face would be (a shut eye reads as -0.01 eye distances, ``benchmarks/eye_opening_probe.py``) and the inner brow
ends from the face's overall shape (a known 0.10 pull of the brows together reads -1%,
``benchmarks/brow_readback.py``). So ``eye_opening`` and ``inner_brow_distance`` cannot show what an edit did to
the lids and brows, however visible it is.

This instrument reads the *visible motion of the pixels at the features* instead: the face region of both photos
is resampled (identically) so that the eyes lie ``TRACKING_EYE_DISTANCE`` pixels apart, so the flow's patches are a
fixed share of the face whatever the photo's size, and lightly low-passed (``PREFILTER_SIGMA``); a dense optical
flow (OpenCV's DIS flow, Kroeger et al. 2016, a standard method that knows nothing of how the edit was made) is
computed from the original into the edit and back, and each landmark found on the original is carried by it.

Dense flow rather than one registration per landmark: DIS matches small patches (``DIS_PATCH_SIZE``) everywhere
and then smooths the matches into one field, so a landmark on a feature with little texture along one direction
(a brow's inner end, a lid's middle) is carried by its neighbours' agreement instead of sliding along the edge,
and a strong move (a widened eye) is still followed. Registering each landmark's window on its own (Lucas-Kanade)
loses exactly those points; ``docs/real_photos.md`` compares the two.

A point carried forward and then back must return within ``MAX_ROUND_TRIP`` eye distances of where it started;
otherwise (the neighbourhood vanished, e.g. an eye closed over it, or was repainted) it is *not measured* (NaN),
never guessed, and every measure that reads it is not measured either. The measures themselves are those of
:func:`~hf_segan.metrics.expression_geometry.expression_measures`, computed from the tracked points.

What it does not say: whether a face model (or a person) reads the expression. It says how far the lids and brow
heads visibly moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from ..warp_field import eye_distance
from .expression_geometry import MEASURES, THRESHOLDS, MeasureCheck, score_edit

#: The measures this instrument reports: those the landmark net is shown to be blind to.
TRACKED_MEASURES: tuple[str, ...] = ("eye_opening", "inner_brow_distance")
#: Eye distance (pixels) the face region is resampled to before tracking.
TRACKING_EYE_DISTANCE = 128
#: Side (pixels, at ``TRACKING_EYE_DISTANCE``) of the patches DIS matches: 0.06 eye distances, small enough that a
#: lid's patch holds the lid edge and not the whole eye (a larger one averages the lid's move with the still eye
#: corners and brow).
DIS_PATCH_SIZE = 8
#: Largest forward-backward error (eye distances) of a point that counts as tracked.
MAX_ROUND_TRIP = 0.02
#: Gaussian low-pass (sigma, eye distances) of both resampled regions before tracking: it takes out JPEG blocks
#: and aliasing that make a small patch match a different place each way.
PREFILTER_SIGMA = 0.012
#: Margin (eye distances) around the landmarks' bounding box of the face region that is tracked in.
REGION_MARGIN = 0.6


def _grey(image: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(
            f"{name} must be a uint8 grey (H, W) or RGB(A) (H, W, 3|4) image; got {array.dtype} {array.shape}"
        )
    return array if array.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)


def _dense_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32: where each pixel of ``source`` lies in ``target`` (same size), as a displacement."""
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow.setPatchSize(DIS_PATCH_SIZE)
    return flow.calc(source, target, None)


def _carry(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (N, 2) moved by the dense ``flow``, read bilinearly at each point."""
    x, y = (points[:, axis].astype(np.float32).reshape(-1, 1) for axis in (0, 1))
    moves = cv2.remap(flow, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return points + moves.reshape(-1, 2).astype(np.float64)


def track_landmarks(original: np.ndarray, edited: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Where each of the (68, 2) ``points`` of ``original`` lies in ``edited`` (same size), found by tracking its
    image neighbourhood; NaN for a point whose forward-backward round trip misses (see the module docstring)."""
    source, target = _grey(original, "original"), _grey(edited, "edited")
    if source.shape != target.shape:
        raise ValueError(f"The edited photo must have the original's size {source.shape}; got {target.shape}.")
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise ValueError(f"points must be 68 finite (x, y) iBUG-300W landmarks, shape (68, 2); got {points.shape}.")
    distance = eye_distance(points)
    scale = TRACKING_EYE_DISTANCE / distance
    height, width = source.shape
    low = np.maximum(np.floor(points.min(0) - REGION_MARGIN * distance), 0)
    high = np.minimum(np.ceil(points.max(0) + REGION_MARGIN * distance), [width, height])
    matrix = np.array([[scale, 0.0, -scale * low[0]], [0.0, scale, -scale * low[1]]])
    size = tuple(int(np.ceil(side * scale)) for side in high - low)
    sigma = PREFILTER_SIGMA * TRACKING_EYE_DISTANCE
    regions = [
        cv2.GaussianBlur(
            cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE), (0, 0), sigma
        )
        for image in (source, target)
    ]
    start = (points - low) * scale
    forward = _carry(_dense_flow(*regions), start)
    back = _carry(_dense_flow(regions[1], regions[0]), forward)
    tracked = np.linalg.norm(back - start, axis=1) <= MAX_ROUND_TRIP * TRACKING_EYE_DISTANCE
    result = forward / scale + low
    result[~tracked] = np.nan
    return result


def tracked_checks(
    original: np.ndarray,
    edited: np.ndarray,
    points: np.ndarray,
    target: str,
    intensity: float = 1.0,
    measures: Sequence[str] = TRACKED_MEASURES,
    thresholds: Mapping[str, float] = THRESHOLDS,
) -> list[MeasureCheck]:
    """The checks of :func:`~hf_segan.metrics.expression_geometry.score_edit` for ``measures`` (those the target
    judges), with the landmarks after the edit read by :func:`track_landmarks` from the original ``points``. A
    measure whose points could not be tracked is not measured (``MeasureCheck.measured`` False) and fails."""
    unknown = [measure for measure in measures if measure not in MEASURES]
    if unknown:
        raise ValueError(f"Unknown measure(s) {unknown}; the expression measures are {MEASURES}.")
    after = track_landmarks(original, edited, points)
    checks = score_edit(points, after, target, intensity, thresholds, allow_missing=True)
    return [check for check in checks if check.measure in measures]
