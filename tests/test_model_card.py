"""Model cards: Hub metadata that round-trips, honest sections, clear errors, atomic writes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from hf_segan.model_card import build_model_card, write_model_card

ROOT = Path(__file__).resolve().parents[1]
EVALUATION = {
    "dataset": {"name": "SynthFaces", "type": "synthfaces", "split": "test"},
    "rows": [{"model": "tiny", "metrics": {"edit/psnr": 24.5, "parsing/mean_f1": 0.875}}],
}


def test_card_round_trips_through_model_card_load(tmp_path):
    config = {"region_source": "semantic", "loss": {"lambda_cycle": 10.0}}
    path = write_model_card(
        tmp_path, model_name="tiny", trained_on="SynthFaces (procedural faces)", training_config=config,
        evaluation=EVALUATION, resolution=64, steps=300,
    )  # fmt: skip
    card = ModelCard.load(path)
    assert card.data.library_name == "hf_segan" and card.data.pipeline_tag == "image-to-image"
    assert "facial-expression-editing" in card.data.tags
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results == {"edit/psnr": 24.5, "parsing/mean_f1": 0.875}
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    text = card.text
    for section in ("## Intended use", "## Out-of-scope use", "## Ethics of face manipulation", "## Limitations"):
        assert section in text
    assert "lambda_cycle: 10.0" in text and "Trained at 64 px" in text and "300 steps" in text
    assert "never seen a real photo" in text  # SynthFaces models say so
    assert "| tiny | 24.5 | 0.875 |" in text


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ({"rows": []}, r'evaluation\["dataset"\] must be a dict'),
        ({"dataset": {"name": "x"}}, 'must be a dict with a "rows" list'),
        ({"dataset": {"name": "x"}, "rows": [{"model": "m", "metrics": {"fid": "low"}}]}, "'fid' must be a number"),
    ],
)
def test_bad_evaluation_json_is_explained(evaluation, message):
    with pytest.raises(ValueError, match=message):
        build_model_card(model_name="m", trained_on="x", evaluation=evaluation)


def test_write_replaces_an_existing_card_without_leftovers(tmp_path):
    (tmp_path / "README.md").write_text("old")
    write_model_card(tmp_path, model_name="m", trained_on="RaFD")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert "AffectNet and RaFD are skewed" in (tmp_path / "README.md").read_text()


def test_generate_script_reads_the_training_summary(tmp_path):
    model = tmp_path / "run" / "pipeline"
    model.mkdir(parents=True)
    summary = {"steps": 12, "config": {"data": {"dataset": "synthfaces", "resolution": 32}}, "final_metrics": {}}
    (tmp_path / "run" / "training_summary.json").write_text(json.dumps(summary))
    (tmp_path / "eval.json").write_text(json.dumps(EVALUATION))
    command = [sys.executable, str(ROOT / "model_cards" / "generate.py"), str(model), "--name", "tiny"]
    result = subprocess.run([*command, "--evaluation", str(tmp_path / "eval.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    card = ModelCard.load(model / "README.md")
    assert "12 steps" in card.text and card.data.eval_results[0].dataset_name == "SynthFaces"
    bad = subprocess.run([*command, "--evaluation", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Cannot read" in bad.stderr
