"""Model cards: Hub metadata that round-trips, honest sections, clear errors, atomic writes, the generator script."""

import json
import math
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard, metadata_eval_result
from huggingface_hub.repocard_data import model_index_to_eval_results
from in_process import load_script

from hf_segan.model_card import build_model_card, write_model_card

ROOT = Path(__file__).resolve().parents[1]
EVALUATION = {
    "dataset": {"name": "SynthFaces", "type": "synthfaces", "split": "test"},
    "rows": [
        {"model": "tiny", "metrics": {"edit/psnr": 24.5, "parsing/mean_f1": 0.875}},
        {"model": "box-baseline", "metrics": {"edit/psnr": 21.25, "parsing/mean_f1": 0.5}},
    ],
    "judge": "ignored extra key",
}
CONFIG = {"region_source": "semantic", "loss": {"lambda_cycle": 7.5}, "data": {"resolution": 64}}


def _result_fields(results):
    return [(r.task_type, r.dataset_name, r.dataset_split, r.metric_type, r.metric_value) for r in results]


def test_card_round_trips_through_model_card_load(tmp_path):
    path = write_model_card(
        tmp_path, model_name="tiny", trained_on="SynthFaces (procedural faces)", training_config=CONFIG,
        evaluation=EVALUATION, resolution=64, steps=300, base_model="someone/parser", date="2024-05-01",
        extra_tags=["gan", "expression"], notes="Trained for the ablation table.",
    )  # fmt: skip
    card = ModelCard.load(path)
    data = card.data
    assert (data.library_name, data.pipeline_tag, data.license) == ("hf_segan", "image-to-image", "apache-2.0")
    assert data.base_model == "someone/parser"
    assert {"face-parsing", "facial-expression-editing", "gan", "expression"} <= set(data.tags)
    assert data.tags.count("gan") == 1
    # Only this card's row reaches the model-index; the baseline stays in the table.
    assert data.model_name == "tiny"
    assert sorted(_result_fields(data.eval_results)) == [
        ("image-to-image", "SynthFaces", "test", "edit/psnr", 24.5),
        ("image-to-image", "SynthFaces", "test", "parsing/mean_f1", 0.875),
    ]
    text = card.text
    for section in ("## Intended use", "## Out-of-scope use", "## Ethics of face manipulation", "## Limitations"):
        assert section in text
    assert "**Consent.**" in text and "identity verification" in text.lower()
    assert "- Training steps: 300" in text and "- Training finished: 2024-05-01" in text
    assert "Trained on 64 px face crops" in text and "never seen a real photo" in text
    assert "Trained for the ablation table." in text
    assert "| box-baseline | 21.2500 | 0.5000 |" in text
    config_block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(config_block) == CONFIG
    assert 'SeganPipeline.from_pretrained("tiny")' in text and "hf-segan edit" in text


def test_model_index_matches_the_hub_helper():
    """The Hub's own ``metadata_eval_result`` is an independent oracle for the model-index layout."""
    evaluation = {"dataset": {"name": "SynthFaces", "split": "test"}, "rows": [{"model": "m", "metrics": {"f1": 0.5}}]}
    card = build_model_card(model_name="m", trained_on="SynthFaces", evaluation=evaluation)
    reference = metadata_eval_result(
        model_pretty_name="m", task_pretty_name="Facial expression editing", task_id="image-to-image",
        metrics_pretty_name="f1", metrics_id="f1", metrics_value=0.5, dataset_pretty_name="SynthFaces",
        dataset_id="SynthFaces", dataset_split="test",
    )  # fmt: skip
    name, expected = model_index_to_eval_results(reference["model-index"])
    metadata = yaml.safe_load(card.content.split("---")[1])
    assert metadata["model-index"][0]["name"] == name
    assert _result_fields(model_index_to_eval_results(metadata["model-index"])[1]) == _result_fields(expected)


def test_non_finite_metrics_stay_out_of_the_model_index():
    evaluation = {"dataset": {"name": "d"}, "rows": [{"model": "m", "metrics": {"fid": math.nan, "psnr": 20}}]}
    card = build_model_card(model_name="m", trained_on="d", evaluation=evaluation)
    assert [r.metric_type for r in card.data.eval_results] == ["psnr"]


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ([], "evaluation must be a JSON object"),
        ({"rows": [{"model": "m", "metrics": {}}]}, r'evaluation\["dataset"\] must be an object with a string'),
        ({"dataset": {"split": "test"}, "rows": []}, r'evaluation\["dataset"\] must be an object with a string'),
        ({"dataset": {"name": "x", "split": 1}, "rows": []}, r'\["split"\] must be a string'),
        ({"dataset": {"name": "x"}}, r'evaluation\["rows"\] must be a non-empty list'),
        ({"dataset": {"name": "x"}, "rows": []}, r'evaluation\["rows"\] must be a non-empty list'),
        ({"dataset": {"name": "x"}, "rows": [{"metrics": {}}]}, 'row 0 must be an object with a string "model"'),
        ({"dataset": {"name": "x"}, "rows": [{"model": "m", "metrics": [0.5]}]}, 'must have a "metrics" object'),
        ({"dataset": {"name": "x"}, "rows": [{"model": "m", "metrics": {"fid": "low"}}]}, "'fid' must be a number"),
        ({"dataset": {"name": "x"}, "rows": [{"model": "m", "metrics": {"ok": True}}]}, "'ok' must be a number"),
    ],
)
def test_bad_evaluation_json_is_explained(evaluation, message):
    with pytest.raises(ValueError, match=message):
        build_model_card(model_name="m", trained_on="x", evaluation=evaluation)


