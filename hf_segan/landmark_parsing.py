"""Face parsing from 68 landmarks: soft 19-class probabilities for faces the learned parser does not know.

The bundled parser learned its classes on SynthFaces and reads a real photo poorly; a landmark net trained on real
faces (:mod:`hf_segan.landmarks`) finds the brows, eyes, nose and lips of a photo reliably. This module turns those
68 points (in the pixels of an aligned crop) into the editor's ``parsing_probs`` format, ``(B, 19, H, W)``
probabilities over :data:`~hf_segan.constants.FACE_PARSING_CLASSES`, so the same editor code (``region_source``
``semantic`` or ``box``) gets region masks on photos.

Each class is a polygon built from its landmarks, with widths the landmarks do not give (brow thickness, the nose's
bridge and wings, the forehead) in units of the inter-ocular distance, so they follow the face's scale and roll:

* ``l_brow``/``r_brow``: a band of :data:`BROW_HALF_THICKNESS` either side of the brow points;
* ``l_eye``/``r_eye``: the eye's six points;
* ``nose``: from a narrow bridge at point 27 down to the nostrils' base 31-35, its wings outside 31 and 35;
* ``u_lip``/``l_lip``: between the outer and the inner lip contours; ``mouth``: inside the inner contour (empty
  when the lips touch);
* ``skin``: the convex hull of the jaw and of the brows lifted by :data:`FOREHEAD_HEIGHT` (the forehead);
* ``background``: everything else (hair, ears, neck, glasses and clothes have no landmarks and count as background).

Polygons are filled anti-aliased (area coverage on a supersampled canvas) and blurred by a Gaussian of
``softness`` pixels, then stacked in CelebAMask-HQ's drawing order (a later class covers an earlier one), so the
probabilities of every pixel sum to 1. Coordinates follow OpenCV's convention: pixel ``j``'s centre is at ``j``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .alignment import check_landmarks
from .constants import FACE_PARSING_CLASSES
from .landmarks import LANDMARK_GROUPS

#: Half the brow band's thickness, in inter-ocular distances.
BROW_HALF_THICKNESS = 0.04
#: Half the width of the nose's bridge at point 27, and how far its wings reach outside points 31 and 35 and above
#: them, in inter-ocular distances.
NOSE_BRIDGE_HALF_WIDTH = 0.04
NOSE_WING_OUTSET = 0.04
NOSE_WING_RISE = 0.05
#: How far above the brows the skin reaches (the forehead below the hairline), in inter-ocular distances.
FOREHEAD_HEIGHT = 0.3
#: Classes from back to front: where two polygons overlap the later one wins, as when CelebAMask-HQ merges its masks.
DRAWING_ORDER = ("skin", "nose", "l_brow", "r_brow", "l_eye", "r_eye", "u_lip", "l_lip", "mouth")
#: Supersampling of the polygon fill (area coverage in 1/SUPERSAMPLE**2 steps) and OpenCV's sub-pixel bits.
SUPERSAMPLE = 4
_SHIFT = 4
#: Points per landmark-to-landmark segment of the smooth contours of eyes and lips.
CURVE_SAMPLES = 8


def _points(points: np.ndarray, group: str) -> np.ndarray:
    return points[list(LANDMARK_GROUPS[group])]


def _smooth(points: np.ndarray, closed: bool) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` (N, 2), :data:`CURVE_SAMPLES` points per segment. Landmarks sample
    smooth contours (eyelids, lips); the polygon through them alone cuts off every curved edge."""
    padded = (
        np.concatenate([points[-1:], points, points[:2]])
        if closed
        else np.concatenate([points[:1], points, points[-1:]])
    )
    t = np.linspace(0.0, 1.0, CURVE_SAMPLES, endpoint=False)[:, None]
    curve = []
    for i in range(len(points) if closed else len(points) - 1):
        p0, p1, p2, p3 = padded[i : i + 4]
        curve.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    return np.concatenate(curve if closed else [*curve, points[-1:]])


