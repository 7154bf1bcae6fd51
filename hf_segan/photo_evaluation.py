"""Evaluation of expression edits on real photos, where there is no ground truth to compare with.

Each photo is edited toward each target expression with :meth:`SeganPipeline.edit_photo`, and the edit is
judged by what it did to the face's geometry and what it did to the photo:

- expression: the ported face-api landmark net reads the 68 landmarks on the original (detector box) and on the
  edit *in the box found on the original* (so a strong edit cannot make the detector lose or re-frame the face),
  and :mod:`~hf_segan.metrics.expression_geometry` checks that each measure the target defines moved its way
  by at least its threshold times the intensity;
- fidelity: :mod:`~hf_segan.metrics.photo_fidelity` (outside bit-identical, sharpness, colour).

The landmark net is the primary instrument and its verdict is the issue's. It is shown to be blind to eyelids and
to brows drawn together, so ``eye_opening`` and ``inner_brow_distance`` are also read by a second, clearly
labelled instrument (:mod:`~hf_segan.metrics.tracked_geometry`: the original landmarks tracked into the edit by
image registration), with the same thresholds, and reported next to the net's verdict, never instead of it.

The development set is two public-domain photos that ship in installed packages (scikit-image's astronaut,
matplotlib's Grace Hopper) with their mirror images and 10-degree turns, so nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm.auto import tqdm

from .expressions import check_intensity
from .landmarks import FaceLandmarks, detect_landmarks, landmarks_in_box
from .metrics.expression_geometry import (
    MEASURES,
    TARGET_EXPRESSIONS,
    MeasureCheck,
    edit_passes,
    expression_measures,
    score_edit,
)
from .metrics.photo_fidelity import FidelityReport, photo_fidelity
from .metrics.tracked_geometry import TRACKED_MEASURES, tracked_checks
from .pipeline import SeganPipeline

#: Turns (degrees, counter-clockwise) applied to each development photo, besides its mirror image.
DEVELOPMENT_ROTATIONS: tuple[float, ...] = (-10.0, 10.0)
#: Intensities every edit is made at: the full expression and half of it.
EVALUATION_INTENSITIES: tuple[float, ...] = (1.0, 0.5)


@dataclass(frozen=True)
class Photo:
    """A photo to edit: its name, the photo it was derived from (itself for an original) and its RGB pixels."""

    name: str
    source: str
    rgb: np.ndarray


def rotate_photo(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """``rgb`` turned counter-clockwise about its centre, same size, the border reflected (no black corners for
    a detector to frame)."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def photo_variants(name: str, rgb: np.ndarray) -> list[Photo]:
    """A photo, its mirror image and its ``DEVELOPMENT_ROTATIONS``."""
    variants = [Photo(name, name, rgb), Photo(f"{name}_flip", name, np.ascontiguousarray(rgb[:, ::-1]))]
    variants += [
        Photo(f"{name}_rot{degrees:+g}", name, rotate_photo(rgb, degrees)) for degrees in DEVELOPMENT_ROTATIONS
    ]
    return variants


def development_photos() -> list[Photo]:
    """The development set: scikit-image's astronaut and matplotlib's Grace Hopper (both public domain, both
    installed with their packages; :func:`hf_segan.face_api_parity.development_photos`), each with its variants
    (:func:`photo_variants`)."""
    from .face_api_parity import development_photos as public_domain_photos

    return [photo for name, rgb in public_domain_photos().items() for photo in photo_variants(name, rgb)]


def find_face(photo: Photo) -> FaceLandmarks:
    """The largest face of ``photo`` with its landmarks, or a clear error."""
    faces = detect_landmarks(photo.rgb, max_faces=1)
    if not faces:
        raise ValueError(f"No face found in {photo.name}; the real-photo evaluation needs one face per photo.")
    return faces[0]


def landmark_noise(photos: Sequence[Photo]) -> dict[str, float]:
    """How much each measure changes between views of the same unedited face: the pooled standard deviation,
    over the photos derived from each source, of each measure around that source's mean (inter-ocular units).

    The landmark net reads each view slightly differently; an edit's change must stand clear of that."""
    by_source: dict[str, list[dict[str, float]]] = {}
    for photo in photos:
        by_source.setdefault(photo.source, []).append(expression_measures(find_face(photo).points))
    groups = [views for views in by_source.values() if len(views) > 1]
    if not groups:
        raise ValueError("landmark_noise needs at least two views (e.g. a photo and its mirror image) of a face.")
    freedom = sum(len(views) - 1 for views in groups)
    noise = {}
    for measure in MEASURES:
        squares = 0.0
        for views in groups:
            values = np.array([measures[measure] for measures in views])
            squares += float(np.sum((values - values.mean()) ** 2))
        noise[measure] = float(np.sqrt(squares / freedom))
    return noise


