"""The tracked instrument: it reads known motions of a real photo (none, a similarity, known lid and brow warps),
and says 'not measured' where the pixels it follows are gone."""

import cv2
import numpy as np
import pytest
from face_shapes import TEMPLATE_MEASURES, neutral_face
from skimage import data

from hf_segan.alignment import find_faces
from hf_segan.landmarks import EYELID_PAIRS, detect_landmarks
from hf_segan.metrics.expression_geometry import INNER_BROW_ENDS, THRESHOLDS, expression_measures
from hf_segan.metrics.tracked_geometry import TRACKED_MEASURES, track_landmarks, tracked_checks
from hf_segan.warp_field import eye_distance, face_mask, field_in_photo, forehead_anchors, landmark_field, warp_photo


@pytest.fixture(scope="module")
def astronaut():
    rgb = data.astronaut()
    return rgb, detect_landmarks(rgb, max_faces=1)[0].points, find_faces(rgb, "largest", size=128)[0][0]


def _warp(rgb, face, moves_in_eye_distances):
    """``rgb`` warped as an edit warps it, the aligned face's landmarks moved by (68, 2) eye distances."""
    source = np.asarray(face.landmarks, np.float64)
    target = source + moves_in_eye_distances * eye_distance(source)
    field = landmark_field(
        source, target, face.size, limit=face_mask(source, face.size), anchors=forehead_anchors(source)
    )
    warped, _ = warp_photo(rgb, *field_in_photo(field, face.inverse, face.matrix, rgb.shape[:2]))
    return warped


def _change(points, tracked):
    before, after = expression_measures(points), expression_measures(tracked, allow_missing=True)
    return {name: after[name] - before[name] for name in TRACKED_MEASURES}


def test_an_unchanged_photo_reads_no_motion(astronaut):
    rgb, points, _ = astronaut
    tracked = track_landmarks(rgb, rgb.copy(), points)
    assert np.abs(tracked - points).max() < 0.01
    checks = tracked_checks(rgb, rgb.copy(), points, "anger")
    assert [(c.measure, c.measured, c.passed) for c in checks] == [("inner_brow_distance", True, False)]
    assert abs(checks[0].delta) < 1e-3


def test_a_known_similarity_is_read_back_and_moves_no_measure(astronaut):
    rgb, points, _ = astronaut
    centre = points.mean(0)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 4.0, 1.03)
    matrix[:, 2] += (3.4, -2.6)
    moved = cv2.warpAffine(rgb, matrix, rgb.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    expected = points @ matrix[:, :2].T + matrix[:, 2]
    tracked = track_landmarks(rgb, moved, points)
    used = [i for pair in EYELID_PAIRS for i in pair] + list(range(36, 48)) + list(INNER_BROW_ENDS)
    assert np.isfinite(tracked[used]).all()
    # the features (brows, nose, eyes, mouth); the jaw line lies on the face's edge, where a window sees background
    error = np.linalg.norm(tracked[17:] - expected[17:], axis=1)
    assert np.isfinite(error).all() and error.max() < 0.02 * eye_distance(points)
    assert all(abs(change) < 0.01 for change in _change(points, tracked).values())


def test_a_known_lid_opening_is_read_back(astronaut):
    rgb, points, face = astronaut
    moves = np.zeros((68, 2))
    amount = 0.05  # eye distances between the lids, half each way
    moves[[upper for upper, _ in EYELID_PAIRS], 1] -= amount / 2
    moves[[lower for _, lower in EYELID_PAIRS], 1] += amount / 2
    edited = _warp(rgb, face, moves)
    change = _change(points, track_landmarks(rgb, edited, points))
    assert 0.6 * amount <= change["eye_opening"] <= 1.3 * amount
    assert abs(change["inner_brow_distance"]) < THRESHOLDS["inner_brow_distance"]  # not read as a brow move
    (check,) = tracked_checks(rgb, edited, points, "surprise")
    assert check.measure == "eye_opening" and check.passed


def test_a_known_brow_pull_is_read_back(astronaut):
    rgb, points, face = astronaut
    moves = np.zeros((68, 2))
    pull = 0.05  # each inner brow end toward the midline, fading outward as SynthFaces draws it
    profile = (1 - np.linspace(0.0, 1.0, 5)) ** 2
    moves[[21, 20, 19, 18, 17], 0] += pull * profile
    moves[[22, 23, 24, 25, 26], 0] -= pull * profile
    edited = _warp(rgb, face, moves)
    change = _change(points, track_landmarks(rgb, edited, points))
    assert -1.3 * 2 * pull <= change["inner_brow_distance"] <= -0.6 * 2 * pull
    assert abs(change["eye_opening"]) < THRESHOLDS["eye_opening"]  # not read as a lid move
    (check,) = tracked_checks(rgb, edited, points, "anger")
    assert check.measure == "inner_brow_distance" and check.passed


def test_pixels_that_are_gone_are_not_measured_and_fail(astronaut):
    rgb, points, _ = astronaut
    edited = rgb.copy()
    eye = points[42:48]
    x0, y0 = np.floor(eye.min(0) - 4).astype(int)
    x1, y1 = np.ceil(eye.max(0) + 4).astype(int)
    edited[y0:y1, x0:x1] = np.random.default_rng(0).integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
    tracked = track_landmarks(rgb, edited, points)
    assert np.isnan(tracked[42:48]).any() and np.isfinite(tracked[48:68]).all()
    checks = tracked_checks(rgb, edited, points, "surprise")
    assert [(c.measured, c.passed) for c in checks] == [(False, False)]


def test_bad_input_gets_a_clear_error(astronaut):
    rgb, points, _ = astronaut
    with pytest.raises(ValueError, match="original's size"):
        track_landmarks(rgb, rgb[:-1], points)
    with pytest.raises(ValueError, match="uint8"):
        track_landmarks(rgb.astype(np.float32), rgb, points)
    with pytest.raises(ValueError, match="68 finite"):
        track_landmarks(rgb, rgb, points[:10])
    with pytest.raises(ValueError, match="Unknown measure"):
        tracked_checks(rgb, rgb, points, "anger", measures=("eye_size",))


def test_a_missing_point_leaves_only_the_measures_that_read_it_unmeasured():
    points = neutral_face()
    points[21] = np.nan  # an inner brow end
    measures = expression_measures(points, allow_missing=True)
    assert np.isnan(measures["inner_brow_distance"]) and np.isnan(measures["brow_height"])
    assert measures["eye_opening"] == pytest.approx(TEMPLATE_MEASURES["eye_opening"])
    points[37] = np.nan  # an eye point: the eyes' frame, so every measure, is lost
    assert all(np.isnan(value) for value in expression_measures(points, allow_missing=True).values())
    with pytest.raises(ValueError, match="NaN"):
        expression_measures(points)
