"""Landmark moves -> a smooth dense displacement field -> a warp of the photo's own pixels.

The edit on a photo is geometry only: every output pixel is a photo pixel taken from a nearby place, so texture,
sharpness and colours stay the photo's. The field is built on the aligned crop (where faces have a known size) with
compactly supported radial basis functions (Wendland's C2 kernel): it interpolates the landmarks' moves, keeps the
landmarks that must not move fixed, and is *exactly* zero farther than the kernel radius from every landmark, so
nothing outside the face moves. The field (not an edited image) is then mapped into photo coordinates with the
crop's similarity transform and sampled at the photo's full resolution; pixels where it is zero are copied
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Kernel radius as a multiple of the inter-ocular distance: wide enough that a moved mouth corner drags the
#: cheek around it smoothly (no fold), small enough that the field dies out inside the face.
RADIUS_PER_EYE_DISTANCE = 0.6
#: How far above the brows the forehead is held still (eye distances), so the hairline does not follow the brows.
#: The face region (:func:`face_mask`) ends just above it, inside the half eye distance around the landmarks that
#: the real-photo fidelity metric lets an edit change; the brows move by up to 0.2 eye distances, so the forehead
#: between compresses or stretches by up to half, and the fold guard scales down a brow move that would do more.
FOREHEAD_ANCHOR_HEIGHT = 0.4
#: How far above the brows the face region reaches (eye distances); see :data:`FOREHEAD_ANCHOR_HEIGHT`.
FACE_MASK_FOREHEAD = 0.45
#: Tikhonov term of the interpolation system (the kernel is 1 at distance 0): keeps it solvable when two landmarks
#: coincide (a closed mouth's inner and outer lip corners) and smooths the disagreements of nearby landmarks'
#: moves instead of bending the field sharply between them; landmarks land within a few percent of their targets.
REGULARISATION = 1e-2
#: Where the warp squeezes the photo by more than this factor (source pixels per output pixel along the most
#: squeezed direction), the source is low-passed before it is sampled: point sampling a squeezed eye or mouth keeps
#: every source pixel's full contrast on fewer pixels (aliasing), which reads as a sharper face than the photo.
#: Below it, plain sampling keeps the photo's own sharpness (a mild squeeze barely aliases).
ANTIALIAS_SQUEEZE = 1.45
#: Gaussian prefilter (source pixels) per unit of squeeze beyond :data:`ANTIALIAS_SQUEEZE`, and the prefilter levels
#: the source is blurred at (each output pixel blends the two levels around its own); half a pixel per unit is the
#: usual reconstruction width of a minifying resampler.
ANTIALIAS_SIGMA = 0.5
ANTIALIAS_LEVELS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: How the photo is sampled along the field: Lanczos over 8 x 8 pixels. A warp samples at fractional positions
#: wherever it moves, and a stretch (a dropping jaw, a widening eye) spreads those samples over more pixels; a
#: 4 x 4 bicubic kernel attenuates the photo's finest detail (skin texture, wrinkles, lashes) at sub-pixel offsets
#: about twice as much as Lanczos-4 does, so the face came out visibly softer than the photo around the features.
RESAMPLING = cv2.INTER_LANCZOS4
#: Pixels the resampling kernel reaches on each side of a sample (Lanczos-4: 4).
RESAMPLING_REACH = 4
#: How far below the jaw line the face region reaches when the jaw moves (eye distances), and where below it the
#: neck is held still (see :func:`jaw_anchors`): a jaw that drops by up to a fifth of an eye distance slides over
#: the neck between, inside the half eye distance around the landmarks that the real-photo fidelity metric lets an
#: edit change.
FACE_MASK_BELOW_JAW = 0.45
JAW_ANCHOR_DEPTH = 0.4


def wendland(distance: np.ndarray, radius: float) -> np.ndarray:
    """Wendland's C2 kernel ``(1 - r)^4 (4 r + 1)`` for ``r = distance / radius`` < 1, exactly 0 beyond."""
    r = np.clip(distance / radius, 0.0, 1.0)
    return (1.0 - r) ** 4 * (4.0 * r + 1.0)


def eye_distance(points: np.ndarray) -> float:
    """Distance between the centres of the two eyes (iBUG points 36-41 and 42-47), in the points' units."""
    return float(np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0)))