@dataclass(frozen=True)
class PhotoEditRecord:
    """One edit of one photo: what was asked, the expression checks (landmark net), the fidelity report and the
    tracked checks (the second instrument, for ``TRACKED_MEASURES`` the target judges)."""

    photo: str
    target: str
    intensity: float
    checks: list[MeasureCheck]
    fidelity: FidelityReport
    tracked: list[MeasureCheck] = field(default_factory=list)

    @property
    def expression_passed(self) -> bool:
        """The primary verdict: every measure, as the landmark net reads it, moved as the target asks."""
        return edit_passes(self.checks)

    @property
    def expression_passed_with_tracking(self) -> bool:
        """The same, with each tracked measure judged by the tracker instead of the net (a measure the tracker
        could not read fails)."""
        by_measure = {check.measure: check for check in self.tracked}
        return edit_passes([by_measure.get(check.measure, check) for check in self.checks])


def evaluate_photo_edit(
    pipe: SeganPipeline, photo: Photo, face: FaceLandmarks, target: str, intensity: float
) -> PhotoEditRecord:
    """Edit ``photo`` toward ``target`` at ``intensity`` and judge the edit against the original ``face``."""
    edited = np.asarray(pipe.edit_photo(photo.rgb, target, intensity).image.convert("RGB"))
    after = landmarks_in_box(edited, face.box)
    checks = score_edit(face.points, after, target, intensity)
    fidelity = photo_fidelity(photo.rgb, edited, face.points, face.box)
    tracked = tracked_checks(photo.rgb, edited, face.points, target, intensity)
    return PhotoEditRecord(photo.name, target, float(intensity), checks, fidelity, tracked)


def evaluate_photos(
    pipe: SeganPipeline,
    photos: Sequence[Photo],
    targets: Sequence[str] = TARGET_EXPRESSIONS,
    intensities: Sequence[float] = EVALUATION_INTENSITIES,
    progress: bool = True,
) -> list[PhotoEditRecord]:
    """Every photo edited toward every target at every intensity, judged (see the module docstring)."""
    unknown = [target for target in targets if target not in TARGET_EXPRESSIONS]
    if unknown:
        raise ValueError(
            f"Unknown target expression(s) {unknown}; the real-photo evaluation judges {TARGET_EXPRESSIONS}."
        )
    for intensity in intensities:
        check_intensity(intensity)
    records = []
    with tqdm(total=len(photos) * len(targets) * len(intensities), desc="editing photos", disable=not progress) as bar:
        for photo in photos:
            face = find_face(photo)
            for target in targets:
                for intensity in intensities:
                    records.append(evaluate_photo_edit(pipe, photo, face, target, intensity))
                    bar.update()
    return records


def _count(flags: Sequence[bool]) -> str:
    return f"{sum(flags)}/{len(flags)}"


def _change_cell(checks: Sequence[MeasureCheck]) -> str:
    """Mean change over the measured checks and the pass count, with the number not measured where any."""
    measured = [check.delta for check in checks if check.measured]
    mean = f"{np.mean(measured):+.3f}" if measured else "n/a"
    missing = len(checks) - len(measured)
    return f"{mean} ({_count([c.passed for c in checks])}{f', {missing} not measured' if missing else ''})"


