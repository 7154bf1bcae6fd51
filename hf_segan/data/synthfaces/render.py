"""The SynthFaces rasteriser: polygons in face coordinates -> an RGB image and its exact label map.

Every part is a polygon in normalised face coordinates (x right, y down, 0..1 over the canonical crop, eyes at
:data:`~hf_segan.constants.CANONICAL_EYE_CENTERS` before the identity's small rotation/scale/shift). Parts are
painted with OpenCV in CelebAMask-HQ's merge order (a later class overwrites an earlier one) into a label canvas
and a colour canvas at ``SUPERSAMPLE`` times the output size; the colour canvas is area-downsampled (anti-aliased
edges) and the label canvas sampled once per output pixel (exact labels, no mixed classes), at the point on which
that pixel's colour average is centred (:data:`LABEL_OFFSET`). Image-only details (irises, nostrils, teeth,
wrinkles) are clipped to their part on the colour canvas, so they never paint across a part's edge.

Left and right: ``l_brow``/``l_eye``/``l_ear`` are always drawn on the *image's* left (the subject's right), ``r_*``
on the image's right, the order of :data:`~hf_segan.constants.CANONICAL_EYE_CENTERS`. A horizontal flip swaps them
(:data:`~hf_segan.constants.FLIP_CLASS_PAIRS`, ``hflip_face``). Data annotated the other way round must have its
masks remapped with :func:`~hf_segan.constants.flip_permutation` before it is mixed with SynthFaces.

Everything the expression cannot change (background, cloth, neck, ears, face, hair, hat, the lighting gradient and
texture noise) is drawn first, once per identity, and shared by all its expressions, so two expressions of one
identity differ only where a brow, eye, nose or mouth moved.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ...constants import CANONICAL_EYE_CENTERS, FACE_PARSING_CLASSES
from ...expressions import ExpressionSpec
from .params import ExpressionParams, Identity, expression_params

SUPERSAMPLE = 2
#: Sub-pixel precision of OpenCV polygon filling (coordinates carry 2**SHIFT fractional steps).
SHIFT = 4
#: How far right and down of the colour canvas the label canvas is drawn, in supersampled pixels. An output pixel
#: averages a SUPERSAMPLE x SUPERSAMPLE block of colour, centred (SUPERSAMPLE - 1) / 2 into it, and takes its label
#: from the supersample SUPERSAMPLE // 2 into it: for an even SUPERSAMPLE that sample lies half a supersample past
#: the centre. Without this offset every label map sat a quarter of an output pixel (at 2x) up and left of its
#: image; a horizontal flip turns the left into right, so a parser trained with flips could match neither.
LABEL_OFFSET = SUPERSAMPLE // 2 - (SUPERSAMPLE - 1) / 2
MIN_SIZE = 32
_LABEL = {name: index for index, name in enumerate(FACE_PARSING_CLASSES)}
#: Height of the eye centres in face coordinates; the face is symmetric about x = 0.5 and the identities' eye
#: spacing is centred on the template's (see ``params.CANONICAL_EYE_SPACING``).
EYE_Y = (CANONICAL_EYE_CENTERS[0][1] + CANONICAL_EYE_CENTERS[1][1]) / 2


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40, start: float = 0.0, end: float = 2 * np.pi):
    t = np.linspace(start, end, n, endpoint=end - start < 2 * np.pi)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


class _Canvas:
    """Label and colour canvases with one similarity transform from face coordinates to supersampled pixels.

    ``labels`` is drawn :data:`LABEL_OFFSET` supersampled pixels off the colour canvas (it is what the output label
    map samples); ``parts`` holds the same labels aligned with the colour canvas, to clip details to their part.
    """

    def __init__(self, identity: Identity, labels: np.ndarray, parts: np.ndarray, color: np.ndarray) -> None:
        self.side = labels.shape[0]
        self.labels, self.parts, self.color = labels, parts, color
        angle = np.deg2rad(identity.rotation)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * identity.scale
        self.matrix = rotation * self.side
        self.offset = (np.array([0.5, 0.5]) + np.array(identity.shift)) * self.side

    def points(self, polygon: np.ndarray, offset: float = 0.0) -> np.ndarray:
        pixels = (polygon - 0.5) @ self.matrix.T + self.offset + offset
        return np.round(pixels * (1 << SHIFT)).astype(np.int32)

    def fill(self, polygon: np.ndarray, label: str | None, color) -> None:
        """Fill ``polygon`` on every canvas (``label`` None paints colour only)."""
        pts = [self.points(polygon)]
        if label is not None:
            cv2.fillPoly(self.parts, pts, _LABEL[label], cv2.LINE_8, SHIFT)
            cv2.fillPoly(self.labels, [self.points(polygon, LABEL_OFFSET)], _LABEL[label], cv2.LINE_8, SHIFT)
        cv2.fillPoly(self.color, pts, tuple(float(c) for c in color), cv2.LINE_8, SHIFT)

    def line(self, polyline: np.ndarray, thickness: float, label: str | None, color) -> None:
        pts = [self.points(polyline)]
        width = max(1, round(thickness * self.side))
        if label is not None:
            cv2.polylines(self.parts, pts, False, _LABEL[label], width, cv2.LINE_8, SHIFT)
            label_pts = [self.points(polyline, LABEL_OFFSET)]
            cv2.polylines(self.labels, label_pts, False, _LABEL[label], width, cv2.LINE_8, SHIFT)
        cv2.polylines(self.color, pts, False, tuple(float(c) for c in color), width, cv2.LINE_8, SHIFT)

    def detail(self, polygon: np.ndarray, within: str, color) -> None:
        """Paint colour only, clipped to pixels of the part ``within``.

        Works inside the polygon's bounding box: details are small, and full-canvas masks would dominate the
        render time."""
        pts = self.points(polygon)
        x0, y0 = np.clip(pts.min(axis=0) >> SHIFT, 0, self.side)
        x1, y1 = np.clip((pts.max(axis=0) >> SHIFT) + 2, 0, self.side)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, SHIFT, offset=(-int(x0) << SHIFT, -int(y0) << SHIFT))
        inside = (mask == 1) & (self.parts[y0:y1, x0:x1] == _LABEL[within])
        self.color[y0:y1, x0:x1][inside] = color


def _head(identity: Identity, canvas: _Canvas) -> None:
    cx, cy = 0.5, 0.5
    w, h = identity.face_width, identity.face_height
    skin = np.array(identity.skin)
    hair = np.array(identity.hair)
    # cloth and neck
    canvas.fill(_ellipse(cx, 1.12, 0.42, 0.26), "cloth", identity.cloth)
    if identity.hair_style in ("long", "bob"):
        bottom = 0.86 if identity.hair_style == "long" else 0.66
        back = np.array([[cx - w * 1.2, 0.45], [cx - w * 1.15, bottom], [cx + w * 1.15, bottom], [cx + w * 1.2, 0.45]])
        canvas.fill(
            np.concatenate([_ellipse(cx, 0.45, w * 1.2, h * 0.95, 24, np.pi, 2 * np.pi), back[::-1]]), "hair", hair
        )
    canvas.fill(
        np.array([[cx - w * 0.45, 0.7], [cx + w * 0.45, 0.7], [cx + w * 0.5, 0.95], [cx - w * 0.5, 0.95]]),
        "neck",
        skin * 0.85,
    )
    # ears on the head's sides, then the face (jaw narrower than the temples)
    ear_y = 0.46
    canvas.fill(_ellipse(cx - w * 0.98, ear_y, identity.ear_size * 0.55, identity.ear_size), "l_ear", skin * 0.92)
    canvas.fill(_ellipse(cx + w * 0.98, ear_y, identity.ear_size * 0.55, identity.ear_size), "r_ear", skin * 0.92)
    canvas.fill(face_outline(identity, np.linspace(0.0, 2 * np.pi, 64, endpoint=False)), "skin", skin)
    # hair on top, down to the hairline
    if identity.hair_style != "bald":
        cap = _ellipse(cx, cy, w * 1.08, h * 1.08, 48, np.pi, 2 * np.pi)
        hairline = np.stack([np.linspace(cx + w * 1.08, cx - w * 1.08, 16), np.full(16, identity.hairline)], axis=1)
        hairline[:, 1] += 0.05 * (np.abs(hairline[:, 0] - cx) / w) ** 2
        canvas.fill(np.concatenate([cap, hairline]), "hair", hair)
    if identity.hat:
        crown = _ellipse(cx, 0.26, w * 1.05, 0.13, 32, np.pi, 2 * np.pi)
        brim = np.array([[cx + w * 1.35, 0.26], [cx + w * 1.35, 0.29], [cx - w * 1.35, 0.29], [cx - w * 1.35, 0.26]])
        canvas.fill(np.concatenate([crown, brim]), "hat", identity.hat_color)


def _brows_and_eyes(identity: Identity, expression: ExpressionParams, canvas: _Canvas) -> None:
    eye_y = EYE_Y
    opening = identity.eye_height * expression.eye_open
    for side, sign in (("l", -1.0), ("r", 1.0)):
        ex = 0.5 + sign * identity.eye_spacing / 2
        # brow: an arched band whose inner end (toward the nose) is moved by the tilt
        t = np.linspace(0.0, 1.0, 7)
        xs, ys = brow_centerline(identity, expression, sign, t).T
        top = np.stack([xs, ys - identity.brow_thickness / 2], axis=1)
        bottom = np.stack([xs, ys + identity.brow_thickness / 2 * (1.0 - 0.4 * t)], axis=1)
        canvas.fill(np.concatenate([top, bottom[::-1]]), f"{side}_brow", np.array(identity.hair) * 0.8)
        # eye: an almond whose height follows the expression, then iris and pupil clipped to it
        canvas.fill(_almond(ex, eye_y, identity.eye_width / 2, opening), f"{side}_eye", (0.93, 0.93, 0.9))
        iris_r = identity.eye_height * 0.75
        canvas.detail(_ellipse(ex, eye_y, iris_r, iris_r, 20), f"{side}_eye", identity.iris)
        canvas.detail(_ellipse(ex, eye_y, iris_r * 0.45, iris_r * 0.45, 12), f"{side}_eye", (0.03, 0.03, 0.03))
    if identity.glasses:
        for sign in (-1.0, 1.0):
            ex = 0.5 + sign * identity.eye_spacing / 2
            frame = _ellipse(ex, eye_y, identity.eye_width * 0.8, identity.eye_height * 2.2, 32)
            canvas.line(np.concatenate([frame, frame[:1]]), 0.012, "eye_g", (0.08, 0.08, 0.1))
        inner = identity.eye_spacing / 2 - identity.eye_width * 0.8
        bridge = np.array([[0.5 - inner, eye_y - 0.01], [0.5, eye_y - 0.02], [0.5 + inner, eye_y - 0.01]])
        canvas.line(bridge, 0.01, "eye_g", (0.08, 0.08, 0.1))


def _almond(cx: float, cy: float, half_width: float, half_height: float) -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 17)
    upper = np.stack([cx + half_width * t, cy - half_height * (1 - t**2) ** 0.8], axis=1)
    lower = np.stack([cx + half_width * t, cy + half_height * 0.8 * (1 - t**2) ** 0.8], axis=1)
    return np.concatenate([upper, lower[::-1][1:-1]])


def _nose(identity: Identity, expression: ExpressionParams, canvas: _Canvas) -> None:
    cx = 0.5
    top, tip, half = nose_geometry(identity, expression)
    length = tip - top
    outline = np.array(
        [
            [cx - half * 0.3, top],
            [cx + half * 0.3, top],
            [cx + half * 0.75, tip - 0.02],
            [cx + half, tip],
            [cx + half * 0.6, tip + 0.014],
            [cx - half * 0.6, tip + 0.014],
            [cx - half, tip],
            [cx - half * 0.75, tip - 0.02],
        ]
    )
    canvas.fill(outline, "nose", np.array(identity.skin) * 0.93)
    for sign in (-1.0, 1.0):
        canvas.detail(
            _ellipse(cx + sign * half * 0.45, tip + 0.004, half * 0.2, 0.006, 12),
            "nose",
            np.array(identity.skin) * 0.45,
        )
    for k in range(3 if expression.nose_wrinkle > 0.05 else 0):
        y = top + length * (0.25 + 0.12 * k)
        wrinkle = np.array([[cx - half * 0.6, y], [cx, y - 0.004], [cx + half * 0.6, y]])
        lower = wrinkle[::-1] + np.array([0.0, 0.004 * expression.nose_wrinkle])
        band = np.concatenate([wrinkle, lower])
        canvas.detail(band, "nose", np.array(identity.skin) * 0.6)


def _mouth(identity: Identity, expression: ExpressionParams, canvas: _Canvas) -> None:
    x = np.linspace(-1.0, 1.0, 21)
    xs, _, upper_inner, lower_inner, upper_outer, lower_outer = mouth_lines(identity, expression, x)

    def band(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([np.stack([xs, a], axis=1), np.stack([xs, b], axis=1)[::-1]])

    canvas.fill(band(upper_outer, upper_inner), "u_lip", identity.lip)
    if np.max(lower_inner - upper_inner) * canvas.side > 0.5:
        canvas.fill(band(upper_inner, lower_inner), "mouth", (0.25, 0.05, 0.07))
        teeth = band(upper_inner, upper_inner + (lower_inner - upper_inner) * 0.45)
        canvas.detail(teeth, "mouth", (0.92, 0.9, 0.85))
    canvas.fill(band(lower_inner, lower_outer), "l_lip", np.array(identity.lip) * 0.92)


def face_outline(identity: Identity, angles: np.ndarray) -> np.ndarray:
    """Points of the face outline at ellipse parameters ``angles`` (0 = image right, pi/2 = chin): an ellipse whose
    lower half narrows toward the jaw."""
    cx, cy, w, h = 0.5, 0.5, identity.face_width, identity.face_height
    face = np.stack([cx + w * np.cos(angles), cy + h * np.sin(angles)], axis=1)
    below = np.clip((face[:, 1] - cy) / h, 0.0, 1.0)
    face[:, 0] = cx + (face[:, 0] - cx) * (1.0 - (1.0 - identity.jaw) * below**2)
    return face


def brow_centerline(identity: Identity, expression: ExpressionParams, sign: float, t: np.ndarray) -> np.ndarray:
    """Points on the centre line of one brow (``sign`` -1 image-left, +1 image-right) at ``t`` (0 = inner end,
    1 = outer end): an arch raised by ``brow_raise`` whose inner end is moved by ``brow_tilt`` and drawn toward the
    midline by ``brow_together`` (the corrugator pulls the brow's inner half; the outer end stays, so the brow
    stretches a little, as a frowning brow's head bunches toward the nose)."""
    ex = 0.5 + sign * identity.eye_spacing / 2
    xs = ex + sign * ((t - 0.45) * identity.eye_width * 1.5 - expression.brow_together * (1.0 - t) ** 2)
    base = EYE_Y - identity.eye_height - 0.035 - expression.brow_raise
    ys = base - 0.012 * np.sin(np.pi * t) - expression.brow_tilt * (1.0 - t) + 0.004 * t
    return np.stack([xs, ys], axis=1)


def nose_geometry(identity: Identity, expression: ExpressionParams) -> tuple[float, float, float]:
    """``(top, tip, half_width)`` of the nose; a wrinkled nose is shorter and wider."""
    top = 0.44
    length = identity.nose_length * (1.0 - 0.15 * expression.nose_wrinkle)
    half = identity.nose_width / 2 * (1.0 + 0.15 * expression.nose_wrinkle)
    return top, top + length, half


def mouth_lines(identity: Identity, expression: ExpressionParams, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """The mouth's lines at positions ``x`` in [-1, 1] (image-left corner to image-right corner):
    ``(xs, middle, upper_inner, lower_inner, upper_outer, lower_outer)``, y of each line at the abscissae ``xs``.
    ``middle`` is the lips' meeting line, corners lifted by the curve and the image-right one by the asymmetry."""
    cx, cy = 0.5, 0.67
    half = identity.mouth_width / 2 * expression.mouth_width
    middle = cy - expression.mouth_curve * x**2 - expression.mouth_asymmetry * np.clip(x, 0.0, None) ** 2
    taper = 1.0 - x**2
    gap = expression.mouth_open / 2 * taper
    xs = cx + half * x
    upper_inner = middle - gap - expression.upper_lip_raise * taper
    lower_inner = middle + gap
    upper_outer = upper_inner - identity.upper_lip * (0.35 + 0.65 * taper) - 0.004 * np.cos(np.pi * x) ** 2
    lower_outer = lower_inner + identity.lower_lip * (0.3 + 0.7 * taper)
    return xs, middle, upper_inner, lower_inner, upper_outer, lower_outer


def _texture(identity: Identity, size: int) -> np.ndarray:
    """Identity-only shading and noise, multiplied into the downsampled image."""
    rng = np.random.default_rng(identity.texture_seed)
    coarse = cv2.resize(rng.normal(0.0, 0.05, (6, 6)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 0.02, (size, size)).astype(np.float32)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    light = 1.0 + identity.light[0] * grid[None, :] + identity.light[1] * grid[:, None]
    return (light + coarse + fine)[..., None]


def _background(identity: Identity, side: int) -> np.ndarray:
    grid = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    shade = 1.0 + identity.background_gradient[0] * grid[None, :] + identity.background_gradient[1] * grid[:, None]
    return np.ascontiguousarray(shade[..., None] * np.array(identity.background, np.float32))


@functools.lru_cache(maxsize=8)
def _identity_layers(identity: Identity, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What no expression can change: the supersampled labels and colours of background, cloth, neck, ears, face,
    hair and hat, and the output-size shading/noise. Cached because datasets render each identity several times
    in a row (once per expression and intensity); the arrays are read-only so no render can alter the cache."""
    side = size * SUPERSAMPLE
    blank = np.zeros((side, side), np.uint8)
    canvas = _Canvas(identity, blank, blank.copy(), _background(identity, side))
    _head(identity, canvas)
    layers = (canvas.labels, canvas.parts, canvas.color, _texture(identity, size))
    for array in layers:
        array.flags.writeable = False
    return layers


def render_face(
    identity: Identity,
    expression: ExpressionSpec | ExpressionParams = "neutral",
    intensity: float = 1.0,
    size: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``identity`` showing ``expression`` at ``intensity``.

    Returns:
        ``(rgb, labels)``: ``rgb`` uint8 (size, size, 3); ``labels`` uint8 (size, size), values index
        :data:`hf_segan.FACE_PARSING_CLASSES`.
    """
    if not isinstance(size, int) or size < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE}, got {size!r}.")
    params = expression if isinstance(expression, ExpressionParams) else expression_params(expression, intensity)
    head_labels, head_parts, head_color, texture = _identity_layers(identity, size)
    canvas = _Canvas(identity, head_labels.copy(), head_parts.copy(), head_color.copy())
    _brows_and_eyes(identity, params, canvas)
    _nose(identity, params, canvas)
    _mouth(identity, params, canvas)
    color, labels = _downsample(canvas, size)
    rgb = np.clip(color * texture * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return rgb, labels


def _downsample(canvas: _Canvas, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The canvases at output size: colour area-averaged (float, H x W x 3), labels sampled (uint8, H x W)."""
    color = cv2.resize(canvas.color, (size, size), interpolation=cv2.INTER_AREA)
    return color, canvas.labels[SUPERSAMPLE // 2 :: SUPERSAMPLE, SUPERSAMPLE // 2 :: SUPERSAMPLE].copy()
