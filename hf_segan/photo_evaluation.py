"""Evaluation of expression edits on real photos, where there is no ground truth to compare with.

Each photo is edited toward each target expression with :meth:`SeganPipeline.edit_photo`, and the edit is
judged by what it did to the face's geometry and what it did to the photo:

- expression: the ported face-api landmark net reads the 68 landmarks on the original (detector box) and on the
  edit *in the box found on the original* (so a strong edit cannot make the detector lose or re-frame the face),
  and :mod:`~hf_segan.metrics.expression_geometry` checks that each measure the target defines moved its way
  by at least its threshold times the intensity;
- fidelity: :mod:`~hf_segan.metrics.photo_fidelity` (outside bit-identical, sharpness, colour).

The development set is two public-domain photos that ship in installed packages (scikit-image's astronaut,
matplotlib's Grace Hopper) with their mirror images and 10-degree turns, so nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

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
    """One edit of one photo: what was asked, the expression checks and the fidelity report."""

    photo: str
    target: str
    intensity: float
    checks: list[MeasureCheck]
    fidelity: FidelityReport

    @property
    def expression_passed(self) -> bool:
        return edit_passes(self.checks)


def evaluate_photo_edit(
    pipe: SeganPipeline, photo: Photo, face: FaceLandmarks, target: str, intensity: float
) -> PhotoEditRecord:
    """Edit ``photo`` toward ``target`` at ``intensity`` and judge the edit against the original ``face``."""
    edited = np.asarray(pipe.edit_photo(photo.rgb, target, intensity).image.convert("RGB"))
    after = landmarks_in_box(edited, face.box)
    checks = score_edit(face.points, after, target, intensity)
    fidelity = photo_fidelity(photo.rgb, edited, face.points, face.box)
    return PhotoEditRecord(photo.name, target, float(intensity), checks, fidelity)


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


def results_markdown(records: Sequence[PhotoEditRecord]) -> str:
    """One table per target expression: a row per intensity with the number of edits that read as the target,
    each judged measure's mean change and pass count, and the fidelity pass counts."""
    sections = []
    for target in dict.fromkeys(record.target for record in records):
        of_target = [record for record in records if record.target == target]
        measures = [m for m in MEASURES if any(c.measure == m for r in of_target for c in r.checks)]
        header = ["intensity", "edits", "reads as target", *[f"{m} Δ (pass)" for m in measures]]
        header += ["outside identical", "sharpness ±10%", "no added colour"]
        lines = [f"### {target}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for intensity in sorted({record.intensity for record in of_target}, reverse=True):
            rows = [record for record in of_target if record.intensity == intensity]
            cells = [f"{intensity:g}", str(len(rows)), _count([r.expression_passed for r in rows])]
            for measure in measures:
                checks = [c for r in rows for c in r.checks if c.measure == measure]
                mean = np.mean([c.delta for c in checks])
                cells.append(f"{mean:+.3f} ({_count([c.passed for c in checks])})")
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
    verdict and the fidelity numbers with their verdicts."""
    columns = ["photo", "target", "intensity", "reads_as_target"]
    columns += [f"{kind}_{m}" for m in MEASURES for kind in ("delta", "passed")]
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


def report_markdown(title: str, photos: Sequence[Photo], records: Sequence[PhotoEditRecord]) -> str:
    """The whole report: a heading naming the photos, a PASS/FAIL line per condition, then the tables."""
    lines = [f"# {title} ({len(photos)} photos: {', '.join(photo.name for photo in photos)})", ""]
    for verdict in done_when_verdicts(records):
        lines.append(f"- {'PASS' if verdict.holds else 'FAIL'} ({verdict.passed}/{verdict.total}): {verdict.condition}")
    return "\n".join(lines) + "\n\n" + results_markdown(records)
