"""SynthFaces as a ``datasets.Dataset`` and as an imagefolder tree on disk."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import cv2
import datasets
import numpy as np
from tqdm.auto import tqdm

from ...constants import EXPRESSIONS
from ...expressions import check_intensity
from .params import sample_identity, split_identity_ids
from .render import MIN_SIZE, render_face

IMAGE_COLUMNS = ("image", "mask", "target_image", "target_mask")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(array: np.ndarray) -> dict:
    """PNG bytes in the ``datasets.Image`` storage layout. OpenCV's encoder at the fastest zlib level: the noise
    texture makes the images nearly incompressible, so higher levels cost several times more for a few percent."""
    pixels = array[..., ::-1] if array.ndim == 3 else array
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"OpenCV could not encode an array of shape {array.shape} as PNG.")
    return {"bytes": encoded.tobytes(), "path": None}


def synthfaces_features(paired: bool) -> datasets.Features:
    """The columns of :func:`load_synthfaces` (see docs/architecture.md, Data)."""
    expression = datasets.ClassLabel(names=list(EXPRESSIONS))
    features = {
        "image": datasets.Image(),
        "mask": datasets.Image(),
        "expression": expression,
        "intensity": datasets.Value("float32"),
        "identity": datasets.Value("int64"),
    }
    if paired:
        features |= {
            "target_image": datasets.Image(),
            "target_mask": datasets.Image(),
            "target_expression": expression,
            "target_intensity": datasets.Value("float32"),
        }
    return datasets.Features(features)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_arguments(
    expressions: Any, intensities: Any, image_size: Any, paired: Any, seed: Any
) -> tuple[list[str], list[float]]:
    """Validate :func:`load_synthfaces`'s arguments (often straight from YAML; split and identities are checked by
    :func:`split_identity_ids`); return expressions and intensities as lists."""
    if not _is_int(image_size) or image_size < MIN_SIZE:
        raise ValueError(f"image_size must be an integer >= {MIN_SIZE}, got {image_size!r}.")
    if not isinstance(paired, bool):
        raise ValueError(f"paired must be true or false, got {paired!r}.")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    expressions = list(EXPRESSIONS) if expressions is None else expressions
    if isinstance(expressions, str) or not expressions or any(name not in EXPRESSIONS for name in expressions):
        raise ValueError(f"expressions must be a non-empty list drawn from {list(EXPRESSIONS)}, got {expressions!r}.")
    if isinstance(intensities, Real) and not isinstance(intensities, bool):
        intensities = [intensities]
    if isinstance(intensities, str) or not isinstance(intensities, Sequence) or not intensities:
        raise ValueError(f"intensities must be a number or a non-empty list of numbers in [0, 1], got {intensities!r}.")
    return list(expressions), [check_intensity(value) for value in intensities]


def load_synthfaces(
    split: str = "train",
    num_identities: int = 100,
    expressions: Sequence[str] | None = None,
    intensities: float | Sequence[float] = (1.0,),
    image_size: int = 128,
    paired: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> datasets.Dataset:
    """Render ``split`` of SynthFaces: every identity in every expression at every intensity.

    Rows are grouped by identity; each (expression, intensity) variant of an identity is rendered and PNG-encoded
    once, and reused as another row's paired target.

    Args:
        split: ``train``, ``validation`` or ``test`` (disjoint identities).
        num_identities: identities in the split.
        expressions: expression names to render (default: all of :data:`hf_segan.EXPRESSIONS`). Neutral is
            rendered once per identity, at intensity 0.
        intensities: one intensity or a list, in [0, 1], for the non-neutral expressions.
        image_size: square side in pixels (>= 32).
        paired: add the ground-truth ``target_*`` columns: the same identity showing another expression (drawn
            deterministically from the expressions and intensities above).
        seed: SynthFaces universe; the same seed always renders the same faces.
        progress: show a progress bar.

    Raises:
        ValueError: naming the argument, when one is out of range or of the wrong type.
    """
    ids = split_identity_ids(split, num_identities)
    expressions, intensities = _check_arguments(expressions, intensities, image_size, paired, seed)
    variants = [(name, 0.0 if name == "neutral" else value) for name in expressions for value in intensities]
    variants = list(dict.fromkeys(variants))
    if paired and len(variants) < 2:
        raise ValueError("paired=True needs at least two (expression, intensity) variants to pair.")
    features = synthfaces_features(paired)
    rows: dict[str, list] = {name: [] for name in features}
    for identity_id in tqdm(ids, desc=f"SynthFaces {split}", disable=not progress):
        identity = sample_identity(identity_id, seed)
        encoded = [tuple(map(_png, render_face(identity, name, value, image_size))) for name, value in variants]
        rng = np.random.default_rng([seed, identity_id, 1])
        for index, (name, value) in enumerate(variants):
            rows["image"].append(encoded[index][0])
            rows["mask"].append(encoded[index][1])
            rows["expression"].append(EXPRESSIONS.index(name))
            rows["intensity"].append(value)
            rows["identity"].append(identity_id)
            if paired:
                other = (index + int(rng.integers(1, len(variants)))) % len(variants)
                rows["target_image"].append(encoded[other][0])
                rows["target_mask"].append(encoded[other][1])
                rows["target_expression"].append(EXPRESSIONS.index(variants[other][0]))
                rows["target_intensity"].append(variants[other][1])
    return datasets.Dataset.from_dict(rows, features=features, split=split)


def _png_bytes(value: dict) -> bytes:
    """The PNG file of an undecoded ``datasets.Image`` value (SynthFaces stores PNG bytes; a path is read)."""
    data = value["bytes"] if value["bytes"] is not None else Path(value["path"]).read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("write_imagefolder writes PNG files; this dataset holds images in another format.")
    return data


def write_imagefolder(
    dataset_or_args: datasets.Dataset | Mapping[str, Any],
    out_dir: str | Path,
    split: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a SynthFaces split as ``out_dir/{split}/`` PNG images, ``masks/`` and ``metadata.jsonl``.

    ``datasets.load_dataset("imagefolder", data_dir=out_dir)`` (or ``load_dataset(out_dir)``) reads it back:
    ``file_name`` becomes the ``image`` column and ``mask_file_name`` (``target_image_file_name``,
    ``target_mask_file_name`` for paired data) the other Image columns. Expressions are stored by name;
    ``.cast_column("expression", ClassLabel(names=EXPRESSIONS))`` restores the label feature. The PNG bytes are
    copied as stored (no re-encoding) into a temporary folder that is renamed into place when complete.

    Args:
        dataset_or_args: a dataset from :func:`load_synthfaces`, or a dict of its keyword arguments (rendered
            unpaired unless it says ``paired``).
        out_dir: root of the imagefolder tree; other splits already there are kept.
        split: folder name; default: the dataset's split (``train`` when it has none).
        overwrite: replace an existing ``out_dir/{split}``.
    """
    rendering = isinstance(dataset_or_args, Mapping)
    if split is None:
        own = dataset_or_args.get("split", "train") if rendering else dataset_or_args.split
        split = "train" if own is None else str(own)
    target = Path(out_dir) / split
    if target.exists() and not overwrite:  # checked before rendering anything
        raise ValueError(f"{str(target)!r} exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    dataset = load_synthfaces(**{"paired": False, **dataset_or_args}) if rendering else dataset_or_args
    images = [column for column in IMAGE_COLUMNS if column in dataset.column_names]
    if "image" not in images:
        raise ValueError(f"write_imagefolder needs an `image` column; the dataset has {dataset.column_names}.")
    labels = {name: f for name, f in dataset.features.items() if isinstance(f, datasets.ClassLabel)}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{split}-", dir=target.parent))
    try:
        for column in images[1:]:
            (tmp / f"{column}s").mkdir()
        with open(tmp / "metadata.jsonl", "w", encoding="utf-8") as metadata:
            # arrow batches hold the stored PNG bytes and label ids: nothing is decoded or re-encoded
            batches = dataset.with_format("arrow").iter(batch_size=256)
            rows = (row for batch in batches for row in batch.to_pylist())
            for index, row in enumerate(
                tqdm(rows, desc=f"writing {split}", total=len(dataset), disable=len(dataset) < 500)
            ):
                stem = f"{row.get('identity', 0):07d}_{index:06d}.png"
                record = {}
                for column in images:
                    name = stem if column == "image" else f"{column}s/{stem}"
                    (tmp / name).write_bytes(_png_bytes(row[column]))
                    record["file_name" if column == "image" else f"{column}_file_name"] = name
                for column, value in row.items():
                    if column in labels:
                        record[column] = labels[column].int2str(value)
                    elif column not in images:  # float32 intensities print as 0.30000001 without rounding
                        record[column] = round(value, 6) if isinstance(value, float) else value
                metadata.write(json.dumps(record) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
