"""Load one split of a dataset so that a local folder always yields its own, current files.

``datasets.load_dataset(folder)`` on a folder whose card has a ``configs:`` block (every converted folder) caches
the prepared split under the folder's *name*: two datasets converted to ``a/converted`` and ``b/converted``, or a
folder converted again, silently load whichever was prepared first. For a local folder of parquet shards this
module resolves the split's files itself and hands their absolute paths to the ``parquet`` builder, whose cache key
hashes every data file's path and modification time, so another folder or a re-conversion is prepared afresh.
Anything else (a Hub id, an imagefolder tree) goes to ``datasets.load_dataset`` unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets
from datasets.data_files import DataFilesDict, EmptyDatasetError, get_data_patterns


def local_parquet_files(folder: Path) -> dict[str, list[str]] | None:
    """Split -> absolute parquet paths of a local dataset folder laid out by the Hub's conventions
    (``data/{split}-0000i-of-0000N.parquet``, ``{split}.parquet``, ...), or None when it holds other files."""
    try:
        patterns = get_data_patterns(str(folder))
    except EmptyDatasetError:
        return None
    files = DataFilesDict.from_patterns(patterns, base_path=str(folder))
    if not files or not all(path.endswith(".parquet") for paths in files.values() for path in paths):
        return None
    return {split: sorted(str(Path(path).resolve()) for path in paths) for split, paths in files.items()}


def load_dataset_split(source: str | os.PathLike, split: str, config_name: str | None = None) -> datasets.Dataset:
    """The ``split`` of ``source`` (a local folder or a Hub id); an unknown split names the ones there are."""
    folder = Path(source)
    files = local_parquet_files(folder) if folder.is_dir() and config_name is None else None
    if files is None:
        return datasets.load_dataset(str(source), config_name, split=split)
    if split not in files:
        raise ValueError(f"{folder} has no {split!r} split; it has {sorted(files)}.")
    return datasets.load_dataset("parquet", data_files={split: files[split]}, split=split)
