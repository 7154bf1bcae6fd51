"""The benchmarks' one way of writing results (``benchmarks/results_csv.py``): whole files or none, appends that
keep one layout per file."""

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from results_csv import append_rows, write_rows, write_text_atomic


def _read(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_rows_with_different_keys_share_one_header_and_nothing_is_left_beside_the_file(tmp_path):
    out = tmp_path / "nested" / "rows.csv"
    write_rows(out, [{"a": 1, "b": 2}, {"a": 3, "c": 4}])
    assert _read(out) == [{"a": "1", "b": "2", "c": ""}, {"a": "3", "b": "", "c": "4"}]
    write_rows(out, [{"a": 5}])  # a second write replaces the file
    assert _read(out) == [{"a": "5"}]
    assert sorted(p.name for p in out.parent.iterdir()) == ["rows.csv"]
    write_rows(out, [{"a": 1, "b": 2}], columns=["b", "a"])
    assert out.read_text().splitlines()[0] == "b,a"


def test_appending_keeps_the_header_and_the_files_line_ends(tmp_path):
    out = tmp_path / "log.csv"
    append_rows(out, [{"x": 1, "y": 2}])
    append_rows(out, [{"x": 3, "y": 4}])
    assert out.read_bytes() == b"x,y\n1,2\n3,4\n"
    windows = tmp_path / "windows.csv"
    windows.write_bytes(b"x,y\r\n1,2\r\n")
    append_rows(windows, [{"x": 5, "y": 6}])
    assert windows.read_bytes() == b"x,y\r\n1,2\r\n5,6\r\n"


def test_rows_of_another_layout_are_refused_and_the_file_is_untouched(tmp_path):
    out = tmp_path / "log.csv"
    append_rows(out, [{"x": 1, "y": 2}])
    before = out.read_bytes()
    with pytest.raises(SystemExit, match="other columns"):
        append_rows(out, [{"x": 1, "z": 2}])
    assert out.read_bytes() == before
    with pytest.raises(ValueError, match="No rows"):
        write_rows(out, [])


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "report.md"
    write_text_atomic(out, "old\n")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("hf_segan.io.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(out, "new\n")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
