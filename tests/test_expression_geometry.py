import numpy as np
import pytest
from face_shapes import TEMPLATE_MEASURES, mirrored, neutral_face, place

from hf_segan.metrics.expression_geometry import (
    HOLD,
    MEASURES,
    THRESHOLDS,
    edit_passes,
    expression_measures,
    required_directions,
    score_edit,
)


def _lift_corners(points: np.ndarray, up: float, out: float = 0.0) -> np.ndarray:
    moved = points.copy()
    moved[[48, 54], 1] -= up
    moved[48, 0] -= out
    moved[54, 0] += out
    return moved


def test_template_measures_are_read_off_its_coordinates():
    measures = expression_measures(neutral_face())
    assert set(measures) == set(MEASURES)
    for name, value in TEMPLATE_MEASURES.items():
        assert measures[name] == pytest.approx(value, abs=1e-12), name


def test_known_movements_give_known_values():
    face = neutral_face()
    assert expression_measures(_lift_corners(face, 0.12))["lip_corner_height"] == pytest.approx(0.12)
    assert expression_measures(_lift_corners(face, 0.0, 0.05))["mouth_width"] == pytest.approx(0.9)
    one_sided = face.copy()
    one_sided[48, 1] -= 0.1  # a lopsided smile counts half
    assert expression_measures(one_sided)["lip_corner_height"] == pytest.approx(0.05)
    assert expression_measures(mirrored(one_sided, 10))["lip_corner_height"] == pytest.approx(0.05)
    opened = face.copy()
    opened[[65, 66, 67], 1] += 0.2
    assert expression_measures(opened)["mouth_opening"] == pytest.approx(0.2)
    # lips that part evenly leave the corners on the line where they meet
    parted = face.copy()
    parted[[61, 62, 63], 1] -= 0.1
    parted[[65, 66, 67], 1] += 0.1
    assert expression_measures(parted)["lip_corner_height"] == pytest.approx(0.0)
    assert expression_measures(parted)["mouth_opening"] == pytest.approx(0.2)
    raised = face.copy()
    raised[17:27, 1] -= 0.1
    assert expression_measures(raised)["brow_height"] == pytest.approx(0.4)
    inner = face.copy()
    inner[21, 0] += 0.03
    inner[22, 0] -= 0.03
    inner[[21, 22], 1] += 0.05
    measures = expression_measures(inner)
    assert measures["inner_brow_distance"] == pytest.approx(0.14)
    assert measures["inner_brow_height"] == pytest.approx(0.25)
    wide = face.copy()
    wide[[37, 38, 43, 44], 1] -= 0.02
    wide[[40, 41, 46, 47], 1] += 0.02
    assert expression_measures(wide)["eye_opening"] == pytest.approx(0.14)


@pytest.mark.parametrize(
    "scale, angle, offset", [(180.0, 0.0, (300, 250)), (55.0, 12.0, (-40, 900)), (3.0, -90, (0, 0))]
)
def test_measures_ignore_where_the_face_is_how_it_is_turned_and_its_size(scale, angle, offset):
    face = _lift_corners(neutral_face(), 0.07, 0.02)
    expected = expression_measures(face)
    placed = expression_measures(place(face, scale, angle, offset))
    assert placed == pytest.approx(expected, abs=1e-9)
    assert expression_measures(mirrored(place(face, scale, angle, offset), 640)) == pytest.approx(expected, abs=1e-9)


def test_bad_landmarks_are_refused():
    with pytest.raises(ValueError, match=r"shape \(68, 2\)"):
        expression_measures(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="eye centres coincide"):
        expression_measures(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="Unknown target expression"):
        score_edit(neutral_face(), neutral_face(), "contempt")


def test_a_smile_passes_happy_and_fails_sad():
    before = place(neutral_face(), 100, 5, (200, 200))
    smile = _lift_corners(neutral_face(), 2 * THRESHOLDS["lip_corner_height"], THRESHOLDS["mouth_width"])
    after = place(smile, 100, 5, (200, 200))
    happy = score_edit(before, after, "happy")
    assert {c.measure for c in happy} == {"lip_corner_height", "mouth_width"}
    assert edit_passes(happy)
    assert not edit_passes(score_edit(before, after, "sad"))


def test_half_intensity_asks_for_half_the_threshold():
    before = neutral_face()
    lift = 0.75 * THRESHOLDS["lip_corner_height"]
    after = _lift_corners(before, lift, 0.75 * THRESHOLDS["mouth_width"] / 2)
    assert not edit_passes(score_edit(before, after, "happy", 1.0))
    assert edit_passes(score_edit(before, after, "happy", 0.5))
    check = next(c for c in score_edit(before, after, "happy", 0.5) if c.measure == "lip_corner_height")
    assert check.required == pytest.approx(THRESHOLDS["lip_corner_height"] / 2)
    assert check.delta == pytest.approx(lift)


def test_a_change_in_the_wrong_direction_fails_however_large():
    before = neutral_face()
    after = _lift_corners(before, -0.2, 0.1)  # corners far down: wider but not happier
    checks = {c.measure: c.passed for c in score_edit(before, after, "happy")}
    assert checks == {"lip_corner_height": False, "mouth_width": True}


def test_neutral_moves_a_smile_back_and_holds_everything_else():
    smiling = _lift_corners(neutral_face(), 0.1)
    directions = required_directions("neutral", expression_measures(smiling))
    assert directions["lip_corner_height"] == -1
    assert "mouth_width" not in directions  # a relaxing smile narrows the mouth by a person-dependent amount
    assert all(directions[m] == HOLD for m in MEASURES if m not in ("lip_corner_height", "mouth_width"))
    assert edit_passes(score_edit(smiling, neutral_face(), "neutral"))
    assert not edit_passes(score_edit(smiling, smiling, "neutral"))
    raised = neutral_face()
    raised[17:27, 1] -= 0.1
    assert not edit_passes(score_edit(smiling, _lift_corners(raised, 0.0), "neutral"))
    # a face already neutral passes when nothing moves
    assert edit_passes(score_edit(neutral_face(), neutral_face(), "neutral"))