def _face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The face's rightward and downward unit vectors (from the eye line, so they follow a tilted head) and its
    inter-ocular distance."""
    left, right = _points(points, "left_eye").mean(axis=0), _points(points, "right_eye").mean(axis=0)
    distance = float(np.linalg.norm(right - left))
    if distance < 1e-6:
        raise ValueError("The landmarks' two eye centres coincide; cannot derive face regions from them.")
    rightward = (right - left) / distance
    return rightward, np.array([-rightward[1], rightward[0]]), distance


def landmark_region_polygons(points: np.ndarray) -> dict[str, np.ndarray]:
    """The polygon ((N, 2) pixels) of each class of :data:`DRAWING_ORDER` for a face's 68 landmarks."""
    points = check_landmarks(points)
    rightward, downward, iod = _face_frame(points)
    polygons = {}
    for name, group in (("l_brow", "left_brow"), ("r_brow", "right_brow")):
        brow = _points(points, group)
        band = BROW_HALF_THICKNESS * iod * downward
        polygons[name] = np.concatenate([brow - band, (brow + band)[::-1]])
    polygons["l_eye"] = _smooth(_points(points, "left_eye"), closed=True)
    polygons["r_eye"] = _smooth(_points(points, "right_eye"), closed=True)
    nose = _points(points, "nose")
    bridge_top, base = nose[0], nose[4:]
    bridge = NOSE_BRIDGE_HALF_WIDTH * iod * rightward
    outset, rise = NOSE_WING_OUTSET * iod * rightward, NOSE_WING_RISE * iod * downward
    # bridge top image-left, bridge top image-right, image-right wing, nostrils' base 35..31, image-left wing
    polygons["nose"] = np.concatenate(
        [[bridge_top - bridge, bridge_top + bridge, base[-1] + outset - rise], base[::-1], [base[0] - outset - rise]]
    )
    outer, inner = _points(points, "outer_lips"), _points(points, "inner_lips")
    # outer: corner 48, upper lip 49-53, corner 54, lower lip 55-59; inner: corner 60, upper 61-63, corner 64,
    # lower 65-67
    upper_outer, lower_outer = _smooth(outer[0:7], False), _smooth(outer[[6, 7, 8, 9, 10, 11, 0]], False)
    upper_inner, lower_inner = _smooth(inner[0:5], False), _smooth(inner[[4, 5, 6, 7, 0]], False)
    polygons["u_lip"] = np.concatenate([upper_outer, upper_inner[::-1]])
    polygons["l_lip"] = np.concatenate([lower_outer, lower_inner[::-1]])
    polygons["mouth"] = np.concatenate([upper_inner, lower_inner])
    forehead = np.concatenate([_points(points, "left_brow"), _points(points, "right_brow")])
    forehead = forehead - FOREHEAD_HEIGHT * iod * downward
    hull = cv2.convexHull(np.concatenate([_points(points, "jaw"), forehead]).astype(np.float32))
    polygons["skin"] = hull[:, 0].astype(np.float64)
    return polygons


def _coverage(polygon: np.ndarray, height: int, width: int) -> np.ndarray:
    """The fraction of each pixel inside ``polygon`` (float32, (height, width)), from a supersampled fill."""
    canvas = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
    # pixel j's centre (j) is the centre of supersampled pixels SUPERSAMPLE * j .. SUPERSAMPLE * j + SUPERSAMPLE - 1
    supersampled = polygon * SUPERSAMPLE + (SUPERSAMPLE - 1) / 2
    cv2.fillPoly(canvas, [np.round(supersampled * (1 << _SHIFT)).astype(np.int32)], 255, cv2.LINE_8, _SHIFT)
    return cv2.resize(canvas.astype(np.float32) / 255.0, (width, height), interpolation=cv2.INTER_AREA)


def _face_probabilities(points: np.ndarray, height: int, width: int, softness: float) -> np.ndarray:
    polygons = landmark_region_polygons(points)
    probs = np.zeros((len(FACE_PARSING_CLASSES), height, width), np.float32)
    uncovered = np.ones((height, width), np.float32)
    for name in reversed(DRAWING_ORDER):  # front to back: each class gets what the ones in front left over
        mask = _coverage(polygons[name], height, width)
        if softness > 0:
            mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=softness, borderType=cv2.BORDER_REPLICATE)
        probs[FACE_PARSING_CLASSES.index(name)] = mask * uncovered
        uncovered = uncovered * (1.0 - mask)
    probs[FACE_PARSING_CLASSES.index("background")] = uncovered
    return probs


def landmark_parsing_probs(
    landmarks: np.ndarray | torch.Tensor,
    size: int | tuple[int, int] = 128,
    softness: float = 0.7,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Soft parsing probabilities (B, 19, H, W) float32 from 68 landmarks per face, usable as the editor's
    ``parsing_probs``.

    Args:
        landmarks: (68, 2) or (B, 68, 2) iBUG-300W points in the crop's pixels (e.g.
            :attr:`hf_segan.alignment.AlignedFace.landmarks`), numpy or torch.
        size: the crop's side, or its (height, width).
        softness: standard deviation, in pixels, of the Gaussian that softens every region's edge (0: only the
            anti-aliased edge of the fill).
        device: where the result goes (default: the landmarks' device for a tensor, else the CPU).
    """
    if isinstance(landmarks, torch.Tensor):
        device = landmarks.device if device is None else device
        landmarks = landmarks.detach().cpu().double().numpy()
    array = np.asarray(landmarks, dtype=np.float64) if isinstance(landmarks, np.ndarray) else None
    if array is None or array.ndim not in (2, 3):
        raise ValueError(
            "landmarks must be a (68, 2) or (B, 68, 2) array of (x, y) crop pixels, got "
            f"{getattr(array, 'shape', type(landmarks).__name__)}."
        )
    faces = array[None] if array.ndim == 2 else array
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if not all(isinstance(side, int) and side > 0 for side in (height, width)):
        raise ValueError(f"size must be a positive integer or (height, width) of positive integers, got {size!r}.")
    if not softness >= 0:
        raise ValueError(f"softness must be >= 0 pixels, got {softness}.")
    probs = np.stack([_face_probabilities(check_landmarks(face), height, width, softness) for face in faces])
    return torch.from_numpy(probs).to(device or "cpu")
