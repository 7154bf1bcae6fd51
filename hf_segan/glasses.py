"""Does a face wear glasses? Two straight edges that skin does not have, read off the aligned crop.

Why it matters: face-api's landmark net puts the brows of a face with glasses on the frame's top rim (the brows
behind it are hidden or faint), and the geometric edit moves the photo's pixels at the landmarks. Raising or
lowering those "brows" bends the frame, which real glasses never do (Grace Hopper's surprise arched and thickened
her frame's top rim). Knowing the glasses are there, :func:`~hf_segan.photo_geometry.edit_face_geometry` holds
the landmarks' brows, and with them the frame, where they are, and moves the brows above the frame instead
(:func:`~hf_segan.photo_geometry.brows_above_frame`).

The cues are parts of a frame that a bare face has nothing like, in places the landmarks give:

* the bridge: between the inner eye corners (39, 42), from 0.1 eye distances (IOD) above the eye line to 0.2
  below it, a frame's bridge crosses the nose;
* the lower rims: under each eye, from 0.2 to 0.55 IOD below the eye line, across the eye's width.

A cue's strength is the largest mean vertical gradient of a single row across its span: a rim is one straight
line across it, while pores, wrinkles and shading average out along a row. It is divided by the same measure on
the upper eyelids, the strongest horizontal edge every open eye has, so the photo's contrast and exposure cancel.
"""

from __future__ import annotations

import cv2
import numpy as np

from .warp_field import eye_distance

#: The bridge's edge must be at least this share of the eyelids' (see the module docstring). On the development
#: photos' 128 px crops, the astronaut's four views (no glasses) measure at most 0.13 and Grace Hopper's four
#: (glasses) at least 0.51: the threshold lies between, near their geometric mean (0.26). Two people are all the
#: evidence there is; docs/real_photos.md says what a miss does either way.
BRIDGE_EDGE = 0.3
#: Each lower rim's edge must be at least this share of the eyelids': astronaut at most 0.23, Grace Hopper at
#: least 0.55 (geometric mean 0.36).
RIM_EDGE = 0.35
#: Gaussian smoothing (crop pixels) before the gradient: takes out JPEG blocks and single-pixel noise.
SMOOTHING = 1.0


def _row_edge(gradient: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> float:
    """Largest absolute mean of ``gradient`` along one row of the box (x0, x1) x (y0, y1), clipped to the crop; 0
    when the box holds no pixel."""
    height, width = gradient.shape
    left, right = max(round(x0), 0), min(round(x1), width)
    top, bottom = max(round(y0), 0), min(round(y1), height)
    if right <= left or bottom <= top:
        return 0.0
    return float(np.abs(gradient[top:bottom, left:right].mean(1)).max())


def glasses_edges(crop: np.ndarray, landmarks: np.ndarray) -> tuple[float, float, float]:
    """``(bridge, left_rim, right_rim)``: each cue's edge as a share of the upper eyelids' edge, for an aligned
    (upright) RGB ``crop`` and its (68, 2) ``landmarks`` in crop pixels."""
    points = np.asarray(landmarks, np.float64)
    distance = eye_distance(points)
    grey = cv2.GaussianBlur(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), SMOOTHING)
    gradient = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    eye_line = points[36:48, 1].mean()
    lids = []
    for left, right in ((37, 38), (43, 44)):
        lid = points[[left, right], 1].mean()
        band = 0.08 * distance
        lids.append(_row_edge(gradient, points[left, 0], points[right, 0], lid - band, lid + band))
    lid_edge = max(float(np.mean(lids)), 1e-6)
    bridge = _row_edge(
        gradient,
        points[39, 0] + 0.1 * distance,
        points[42, 0] - 0.1 * distance,
        eye_line - 0.1 * distance,
        eye_line + 0.2 * distance,
    )
    rims = [
        _row_edge(gradient, points[outer, 0], points[inner, 0], eye_line + 0.2 * distance, eye_line + 0.55 * distance)
        for outer, inner in ((36, 39), (42, 45))
    ]
    return bridge / lid_edge, rims[0] / lid_edge, rims[1] / lid_edge


def wears_glasses(crop: np.ndarray, landmarks: np.ndarray) -> bool:
    """True when the face of the aligned ``crop`` shows a frame's bridge and both lower rims (see
    :func:`glasses_edges`, :data:`BRIDGE_EDGE`, :data:`RIM_EDGE`)."""
    bridge, left_rim, right_rim = glasses_edges(crop, landmarks)
    return bridge >= BRIDGE_EDGE and min(left_rim, right_rim) >= RIM_EDGE
