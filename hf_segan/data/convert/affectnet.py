"""AffectNet (original release layout) -> expression dataset with ``image`` and ``expression`` columns.

Expected under the source root (as obtained from the AffectNet authors):

- ``Manually_Annotated_file_lists/training.csv`` and ``validation.csv`` with columns ``subDirectory_filePath``,
  ``face_x``, ``face_y``, ``face_width``, ``face_height``, ``facial_landmarks`` (68 ``x;y`` pairs joined by
  semicolons) and ``expression`` (plus valence/arousal, unused). As shipped, ``validation.csv`` has no header
  line: its columns are read in ``training.csv``'s header order;
- ``Manually_Annotated_Images/{subDirectory_filePath}``: the photos.

Expression codes 0..7 are AffectNet's order, which is ``hf_segan.EXPRESSIONS``; codes 8 (None), 9 (Uncertain)
and 10 (No-Face) are not expressions and are dropped (counted), any other code is reported and skipped. Faces
are cropped onto the canonical template with :func:`hf_segan.alignment.align_face`, using the eye centres from
the landmarks (points 36-41 and 42-47) and falling back to the annotated face box when landmarks are missing or
malformed (counted in the notes). ``training.csv`` becomes the train split and ``validation.csv`` the test
split: AffectNet's own test set was never released.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Features, Image

from ...alignment import FaceBox, align_face
from ...constants import EXPRESSIONS
from .common import CardText, ConversionSummary, SplitSource, jpeg_image, read_image, write_dataset

LIST_DIR = "Manually_Annotated_file_lists"
IMAGE_DIR = "Manually_Annotated_Images"
SPLIT_FILES = {"train": "training.csv", "test": "validation.csv"}
REQUIRED_COLUMNS = (
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
)
#: AffectNet codes that are annotations but not expressions: dropped on purpose, not errors.
NON_EXPRESSION_CODES = {8: "None", 9: "Uncertain", 10: "No-Face"}

FEATURES = Features({"image": Image(), "expression": ClassLabel(names=list(EXPRESSIONS))})

CARD = CardText(
    pretty_name="AffectNet expressions",
    description=(
        "Canonically aligned face crops labelled with the 8 AffectNet expressions (`hf_segan.EXPRESSIONS`), "
        "converted from the manually annotated part of the original AffectNet release. Codes 8-10 (None, "
        "Uncertain, No-Face) are dropped. The `train` split is AffectNet's training list and the `test` split "
        "is its validation list: AffectNet's test set is not public."
    ),
    licence=(
        "AffectNet is distributed by its authors (http://mohammadmahoor.com/affectnet/) under a licence agreement "
        "for non-commercial research; each user must request access and obtain the data themselves."
    ),
    task_categories=("image-classification",),
)


@dataclass(frozen=True)
class _Item:
    path: Path
    expression: str
    box: FaceBox
    landmarks: str


def eye_centers_from_landmarks(text: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Image-left and image-right eye centres from 68 ``x;y`` landmarks, or None if they are not 68 points."""
    try:
        values = [float(value) for value in text.strip().strip(";").split(";")]
    except ValueError:
        return None
    if len(values) != 136:
        return None
    points = np.asarray(values).reshape(68, 2)
    left, right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    if np.allclose(left, right):
        return None
    return (float(left[0]), float(left[1])), (float(right[0]), float(right[1]))


def read_header(csv_path: Path) -> list[str] | None:
    """The column names of an AffectNet list, or None when its first line is already a data row.

    As shipped, ``training.csv`` starts with a header line and ``validation.csv`` does not (its first field is an
    image path): a list without a header has the same columns, in the same order, as the one with it.
    """
    with csv_path.open(newline="", encoding="utf-8") as handle:
        first = next(csv.reader(handle), [])
    headerless = bool(first) and first[0].lower().endswith((".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"))
    return None if headerless else first


def read_file_list(
    csv_path: Path, image_root: Path, summary: ConversionSummary, columns: list[str] | None = None
) -> list[_Item]:
    """The keepable rows of one AffectNet list; ``columns`` names the columns of a list without a header line.

    A list that lacks a required column is refused.
    """
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, fieldnames=columns)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{csv_path} lacks required column(s) {missing}; an AffectNet list needs {list(REQUIRED_COLUMNS)}."
            )
        items = []
        for line, row in enumerate(reader, start=1 if columns else 2):
            where = f"{csv_path}:{line}"
            try:
                code = int(row["expression"])
            except (TypeError, ValueError):
                summary.skip(where, "unknown expression code", repr(row["expression"]))
                continue
            if code in NON_EXPRESSION_CODES:
                summary.dropped[f"expression {code} ({NON_EXPRESSION_CODES[code]})"] += 1
                continue
            if not 0 <= code < len(EXPRESSIONS):
                summary.skip(where, "unknown expression code", str(code))
                continue
            try:
                box = FaceBox(*(float(row[key]) for key in ("face_x", "face_y", "face_width", "face_height")))
            except (TypeError, ValueError):
                summary.skip(where, "malformed face box")
                continue
            if not (box.width > 0 and box.height > 0):
                summary.skip(where, "malformed face box", f"{box.width}x{box.height}")
                continue
            path = image_root / row["subDirectory_filePath"]
            items.append(_Item(path, EXPRESSIONS[code], box, row["facial_landmarks"] or ""))
    return items


def convert_affectnet(
    src_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    image_size: int = 256,
    margin: float = 1.0,
    max_per_class: int | None = None,
    limit: int | None = None,
    overwrite: bool = False,
) -> ConversionSummary:
    """Convert an original AffectNet download into an HF dataset folder with ``image`` and ``expression``.

    ``margin`` is :func:`~hf_segan.alignment.align_face`'s (1 = the canonical template the models train on);
    ``max_per_class`` caps each expression per split (AffectNet is dominated by happy and neutral faces).
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer of at least 8, got {image_size!r}.")
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin}.")
    root = Path(src_root)
    csv_paths = {split: root / LIST_DIR / name for split, name in SPLIT_FILES.items()}
    for required in (*csv_paths.values(), root / IMAGE_DIR):
        if not required.exists():
            raise FileNotFoundError(f"{required} not found: {root} is not an original AffectNet release.")
    summary = ConversionSummary(dataset="AffectNet")
    headers = {split: read_header(path) for split, path in csv_paths.items()}
    shipped_header = next((header for header in headers.values() if header is not None), None)
    if shipped_header is None:
        raise ValueError(
            f"Neither {' nor '.join(map(str, csv_paths.values()))} has a header line; training.csv ships with one."
        )
    split_items = {
        split: read_file_list(path, root / IMAGE_DIR, summary, None if headers[split] else shipped_header)
        for split, path in csv_paths.items()
    }

    def convert(item: _Item) -> dict | None:
        photo = read_image(item.path, summary)
        if photo is None:
            return None
        eyes = eye_centers_from_landmarks(item.landmarks)
        if eyes is None:
            summary.notes["aligned by the face box (no usable landmarks)"] += 1
        aligned = align_face(photo, item.box, size=image_size, margin=margin, eye_centers=eyes)
        return {"image": jpeg_image(aligned.crop), "expression": item.expression}

    splits = {
        split: SplitSource(items, convert, label_of=lambda item: item.expression)
        for split, items in split_items.items()
    }
    return write_dataset(
        out_dir, summary, FEATURES, splits, CARD, limit=limit, max_per_class=max_per_class, overwrite=overwrite
    )
