"""The bundled default model: the README's main job and the evaluation suite run on it, and it says what it is."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from hf_segan.pipeline import SeganPipeline, default_model_path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hf_segan.cli", *map(str, args)], capture_output=True, text=True, env=env
    )


def test_bundled_model_is_a_small_safetensors_pipeline_with_a_card():
    folder = default_model_path()
    weights = list(folder.rglob("*.safetensors"))
    assert len(weights) == 3 and not list(folder.rglob("*.bin"))  # parser, editor, geometry
    assert sum(p.stat().st_size for p in weights) < 10_000_000
    card = (folder / "README.md").read_text()
    assert "library_name: hf_segan" in card and "SynthFaces" in card
    pipe = SeganPipeline.from_pretrained(folder)
    assert pipe.config.resolution == 64 and pipe.editor.config.region_source == "semantic"
    assert pipe.geometry is not None and not pipe.editor.config.get("trained_on_real_photos", False)
    assert "## Real photos" in card and "never repaints a photo" in card


def test_readme_main_job_edits_the_bundled_examples(tmp_path):
    result = cli("edit", ROOT / "hf_segan" / "assets" / "examples", "--out", tmp_path, "--expression", "happy")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trained only on SynthFaces" in result.stderr  # the honest notice
    source = np.asarray(Image.open(ROOT / "hf_segan" / "assets" / "examples" / "astronaut.jpg"))
    edited = np.asarray(Image.open(tmp_path / "astronaut.jpg"))
    assert edited.shape == source.shape


def test_evaluate_runs_end_to_end_on_the_bundled_model(tmp_path):
    result = cli("evaluate", "--num-identities", "1", "--out", tmp_path, "--grid-faces", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((tmp_path / "metrics.json").read_text())["rows"]
    assert rows[0]["model"] == "default_model" and 0.0 <= rows[0]["metrics"]["parsing/mean_f1"] <= 1.0
