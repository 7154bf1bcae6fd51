"""The real-photo evaluation: verdicts and tables from constructed edits, the landmark plumbing on a real photo,
and ``hf-segan evaluate --photos`` end to end on a tiny pipeline."""

import csv
import io

import numpy as np
import pytest
from face_shapes import neutral_face, place
from PIL import Image
from skimage import data

from hf_segan.cli import main
from hf_segan.metrics.expression_geometry import THRESHOLDS, score_edit
from hf_segan.metrics.photo_fidelity import FidelityReport
from hf_segan.photo_evaluation import (
    Photo,
    PhotoEditRecord,
    done_when_verdicts,
    evaluate_photo_edit,
    find_face,
    report_markdown,
    results_csv,
    results_markdown,
    tracked_verdict,
)

INTACT = FidelityReport(outside_unchanged=1.0, sharpness_ratio=1.0, mean_colour_shift=0.0, new_colour_fraction=0.0)


def _record(lift: float, intensity: float = 1.0, fidelity: FidelityReport = INTACT) -> PhotoEditRecord:
    before = place(neutral_face(), 80, 0, (256, 256))
    smile = neutral_face()
    smile[[48, 54], 1] -= lift
    smile[48, 0] -= lift
    smile[54, 0] += lift
    checks = score_edit(before, place(smile, 80, 0, (256, 256)), "happy", intensity)
    return PhotoEditRecord("face", "happy", intensity, checks, fidelity)


def test_verdicts_count_every_edit_and_hold_only_when_all_pass():
    big = 2 * max(THRESHOLDS["lip_corner_height"], THRESHOLDS["mouth_width"])
    blurred = FidelityReport(1.0, 0.8, 0.0, 0.0)
    records = [_record(big), _record(big / 2, 0.5), _record(big, fidelity=blurred)]
    assert [(v.passed, v.total, v.holds) for v in done_when_verdicts(records)] == [
        (3, 3, True),
        (3, 3, True),
        (2, 3, False),
        (3, 3, True),
    ]
    small = done_when_verdicts([_record(big), _record(0.0)])[0]
    assert (small.passed, small.total, small.holds) == (1, 2, False)
    assert not done_when_verdicts([])[0].holds


def test_tables_show_mean_changes_and_pass_counts():
    big = 2 * max(THRESHOLDS["lip_corner_height"], THRESHOLDS["mouth_width"])
    records = [_record(big), _record(0.0), _record(big / 2, 0.5)]
    text = results_markdown(records)
    assert text.startswith("### happy")
    rows = [line for line in text.splitlines() if line.startswith("| 1 ") or line.startswith("| 0.5 ")]
    assert rows[0].startswith(f"| 1 | 2 | 1/2 | {big / 2:+.3f} (1/2) | {big:+.3f} (1/2) | 2/2 | 2/2 | 2/2 |")
    assert rows[1].startswith(f"| 0.5 | 1 | 1/1 | {big / 2:+.3f} (1/1) |")
    table = list(csv.DictReader(io.StringIO(results_csv(records))))
    assert len(table) == 3 and table[0]["passed_lip_corner_height"] == "True"
    assert table[0]["passed_brow_height"] == "" and float(table[1]["delta_mouth_width"]) == 0.0


def _anger(tracked_pull: float | None) -> PhotoEditRecord:
    """An anger edit whose brows the net reads lowered but not together, and the tracker drawn together by
    ``tracked_pull`` on each side (None: the tracker lost an inner brow end)."""
    before = neutral_face()
    lowered = neutral_face()
    lowered[17:27, 1] += 2 * THRESHOLDS["brow_height"]
    together = lowered.copy()
    if tracked_pull is None:
        together[21] = np.nan
    else:
        together[21, 0] += tracked_pull
        together[22, 0] -= tracked_pull
    checks = score_edit(place(before, 80, 0, (256, 256)), place(lowered, 80, 0, (256, 256)), "anger")
    tracked = score_edit(before, together, "anger", allow_missing=True)
    tracked = [check for check in tracked if check.measure == "inner_brow_distance"]
    return PhotoEditRecord("face", "anger", 1.0, checks, INTACT, tracked)