def results_markdown(records: Sequence[PhotoEditRecord]) -> str:
    """One table per target expression: a row per intensity with the number of edits that read as the target,
    each judged measure's mean change and pass count, and the fidelity pass counts. Where the target judges a
    tracked measure, its tracked change and pass count and the verdict with tracking follow the net's columns."""
    sections = []
    for target in dict.fromkeys(record.target for record in records):
        of_target = [record for record in records if record.target == target]
        measures = [m for m in MEASURES if any(c.measure == m for r in of_target for c in r.checks)]
        tracked = [m for m in MEASURES if any(c.measure == m for r in of_target for c in r.tracked)]
        header = ["intensity", "edits", "reads as target", *[f"{m} Δ (pass)" for m in measures]]
        if tracked:
            header += [*[f"{m} tracked Δ (pass)" for m in tracked], "reads as target, tracked eye/brow"]
        header += ["outside identical", "sharpness ±10%", "no added colour"]
        lines = [f"### {target}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for intensity in sorted({record.intensity for record in of_target}, reverse=True):
            rows = [record for record in of_target if record.intensity == intensity]
            cells = [f"{intensity:g}", str(len(rows)), _count([r.expression_passed for r in rows])]
            for measure in measures:
                cells.append(_change_cell([c for r in rows for c in r.checks if c.measure == measure]))
            if tracked:
                for measure in tracked:
                    cells.append(_change_cell([c for r in rows for c in r.tracked if c.measure == measure]))
                cells.append(_count([r.expression_passed_with_tracking for r in rows]))
            fidelity = [r.fidelity for r in rows]
            cells += [
                _count([f.outside_passed for f in fidelity]),
                _count([f.sharpness_passed for f in fidelity]),
                _count([f.colour_passed for f in fidelity]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def results_csv(records: Sequence[PhotoEditRecord]) -> str:
    """One CSV row per edit: every measure's change (and verdict where the target judges it), the expression
    verdict, the tracked measures' changes and verdicts where the target judges them (``nan``: not measured) with
    the verdict with tracking, and the fidelity numbers with their verdicts."""
    columns = ["photo", "target", "intensity", "reads_as_target"]
    columns += [f"{kind}_{m}" for m in MEASURES for kind in ("delta", "passed")]
    columns += [f"tracked_{kind}_{m}" for m in TRACKED_MEASURES for kind in ("delta", "passed")]
    columns += ["reads_as_target_with_tracking"]
    columns += ["outside_unchanged", "sharpness_ratio", "mean_colour_shift", "new_colour_fraction"]
    columns += ["outside_passed", "sharpness_passed", "colour_passed"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row: dict[str, object] = {
            "photo": record.photo,
            "target": record.target,
            "intensity": record.intensity,
            "reads_as_target": record.expression_passed,
        }
        for check in record.checks:
            row[f"delta_{check.measure}"] = f"{check.delta:.5f}"
            row[f"passed_{check.measure}"] = check.passed
        for check in record.tracked:
            row[f"tracked_delta_{check.measure}"] = f"{check.delta:.5f}"
            row[f"tracked_passed_{check.measure}"] = check.passed
        row["reads_as_target_with_tracking"] = record.expression_passed_with_tracking
        fidelity = record.fidelity
        row.update(
            outside_unchanged=f"{fidelity.outside_unchanged:.6f}",
            sharpness_ratio=f"{fidelity.sharpness_ratio:.4f}",
            mean_colour_shift=f"{fidelity.mean_colour_shift:.4f}",
            new_colour_fraction=f"{fidelity.new_colour_fraction:.6f}",
            outside_passed=fidelity.outside_passed,
            sharpness_passed=fidelity.sharpness_passed,
            colour_passed=fidelity.colour_passed,
        )
        writer.writerow(row)
    return buffer.getvalue()


@dataclass(frozen=True)
class Verdict:
    """Whether one "Done when" condition of the real-photo issue holds over a set of edits."""

    condition: str
    passed: int
    total: int

    @property
    def holds(self) -> bool:
        return self.total > 0 and self.passed == self.total


def done_when_verdicts(records: Sequence[PhotoEditRecord]) -> list[Verdict]:
    """The issue's conditions, each over every edit: the expression moved its measures (full threshold at
    intensity 1, half at 0.5, see ``score_edit``), the outside is bit-identical, the face is as sharp within 10%,
    and no colour was added."""
    conditions = [
        ("every edit moves its measures the target's way, visibly at 1 and half of it at 0.5", "expression_passed"),
        ("pixels outside the editable region are bit-identical", "outside_passed"),
        ("face sharpness within 10% of the original", "sharpness_passed"),
        ("no edit adds colour that was not in the face", "colour_passed"),
    ]
    verdicts = []
    for text, attribute in conditions:
        flags = [getattr(r if attribute == "expression_passed" else r.fidelity, attribute) for r in records]
        verdicts.append(Verdict(text, sum(flags), len(flags)))
    return verdicts


#: The condition of :func:`tracked_verdict`, worded so that no reader takes it for the issue's own.
TRACKED_VERDICT = (
    "expression, with tracked eye opening and brow distance (second instrument: eye_opening and "
    "inner_brow_distance read by tracking the original landmarks into the edit, same thresholds)"
)


def tracked_verdict(records: Sequence[PhotoEditRecord]) -> Verdict:
    """The expression condition with ``TRACKED_MEASURES`` read by the tracker instead of the net (a second
    instrument next to the issue's, not a replacement for it)."""
    flags = [record.expression_passed_with_tracking for record in records]
    return Verdict(TRACKED_VERDICT, sum(flags), len(flags))


def _verdict_line(verdict: Verdict) -> str:
    return f"{'PASS' if verdict.holds else 'FAIL'} ({verdict.passed}/{verdict.total}): {verdict.condition}"


def report_markdown(title: str, photos: Sequence[Photo], records: Sequence[PhotoEditRecord]) -> str:
    """The whole report: a heading naming the photos, a PASS/FAIL line per condition (the landmark net's, the
    issue's instrument), the line with tracked eye opening and brow distance below them, then the tables."""
    lines = [f"# {title} ({len(photos)} photos: {', '.join(photo.name for photo in photos)})", ""]
    lines += [f"- {_verdict_line(verdict)}" for verdict in done_when_verdicts(records)]
    lines += ["", f"Second instrument, next to the landmark net's verdict: {_verdict_line(tracked_verdict(records))}"]
    return "\n".join(lines) + "\n\n" + results_markdown(records)
