"""RaFD (original release layout) -> expression dataset of true pairs: a photo and the same face in another expression.

The Radboud Faces Database ships as JPEG files named ``Rafd{camera}_{subject}_{ethnicity}_{gender}_{expression}_
{gaze}.jpg`` (e.g. ``Rafd090_01_Caucasian_female_angry_frontal.jpg``), anywhere under the source root. Its eight
expressions map one-to-one onto ``hf_segan.EXPRESSIONS``. Only the frontal camera (090) is kept by default;
other cameras are dropped (counted). Faces are found with :func:`hf_segan.alignment.detect_faces` and cropped
onto the canonical template with :func:`~hf_segan.alignment.align_face`, exactly as photos are at inference;
photos where no face is found are skipped and reported. The train/test split is subject-disjoint: a fixed,
evenly spread subset of the subject ids is held out, so no test identity is ever seen in training.

Every subject was photographed in every expression from the same camera with the same gaze, so RaFD has true
pairs, like SynthFaces: a row holds a photo (``image``, ``expression``, ``identity`` = subject, ``angle`` = camera
angle in degrees, ``gaze``) and a photo of the same subject, camera and gaze in another expression
(``target_image``, ``target_expression``), the columns the training script's paired loss reads. Every ordered
pair is a row, so each photo appears once per other expression of its group (7 times in a complete release);
a photo with no other expression in its group cannot be paired and is dropped (counted).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Features, Image, Value

from ...alignment import align_face, detect_faces
from ...constants import EXPRESSIONS
from .common import CardText, ConversionSummary, SplitSource, jpeg_image, read_image, write_dataset

#: RaFD's expression words -> ``EXPRESSIONS`` names.
RAFD_EXPRESSIONS = {
    "neutral": "neutral",
    "happy": "happy",
    "sad": "sad",
    "surprised": "surprise",
    "fearful": "fear",
    "disgusted": "disgust",
    "angry": "anger",
    "contemptuous": "contempt",
}
FRONTAL_CAMERA = "090"

_FILE_NAME = re.compile(
    r"Rafd(?P<camera>\d{3})_(?P<subject>\d+)_(?P<ethnicity>[A-Za-z]+)_(?P<gender>[A-Za-z]+)_"
    r"(?P<expression>[A-Za-z]+)_(?P<gaze>[A-Za-z]+)\.jpe?g",
    re.IGNORECASE,
)

FEATURES = Features(
    {
        "image": Image(),
        "expression": ClassLabel(names=list(EXPRESSIONS)),
        "identity": Value("int64"),
        "angle": Value("int64"),
        "gaze": Value("string"),
        "target_image": Image(),
        "target_expression": ClassLabel(names=list(EXPRESSIONS)),
    }
)

CARD = CardText(
    pretty_name="RaFD expressions",
    description=(
        "Canonically aligned face crops of the Radboud Faces Database labelled with the 8 expressions of "
        "`hf_segan.EXPRESSIONS`, in pairs: each row holds a photo (`image`, `expression`; `identity` is the RaFD "
        "subject number, `angle` the camera angle in degrees, `gaze` the gaze direction) and the same subject, "
        "camera and gaze in another expression (`target_image`, `target_expression`); every ordered pair is a "
        "row. Train and test subjects are disjoint. Faces were found with OpenCV's Haar cascade; photos without a "
        "detected face were skipped."
    ),
    licence=(
        "RaFD is available from Radboud University (https://rafd.socsci.ru.nl/) under its own terms of use for "
        "scientific research; each user must request access and obtain the data themselves."
    ),
    task_categories=("image-classification",),
)


@dataclass(frozen=True)
class _Photo:
    path: Path
    expression: str
    subject: int
    angle: int
    gaze: str


@dataclass(frozen=True)
class _Pair:
    source: _Photo
    target: _Photo


def held_out_subjects(subjects: list[int], test_fraction: float) -> set[int]:
    """A deterministic, evenly spread ``test_fraction`` of the sorted subject ids (at least one, if any).

    Spreading the held-out ids over the whole range matters because RaFD numbers its adults and children, and
    its ethnic groups, in blocks: taking the last ids would test on one group only.
    """
    ordered = sorted(set(subjects))
    if test_fraction == 0 or len(ordered) < 2:
        return set()
    count = min(len(ordered) - 1, max(1, round(test_fraction * len(ordered))))
    return {ordered[int((k + 0.5) * len(ordered) / count)] for k in range(count)}


def parse_file_names(root: Path, cameras: tuple[str, ...], summary: ConversionSummary) -> list[_Photo]:
    """The RaFD photos under ``root`` taken by one of ``cameras``, in file-name order."""
    items = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            summary.skip(path, "not a RaFD file name")
            continue
        word = match["expression"].lower()
        if word not in RAFD_EXPRESSIONS:
            summary.skip(path, "unknown expression", word)
            continue
        if match["camera"] not in cameras:
            summary.dropped[f"camera {match['camera']} not selected"] += 1
            continue
        photo = _Photo(path, RAFD_EXPRESSIONS[word], int(match["subject"]), int(match["camera"]), match["gaze"].lower())
        items.append(photo)
    return items


def _group_key(photo: _Photo) -> tuple[int, int, str]:
    return photo.subject, photo.angle, photo.gaze


def true_pairs(photos: list[_Photo], summary: ConversionSummary) -> list[_Pair]:
    """Every ordered pair of photos of one subject, camera and gaze in two different expressions, group by group.

    Photos with no other expression in their group are dropped (counted).
    """
    pairs = []
    for _, group in itertools.groupby(sorted(photos, key=_group_key), key=_group_key):
        members = list(group)
        if len({photo.expression for photo in members}) < 2:
            summary.dropped["no other expression of the same subject, camera and gaze"] += len(members)
            continue
        pairs.extend(_Pair(a, b) for a in members for b in members if a.expression != b.expression)
    return pairs


def convert_rafd(
    src_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    image_size: int = 256,
    cameras: tuple[str, ...] = (FRONTAL_CAMERA,),
    test_fraction: float = 0.2,
    max_per_class: int | None = None,
    limit: int | None = None,
    overwrite: bool = False,
) -> ConversionSummary:
    """Convert an original RaFD download into an HF dataset folder of true pairs (see the module docstring).

    ``cameras`` are RaFD's three-digit camera angles to keep (000, 045, 090, 135, 180; 090 is frontal; the Haar
    detector finds frontal faces only, so profile photos will mostly be skipped). ``test_fraction`` of the
    subjects form the test split.
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer of at least 8, got {image_size!r}.")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}.")
    bad_cameras = [camera for camera in cameras if not re.fullmatch(r"\d{3}", camera)]
    if not cameras or bad_cameras:
        raise ValueError(f"cameras must be three-digit RaFD camera angles such as '090', got {list(cameras)}.")
    root = Path(src_root)
    if not root.is_dir():
        raise FileNotFoundError(f"RaFD source folder {root} not found.")
    summary = ConversionSummary(dataset="RaFD")
    photos = parse_file_names(root, tuple(cameras), summary)
    held_out = held_out_subjects([photo.subject for photo in photos], test_fraction)

    # Pairs come group by group (at most 8 photos each): a small cache crops every photo once.
    @functools.lru_cache(maxsize=32)
    def crop(photo: _Photo) -> dict | None:
        rgb = read_image(photo.path, summary)
        if rgb is None:
            return None
        faces = detect_faces(rgb)
        if not faces:
            summary.skip(photo.path, "no face detected")
            return None
        return jpeg_image(align_face(rgb, faces[0], size=image_size).crop)

    def convert(pair: _Pair) -> dict | None:
        image, target = crop(pair.source), crop(pair.target)
        if image is None or target is None:
            return None
        source = pair.source
        return {
            "image": image,
            "expression": source.expression,
            "identity": source.subject,
            "angle": source.angle,
            "gaze": source.gaze,
            "target_image": target,
            "target_expression": pair.target.expression,
        }

    split_photos = {
        "train": [photo for photo in photos if photo.subject not in held_out],
        "test": [photo for photo in photos if photo.subject in held_out],
    }
    splits = {
        split: SplitSource(true_pairs(members, summary), convert, label_of=lambda pair: pair.source.expression)
        for split, members in split_photos.items()
    }
    return write_dataset(
        out_dir, summary, FEATURES, splits, CARD, limit=limit, max_per_class=max_per_class, overwrite=overwrite
    )
