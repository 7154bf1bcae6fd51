"""Hand-built 68-point iBUG faces for tests, whose expression measures are known by construction.

The template is drawn in the eyes' frame (eye centres at (-0.5, 0) and (0.5, 0), unit = inter-ocular distance), so
every measure of ``neutral_face()`` can be read off the numbers below.
"""

from __future__ import annotations

import numpy as np

#: Measures of the template, read off its coordinates.
TEMPLATE_MEASURES = {
    "lip_corner_height": 0.0,
    "mouth_width": 0.8,
    "mouth_opening": 0.0,
    "brow_height": 0.3,
    "inner_brow_height": 0.3,
    "inner_brow_distance": 0.2,
    "eye_opening": 0.1,
}

#: iBUG index of each point's mirror image (the image-left corner becomes the image-right one, and so on).
MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def neutral_face() -> np.ndarray:
    """(68, 2) landmarks of a symmetric neutral face in the eyes' frame."""
    p = np.zeros((68, 2))
    jaw = np.linspace(0, np.pi, 17)
    p[0:17] = np.stack([-0.95 * np.cos(jaw), 0.2 + 1.1 * np.sin(jaw)], 1)
    p[17:22] = np.stack([np.linspace(-0.9, -0.1, 5), np.full(5, -0.3)], 1)
    p[22:27] = np.stack([np.linspace(0.1, 0.9, 5), np.full(5, -0.3)], 1)
    p[27:31] = np.stack([np.zeros(4), np.linspace(0.1, 0.55, 4)], 1)
    p[31:36] = np.stack([np.linspace(-0.2, 0.2, 5), np.full(5, 0.65)], 1)
    p[36:42] = [(-0.7, 0), (-0.6, -0.05), (-0.4, -0.05), (-0.3, 0), (-0.4, 0.05), (-0.6, 0.05)]
    p[42:48] = [(0.3, 0), (0.4, -0.05), (0.6, -0.05), (0.7, 0), (0.6, 0.05), (0.4, 0.05)]
    p[48:55] = [(-0.4, 1.0), (-0.25, 0.95), (-0.1, 0.92), (0, 0.93), (0.1, 0.92), (0.25, 0.95), (0.4, 1.0)]
    p[55:60] = [(0.25, 1.08), (0.1, 1.1), (0, 1.1), (-0.1, 1.1), (-0.25, 1.08)]
    p[60:68] = [(-0.35, 1.0), (-0.15, 1.0), (0, 1.0), (0.15, 1.0), (0.35, 1.0), (0.15, 1.0), (0, 1.0), (-0.15, 1.0)]
    return p


def place(points: np.ndarray, scale: float, angle_degrees: float, offset: tuple[float, float]) -> np.ndarray:
    """``points`` scaled, turned by ``angle_degrees`` and moved to ``offset`` (a similarity transform)."""
    angle = np.deg2rad(angle_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * points @ rotation.T + np.asarray(offset)


def mirrored(points: np.ndarray, width: float) -> np.ndarray:
    """The landmarks a detector reports on the horizontally flipped photo (x mirrored, iBUG order restored)."""
    flipped = points.copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]
    return flipped[MIRROR]
