"""How every benchmark writes its results: atomically, as CSV rows or as text.

A benchmark can run for an hour and be stopped at any moment; its results file must then be either the old one or
the new one, never half of either. So each write goes through the package's own atomic writer
(:func:`hf_segan.io.atomic_path`: a hidden file beside the target, following the umask, renamed over it). Appending
rewrites the file the same way, and refuses rows whose columns differ from the file's header instead of mixing two
layouts in one file; appended lines end the way the file's lines already do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from hf_segan.io import atomic_path


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (the folder is created when missing; see
    :func:`hf_segan.io.atomic_path`)."""
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        handle.write(text)  # newline="": the text's line ends are written as they are


def _csv_text(rows: list[Mapping], columns: list[str], header: bool, line_end: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator=line_end)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _columns(rows: list[Mapping]) -> list[str]:
    """Every key of the rows, in the order they first appear (rows may hold different keys)."""
    return list(dict.fromkeys(key for row in rows for key in row))


def write_rows(path: Path, rows: Iterable[Mapping], columns: list[str] | None = None) -> None:
    """Replace the CSV ``path`` with ``rows`` under a header of ``columns`` (default: every key of the rows, in
    order of appearance; a row without a column leaves its cell empty)."""
    rows = list(rows)
    if not rows:
        raise ValueError(f"No rows to write to {path}.")
    write_text_atomic(path, _csv_text(rows, columns or _columns(rows), header=True))


def append_rows(path: Path, rows: Iterable[Mapping]) -> None:
    """Add ``rows`` to the CSV ``path`` (written with a header when new); the rows must have the file's columns."""
    path, rows = Path(path), list(rows)
    if not rows:
        raise ValueError(f"No rows to append to {path}.")
    columns = _columns(rows)
    existing = path.read_bytes().decode() if path.exists() else ""  # bytes: "\r\n" line ends stay visible
    if existing and next(csv.reader([existing.splitlines()[0]])) != columns:
        raise SystemExit(f"{path} has other columns than these rows ({', '.join(columns)}); pass another output file.")
    line_end = "\r\n" if existing.split("\n", 1)[0].endswith("\r") else "\n"  # keep the file's own line ends
    if existing and not existing.endswith("\n"):
        existing += line_end
    write_text_atomic(path, existing + _csv_text(rows, columns, header=not existing, line_end=line_end))
