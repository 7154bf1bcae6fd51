"""Model cards for trained hf_segan models, built with ``huggingface_hub.ModelCard``.

The evaluation JSON accepted (what ``hf-segan evaluate`` writes)::

    {"dataset": {"name": "SynthFaces", "type": "synthfaces", "split": "test"},
     "rows": [{"model": "segan-semantic", "metrics": {"parsing/mean_f1": 0.91, "edit/psnr": 27.3, ...}}, ...]}

Each row becomes one set of ``model-index`` results (task: image-to-image); metrics must be numbers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

TAGS = ["hf_segan", "face-parsing", "facial-expression-editing", "gan", "image-to-image"]
SYNTHFACES_LIMITATION = (
    "- Trained on SynthFaces, procedural cartoon faces: it has never seen a real photo, and its edits of real "
    "faces are crude. SynthFaces does not represent the variety of real faces (age, ethnicity, lighting, pose)."
)
REAL_DATA_LIMITATION = (
    "- AffectNet and RaFD are skewed in age, ethnicity and posed-versus-spontaneous expressions; CelebAMask-HQ "
    "over-represents young, light-skinned celebrities. Expect uneven quality across groups."
)


def check_evaluation(evaluation: dict[str, Any]) -> None:
    """Raise a ValueError naming what is wrong with an evaluation JSON (see the module docstring)."""
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("rows"), list):
        raise ValueError('evaluation must be a dict with a "rows" list (see hf_segan.model_card).')
    dataset = evaluation.get("dataset")
    if not isinstance(dataset, dict) or "name" not in dataset:
        raise ValueError('evaluation["dataset"] must be a dict with at least a "name".')
    for index, row in enumerate(evaluation["rows"]):
        if not isinstance(row, dict) or not isinstance(row.get("metrics"), dict) or "model" not in row:
            raise ValueError(f'evaluation row {index} must be {{"model": name, "metrics": {{name: number}}}}.')
        for name, value in row["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"evaluation row {index}: metric {name!r} must be a number, got {value!r}.")


def _eval_results(evaluation: dict[str, Any], model_name: str) -> list[EvalResult]:
    dataset = evaluation["dataset"]
    results = []
    for row in evaluation["rows"]:
        if row["model"] != model_name and len(evaluation["rows"]) > 1:
            continue
        for metric, value in row["metrics"].items():
            if isinstance(value, float) and not math.isfinite(value):
                continue
            results.append(
                EvalResult(
                    task_type="image-to-image",
                    task_name="Facial expression editing",
                    dataset_type=dataset.get("type", dataset["name"]),
                    dataset_name=dataset["name"],
                    dataset_split=dataset.get("split"),
                    metric_type=metric,
                    metric_name=metric,
                    metric_value=float(value),
                )
            )
    return results


def _table(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return "Not evaluated yet: run `hf-segan evaluate --model THIS_FOLDER --dataset synthfaces`."
    metrics = sorted({name for row in evaluation["rows"] for name in row["metrics"]})
    dataset = evaluation["dataset"]
    lines = [f"On {dataset['name']} ({dataset.get('split', 'all')}):", "", "| model | " + " | ".join(metrics) + " |"]
    lines.append("|---" * (len(metrics) + 1) + "|")
    for row in evaluation["rows"]:
        values = [row["metrics"].get(m) for m in metrics]
        lines.append(f"| {row['model']} | " + " | ".join("" if v is None else f"{v:.4g}" for v in values) + " |")
    return "\n".join(lines)


def build_model_card(
    *,
    model_name: str,
    trained_on: str,
    training_config: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    datasets: list[str] | None = None,
    license: str = "apache-2.0",
    resolution: int | None = None,
    steps: int | None = None,
    repo_id: str | None = None,
    extra_tags: list[str] | None = None,
) -> ModelCard:
    """A filled model card: metadata (library, tags, datasets, model-index) plus the prose sections."""
    if evaluation is not None:
        check_evaluation(evaluation)
    results = _eval_results(evaluation, model_name) if evaluation else None
    card_data = ModelCardData(
        library_name="hf_segan",
        pipeline_tag="image-to-image",
        license=license,
        tags=TAGS + list(extra_tags or []),
        datasets=datasets,
        model_name=model_name if results else None,
        eval_results=results or None,
    )
    synthetic = "synthfaces" in trained_on.lower()
    summary = f"Trained on {trained_on}" + (f" for {steps} steps" if steps else "") + "."
    template = resources.files("hf_segan") / "assets" / "model_card_template.md"
    return ModelCard.from_template(
        card_data,
        template_str=template.read_text(),
        model_name=model_name,
        repo_id=repo_id or model_name,
        provenance=summary,
        training_summary=summary,
        training_config=yaml.safe_dump(training_config, sort_keys=False).strip() if training_config else None,
        evaluation_table=_table(evaluation),
        limitations=SYNTHFACES_LIMITATION if synthetic else REAL_DATA_LIMITATION,
        resolution=resolution or "the training",
    )


def write_model_card(folder: str | os.PathLike, **kwargs: Any) -> Path:
    """Build a card and write it to ``folder/README.md`` atomically (temp file, then rename)."""
    folder = Path(folder)
    card = build_model_card(**kwargs)
    handle, tmp = tempfile.mkstemp(prefix=".README-", suffix=".md", dir=folder)
    os.close(handle)
    try:
        Path(tmp).write_text(str(card))
        os.replace(tmp, folder / "README.md")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return folder / "README.md"


def card_kwargs_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Card arguments from a training script's ``training_summary.json``; missing keys are simply left out."""
    config = summary.get("config") or {}
    data = config.get("data") or {}
    dataset = data.get("dataset", "unknown data")
    kwargs: dict[str, Any] = {
        "trained_on": "SynthFaces (procedural faces)" if dataset == "synthfaces" else str(dataset),
        "training_config": config or None,
        "resolution": data.get("resolution"),
        "steps": summary.get("steps"),
        "datasets": None if dataset == "synthfaces" else [str(dataset)],
    }
    return kwargs


def load_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from error
