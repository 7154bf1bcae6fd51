"""Action-unit-like measures of a face's expression from its 68 iBUG landmarks, and a pass/fail score of an edit.

A model trained on SynthFaces cannot be judged on a photo by comparing pixels with a ground truth (there is
none), and the expression classifiers that could judge it are reserved for independent evaluation. What does
transfer is geometry: a smile lifts and widens the mouth corners, surprise raises the brows and opens eyes and
mouth. Each measure here reads one such movement from landmarks, in a frame fixed by the eyes (origin between
the eye centres, x from the image-left to the image-right eye, unit = inter-ocular distance), so it does not
change when the whole face moves, turns in the image plane, or is scaled, and it reads the same on a mirrored
photo (every measure averages or spans both sides).

``score_edit`` compares the measures of a face before and after an edit with the direction each target
expression defines (``EXPECTED_DIRECTIONS``), asking for at least ``THRESHOLDS[measure] * intensity`` of
movement: a visible change at intensity 1 and half of it at 0.5. ``docs/real_photos.md`` says how the
thresholds were chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..expressions import check_intensity
from ..landmarks import EYELID_PAIRS, LANDMARK_GROUPS

#: iBUG-300W indices used by the measures (image-left side first).
LEFT_BROW = tuple(LANDMARK_GROUPS["left_brow"])
RIGHT_BROW = tuple(LANDMARK_GROUPS["right_brow"])
LEFT_EYE = tuple(LANDMARK_GROUPS["left_eye"])
RIGHT_EYE = tuple(LANDMARK_GROUPS["right_eye"])
INNER_BROW_ENDS = (21, 22)
MOUTH_CORNERS = (48, 54)
#: Upper and lower inner-lip points facing each other.
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
#: Centre of the line where the lips meet: the inner upper and inner lower lip's middle points.
LIP_MIDLINE = (62, 66)

MEASURES: tuple[str, ...] = (
    "lip_corner_height",
    "mouth_width",
    "mouth_opening",
    "brow_height",
    "inner_brow_height",
    "inner_brow_distance",
    "eye_opening",
)

#: The expressions the real-photo evaluation edits toward.
TARGET_EXPRESSIONS: tuple[str, ...] = ("happy", "sad", "surprise", "anger", "fear", "neutral")

#: +1: the measure must grow, -1: it must shrink. Measures not named are not judged for that target.
#: ``neutral`` is special: see ``NEUTRAL_REFERENCE`` and ``required_directions``.
EXPECTED_DIRECTIONS: dict[str, dict[str, int]] = {
    "happy": {"lip_corner_height": 1, "mouth_width": 1},
    "sad": {"lip_corner_height": -1, "inner_brow_height": 1},
    "surprise": {"brow_height": 1, "eye_opening": 1, "mouth_opening": 1},
    "anger": {"brow_height": -1, "inner_brow_distance": -1},
    "fear": {"brow_height": 1, "eye_opening": 1, "mouth_opening": 1},
    "neutral": {},
}

#: Values a relaxed neutral face has whatever the person: the lips meet (no opening) and the mouth corners lie on
#: the line where they meet. Toward ``neutral``, these measures must move toward these values when they are
#: further than their threshold from them; every other measure (which depends on the person's face, so has no
#: reference) must stay within its threshold of where it was, except ``NEUTRAL_UNJUDGED``.
NEUTRAL_REFERENCE: dict[str, float] = {"lip_corner_height": 0.0, "mouth_opening": 0.0}
#: Measures not judged toward ``neutral``: the mouth's width follows its corners (a smile that relaxes narrows
#: the mouth by an amount that depends on the person), so it can neither be held nor given a reference.
NEUTRAL_UNJUDGED: tuple[str, ...] = ("mouth_width",)

#: Smallest movement (in inter-ocular distances) that counts as a visible change at intensity 1. Each is three
#: times the landmark net's spread on views of the same unedited face (``photo_evaluation.landmark_noise``:
#: mirror images and 10-degree turns of the development photos), rounded up to 0.01, at least 0.02 (a change
#: of one or two pixels at usual face sizes is not visible) and at most half of the mouth-corner movement known
#: to read clearly as happy (0.12). ``docs/real_photos.md`` has the measured spreads.
THRESHOLDS: dict[str, float] = {
    "lip_corner_height": 0.02,
    "mouth_width": 0.05,
    "mouth_opening": 0.04,
    "brow_height": 0.04,
    "inner_brow_height": 0.05,
    "inner_brow_distance": 0.03,
    "eye_opening": 0.02,
}

#: Direction code for a measure that must not move (beyond its threshold).
HOLD = 0


def _check_points(points: np.ndarray, name: str, allow_missing: bool = False) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.shape != (68, 2):
        raise ValueError(f"{name} must be 68 (x, y) landmarks in iBUG-300W order, shape (68, 2); got {array.shape}.")
    if np.isinf(array).any() or (not allow_missing and np.isnan(array).any()):
        raise ValueError(f"{name} contains NaN or infinite coordinates.")
    return array


def eye_centres(points: np.ndarray, allow_missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The image-left and image-right eye centres: the means of each eye's six landmarks (NaN where one of them is
    missing, with ``allow_missing``)."""
    array = _check_points(points, "points", allow_missing)
    return array[list(LEFT_EYE)].mean(0), array[list(RIGHT_EYE)].mean(0)


