import cv2
import numpy as np
import pytest
from face_shapes import neutral_face, place

from hf_segan.metrics.photo_fidelity import (
    COLOUR_TOLERANCE,
    EDITABLE_MARGIN,
    editable_region,
    mean_colour_shift,
    new_colour_fraction,
    outside_unchanged_fraction,
    photo_fidelity,
    sharpness_ratio,
)

POINTS = place(neutral_face(), 40.0, 0.0, (100.0, 80.0))  # inter-ocular distance 40 px
BOX = (55.0, 55.0, 90.0, 100.0)


def _photo(seed: int = 0) -> np.ndarray:
    """A textured 200x200 'photo' with a skin-toned face area: fine detail everywhere, so blur is measurable."""
    rng = np.random.default_rng(seed)
    base = np.full((200, 200, 3), (90, 110, 140), np.float64)
    base[50:160, 50:150] = (200, 150, 120)
    noise = rng.normal(0, 25, (200, 200, 3))
    return np.clip(cv2.GaussianBlur(base + noise, (0, 0), 1.2), 0, 255).astype(np.uint8)


def _inside(rgb: np.ndarray, change) -> np.ndarray:
    """``rgb`` with ``change`` applied only inside the face's editable region."""
    region = editable_region(rgb.shape, POINTS)
    edited = rgb.copy()
    edited[region] = change(rgb)[region]
    return edited


def test_editable_region_is_the_hull_grown_by_the_margin():
    region = editable_region((200, 200, 3), POINTS)
    margin = EDITABLE_MARGIN * 40
    top = 80 - 0.3 * 40  # brows
    assert region[int(top - margin) + 2, 100] and not region[int(top - margin) - 2, 100]
    assert region[80, int(100 - 0.95 * 40 - margin) + 2] and not region[80, int(100 - 0.95 * 40 - margin) - 2]
    assert not region[5, 5]


def test_an_untouched_photo_passes_every_check():
    photo = _photo()
    report = photo_fidelity(photo, photo.copy(), POINTS, BOX)
    assert report.outside_unchanged == 1.0 and report.outside_passed
    assert report.sharpness_ratio == 1.0 and report.sharpness_passed
    assert report.mean_colour_shift == 0.0 and report.new_colour_fraction == 0.0 and report.colour_passed


def test_a_geometric_edit_inside_the_face_passes():
    """Moving the face's own pixels adds no colour (a sub-pixel shear's bilinear blends of neighbours are not new
    colours), a whole-pixel move keeps the face as sharp, and the outside stays untouched."""
    photo = _photo()
    shear = np.float32([[1, 0.03, -2.4], [0, 1, 0.5]])
    sheared = photo_fidelity(photo, _inside(photo, lambda rgb: cv2.warpAffine(rgb, shear, (200, 200))), POINTS, BOX)
    assert sheared.outside_passed and sheared.colour_passed, sheared
    shift = np.float32([[1, 0, 3], [0, 1, -2]])
    moved = photo_fidelity(photo, _inside(photo, lambda rgb: cv2.warpAffine(rgb, shift, (200, 200))), POINTS, BOX)
    assert moved.outside_passed and moved.colour_passed and moved.sharpness_passed, moved


def test_a_change_outside_the_region_fails():
    photo = _photo()
    edited = photo.copy()
    edited[0:10, 0:10, 0] ^= 1  # one bit of 100 pixels in a corner
    fraction = outside_unchanged_fraction(photo, edited, editable_region(photo.shape, POINTS))
    outside = (~editable_region(photo.shape, POINTS)).sum()
    assert fraction == pytest.approx(1 - 100 / outside)
    assert not photo_fidelity(photo, edited, POINTS, BOX).outside_passed


def test_a_blurred_face_fails_sharpness():
    photo = _photo()
    blurred = _inside(photo, lambda rgb: cv2.GaussianBlur(rgb, (0, 0), 1.5))
    report = photo_fidelity(photo, blurred, POINTS, BOX)
    assert report.outside_passed and not report.sharpness_passed
    assert sharpness_ratio(photo, blurred, editable_region(photo.shape, POINTS)) < 0.5


def test_a_tinted_face_fails_colour():
    photo = _photo()
    tinted = _inside(photo, lambda rgb: np.clip(rgb.astype(int) + np.array([0, 0, 40]), 0, 255).astype(np.uint8))
    report = photo_fidelity(photo, tinted, POINTS, BOX)
    assert report.outside_passed and not report.colour_passed
    assert report.mean_colour_shift > 5


def test_a_small_painted_stroke_of_a_new_colour_fails_while_keeping_the_mean():
    """A cyan stroke over 2% of the face hardly moves the mean colour but is a colour the face never had."""
    photo = _photo()
    region = editable_region(photo.shape, POINTS)
    painted = photo.copy()
    painted[100:103, 60:140] = (40, 220, 230)
    assert mean_colour_shift(photo, painted, region) < 8
    assert new_colour_fraction(photo, painted, region, 10) == pytest.approx(240 / region.sum())
    assert not photo_fidelity(photo, painted, POINTS, BOX).colour_passed


def test_a_colour_is_new_where_nothing_near_had_it():
    """Colours within the tolerance of a nearby original pixel are not new; a colour of the face painted far from
    where the face has it is."""
    photo = np.zeros((40, 80, 3), np.uint8)
    photo[:, :40] = (100, 100, 100)
    photo[:, 40:] = (180, 120, 90)
    region = np.ones((40, 80), bool)
    near, moved = photo.copy(), photo.copy()
    near[:10, :10] = (100 + COLOUR_TOLERANCE, 100, 100 - COLOUR_TOLERANCE)
    moved[:10, :10] = (180, 120, 90)  # 31 to 40 pixels from the orange half
    assert new_colour_fraction(photo, near, region, 5) == 0.0
    assert new_colour_fraction(photo, moved, region, 5) == pytest.approx(100 / 3200)
    assert new_colour_fraction(photo, moved, region, 41) == 0.0  # within reach of a warp that long
    assert new_colour_fraction(photo, photo.copy(), region, 5) == 0.0


def test_the_mouths_own_shadow_is_not_new_anywhere_in_the_mouth_but_is_on_the_forehead():
    """An opening mouth shows its own shadow across the opening, though the photo had it only in a corner; the same
    colour painted on the forehead is paint."""
    photo = _photo()
    shadow = (30, 15, 20)
    corner = np.round(POINTS[48] + (2, 0)).astype(int)  # inside the outer lips, at the left corner
    photo[corner[1] - 1 : corner[1] + 2, corner[0] - 1 : corner[0] + 2] = shadow
    middle = np.round((POINTS[51] + POINTS[57]) / 2).astype(int)
    forehead = np.round(POINTS[27] - (0, 0.5 * 40)).astype(int)
    radius = 10  # the middle is 16 px from the corner
    region = editable_region(photo.shape, POINTS)
    in_mouth, on_forehead = photo.copy(), photo.copy()
    in_mouth[middle[1] - 1 : middle[1] + 2, middle[0] - 1 : middle[0] + 2] = shadow
    on_forehead[forehead[1] - 1 : forehead[1] + 2, forehead[0] - 1 : forehead[0] + 2] = shadow
    assert new_colour_fraction(photo, in_mouth, region, radius, points=POINTS) == 0.0
    assert new_colour_fraction(photo, in_mouth, region, radius) == pytest.approx(9 / region.sum())
    assert new_colour_fraction(photo, on_forehead, region, radius, points=POINTS) == pytest.approx(9 / region.sum())


def test_bad_inputs_are_refused():
    photo = _photo()
    with pytest.raises(ValueError, match="shape"):
        outside_unchanged_fraction(photo, photo[:100], editable_region(photo.shape, POINTS))
    with pytest.raises(ValueError, match="boolean"):
        mean_colour_shift(photo, photo, np.ones((200, 200)))
    with pytest.raises(ValueError, match="empty"):
        mean_colour_shift(photo, photo, np.zeros((200, 200), bool))
