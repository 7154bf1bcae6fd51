"""The learning benchmark end to end at a few steps: every training it schedules runs, and the table it prints and
the JSON it writes cover every ablation. (Its figures come from the full run, recorded in the README.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABLATIONS = ("semantic-joint", "semantic-frozen", "box", "none")


@pytest.mark.slow
def test_learning_benchmark_trains_and_scores_every_ablation(tmp_path):
    results = tmp_path / "results.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "learn_synthfaces.py"), "--out-dir", str(tmp_path / "out")]
    command += ["--results", str(results), "--train-identities", "3", "--test-identities", "1"]
    command += ["--parser-steps", "2", "--classifier-steps", "2", "--segan-steps", "2", "--size", "32"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    table_rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in table_rows[1:]] == list(ABLATIONS)
    report = json.loads(results.read_text())
    assert [row["model"] for row in report["rows"]] == list(ABLATIONS)
    for row in report["rows"]:
        metrics = row["metrics"]
        assert 0.0 <= metrics["edit/judge_accuracy"] <= 1.0 and 0.0 <= metrics["parsing/miou"] <= 1.0
        assert metrics["edit/psnr"] > 0 and metrics["edit/unwanted_change"] >= 0
    assert {"parser", "classifier", *ABLATIONS} <= set(report["timings"])
    for ablation in ABLATIONS:
        assert (tmp_path / "out" / ablation / "pipeline" / "model_index.json").is_file()