def test_evaluation_without_a_row_for_the_model_is_refused():
    with pytest.raises(ValueError, match=r"2 rows \['tiny', 'box-baseline'\] and 0 named 'other'"):
        build_model_card(model_name="other", trained_on="x", evaluation=EVALUATION)


def test_limitations_follow_the_training_data():
    affectnet = build_model_card(model_name="m", trained_on="AffectNet", datasets=["affectnet"]).text
    assert "AffectNet is web-scraped" in affectnet and "SynthFaces" not in affectnet.split("## Limitations")[1]
    unknown = build_model_card(model_name="m", trained_on="my photos").text
    assert "training data of this model is not recorded" in unknown


def test_write_replaces_an_existing_card_atomically(tmp_path):
    (tmp_path / "README.md").write_text("old")
    write_model_card(tmp_path, model_name="m", trained_on="RaFD")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert "RaFD shows 67 posed models" in (tmp_path / "README.md").read_text()
    assert stat.S_IMODE((tmp_path / "README.md").stat().st_mode) & 0o044 == 0o044  # readable by others
    text = (tmp_path / "README.md").read_text()
    assert text.endswith("\n") and not text.endswith("\n\n")  # a text file: one final newline
    with pytest.raises(ValueError, match="must be a number"):
        write_model_card(tmp_path, model_name="m", trained_on="x", evaluation={"dataset": {"name": "d"}, "rows": [
            {"model": "m", "metrics": {"fid": None}}]})  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert "RaFD shows 67 posed models" in (tmp_path / "README.md").read_text()
    with pytest.raises(ValueError, match="not an existing folder"):
        write_model_card(tmp_path / "missing", model_name="m", trained_on="x")


def _generate(*args):
    command = [sys.executable, str(ROOT / "model_cards" / "generate.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _generate_in_process(*args) -> int:
    """The script's ``main`` without a fresh interpreter (each subprocess pays the torch import)."""
    return load_script("model_cards/generate.py").main([str(arg) for arg in args])


def test_generate_script_reads_the_training_summary(tmp_path):
    run = tmp_path / "semantic-run"
    (run / "pipeline").mkdir(parents=True)
    summary = {
        "steps": 12,
        "num_processes": 2,
        "region_source": "semantic",
        "config": {"data": {"dataset": "synthfaces", "resolution": 32, "eval_split": "validation"}},
        "final_metrics": {"parsing/mean_f1": 0.625, "note": "not a number"},
    }
    (run / "training_summary.json").write_text(json.dumps(summary))
    result = _generate(run / "pipeline")
    assert result.returncode == 0, result.stderr
    card = ModelCard.load(run / "pipeline" / "README.md")
    assert card.data.model_name == "semantic-run"
    assert _result_fields(card.data.eval_results) == [
        ("image-to-image", "synthfaces", "validation", "parsing/mean_f1", 0.625)
    ]
    assert "- Training steps: 12" in card.text and "- processes: 2" in card.text
    assert "- region source: semantic" in card.text and "Trained on 32 px face crops" in card.text


def test_generate_script_takes_an_evaluation_file(tmp_path, capsys):
    (tmp_path / "eval.json").write_text(json.dumps(EVALUATION))
    assert _generate_in_process(tmp_path, "--name", "tiny", "--evaluation", tmp_path / "eval.json") == 0
    card = ModelCard.load(tmp_path / "README.md")
    assert {r.metric_value for r in card.data.eval_results} == {24.5, 0.875}
    assert _generate_in_process(tmp_path, "--evaluation", tmp_path / "missing.json") == 2
    assert "Cannot read" in capsys.readouterr().err


def test_generate_script_survives_a_sparse_summary_or_none(tmp_path, capsys):
    (tmp_path / "training_summary.json").write_text("{}")
    assert _generate_in_process(tmp_path) == 0
    text = ModelCard.load(tmp_path / "README.md").text
    assert "Training data: unrecorded data" in text and "Not evaluated yet" in text

    bare = tmp_path / "bare" / "model"
    bare.mkdir(parents=True)
    assert _generate_in_process(bare) == 0
    assert "No training_summary.json found" in capsys.readouterr().err
    assert "Training finished: not recorded" in (bare / "README.md").read_text()


def test_card_says_how_photos_are_edited():
    from hf_segan.model_card import geometry_card_kwargs

    summary = {"steps": 30, "config": {"data": {"num_identities": 4, "pairs_per_identity": 2}},
               "eval_history": [{"eval/point_error": 0.0123}]}  # fmt: skip
    geometry = geometry_card_kwargs(summary, scale=0.8)
    card = build_model_card(model_name="m", trained_on="SynthFaces", geometry=geometry).text
    assert "4 identities x 2 expression pairs" in card and "0.0123 eye distances" in card
    assert "`geometry_scale` = 0.8" in card and "never repaints a photo" in card
    assert "geometry_region_scales" not in card
    tuned = geometry_card_kwargs(summary, scale=1.0, region_scales={"brows": 1.1, "mouth": 1.4})
    card = build_model_card(model_name="m", trained_on="SynthFaces", geometry=tuned).text
    assert "`geometry_region_scales` (brows 1.1, mouth 1.4)" in card and "chosen on them" in card
    plain = build_model_card(model_name="m", trained_on="SynthFaces").text
    assert "no geometry component" in plain and "synthetic texture" in plain
    real = build_model_card(model_name="m", trained_on="photos", trained_on_real_photos=True).text
    assert "no geometry component" in real and "synthetic texture" not in real
    # A photo edited by geometry is resampled at full resolution, so only a card without geometry may say that
    # the change is upsampled from the crop; every card names the landmark detector, not Haar alone.
    assert "only geometry changes" in card and "upsampled" not in card
    assert "upsampled" in plain and "only geometry changes" not in plain
    assert all("68-point landmark net" in text for text in (card, plain, real))