def face_frame_points(points: np.ndarray, allow_missing: bool = False) -> np.ndarray:
    """The 68 landmarks in the eyes' frame: origin midway between the eye centres (:func:`eye_centres`), x toward
    the image-right eye, y perpendicular pointing down the face, unit = inter-ocular distance.

    With ``allow_missing``, NaN coordinates (points an instrument could not measure) are accepted and carry on
    into every result that reads them; a missing eye point makes the whole frame NaN."""
    array = _check_points(points, "points", allow_missing)
    left, right = eye_centres(array, allow_missing)
    distance = float(np.linalg.norm(right - left))
    if distance < 1e-6:
        raise ValueError("The two eye centres coincide; these are not the landmarks of a face.")
    x_axis = (right - left) / distance
    y_axis = np.array([-x_axis[1], x_axis[0]])
    centred = array - (left + right) / 2
    return np.stack([centred @ x_axis, centred @ y_axis], axis=1) / distance


def expression_measures(points: np.ndarray, allow_missing: bool = False) -> dict[str, float]:
    """``MEASURES`` of one face from its (68, 2) landmarks, each in inter-ocular distances (NaN, with
    ``allow_missing``, for a measure that reads a missing point or when an eye point is missing).

    - ``lip_corner_height``: how far the mouth corners sit above the middle of the line where the lips meet
      (positive = corners up);
    - ``mouth_width``: corner to corner;
    - ``mouth_opening``: mean gap between facing inner-lip points;
    - ``brow_height``: mean height of all ten brow points above the eye line;
    - ``inner_brow_height``: the same for the two inner brow ends only;
    - ``inner_brow_distance``: between the inner brow ends;
    - ``eye_opening``: mean gap between facing eyelid points.
    """
    q = face_frame_points(points, allow_missing)
    x, y = q[:, 0], q[:, 1]
    corners = list(MOUTH_CORNERS)
    brows = list(LEFT_BROW + RIGHT_BROW)
    inner = list(INNER_BROW_ENDS)
    return {
        "lip_corner_height": float(y[list(LIP_MIDLINE)].mean() - y[corners].mean()),
        "mouth_width": float(np.linalg.norm(q[corners[1]] - q[corners[0]])),
        "mouth_opening": float(np.mean([y[lower] - y[upper] for upper, lower in INNER_LIP_PAIRS])),
        "brow_height": float(-y[brows].mean()),
        "inner_brow_height": float(-y[inner].mean()),
        "inner_brow_distance": float(abs(x[inner[1]] - x[inner[0]])),
        "eye_opening": float(np.mean([y[lower] - y[upper] for upper, lower in EYELID_PAIRS])),
    }


def required_directions(
    target: str, before: Mapping[str, float], thresholds: Mapping[str, float] = THRESHOLDS
) -> dict[str, int]:
    """The direction each judged measure must move for an edit toward ``target`` of a face measuring ``before``:
    +1 up, -1 down, ``HOLD`` stay (only ``neutral`` holds; it also moves toward ``NEUTRAL_REFERENCE``)."""
    if target not in EXPECTED_DIRECTIONS:
        raise ValueError(f"Unknown target expression {target!r}; the real-photo measures judge {TARGET_EXPRESSIONS}.")
    if target != "neutral":
        return dict(EXPECTED_DIRECTIONS[target])
    directions = {}
    for measure in (m for m in MEASURES if m not in NEUTRAL_UNJUDGED):
        gap = NEUTRAL_REFERENCE.get(measure, before[measure]) - before[measure]
        directions[measure] = int(np.sign(gap)) if abs(gap) > thresholds[measure] else HOLD
    return directions


@dataclass(frozen=True)
class MeasureCheck:
    """One measure of one edit: its values, the direction it had to move, the movement asked for, and the verdict.

    For a moving measure ``passed`` means ``direction * delta >= required``; for a held one, ``|delta| <=
    required``."""

    measure: str
    before: float
    after: float
    direction: int
    required: float
    passed: bool

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def measured(self) -> bool:
        """False when the instrument could not read the measure after the edit (then ``passed`` is False)."""
        return bool(np.isfinite(self.after))


def score_edit(
    before_points: np.ndarray,
    after_points: np.ndarray,
    target: str,
    intensity: float = 1.0,
    thresholds: Mapping[str, float] = THRESHOLDS,
    allow_missing: bool = False,
) -> list[MeasureCheck]:
    """Judge an edit toward ``target`` at ``intensity`` from the face's landmarks before and after it.

    A measure that must move passes when it moved at least ``thresholds[measure] * intensity`` in its direction;
    a held one (``neutral``) passes when it moved at most ``thresholds[measure]``. The edit reads as the target
    when every check passes (``edit_passes``). With ``allow_missing``, ``after_points`` may hold NaN for points
    that could not be measured; a measure reading one is not measured (NaN) and its check fails.
    """
    intensity = check_intensity(intensity)
    before = expression_measures(before_points)
    after = expression_measures(after_points, allow_missing)
    checks = []
    for measure, direction in required_directions(target, before, thresholds).items():
        delta = after[measure] - before[measure]
        if direction == HOLD:
            required, passed = thresholds[measure], abs(delta) <= thresholds[measure]
        else:
            required = thresholds[measure] * intensity
            passed = direction * delta >= required
        checks.append(MeasureCheck(measure, before[measure], after[measure], direction, required, bool(passed)))
    return checks


def edit_passes(checks: list[MeasureCheck]) -> bool:
    """True when every judged measure of an edit passed."""
    return all(check.passed for check in checks)