def test_tracked_measures_are_reported_beside_the_nets_verdict_never_instead_of_it():
    pull = THRESHOLDS["inner_brow_distance"]  # each side, so the brows come twice the threshold closer
    records = [_anger(pull), _anger(None), _anger(0.0)]
    assert [r.expression_passed for r in records] == [False, False, False]  # the net sees no brows together
    assert [r.expression_passed_with_tracking for r in records] == [True, False, False]
    assert [(c.measured, c.passed) for c in records[1].tracked] == [(False, False)]
    assert done_when_verdicts(records)[0].passed == 0
    assert (tracked_verdict(records).passed, tracked_verdict(records).total) == (1, 3)
    text = results_markdown(records)
    header, _, row = text.splitlines()[2:5]
    assert "inner_brow_distance Δ (pass)" in header and "inner_brow_distance tracked Δ (pass)" in header
    assert f"| {-pull:+.3f} (1/3, 1 not measured) | 1/3 |" in row  # mean over the measured two: -2 pull and 0
    report = report_markdown("edits", [Photo("face", "face", np.zeros((4, 4, 3), np.uint8))], records)
    assert "- FAIL (0/3): every edit moves its measures" in report
    assert "Second instrument, next to the landmark net's verdict: FAIL (1/3): expression, with tracked" in report
    table = list(csv.DictReader(io.StringIO(results_csv(records))))
    assert [row["tracked_passed_inner_brow_distance"] for row in table] == ["True", "False", "False"]
    assert table[1]["tracked_delta_inner_brow_distance"] == "nan" and table[0]["tracked_delta_eye_opening"] == ""
    assert [row["reads_as_target_with_tracking"] for row in table] == ["True", "False", "False"]


class Untouched:
    """A pipeline whose photo edit returns the photo as it was."""

    def edit_photo(self, photo, expression, intensity):
        return type("Result", (), {"image": Image.fromarray(photo)})()


def test_an_edit_that_changes_nothing_keeps_the_photo_and_moves_no_measure():
    photo = Photo("astronaut", "astronaut", data.astronaut())
    face = find_face(photo)
    happy = evaluate_photo_edit(Untouched(), photo, face, "happy", 1.0)
    assert all(check.delta == 0.0 for check in happy.checks)
    assert not happy.expression_passed
    assert happy.fidelity.outside_passed and happy.fidelity.sharpness_passed and happy.fidelity.colour_passed
    # the astronaut smiles: neutral asks her mouth corners down, so leaving them up fails
    neutral = evaluate_photo_edit(Untouched(), photo, face, "neutral", 1.0)
    corners = next(check for check in neutral.checks if check.measure == "lip_corner_height")
    assert corners.direction == -1 and not corners.passed


def _evaluate(*args: str) -> int:
    """``hf-segan evaluate *args`` in process (test_cli_edit runs the command line as a subprocess)."""
    return main(["evaluate", *args])


def test_evaluate_photos_writes_its_table(tiny_pipeline_dir, tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    out = tmp_path / "out"
    result = _evaluate(
        "--model", str(tiny_pipeline_dir), "--name", "tiny", "--photos", str(tmp_path / "astronaut.png"),
        "--targets", "happy", "surprise", "--intensities", "1", "0.5", "--out", str(out),
    )  # fmt: skip
    assert result == 0
    report = (out / "real_photos_tiny.md").read_text()
    assert "### happy" in report and "### surprise" in report and "lip_corner_height Δ (pass)" in report
    assert "pixels outside the editable region are bit-identical" in report
    rows = list(csv.DictReader(io.StringIO((out / "real_photos_tiny.csv").read_text())))
    assert [(r["photo"], r["target"], r["intensity"]) for r in rows] == [
        ("astronaut.png", "happy", "1.0"),
        ("astronaut.png", "happy", "0.5"),
        ("astronaut.png", "surprise", "1.0"),
        ("astronaut.png", "surprise", "0.5"),
    ]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize(
    "photo, message", [("blank.png", "No face found in blank.png"), ("missing.png", "is not a file")]
)
def test_evaluate_photos_refuses_a_photo_it_cannot_judge(tiny_pipeline_dir, tmp_path, capsys, photo, message):
    Image.fromarray(np.full((128, 128, 3), 120, np.uint8)).save(tmp_path / "blank.png")
    out = tmp_path / "out"
    result = _evaluate("--model", str(tiny_pipeline_dir), "--photos", str(tmp_path / photo), "--out", str(out))
    err = capsys.readouterr().err
    assert result != 0 and message in err and "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())