@dataclass(frozen=True)
class DisplacementField:
    """A backward displacement field on a crop: output pixel ``(x, y)`` takes the source pixel at
    ``(x, y) + field[y, x]`` (crop pixels). ``field`` is (H, W, 2) float32, exactly 0 where nothing moves."""

    field: np.ndarray

    @property
    def moving(self) -> np.ndarray:
        """(H, W) bool: where the field moves anything."""
        return np.any(self.field != 0, axis=-1)

    def min_jacobian(self, ignore: np.ndarray | None = None) -> float:
        """The smallest Jacobian determinant of ``x -> x + field(x)`` outside the (H, W) bool mask ``ignore``: 1 is
        a shift, below 0 the warp folds over itself (a pixel would be shown twice, mirrored) and near 0 it smears
        one source pixel over many."""
        determinant = self.jacobian()
        return float(determinant.min() if ignore is None else determinant[~ignore].min(initial=1.0))

    def jacobian(self) -> np.ndarray:
        """(H, W) Jacobian determinant of ``x -> x + field(x)`` at each pixel (see :meth:`min_jacobian`)."""
        dx_dx = np.gradient(self.field[..., 0], axis=1) + 1.0
        dx_dy = np.gradient(self.field[..., 0], axis=0)
        dy_dx = np.gradient(self.field[..., 1], axis=1)
        dy_dy = np.gradient(self.field[..., 1], axis=0) + 1.0
        return dx_dx * dy_dy - dx_dy * dy_dx


