"""The 68 iBUG-300W landmarks of a SynthFaces face, read off the same polygons the renderer fills.

SynthFaces knows the exact geometry of every expression, so its landmarks are the ground truth from which the
geometry model (:mod:`hf_segan.models.geometry`) learns how each expression moves brows, eyes, nose and mouth;
the same 68-point order is what real-face landmark nets give, so what is learned here applies to photos.

Order (iBUG-300W): 0-16 jaw (image-left to image-right through the chin), 17-21 image-left brow (outer to inner),
22-26 image-right brow (inner to outer), 27-30 nose bridge down to the tip, 31-35 nose base (image-left to
image-right), 36-41 image-left eye and 42-47 image-right eye (left corner, two upper-lid points, right corner, two
lower-lid points, clockwise), 48-59 outer lips (48 image-left corner, 54 image-right corner, clockwise), 60-67 inner
lips (60 and 64 the inner corners, clockwise). Points are in output pixels, pixel ``j``'s centre at ``j``, under the
identity's rotation, scale and shift exactly as :func:`~hf_segan.data.synthfaces.render.render_face` draws them.
"""

from __future__ import annotations

import numpy as np

from ...expressions import ExpressionSpec
from .params import ExpressionParams, Identity, expression_params
from .render import EYE_Y, SUPERSAMPLE, _almond, _Canvas, brow_centerline, face_outline, mouth_lines, nose_geometry

#: Parameters of the jaw points along the face outline, from the image-left temple (slightly above the face's
#: centre line, where iBUG's point 0 sits) down through the chin to the image-right temple.
_JAW_ANGLES = np.linspace(np.pi + 0.25, -0.25, 17)


def _jaw(identity: Identity) -> np.ndarray:
    return face_outline(identity, _JAW_ANGLES)


def _brows(identity: Identity, expression: ExpressionParams) -> np.ndarray:
    t = np.linspace(0.0, 1.0, 5)
    left = brow_centerline(identity, expression, -1.0, t[::-1])  # outer to inner
    right = brow_centerline(identity, expression, 1.0, t)  # inner to outer
    return np.concatenate([left, right])


def _nose(identity: Identity, expression: ExpressionParams) -> np.ndarray:
    _, tip, half = nose_geometry(identity, expression)
    bridge = np.stack([np.full(4, 0.5), np.linspace(EYE_Y, tip, 4)], axis=1)
    base = np.array(
        [
            [0.5 - half * 0.8, tip + 0.007],
            [0.5 - half * 0.4, tip + 0.014],
            [0.5, tip + 0.014],
            [0.5 + half * 0.4, tip + 0.014],
            [0.5 + half * 0.8, tip + 0.007],
        ]
    )
    return np.concatenate([bridge, base])


def _eyes(identity: Identity, expression: ExpressionParams) -> np.ndarray:
    points = []
    for sign in (-1.0, 1.0):
        ex = 0.5 + sign * identity.eye_spacing / 2
        almond = _almond(ex, EYE_Y, identity.eye_width / 2, identity.eye_height * expression.eye_open)
        # _almond: 17 upper points left to right (t = -1..1 in steps of 1/8), then 15 lower points right to left
        upper, lower = almond[:17], almond[17:]
        points += [upper[0], upper[5], upper[11], upper[16], lower[4], lower[10]]
    return np.array(points)


def _lips(identity: Identity, expression: ExpressionParams) -> np.ndarray:
    x = np.array([-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3, 1.0, -0.5, 0.5])
    xs, middle, upper_inner, lower_inner, upper_outer, lower_outer = mouth_lines(identity, expression, x)
    at = {value: i for i, value in enumerate(x.tolist())}

    def point(row: np.ndarray, value: float) -> list[float]:
        return [xs[at[value]], row[at[value]]]

    outer = (
        [point(middle, -1.0)]
        + [point(upper_outer, v) for v in (-2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3)]
        + [point(middle, 1.0)]
        + [point(lower_outer, v) for v in (2 / 3, 1 / 3, 0.0, -1 / 3, -2 / 3)]
    )
    inner = (
        [point(middle, -1.0)]
        + [point(upper_inner, v) for v in (-0.5, 0.0, 0.5)]
        + [point(middle, 1.0)]
        + [point(lower_inner, v) for v in (0.5, 0.0, -0.5)]
    )
    return np.array(outer + inner)


def face_coordinates_to_pixels(identity: Identity, points: np.ndarray, size: int) -> np.ndarray:
    """Face coordinates (0..1, before the identity's transform) -> output pixel coordinates of a ``size`` render.

    The renderer fills polygons on a canvas ``SUPERSAMPLE`` times larger and area-averages it: output pixel ``j``
    is centred on supersampled coordinate ``SUPERSAMPLE * j + (SUPERSAMPLE - 1) / 2``.
    """
    side = size * SUPERSAMPLE
    blank = np.zeros((1, 1), np.uint8)
    canvas = _Canvas(identity, blank, blank, blank)
    supersampled = (points - 0.5) @ (canvas.matrix / canvas.side * side).T + canvas.offset / canvas.side * side
    return (supersampled - (SUPERSAMPLE - 1) / 2) / SUPERSAMPLE


def synthfaces_landmarks(
    identity: Identity,
    expression: ExpressionSpec | ExpressionParams = "neutral",
    intensity: float = 1.0,
    size: int = 128,
) -> np.ndarray:
    """The (68, 2) float64 iBUG landmarks (x, y output pixels) of ``identity`` showing ``expression``.

    Same arguments as :func:`~hf_segan.data.synthfaces.render.render_face`, so ``render_face(*args)`` and
    ``synthfaces_landmarks(*args)`` describe one face.
    """
    params = expression if isinstance(expression, ExpressionParams) else expression_params(expression, intensity)
    parts = (_jaw(identity), _brows(identity, params), _nose(identity, params), _eyes(identity, params))
    points = np.concatenate([*parts, _lips(identity, params)])
    return face_coordinates_to_pixels(identity, points, size)
