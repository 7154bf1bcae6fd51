"""The inference commands through a real subprocess: outputs written, bad inputs reported, exit codes."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image
from skimage import data


def cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hf_segan.cli", *map(str, args)], capture_output=True, text=True, env=env
    )


def test_edit_writes_results_and_reports_bad_files(tiny_pipeline_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(data.astronaut()).save(inputs / "astronaut.jpg")
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(inputs / "with_alpha.png")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.new("RGB", (300, 300), (128, 128, 128)).save(inputs / "no_face.png")
    out = tmp_path / "out"
    result = cli("edit", inputs, "--out", out, "--expression", "happy=0.7,surprise=0.3", "--model", tiny_pipeline_dir)
    assert result.returncode == 2
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.jpg", "with_alpha.png"]  # nothing partial
    assert "broken.png: not an image" in result.stderr and "no_face.png: no face found" in result.stderr
    assert "Edited 2 of 4" in result.stdout
    edited = Image.open(out / "astronaut.jpg")
    assert edited.size == (512, 512)
    assert np.all(np.asarray(Image.open(out / "with_alpha.png"))[..., 3] == 200)


def test_edit_rejects_bad_settings_before_working(tiny_pipeline_dir, tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "a.png")
    unknown = cli(
        "edit", tmp_path / "a.png", "--out", tmp_path / "o", "--expression", "smug", "--model", tiny_pipeline_dir
    )
    assert unknown.returncode == 2 and "valid expressions are: neutral, happy, sad" in unknown.stderr
    too_strong = cli("edit", tmp_path / "a.png", "--out", tmp_path / "o", "--intensity", "1.5")
    assert too_strong.returncode == 2 and "Intensity must lie in [0, 1], got 1.5" in too_strong.stderr
    not_a_model = cli("edit", tmp_path / "a.png", "--out", tmp_path / "o", "--model", tmp_path)
    assert not_a_model.returncode == 2 and "not a SeganPipeline folder" in not_a_model.stderr
    assert not (tmp_path / "o").exists()


def test_aligned_edit_parse_and_info(tiny_pipeline_dir, tmp_path):
    crop = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(crop).save(tmp_path / "crop.png")
    edit = cli("edit", tmp_path / "crop.png", "--out", tmp_path / "e", "--aligned", "--model", tiny_pipeline_dir)
    assert edit.returncode == 0, edit.stderr
    assert Image.open(tmp_path / "e" / "crop.png").size == (64, 64)
    parse = cli("parse", tmp_path / "crop.png", "--out", tmp_path / "p", "--model", tiny_pipeline_dir)
    assert parse.returncode == 0, parse.stderr
    labels = np.asarray(Image.open(tmp_path / "p" / "crop_labels.png"))
    assert labels.shape == (64, 64) and labels.max() < 19
    info = cli("info", tiny_pipeline_dir)
    assert info.returncode == 0, info.stderr
    assert "editor: HierarchicalExpressionGenerator" in info.stdout and "region source: semantic" in info.stdout
    assert "resolution: 64x64" in info.stdout