def landmark_field(
    source: np.ndarray,
    target: np.ndarray,
    size: int,
    radius: float | None = None,
    limit: np.ndarray | None = None,
    anchors: np.ndarray | None = None,
) -> DisplacementField:
    """The smooth backward field on a ``size`` x ``size`` crop that carries each ``source`` landmark to its
    ``target`` (both (N, 2) crop pixels). Landmarks whose target equals their source stay fixed anchors.

    The field is interpolated at the *target* positions (where output pixels are) with value ``source - target``,
    so sampling the source at ``x + field(x)`` puts the source's landmark ``i`` at ``target[i]``. ``limit``
    ((size, size) weights in [0, 1], e.g. :func:`face_mask`) multiplies the field, so it is exactly 0 where
    ``limit`` is. ``anchors`` ((M, 2) crop pixels) are extra points that must not move (e.g. the forehead above
    the brows, so a lowered brow does not drag the hairline down).
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(f"source and target must both be (N, 2) arrays, got {source.shape} and {target.shape}.")
    if not (np.isfinite(source).all() and np.isfinite(target).all()):
        raise ValueError("Landmarks must be finite.")
    radius = RADIUS_PER_EYE_DISTANCE * eye_distance(source) if radius is None else radius
    if not radius > 0:
        raise ValueError(f"The field radius must be positive, got {radius}.")
    if anchors is not None:
        anchors = np.asarray(anchors, np.float64).reshape(-1, 2)
        source, target = np.concatenate([source, anchors]), np.concatenate([target, anchors])
    values = source - target
    field = np.zeros((size, size, 2), np.float32)
    if not np.any(values):
        return DisplacementField(field)
    # Only points within reach of a moving point matter; the rest cannot change the field near the moving ones.
    moving = np.any(values != 0, axis=1)
    near = np.linalg.norm(target[:, None] - target[moving][None], axis=-1).min(1) < 2 * radius
    points, values = target[near], values[near]
    kernel = wendland(np.linalg.norm(points[:, None] - points[None], axis=-1), radius)
    weights = np.linalg.solve(kernel + REGULARISATION * np.eye(len(points)), values)
    # each point reaches only the pixels within its radius (the kernel is exactly 0 beyond): sum its term there
    total = np.zeros((size, size, 2), np.float64)
    for (x, y), weight in zip(points, weights, strict=True):
        x0, y0 = max(0, int(np.floor(x - radius))), max(0, int(np.floor(y - radius)))
        x1, y1 = min(size, int(np.ceil(x + radius)) + 1), min(size, int(np.ceil(y + radius)) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        distance = np.hypot(np.arange(x0, x1) - x, np.arange(y0, y1)[:, None] - y)
        total[y0:y1, x0:x1] += wendland(distance, radius)[..., None] * weight
    field[:] = total
    if limit is not None:
        field *= limit[..., None]
    return DisplacementField(field)


def forehead_anchors(points: np.ndarray, height: float = FOREHEAD_ANCHOR_HEIGHT) -> np.ndarray:
    """Points ``height`` eye distances above each brow point (iBUG 17-26) of an upright face, to hold the
    forehead and hairline still while the brows move."""
    return points[17:27] - [0.0, height * eye_distance(points)]


def jaw_anchors(points: np.ndarray, depth: float = JAW_ANCHOR_DEPTH) -> np.ndarray:
    """Points ``depth`` eye distances below the jaw line (iBUG 1-15) of an upright face, to hold the neck and
    collar still while the jaw moves."""
    return points[1:16] + np.array([0.0, depth * eye_distance(points)])


def polygon_mask(points: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 of ``shape``: 1 inside the polygon ``points`` (pixels, drawn with a sixteenth of a pixel's
    precision) in a window whose pixel (0, 0) is ``origin``, 0 elsewhere."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((np.asarray(points) - origin) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask


def face_mask(
    points: np.ndarray,
    size: int,
    forehead: float = FACE_MASK_FOREHEAD,
    feather: float = 0.15,
    below_jaw: float = 0.0,
) -> np.ndarray:
    """(size, size) float32 weights: 1 inside the face, a smooth ramp inside its edge, exactly 0 outside.

    The face is the convex hull of the jaw line (iBUG 0-16), of the jaw line lowered by ``below_jaw`` eye
    distances (room for a jaw that moves, e.g. :data:`FACE_MASK_BELOW_JAW`) and of the brows (17-26) lifted by
    ``forehead`` eye distances; the ramp is ``feather`` eye distances wide and lies inside the hull (the hull is
    shrunk by the blur radius first), so nothing outside the face outline can move.
    """
    distance = eye_distance(points)
    brows = points[17:27] - [0.0, forehead * distance]
    jaw = np.concatenate([points[:17], points[:17] + np.array([0.0, below_jaw * distance])])
    hull = cv2.convexHull(np.concatenate([jaw, brows]).astype(np.float32))[:, 0]
    radius = max(1, round(feather * distance / 2))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.erode(polygon_mask(hull, (0, 0), (size, size)), disc)
    return cv2.GaussianBlur(mask.astype(np.float32), (2 * radius + 1, 2 * radius + 1), sigmaX=radius / 2)


def field_in_photo(field: DisplacementField, inverse: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]):
    """The crop's backward field mapped into photo pixels: ``(box, displacement)`` with ``box = (x0, y0, x1, y1)``
    the photo rectangle it can touch and ``displacement`` (y1 - y0, x1 - x0, 2) float32 photo pixels there.

    ``inverse`` maps crop to photo pixels and ``matrix`` photo to crop (2x3 each). The field is resampled
    bilinearly (a field is smooth; resampling it is harmless, unlike resampling an edited image) and its vectors
    turned by the linear part of ``inverse``. Returns ``None`` when the field moves nothing inside the photo.
    """
    moving = field.moving
    if not moving.any():
        return None
    ys, xs = np.nonzero(moving)
    corners = np.array([[xs.min() - 1, ys.min() - 1], [xs.max() + 1, ys.min() - 1], [xs.min() - 1, ys.max() + 1]])
    corners = np.concatenate([corners, [[xs.max() + 1, ys.max() + 1]]]).astype(np.float64)
    in_photo = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = shape
    x0, y0 = np.floor(in_photo.min(0)).astype(int).clip(0, [width, height])
    x1, y1 = (np.ceil(in_photo.max(0)).astype(int) + 1).clip(0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ [x0, y0]
    sampled = cv2.warpAffine(
        field.field,
        cv2.invertAffineTransform(shifted),
        (int(x1 - x0), int(y1 - y0)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    displacement = cv2.transform(sampled, inverse[:, :2])  # each vector turned and scaled into photo pixels
    return (int(x0), int(y0), int(x1), int(y1)), displacement


def squeeze(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """(H, W) largest singular value of the Jacobian of the backward map ``(x, y) -> (map_x, map_y)``: how many
    source pixels one output pixel spans along the direction the warp squeezes most (1 = a shift)."""
    a, b = np.gradient(map_x, axis=1), np.gradient(map_x, axis=0)
    c, d = np.gradient(map_y, axis=1), np.gradient(map_y, axis=0)
    total, determinant = a * a + b * b + c * c + d * d, a * d - b * c
    return np.sqrt((total + np.sqrt(np.maximum(total * total - 4 * determinant * determinant, 0.0))) / 2)


def _sample(photo: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Samples of ``photo`` (:data:`RESAMPLING`) at the backward map, prefiltered where the map squeezes (see
    :data:`ANTIALIAS_SQUEEZE`): the source blurred at :data:`ANTIALIAS_LEVELS`, blended per pixel between the two
    levels around the blur it needs. Float (H, W, C).

    Most of a face is not squeezed that much: the blurred levels are sampled and blended only inside the box of
    the pixels that need them (elsewhere the plain samples are the result as they are)."""
    plain = cv2.remap(photo, map_x, map_y, interpolation=RESAMPLING, borderMode=cv2.BORDER_REFLECT)
    sampled = plain.reshape(*map_x.shape, photo.shape[2]).astype(np.float64)
    blur = ANTIALIAS_SIGMA * np.sqrt(np.maximum(squeeze(map_x, map_y) ** 2 - ANTIALIAS_SQUEEZE**2, 0.0))
    ys, xs = np.nonzero(blur > 0)
    if len(ys) == 0:
        return sampled
    inside = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    blur, map_x, map_y = np.clip(blur[inside], 0.0, ANTIALIAS_LEVELS[-1]), map_x[inside], map_y[inside]
    levels = np.asarray(ANTIALIAS_LEVELS)
    upper = np.searchsorted(levels, blur, side="right").clip(1, len(levels) - 1)
    share = (blur - levels[upper - 1]) / (levels[upper] - levels[upper - 1])
    blended = np.zeros((*map_x.shape, photo.shape[2]), np.float64)
    for index, level in enumerate(levels):
        weight = np.where(upper - 1 == index, 1.0 - share, 0.0) + np.where(upper == index, share, 0.0)
        if not weight.any():
            continue
        warped = sampled[inside] if level == 0 else _remap_blurred(photo, map_x, map_y, level)
        blended += weight[..., None] * warped.reshape(blended.shape)
    sampled[inside] = blended
    return sampled


def _remap_blurred(photo: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, sigma: float) -> np.ndarray:
    """Samples of ``photo`` blurred by a Gaussian of ``sigma``, blurring only the window the map reads (a face in
    a large photo would otherwise blur the whole photo). The window reaches past the sampled pixels by the
    resampling kernel's support plus the blur kernel's radius, and is cut only at the photo's own border, so the
    samples equal those of the whole photo blurred."""
    reach = RESAMPLING_REACH + int(np.ceil(4 * sigma)) + 2
    height, width = photo.shape[:2]
    x0 = max(int(np.floor(map_x.min())) - reach, 0)
    y0 = max(int(np.floor(map_y.min())) - reach, 0)
    x1 = min(int(np.ceil(map_x.max())) + reach + 1, width)
    y1 = min(int(np.ceil(map_y.max())) + reach + 1, height)
    window = cv2.GaussianBlur(photo[y0:y1, x0:x1], (0, 0), sigma)
    return cv2.remap(window, map_x - x0, map_y - y0, interpolation=RESAMPLING, borderMode=cv2.BORDER_REFLECT)


def warp_photo(
    photo: np.ndarray, box: tuple[int, int, int, int], displacement: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``photo`` (H, W, C uint8) inside ``box`` along the backward ``displacement`` (photo pixels).

    Returns ``(result, changed)``: a new photo whose pixels outside the moving part of the field are the input's
    own bytes, and the (H, W) bool mask of pixels the field moved. Lanczos sampling keeps the photo's sharpness
    (:data:`RESAMPLING`; prefiltered only where the warp squeezes strongly, see :data:`ANTIALIAS_SQUEEZE`); its
    overshoot is clipped to the colour range of the pixels being resampled, so no colour appears that the face did
    not have.
    """
    x0, y0, x1, y1 = box
    moving = np.any(displacement != 0, axis=-1)
    result = photo.copy()
    changed = np.zeros(photo.shape[:2], bool)
    if not moving.any():
        return result, changed
    map_x = np.arange(x0, x1, dtype=np.float32) + displacement[..., 0]
    map_y = np.arange(y0, y1, dtype=np.float32)[:, None] + displacement[..., 1]
    warped = np.clip(np.rint(_sample(photo, map_x, map_y)), 0, 255).astype(photo.dtype)
    region = photo[y0:y1, x0:x1][moving]
    warped = np.clip(warped, region.min(0), region.max(0))
    np.copyto(result[y0:y1, x0:x1], warped, where=moving[..., None])
    changed[y0:y1, x0:x1] = moving
    return result, changed
