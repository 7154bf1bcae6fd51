"""The bundled default model: the README's main job and the evaluation suite run on it, and it says what it is."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from hf_segan.cli import main
from hf_segan.landmarks import landmarks_in_box
from hf_segan.metrics.expression_geometry import edit_passes, score_edit
from hf_segan.photo_evaluation import Photo, find_face
from hf_segan.pipeline import SeganPipeline, default_model_path

ROOT = Path(__file__).resolve().parents[1]


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


def test_readme_main_job_edits_the_bundled_examples_toward_the_target(tmp_path, capfd):
    """In process (test_cli_edit runs the command as a subprocess). The edit is judged by the landmark detector and
    the real-photo evaluation's thresholds, independent of the model: the astronaut's lip corners must rise and her
    mouth widen by at least the thresholds, which an edit that changes nothing fails."""
    examples = ROOT / "hf_segan" / "assets" / "examples"
    assert main(["edit", str(examples), "--out", str(tmp_path), "--expression", "happy"]) == 0
    assert "trained only on SynthFaces" in capfd.readouterr().err  # the honest notice
    source = np.asarray(Image.open(examples / "astronaut.jpg").convert("RGB"))
    edited = np.asarray(Image.open(tmp_path / "astronaut.jpg").convert("RGB"))
    assert edited.shape == source.shape
    face = find_face(Photo("astronaut", "astronaut", source))
    assert not edit_passes(score_edit(face.points, landmarks_in_box(source, face.box), "happy", 1.0))
    checks = score_edit(face.points, landmarks_in_box(edited, face.box), "happy", 1.0)
    assert {check.measure for check in checks} == {"lip_corner_height", "mouth_width"}
    assert edit_passes(checks), checks


def test_evaluate_runs_end_to_end_on_the_bundled_model(tmp_path):
    assert main(["evaluate", "--num-identities", "1", "--out", str(tmp_path), "--grid-faces", "1"]) == 0
    rows = json.loads((tmp_path / "metrics.json").read_text())["rows"]
    assert rows[0]["model"] == "default_model" and 0.0 <= rows[0]["metrics"]["parsing/mean_f1"] <= 1.0
