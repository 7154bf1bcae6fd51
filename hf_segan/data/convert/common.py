"""What every dataset converter shares: the conversion report, image I/O, and the parquet + dataset-card writer.

A converter turns one dataset's original release into a folder that ``datasets.load_dataset(folder)`` reads:
``data/{split}-0000i-of-0000N.parquet`` shards with the image bytes embedded (so the folder is self-contained)
and a ``README.md`` dataset card whose YAML header names the splits. Each converter only lists its work items
per split and says how to turn one item into an example; the writer here does the rest, the same way for all.
Read a converted folder with :func:`hf_segan.data.loading.load_dataset_split` (the training scripts do): unlike
``load_dataset(folder)``, it never serves another folder's or an earlier conversion's cached rows.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from datasets import ClassLabel, Features
from PIL import Image
from tqdm.auto import tqdm

#: Split order in cards and summaries (the Hub's conventional names).
SPLIT_ORDER = ("train", "validation", "test")

#: JPEG quality of the stored photos: visually lossless at a fraction of PNG's size. Masks are stored as PNG.
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ConversionIssue:
    """One source file that was skipped: where, why (a fixed reason, for grouping) and any detail."""

    path: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class ConversionSummary:
    """What a conversion wrote and what it left out, and why.

    ``skipped`` lists source files that could not be converted (missing, unreadable, malformed), each with its
    reason; ``dropped`` counts examples left out on purpose by a documented rule (e.g. AffectNet's non-emotion
    codes, a ``max_per_class`` cap); ``notes`` counts conversions that succeeded by a documented fallback.
    """

    dataset: str
    output_dir: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[ConversionIssue] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)

    def skip(self, path: str | os.PathLike, reason: str, detail: str = "") -> None:
        self.skipped.append(ConversionIssue(str(path), reason, detail))

    def skip_counts(self) -> Counter:
        return Counter(issue.reason for issue in self.skipped)

    def format(self, max_issues: int = 20) -> str:
        """A plain-text report (printed by the CLI and embedded in the dataset card)."""
        lines = [f"{self.dataset} -> {self.output_dir}"]
        for split, count in self.rows.items():
            lines.append(f"  {split}: {count} rows")
            if self.label_counts.get(split):
                lines.append("    " + ", ".join(f"{name} {n}" for name, n in self.label_counts[split].items()))
        for title, counts in (("dropped", self.dropped), ("skipped", self.skip_counts()), ("notes", self.notes)):
            if counts:
                lines.append(f"  {title}: {sum(counts.values())}")
                lines.extend(f"    {reason}: {count}" for reason, count in sorted(counts.items()))
        if self.skipped:
            lines.append(f"  skipped files (first {min(max_issues, len(self.skipped))} of {len(self.skipped)}):")
            lines.extend(f"    {issue}" for issue in self.skipped[:max_issues])
        return "\n".join(lines)


@dataclass(frozen=True)
class SplitSource:
    """The work of one split: the items to convert, in order, and how to convert one.

    ``convert(item)`` returns the example (a dict matching the features) or None after recording in the
    summary why the item was skipped. ``label_of(item)`` gives the item's class name without decoding any image,
    so a per-class cap can skip items before paying for them.
    """

    items: Sequence[Any]
    convert: Callable[[Any], dict[str, Any] | None]
    label_of: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class CardText:
    """The dataset-specific prose of a converted dataset's card."""

    pretty_name: str
    description: str
    licence: str
    task_categories: tuple[str, ...]


def read_image(path: Path, summary: ConversionSummary, mode: str = "RGB") -> np.ndarray | None:
    """The image at ``path`` as a uint8 array in PIL ``mode``, or None after recording why it cannot be read."""
    if not path.is_file():
        summary.skip(path, "missing image file")
        return None
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        summary.skip(path, "unreadable image", str(error))
        return None


