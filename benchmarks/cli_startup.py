"""How long a person waits for the ``hf-segan`` command line: help, an argument error, and the first edit.

    python benchmarks/cli_startup.py [--repeats 5] [--out benchmarks/results/cli_startup.csv]

Each row runs a fresh ``python -m hf_segan.cli`` process (what the ``hf-segan`` entry point runs) and reports the
median and worst wall-clock seconds over ``--repeats`` runs:

* ``--help`` and ``edit --help``: must not import torch, diffusers, datasets or OpenCV (tests/test_cli_startup.py
  checks that cause; this prints the effect, target under 1 s);
* an argument error (``edit --bogus``), also under 1 s;
* ``import hf_segan`` alone;
* time to first edit: ``hf-segan edit`` of the bundled example photo with the bundled model, start to finish
  (process start, imports, model load, detection, edit, write).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from learn_synthfaces import cpu_name
from results_csv import write_rows

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "hf_segan" / "assets" / "examples" / "astronaut.jpg"


def timed(command: list[str], repeats: int, expect_ok: bool) -> list[float]:
    """Wall-clock seconds of ``repeats`` fresh runs of ``command``; fails loudly if one exits unexpectedly."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        seconds.append(time.perf_counter() - start)
        if (result.returncode == 0) != expect_ok:
            raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the rows as CSV here")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    cli = [sys.executable, "-m", "hf_segan.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("hf-segan --help", [*cli, "--help"], True),
            ("hf-segan edit --help", [*cli, "edit", "--help"], True),
            ("hf-segan edit --bogus (argument error)", [*cli, "edit", "--bogus"], False),
            ("import hf_segan", [sys.executable, "-c", "import hf_segan"], True),
            (
                "hf-segan edit example photo (time to first edit)",
                [*cli, "edit", str(EXAMPLE), "--out", os.path.join(tmp, "out")],
                True,
            ),
        ]
        rows = []
        print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), Python {platform.python_version()}")
        print("| command | median s | worst s | runs |\n|---|---|---|---|")
        for name, command, ok in cases:
            seconds = timed(command, args.repeats, ok)
            row = {"command": name, "median_s": round(statistics.median(seconds), 3), "worst_s": round(max(seconds), 3)}
            rows.append(row)
            print(f"| {name} | {row['median_s']} | {row['worst_s']} | {args.repeats} |")
    if args.out:
        write_rows(args.out, [{"cpu": cpu_name(), **row} for row in rows])


if __name__ == "__main__":
    main()
