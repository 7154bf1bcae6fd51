"""Edit a face on a photo by moving its own pixels: landmarks -> geometry model -> dense field -> warp.

This is how a model trained only on SynthFaces edits a real photo without painting synthetic texture on it: the
geometry model (:mod:`hf_segan.models.geometry`) says where each landmark goes for the target expression, the
field (:mod:`hf_segan.warp_field`) spreads those moves smoothly over the face on the aligned crop, and the photo
is resampled at full resolution; a mouth that opens gets its dark interior from :mod:`hf_segan.mouth_interior`.
Every pixel outside the moved part of the face keeps its input bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .alignment import AlignedFace
from .glasses import wears_glasses
from .landmarks import EYELID_PAIRS, LANDMARK_GROUPS
from .models.geometry import LandmarkGeometryModel
from .mouth_interior import fill_opened_mouth
from .warp_field import (
    FACE_MASK_BELOW_JAW,
    RADIUS_PER_EYE_DISTANCE,
    DisplacementField,
    eye_distance,
    face_mask,
    field_in_photo,
    forehead_anchors,
    jaw_anchors,
    landmark_field,
    polygon_mask,
    warp_photo,
    wendland,
)

#: The landmarks each editor region group may move (the names of ``editor.region_names``).
REGION_LANDMARKS: dict[str, tuple[int, ...]] = {
    "eyes": tuple(i for group in ("left_brow", "right_brow", "left_eye", "right_eye") for i in LANDMARK_GROUPS[group]),
    "nose": tuple(LANDMARK_GROUPS["nose"]),
    "mouth": tuple(i for group in ("outer_lips", "inner_lips") for i in LANDMARK_GROUPS[group]),
}

#: The landmarks whose moves each region owns when the fold guard scales a region down: the mouth's include the jaw
#: that carries its opening (:func:`open_mouth_with_the_jaw`), which the geometry model itself never moves.
REGION_MOVES: dict[str, tuple[int, ...]] = {
    **REGION_LANDMARKS,
    "mouth": (*LANDMARK_GROUPS["jaw"], *REGION_LANDMARKS["mouth"]),
}

#: The landmark groups whose moves the pipeline's ``geometry_region_scales`` may strengthen or weaken separately.
SCALE_GROUPS: dict[str, tuple[int, ...]] = {
    "brows": (*LANDMARK_GROUPS["left_brow"], *LANDMARK_GROUPS["right_brow"]),
    "eyes": (*LANDMARK_GROUPS["left_eye"], *LANDMARK_GROUPS["right_eye"]),
    "nose": tuple(LANDMARK_GROUPS["nose"]),
    "mouth": REGION_LANDMARKS["mouth"],
}

#: Side of the aligned crop the field is built on: the eye distance is 33 pixels there, fine enough for a field that
#: varies over a fifth of it, whatever resolution the editor works at.
FIELD_SIZE = 128
#: A brow may come down by at most this share of its height above the upper eyelid: lower, the skin between would
#: have to vanish (a real brow stops at the lid). The brows above a frame come down toward it by at most the same
#: share of their height above it (:func:`brows_above_frame`).
MAX_BROW_DESCENT = 0.4
#: An eye may open by at most this share of its height (each facing pair of lid points): a wider eye would need
#: more of the eyeball than the photo shows, and a warp can only make it by stretching the iris and lashes, which
#: reads as a cartoon stare (SynthFaces' surprise doubles a smiling eye's opening).
MAX_EYE_WIDENING = 0.5
#: An eye is reported as kept shut when the expression asks it to open by more than a pixel of the field's crop (a
#: visible move) and :data:`MAX_EYE_WIDENING` lets it open by less than this share of that: the photo shows too
#: little of the eye (closed, or nearly) for its own pixels to open it.
KEPT_SHUT_SHARE = 0.25
#: When the mouth opens, the upper lip rises by at most this share of the opening and the lower lip drops by the
#: rest: the upper lip hangs from the skull and the lower one rides on the jaw, so a real mouth opens mostly
#: downward. SynthFaces draws an opening mouth as an ellipse that grows both ways; on a photo that pushed the upper
#: lip up into the skin below the nose (Grace Hopper's surprise: 0.16 eye distances), a pout of swollen lips.
UPPER_LIP_SHARE = 0.35
#: The chin follows the lower lip's drop by this share, the jaw line's other points by less toward the ears that
#: hinge it. A lower lip dropping over a still chin squeezes the chin; a chin that follows in full stretches the
#: cheeks, and on a wrinkled face that loses more of the face's sharpness than the fidelity bound allows (see
#: docs/real_photos.md, "The jaw carries the opening").
JAW_FOLLOW = 0.5
#: The points of the upper and of the lower lip (outer and inner contours, corners excluded) that an opening
#: shifts down together (:func:`open_mouth_with_the_jaw`).
UPPER_LIP = (49, 50, 51, 52, 53, 61, 62, 63)
LOWER_LIP = (55, 56, 57, 58, 59, 65, 66, 67)

#: On a face with glasses the landmark net puts the brows on the frame's top bar, and the brows are seen just above
#: it. The frame's line is held still, and the brows' moves are carried by points this far above it (eye
#: distances), where the brows are; the skin between stretches or bunches instead of the frame bending.
BROWS_ABOVE_FRAME = 0.12
#: Kernel radius (eye distances) of the field that moves those brows (:func:`brows_above_frame`): short, so that
#: the skin between the still frame and the moving brows stretches smoothly and the field does not reach the eyes.
#: The face's own kernel (:data:`~hf_segan.warp_field.RADIUS_PER_EYE_DISTANCE`) rings across a gap this narrow
#: and folds the skin above the frame.
FRAME_BROW_RADIUS = 0.25
#: Those brows rise by at most this share of their height above the frame: the skin between stretches by half at
#: most. (The geometry model asks for more, 0.15 eye distances for Grace Hopper's surprise: it reads a brow on the
#: frame as a brow low over the eye.)
MAX_FRAME_GAP_STRETCH = 0.5

#: The smallest Jacobian determinant the warp may have (see :meth:`DisplacementField.min_jacobian`); an edit whose
#: field squeezes or stretches more than this is scaled down until it does not.
MIN_JACOBIAN = 0.35
#: Each retry keeps this share of a region's moves, and gives that region up (it does not move) after this many.
SHRINK_STEP = 0.8
MAX_SHRINKS = 12


@dataclass(frozen=True)
class GeometryEdit:
    """One face's geometric edit: the whole photo after it, the (H, W) bool mask of pixels it changed, the face's
    landmarks before and after (photo pixels), the share of the predicted moves that was applied (below 1
    where the warp would otherwise have folded), whether an eye the expression opens had to stay shut
    (:func:`eyes_kept_shut`), and whether the face wears glasses, so that its frame was held still and its brows
    moved above it (:func:`~hf_segan.glasses.wears_glasses`, :func:`brows_above_frame`)."""

    image: np.ndarray
    changed: np.ndarray
    source: np.ndarray
    target: np.ndarray
    applied: float = 1.0
    eyes_kept_shut: bool = False
    glasses: bool = False


def mouth_opening(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: inside the inner-lip contour of ``points`` (crop pixels), grown by a pixel. A closed mouth
    that opens must fold the warp there (the lips' meeting line is spread over the gap); that part is painted over
    by :func:`~hf_segan.mouth_interior.fill_opened_mouth`, so the fold guard does not count it."""
    mask = polygon_mask(points[list(LANDMARK_GROUPS["inner_lips"])], (0, 0), (size, size))
    return cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0