def resize(image: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    """Resize to ``size`` x ``size``: area-averaged for photos, one source label per pixel for label maps.

    A label map takes, for each output pixel, the source label under that pixel's centre (labels must not blend).
    ``cv2.INTER_NEAREST`` would take the source pixel at the output pixel's top-left corner instead, which moves
    every part by up to half an output pixel against the area-averaged photo.
    """
    if image.shape[:2] == (size, size):
        return image
    if not nearest:
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    rows = np.minimum(((np.arange(size) + 0.5) * height / size).astype(np.int64), height - 1)
    cols = np.minimum(((np.arange(size) + 0.5) * width / size).astype(np.int64), width - 1)
    return image[rows[:, None], cols]


def jpeg_image(rgb: np.ndarray) -> dict[str, Any]:
    """An RGB array as the ``datasets.Image`` value of an embedded JPEG."""
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return {"bytes": buffer.getvalue(), "path": None}


def png_image(array: np.ndarray) -> dict[str, Any]:
    """A uint8 label map (mode L) or RGB array as the ``datasets.Image`` value of an embedded, lossless PNG."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def check_positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")


class _ShardWriter:
    """Streams encoded examples of one split into parquet shards of bounded size, named in the Hub layout."""

    def __init__(self, data_dir: Path, split: str, features: Features, max_shard_bytes: int, row_group: int = 64):
        self.data_dir, self.split, self.features = data_dir, split, features
        self.max_shard_bytes, self.row_group = max_shard_bytes, row_group
        self.shards: list[Path] = []
        self.rows: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None
        self.shard_bytes = 0

    def add(self, example: dict[str, Any]) -> None:
        encoded = self.features.encode_example(example)
        self.rows.append(encoded)
        self.shard_bytes += sum(len(value["bytes"]) for value in encoded.values() if isinstance(value, dict))
        if len(self.rows) >= self.row_group:
            self._flush()
        if self.shard_bytes >= self.max_shard_bytes:
            self._close_shard()

    def _flush(self) -> None:
        if not self.rows:
            return
        if self.writer is None:
            self.shards.append(self.data_dir / f"{self.split}-{len(self.shards):05d}.parquet")
            self.writer = pq.ParquetWriter(self.shards[-1], self.features.arrow_schema)
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.features.arrow_schema))
        self.rows = []

    def _close_shard(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.shard_bytes = 0

    def close(self) -> None:
        """Finish the last shard and rename all to ``{split}-0000i-of-0000N.parquet`` now that N is known."""
        self._close_shard()
        for index, path in enumerate(self.shards):
            os.replace(path, self.data_dir / f"{self.split}-{index:05d}-of-{len(self.shards):05d}.parquet")


def _write_split(
    writer: _ShardWriter,
    source: SplitSource,
    summary: ConversionSummary,
    features: Features,
    limit: int | None,
    max_per_class: int | None,
) -> None:
    """Convert one split's items in order, applying ``limit`` and ``max_per_class``, and tally the results."""
    class_column = next((name for name, feature in features.items() if isinstance(feature, ClassLabel)), None)
    capped: Counter = Counter()
    classes: Counter = Counter()
    rows = 0
    progress = tqdm(source.items, desc=f"{summary.dataset} {writer.split}", unit="img")
    for position, item in enumerate(progress):
        if limit is not None and rows >= limit:
            summary.dropped["beyond --limit"] += len(source.items) - position
            break
        label = source.label_of(item) if source.label_of and max_per_class else None
        if label is not None and capped[label] >= max_per_class:
            summary.dropped["over the --max-per-class cap"] += 1
            continue
        example = source.convert(item)
        if example is None:
            continue
        writer.add(example)
        rows += 1
        if label is not None:
            capped[label] += 1
        if class_column is not None:
            value = example[class_column]
            classes[value if isinstance(value, str) else features[class_column].int2str(value)] += 1
    progress.close()
    writer.close()
    if rows:
        summary.rows[writer.split] = rows
        if class_column is not None:
            summary.label_counts[writer.split] = {name: classes[name] for name in features[class_column].names}


def _card(card: CardText, summary: ConversionSummary) -> str:
    header = {
        "pretty_name": card.pretty_name,
        "license": "other",
        "task_categories": list(card.task_categories),
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*"} for split in summary.rows],
            }
        ],
    }
    return (
        f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n# {card.pretty_name} (converted with hf_segan)\n\n"
        f"{card.description.strip()}\n\n## Licence\n\n{card.licence.strip()}\n\n"
        "This folder was converted locally from a copy of the original release obtained by the user; it must not "
        "be redistributed unless the original licence allows it.\n\n"
        f"## Conversion summary\n\n```\n{summary.format()}\n```\n"
    )


def write_dataset(
    out_dir: str | os.PathLike,
    summary: ConversionSummary,
    features: Features,
    splits: dict[str, SplitSource],
    card: CardText,
    limit: int | None = None,
    max_per_class: int | None = None,
    overwrite: bool = False,
    max_shard_bytes: int = 256 * 2**20,
) -> ConversionSummary:
    """Convert every split into ``out_dir`` (parquet shards + dataset card), all or nothing.

    Everything is written to a temporary sibling folder that replaces ``out_dir`` only once complete, so a
    failed or interrupted conversion never leaves a half-written dataset. ``limit`` caps the rows per split and
    ``max_per_class`` the rows per class per split (for splits whose source gives ``label_of``). Splits that end
    up empty are left out of the card; if all are empty a ValueError lists the first problems found.
    """
    check_positive("limit", limit)
    check_positive("max_per_class", max_per_class)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise ValueError(
            f"Output folder {out_dir} already exists and is not empty; pass overwrite=True (--overwrite) to replace it."
        )
    summary.output_dir = str(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:12]}.partial"
    try:
        (staging / "data").mkdir(parents=True)
        for split in sorted(splits, key=lambda name: SPLIT_ORDER.index(name) if name in SPLIT_ORDER else 99):
            writer = _ShardWriter(staging / "data", split, features, max_shard_bytes)
            _write_split(writer, splits[split], summary, features, limit, max_per_class)
        if not summary.rows:
            problems = "; ".join(str(issue) for issue in summary.skipped[:5]) or "no source files matched"
            raise ValueError(f"No {summary.dataset} example could be converted: {problems}.")
        (staging / "README.md").write_text(_card(card, summary), encoding="utf-8")
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
            os.replace(out_dir, trash / out_dir.name)
            os.replace(staging, out_dir)
            shutil.rmtree(trash)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary
