"""A hand-made 68-point face (iBUG-300W order) on the canonical template, for tests that need landmarks whose
regions are known without a landmark detector.

The points follow SynthFaces' neutral geometry (eyes at ``CANONICAL_EYE_CENTERS``, nose tip at y 0.56, mouth
corners at y 0.67, 0.165 apart) with textbook shapes: each eye a hexagon, each brow an arc, the outer lips a
12-gon, the inner lips an 8-gon, the jaw a U from temple to temple. ``mouth_open`` parts the inner lips.
"""

import numpy as np

from hf_segan.constants import CANONICAL_EYE_CENTERS


def template_landmarks(size: float = 128.0, mouth_open: float = 0.0) -> np.ndarray:
    """(68, 2) float64 points in pixels of a ``size`` crop; ``mouth_open`` is the inner lips' gap (crop fraction)."""
    points = np.zeros((68, 2))
    # jaw 0-16: from the image-left temple down round the chin to the image-right temple
    u = np.linspace(-0.1, np.pi + 0.1, 17)
    points[0:17] = np.stack([0.5 - 0.27 * np.cos(u), 0.44 + 0.42 * np.sin(u)], axis=1)
    # brows 17-21 (image left, outer to inner) and 22-26 (inner to outer): arcs above the eyes
    t = np.linspace(0.0, 1.0, 5)
    left_brow = np.stack([0.28 + 0.17 * t, 0.355 - 0.02 * np.sin(np.pi * t)], axis=1)
    points[17:22] = left_brow
    points[22:27] = np.stack([1.0 - left_brow[::-1, 0], left_brow[::-1, 1]], axis=1)
    # nose: bridge 27-30 down to the tip, then the nostrils' base 31-35
    points[27:31] = np.stack([np.full(4, 0.5), np.linspace(0.44, 0.56, 4)], axis=1)
    points[31:36] = np.stack([np.linspace(0.465, 0.535, 5), [0.57, 0.575, 0.578, 0.575, 0.57]], axis=1)
    # eyes: a hexagon each, from the image-left corner over the top and back along the bottom (iBUG's order:
    # 36 is the image-left eye's outer corner, 42 the image-right eye's inner one)
    hexagon = np.array([[-1.0, 0.0], [-0.35, -0.5], [0.35, -0.5], [1.0, 0.0], [0.35, 0.5], [-0.35, 0.5]]) * 0.04
    points[36:42] = np.array(CANONICAL_EYE_CENTERS[0]) + hexagon
    points[42:48] = np.array(CANONICAL_EYE_CENTERS[1]) + hexagon
    # outer lips 48-59: corner, upper lip to the other corner, lower lip back
    gap = mouth_open / 2
    points[48:60] = [
        [0.4175, 0.67], [0.44, 0.652 - gap], [0.47, 0.642 - gap], [0.5, 0.646 - gap], [0.53, 0.642 - gap],
        [0.56, 0.652 - gap], [0.5825, 0.67], [0.56, 0.69 + gap], [0.53, 0.70 + gap], [0.5, 0.703 + gap],
        [0.47, 0.70 + gap], [0.44, 0.69 + gap],
    ]  # fmt: skip
    # inner lips 60-67: corner, upper inner edge, corner, lower inner edge
    points[60:68] = [
        [0.425, 0.67], [0.46, 0.668 - gap], [0.5, 0.667 - gap], [0.54, 0.668 - gap],
        [0.575, 0.67], [0.54, 0.672 + gap], [0.5, 0.673 + gap], [0.46, 0.672 + gap],
    ]  # fmt: skip
    return points * size


def apply_similarity(points: np.ndarray, angle_degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """``points`` rotated by ``angle_degrees`` and scaled by ``scale`` about the origin, then shifted."""
    angle = np.deg2rad(angle_degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rotation.T + np.asarray(shift, dtype=np.float64)