def limit_brow_descent(source: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """``moves`` with each brow point's downward move capped at :data:`MAX_BROW_DESCENT` of its height above the
    highest point of the upper eyelid below it (points in an upright crop: y down)."""
    moves = moves.copy()
    for brow, lid in ((LANDMARK_GROUPS["left_brow"], (37, 38)), (LANDMARK_GROUPS["right_brow"], (43, 44))):
        lid_y = source[list(lid), 1].min()
        for i in brow:
            room = max(0.0, lid_y - source[i, 1]) * MAX_BROW_DESCENT
            moves[i, 1] = min(moves[i, 1], room)
    return moves


def limit_eye_widening(source: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """``moves`` with each facing pair of eyelid points' vertical moves scaled down so that the gap between them
    grows by at most :data:`MAX_EYE_WIDENING` of what it was (points in an upright crop: y down)."""
    moves = moves.copy()
    for upper, lower in EYELID_PAIRS:
        gap = source[lower, 1] - source[upper, 1]
        opening = moves[lower, 1] - moves[upper, 1]
        room = MAX_EYE_WIDENING * max(gap, 0.0)
        if opening > room:
            moves[[upper, lower], 1] *= room / opening
    return moves


def eyes_kept_shut(asked: np.ndarray, allowed: np.ndarray) -> bool:
    """True when, for an eye, the moves ``asked`` open it visibly (by more than a crop pixel on average over its lid
    pairs) and the ``allowed`` moves (after :func:`limit_eye_widening`) keep less than :data:`KEPT_SHUT_SHARE` of
    that opening."""
    for pairs in (EYELID_PAIRS[:2], EYELID_PAIRS[2:]):
        upper, lower = (list(ids) for ids in zip(*pairs, strict=True))
        opening = float(np.mean(asked[lower, 1] - asked[upper, 1]))
        kept = float(np.mean(allowed[lower, 1] - allowed[upper, 1]))
        if opening > 1.0 and kept < KEPT_SHUT_SHARE * opening:
            return True
    return False


def open_mouth_with_the_jaw(source: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """``moves`` with a mouth opening carried by the jaw (points in an upright crop: y down).

    The opening is the gap the moves open between the middle points of the inner lips (62 above, 66 below). Where
    the upper lip rises by more than :data:`UPPER_LIP_SHARE` of it, both lips are shifted down by the excess, fully
    in the middle and fading to nothing at the corners (a half cosine across the mouth), so the opening is the
    same and the corners stay where the expression puts them. The jaw line then follows the lower lip's drop: the
    chin (8) by :data:`JAW_FOLLOW` of it, each other jaw point in proportion to its height below the hinge (the
    height of the jaw line's ends, 0 and 16). A mouth that does not open is returned as it was.
    """
    opening = moves[66, 1] - moves[62, 1]
    if opening <= 0:
        return moves
    moves = moves.copy()
    excess = -moves[62, 1] - UPPER_LIP_SHARE * opening
    if excess > 0:
        lips = list(UPPER_LIP + LOWER_LIP)
        middle, half_width = (source[48, 0] + source[54, 0]) / 2, abs(source[54, 0] - source[48, 0]) / 2
        across = np.clip((source[lips, 0] - middle) / max(half_width, 1e-6), -1.0, 1.0)
        moves[lips, 1] += excess * np.cos(across * np.pi / 2)
    drop = float(moves[[65, 66, 67], 1].mean())
    if drop > 0:
        jaw = list(LANDMARK_GROUPS["jaw"])
        hinge = source[[jaw[0], jaw[-1]], 1].mean()
        reach = np.clip((source[jaw, 1] - hinge) / max(source[8, 1] - hinge, 1e-6), 0.0, 1.0)
        moves[jaw, 1] += JAW_FOLLOW * drop * reach
    return moves


def movable_landmarks(regions: Sequence[str] | None) -> np.ndarray:
    """(68,) bool: the landmarks that ``regions`` (None = all of :data:`REGION_LANDMARKS`) allow to move."""
    names = tuple(REGION_LANDMARKS) if regions is None else tuple(regions)
    unknown = [name for name in names if name not in REGION_LANDMARKS]
    if unknown:
        raise ValueError(f"Unknown regions {unknown}; the geometry edit knows {', '.join(REGION_LANDMARKS)}.")
    movable = np.zeros(68, bool)
    for name in names:
        movable[list(REGION_LANDMARKS[name])] = True
    return movable


def region_scales_per_landmark(scales: Mapping[str, float] | None) -> np.ndarray:
    """(68,) factors: each landmark of a :data:`SCALE_GROUPS` group named in ``scales`` gets that group's factor,
    every other landmark 1 (None = all 1)."""
    factors = np.ones(68)
    for name, factor in (scales or {}).items():
        if name not in SCALE_GROUPS:
            raise ValueError(
                f"Unknown group {name!r} in the geometry's region scales; known: {', '.join(SCALE_GROUPS)}."
            )
        if not (isinstance(factor, int | float) and factor > 0):
            raise ValueError(f"The geometry's scale for {name!r} must be a positive number, got {factor!r}.")
        factors[list(SCALE_GROUPS[name])] = factor
    return factors


def _per_landmark(shares: Mapping[str, float]) -> np.ndarray:
    """(68,) factors: each region's share on the landmarks whose moves it owns (:data:`REGION_MOVES`), 1
    elsewhere."""
    factors = np.ones(68)
    for name, share in shares.items():
        factors[list(REGION_MOVES[name])] = share
    return factors


def brows_above_frame(source: np.ndarray, moves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a face with glasses: ``(points, moves)`` of the brows seen above the frame, (10, 2) each (upright crop, y
    down): the landmark brows (on the frame) raised by :data:`BROWS_ABOVE_FRAME` eye distances, with the landmark
    brows' ``moves``, capped at :data:`MAX_FRAME_GAP_STRETCH` of their height above the frame upward and at
    :data:`MAX_BROW_DESCENT` of it downward."""
    brows = list(SCALE_GROUPS["brows"])
    height = BROWS_ABOVE_FRAME * eye_distance(source)
    carried = moves[brows].copy()
    carried[:, 1] = np.clip(carried[:, 1], -MAX_FRAME_GAP_STRETCH * height, MAX_BROW_DESCENT * height)
    return source[brows] - [0.0, height], carried


def _folding_region(field, target: np.ndarray, moves: np.ndarray, size: int) -> str | None:
    """The region whose landmark moves most near (weighted by the field's kernel) where ``field`` squeezes most,
    when that is below :data:`MIN_JACOBIAN` (outside a newly opened mouth, see :func:`mouth_opening`); None when
    the field is fine. Shrinking only that region keeps a fold at the eyes from weakening the mouth's edit, and the
    reverse."""
    determinant = field.jacobian()
    determinant[mouth_opening(target, size)] = np.inf
    y, x = np.unravel_index(np.argmin(determinant), determinant.shape)
    if determinant[y, x] >= MIN_JACOBIAN:
        return None
    moving = np.flatnonzero(np.any(moves != 0, axis=1))
    distance = np.linalg.norm(target[moving] - [x, y], axis=1)
    reach = RADIUS_PER_EYE_DISTANCE * eye_distance(target)
    strength = np.linalg.norm(moves[moving], axis=1) * wendland(distance, reach)
    culprit = moving[np.argmax(strength) if strength.max() > 0 else np.argmin(distance)]
    if culprit >= 68:  # the brows carried above a frame (:func:`brows_above_frame`)
        return "eyes"
    return next(name for name, ids in REGION_MOVES.items() if culprit in ids)


def _face_field(
    source: np.ndarray,
    moves: np.ndarray,
    above_frame: np.ndarray,
    above_frame_moves: np.ndarray,
    size: int,
    limit: np.ndarray,
    anchors: np.ndarray,
) -> DisplacementField:
    """The field that carries the landmarks ``source`` by ``moves`` and, on a face with glasses, the brows above
    the frame (:func:`brows_above_frame`) by theirs: a field of their own with a short kernel, whose fixed points
    are the frame's line (the landmarks' brows) and the forehead, added to the face's."""
    field = landmark_field(source, source + moves, size, limit=limit, anchors=anchors)
    if not np.any(above_frame_moves):
        return field
    frame = source[list(SCALE_GROUPS["brows"])]
    brows = landmark_field(
        np.concatenate([frame, above_frame]),
        np.concatenate([frame, above_frame + above_frame_moves]),
        size,
        radius=FRAME_BROW_RADIUS * eye_distance(source),
        limit=limit,
        anchors=forehead_anchors(source),
    )
    return DisplacementField(field.field + brows.field)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def edit_face_geometry(
    rgb: np.ndarray,
    face: AlignedFace,
    geometry: LandmarkGeometryModel,
    condition: torch.Tensor,
    intensity: float = 1.0,
    regions: Sequence[str] | None = None,
    scale: float = 1.0,
    region_scales: Mapping[str, float] | None = None,
    glasses: bool | None = None,
) -> GeometryEdit:
    """Move the face ``face`` (aligned from its landmarks, e.g. by :func:`~hf_segan.alignment.find_faces`) of
    ``rgb`` toward ``condition``.

    The geometry model's displacements toward ``condition`` are multiplied by ``scale`` (the pipeline's
    ``geometry_scale``) and each region's landmarks by its factor in ``region_scales`` (the pipeline's
    ``geometry_region_scales``, keyed by :data:`SCALE_GROUPS`; groups not named keep 1); that full-strength edit is
    held within what a face can do (:func:`limit_brow_descent`, :func:`limit_eye_widening`), its mouth opened by the
    jaw (:func:`open_mouth_with_the_jaw`), and only then multiplied by ``intensity`` (0 changes nothing), so half
    the intensity is always half of the edit, never the same capped move. On a face that wears glasses the landmarks'
    brows (on the frame) stay still and the brows seen above the frame move instead (:func:`brows_above_frame`):
    ``glasses`` None finds out (:func:`~hf_segan.glasses.wears_glasses`), True or False says. The
    field is built on the face's aligned crop (its side is the field's resolution) and sampled at the photo's full
    resolution. Where the field would fold, only the region moving nearest to the fold is scaled down, step by step.
    """
    if face.landmarks is None:
        raise ValueError("This face was found without landmarks (Haar fallback); a geometric edit needs them.")
    size = face.size
    source = np.asarray(face.landmarks, np.float64)
    points = _apply(face.inverse, source)
    predicted = geometry.predict_targets(torch.from_numpy(source)[None], condition[None])[0].numpy()
    full = (
        (predicted - source) * scale * (movable_landmarks(regions) * region_scales_per_landmark(region_scales))[:, None]
    )
    glasses = wears_glasses(face.crop, source) if glasses is None else bool(glasses)
    extra_source, extra_moves = np.zeros((0, 2)), np.zeros((0, 2))
    if glasses:  # the landmark net's brows lie on the frame: the frame stays, the brows above it move
        extra_source, extra_moves = brows_above_frame(source, full)
        extra_moves = extra_moves * intensity
        full[list(SCALE_GROUPS["brows"])] = 0.0
    limited = limit_eye_widening(source, limit_brow_descent(source, full))
    moves = open_mouth_with_the_jaw(source, limited) * intensity
    kept_shut = eyes_kept_shut(full * intensity, moves)
    if np.any(moves[list(LANDMARK_GROUPS["jaw"])]):
        limit = face_mask(source, size, below_jaw=FACE_MASK_BELOW_JAW)
        anchors = np.concatenate([forehead_anchors(source), jaw_anchors(source)])
    else:
        limit, anchors = face_mask(source, size), forehead_anchors(source)
    shares = dict.fromkeys(REGION_LANDMARKS, 1.0)
    while True:
        applied_moves = moves * _per_landmark(shares)[:, None]
        carried = extra_moves * shares["eyes"]
        field = _face_field(source, applied_moves, extra_source, carried, size, limit, anchors)
        all_moves = np.concatenate([applied_moves, carried])
        folding = _folding_region(field, np.concatenate([source, extra_source]) + all_moves, all_moves, size)
        if folding is None:
            break
        shares[folding] *= SHRINK_STEP
        if shares[folding] < SHRINK_STEP**MAX_SHRINKS:
            shares[folding] = 0.0
    moved = [name for name in REGION_MOVES if np.any(moves[list(REGION_MOVES[name])])]
    if np.any(extra_moves):  # the brows above a frame are the eyes region's moves too
        moved.append("eyes")
    applied = min((shares[name] for name in moved), default=1.0)
    moves = applied_moves
    target_photo = _apply(face.inverse, source + moves)
    photo_field = field_in_photo(field, face.inverse, face.matrix, rgb.shape[:2])
    if photo_field is None:
        return GeometryEdit(
            rgb.copy(), np.zeros(rgb.shape[:2], bool), points, target_photo, applied, kept_shut, glasses
        )
    # warp_photo's result is the edit's one copy of the photo: the mouth is redrawn into it, not into another copy
    warped, changed = warp_photo(rgb, *photo_field)
    result, painted = fill_opened_mouth(warped, rgb, points, target_photo, in_place=True)
    return GeometryEdit(result, changed | painted, points, target_photo, applied, kept_shut, glasses)
