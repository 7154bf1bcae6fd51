"""The inference commands through a real subprocess: outputs written, bad inputs reported, exit codes."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan.cli import main


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
    assert (
        "broken.png: not an image" in result.stderr
        and "no face found in " in result.stderr
        and "no_face.png" in result.stderr
    )
    assert "Edited 2 of 4" in result.stdout
    edited = Image.open(out / "astronaut.jpg")
    assert edited.size == (512, 512)
    assert np.all(np.asarray(Image.open(out / "with_alpha.png"))[..., 3] == 200)


def test_edit_rejects_bad_settings_before_working(tiny_pipeline_dir, tmp_path, capsys):
    Image.fromarray(data.astronaut()).save(tmp_path / "a.png")
    # in process: a subprocess per case would only re-import torch (test_edit_writes_results_... runs one)
    assert main(["edit", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--expression", "smug"]) == 2
    assert "valid expressions are: neutral, happy, sad" in capsys.readouterr().err
    assert main(["edit", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--intensity", "1.5"]) == 2
    assert "Intensity must lie in [0, 1], got 1.5" in capsys.readouterr().err
    assert main(["edit", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--model", str(tmp_path)]) == 2
    assert "not a SeganPipeline folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_aligned_crops_are_batched_and_failures_isolated(tiny_pipeline_dir, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / name)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.bmp")  # -> a.png too
    Image.new("RGB", (16, 16)).save(tmp_path / "tiny.png")
    args = ["edit", str(tmp_path), "--out", str(tmp_path / "e"), "--aligned", "--batch-size", "2"]
    assert main([*args, "--model", str(tiny_pipeline_dir)]) == 2
    err = capsys.readouterr().err
    assert "tiny.png: 16x16 is too small" in err and "would overwrite the result of" in err
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["a.png", "b.png", "c.png"]
    # each written crop is the pipeline's edit of that file, whatever batch it was computed in (float kernels may
    # differ by one grey level between batch sizes)
    crop = np.asarray(Image.open(tmp_path / "c.png"))
    expected = build_tiny_pipeline()(crop, "happy", output_type="np").images[0].astype(int)
    written = np.asarray(Image.open(tmp_path / "e" / "c.png")).astype(int)
    assert np.abs(written - expected).max() <= 1 and np.abs(written - crop).mean() > 1.0


def test_parse_writes_labels_and_overlays(tiny_pipeline_dir, tmp_path):
    crop = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(crop).save(tmp_path / "crop.png")
    args = ["parse", str(tmp_path / "crop.png"), "--out", str(tmp_path / "p"), "--model", str(tiny_pipeline_dir)]
    assert main([*args, "--aligned", "--parser", "model"]) == 0
    labels = np.asarray(Image.open(tmp_path / "p" / "crop_labels.png"))
    assert np.array_equal(labels, build_tiny_pipeline().parse(crop)[0])
    assert np.asarray(Image.open(tmp_path / "p" / "crop_overlay.png")).shape == (64, 64, 3)


def test_info_describes_components_and_provenance(tiny_pipeline_dir, tmp_path, capsys):
    assert main(["info", str(tiny_pipeline_dir)]) == 0
    out = capsys.readouterr().out
    assert "editor: HierarchicalExpressionGenerator" in out and "region source: semantic" in out
    assert "resolution: 64x64" in out and "region groups: eyes = " in out and "no training_summary.json" in out
    assert "photos: the editor's repaint pasted over each face (editor trained on synthetic faces only" in out
    # training scripts write the summary next to output_dir/pipeline
    shutil.copytree(tiny_pipeline_dir, tmp_path / "pipeline")
    summary = {
        "script": "train_segan",
        "steps": 1200,
        "ablation": {"region_source": "box"},
        "final_metrics": {"psnr": 21.5},
    }
    summary["config"] = {"data": {"dataset": "synthfaces", "resolution": 64}}
    (tmp_path / "training_summary.json").write_text(json.dumps(summary))
    assert main(["info", str(tmp_path / "pipeline")]) == 0
    out = capsys.readouterr().out
    assert "trained on: SynthFaces" in out and "1200 steps" in out and "region source: box" in out
    assert "psnr=21.5" in out


def test_info_says_the_bundled_model_edits_photos_by_geometry_only(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "photos: geometry (LandmarkGeometryModel" in out and "the editor never repaints a photo" in out
