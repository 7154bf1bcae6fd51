"""SynthFaces as a ``datasets.Dataset`` and as an imagefolder tree on disk."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ...constants import EXPRESSIONS
from ...expressions import check_intensity
from .params import sample_identity, split_identity_ids
from .render import MIN_SIZE, render_face


def _png(array: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return {"bytes": buffer.getvalue(), "path": None}


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


def _check(image_size: int, expressions: Sequence[str], intensities: Sequence[float]) -> None:
    if not isinstance(image_size, int) or image_size < MIN_SIZE:
        raise ValueError(f"image_size must be an integer >= {MIN_SIZE}, got {image_size!r}.")
    unknown = [name for name in expressions if name not in EXPRESSIONS]
    if unknown or not expressions:
        raise ValueError(f"expressions must be a non-empty subset of {list(EXPRESSIONS)}, got {list(expressions)}.")
    if not intensities:
        raise ValueError("intensities must hold at least one value in [0, 1].")
    for value in intensities:
        check_intensity(value)


def load_synthfaces(
    split: str = "train",
    num_identities: int = 100,
    expressions: Sequence[str] | None = None,
    intensities: Sequence[float] = (1.0,),
    image_size: int = 128,
    paired: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> datasets.Dataset:
    """Render ``split`` of SynthFaces: every identity in every expression at every intensity.

    Args:
        split: ``train``, ``validation`` or ``test`` (disjoint identities).
        num_identities: identities in the split.
        expressions: expression names to render (default: all of :data:`hf_segan.EXPRESSIONS`). Neutral is
            rendered once per identity, at intensity 0.
        intensities: intensities in [0, 1] for the non-neutral expressions.
        image_size: square side in pixels (>= 32).
        paired: add the ground-truth ``target_*`` columns: the same identity showing another expression (drawn
            deterministically from the expressions and intensities above).
        seed: SynthFaces universe; the same seed always renders the same faces.
        progress: show a progress bar.
    """
    expressions = list(EXPRESSIONS if expressions is None else expressions)
    intensities = [float(v) for v in intensities]
    _check(image_size, expressions, intensities)
    ids = split_identity_ids(split, num_identities)
    variants = [
        (e, 0.0 if e == "neutral" else i) for e in expressions for i in (intensities if e != "neutral" else [0.0])
    ]
    if paired and len(variants) < 2:
        raise ValueError("paired=True needs at least two (expression, intensity) variants to pair.")
    rows: dict[str, list] = {name: [] for name in synthfaces_features(paired)}
    for identity_id in tqdm(ids, desc=f"SynthFaces {split}", disable=not progress):
        identity = sample_identity(identity_id, seed)
        renders = [render_face(identity, name, value, image_size) for name, value in variants]
        rng = np.random.default_rng([seed, identity_id, 1])
        for index, ((name, value), (rgb, labels)) in enumerate(zip(variants, renders, strict=True)):
            rows["image"].append(_png(rgb))
            rows["mask"].append(_png(labels))
            rows["expression"].append(EXPRESSIONS.index(name))
            rows["intensity"].append(value)
            rows["identity"].append(identity_id)
            if paired:
                other = (index + int(rng.integers(1, len(variants)))) % len(variants)
                (target_name, target_value), (target_rgb, target_labels) = variants[other], renders[other]
                rows["target_image"].append(_png(target_rgb))
                rows["target_mask"].append(_png(target_labels))
                rows["target_expression"].append(EXPRESSIONS.index(target_name))
                rows["target_intensity"].append(target_value)
    return datasets.Dataset.from_dict(rows, features=synthfaces_features(paired), split=split)


def write_imagefolder(
    dataset: datasets.Dataset, out_dir: str | Path, split: str = "train", overwrite: bool = False
) -> Path:
    """Write ``dataset`` as ``out_dir/{split}/`` images, masks and ``metadata.jsonl``.

    ``datasets.load_dataset("imagefolder", data_dir=out_dir)`` reads it back with ``image`` and ``mask`` as Image
    features (the ``file_name`` / ``mask_file_name`` columns). Written to a temporary folder, then renamed.
    """
    target = Path(out_dir) / split
    if target.exists() and not overwrite:
        raise ValueError(f"{str(target)!r} exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{split}-", dir=target.parent))
    try:
        (tmp / "masks").mkdir()
        with open(tmp / "metadata.jsonl", "w") as metadata:
            for index, row in enumerate(tqdm(dataset, desc=f"writing {split}", disable=len(dataset) < 500)):
                stem = f"{row['identity']:07d}_{index:06d}"
                row["image"].save(tmp / f"{stem}.png")
                row["mask"].save(tmp / "masks" / f"{stem}.png")
                record = {"file_name": f"{stem}.png", "mask_file_name": f"masks/{stem}.png"}
                record |= {k: row[k] for k in ("expression", "intensity", "identity") if k in row}
                record["expression"] = EXPRESSIONS[record["expression"]]
                metadata.write(json.dumps(record) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
