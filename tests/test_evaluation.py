"""The evaluation suite on SynthFaces: scores with known answers, and the command end to end."""

import json

import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline

from hf_segan.data.synthfaces import load_synthfaces
from hf_segan.evaluation import evaluate_pipeline, results_table


class KeepEverything(torch.nn.Module):
    """An editor that returns its input: it changes nothing, wanted or not."""

    device = torch.device("cpu")

    def forward(self, images, parsing_probs, condition, editable_regions=None):
        return type("Edit", (), {"images": images})()


@pytest.fixture(scope="module")
def synthfaces():
    return load_synthfaces("test", num_identities=2, intensities=[1.0], image_size=64)


def test_an_edit_that_changes_nothing_scores_as_expected(synthfaces):
    pipe = build_tiny_pipeline()
    pipe.editor = KeepEverything()
    metrics = evaluate_pipeline(pipe, synthfaces, batch_size=5, progress=False)
    assert metrics["edit/unwanted_change"] == 0.0
    # PSNR of "no edit" is the PSNR between each source face and its true target, computed here directly
    expected = []
    for row in synthfaces:
        a = np.asarray(row["image"], np.float64) / 127.5 - 1
        b = np.asarray(row["target_image"], np.float64) / 127.5 - 1
        expected.append(10 * np.log10(4.0 / np.mean((a - b) ** 2)))
    assert metrics["edit/psnr"] == pytest.approx(np.mean(expected), rel=1e-4)
    assert 0.0 <= metrics["parsing/mean_f1"] <= 1.0 and 0.0 <= metrics["parsing/pixel_accuracy"] <= 1.0


def test_results_table_has_a_row_per_model():
    table = results_table([{"model": "a", "metrics": {"x": 1.0}}, {"model": "b", "metrics": {"x": 0.5, "y": 2.0}}])
    assert table.splitlines() == ["| model | x | y |", "|---|---|---|", "| a | 1.0000 |  |", "| b | 0.5000 | 2.0000 |"]


def test_evaluate_command_writes_json_table_and_grid(tiny_pipeline_dir, tmp_path):
    from hf_segan.cli import main

    command = ["evaluate", "--model", str(tiny_pipeline_dir)]
    command += ["--name", "tiny", "--num-identities", "1", "--out", str(tmp_path), "--grid-faces", "2"]
    assert main(command) == 0  # in process: test_cli_edit runs the command line as a subprocess
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["dataset"]["name"] == "SynthFaces" and metrics["rows"][0]["model"] == "tiny"
    assert {"edit/psnr", "edit/ssim", "edit/unwanted_change", "parsing/mean_f1"} <= set(metrics["rows"][0]["metrics"])
    assert "| tiny |" in (tmp_path / "results.md").read_text()
    from PIL import Image

    grid = Image.open(tmp_path / "grid_tiny.png")
    assert grid.size == (64 * 9, 64 * 4)  # input + 8 expressions; an edit row and an attention row per face
