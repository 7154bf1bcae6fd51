"""Model cards for trained hf_segan pipelines, built with ``huggingface_hub.ModelCard``.

A card is the Jinja template ``hf_segan/assets/model_card_template.md`` filled with Hub metadata (library, pipeline
tag, tags, license, datasets, base model, ``model-index``) and prose: provenance, usage, training configuration,
results, intended and out-of-scope use, the ethics of face manipulation and limitations. Editing faces is a
dual-use capability, so every card carries the same use and ethics sections whatever the model.

Evaluation JSON (what ``hf-segan evaluate`` writes to ``metrics.json``)::

    {
      "dataset": {"name": "SynthFaces", "split": "test", "type": "synthfaces"},
      "rows": [
        {"model": "segan-semantic", "metrics": {"parsing/mean_f1": 0.91, "edit/psnr": 27.3}},
        {"model": "segan-box", "metrics": {"parsing/mean_f1": 0.88, "edit/psnr": 25.1}}
      ]
    }

- ``dataset.name`` (string) is required; ``split`` and ``type`` (strings) are optional, ``type`` defaults to
  ``name``. All rows were scored on this one dataset split.
- ``rows`` is a non-empty list; each row has a ``model`` name (string) and a ``metrics`` dict mapping metric names
  (strings) to numbers (int or float, not bool).
- Other top-level keys (such as ``"judge"``) are ignored.

Every row appears in the card's results table, so baselines can be compared. Only the card's own model goes into
the ``model-index``: the row whose ``model`` equals ``model_name``, or the single row when there is only one.
Non-finite values (NaN, inf) stay in the table but are left out of the ``model-index``, which must be valid YAML
numbers for the Hub.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .evaluation import results_table
from .io import atomic_path

#: Tags every hf_segan card carries; ``extra_tags`` are appended.
TAGS: tuple[str, ...] = (
    "hf_segan",
    "face-parsing",
    "facial-expression-editing",
    "gan",
    "image-to-image",
    "semantic-segmentation",
)
TASK_TYPE = "image-to-image"
TASK_NAME = "Facial expression editing"

#: Dataset-specific limitations, chosen by a case-insensitive keyword in ``trained_on`` or ``datasets``.
DATASET_LIMITATIONS: dict[str, str] = {
    "synthfaces": (
        "SynthFaces is procedural and synthetic: a model trained only on it has never seen a real photo, and its "
        "learned editor and parser know nothing about the real variety of age, skin tone, ethnicity, lighting or pose."
    ),
    "affectnet": (
        "AffectNet is web-scraped: it is skewed in age, ethnicity and gender, its labels are noisy, and "
        "happy/neutral faces vastly outnumber fear, disgust and contempt."
    ),
    "rafd": (
        "RaFD shows 67 posed models, mostly white adults from the Netherlands, under studio light: posed "
        "expressions differ from spontaneous ones."
    ),
    "celebamask": (
        "CelebAMask-HQ over-represents young, light-skinned celebrities; parsing quality on other faces is lower."
    ),
}
UNKNOWN_DATA_LIMITATION = (
    "The training data of this model is not recorded here; assume it does not represent all groups of people."
)


def check_evaluation(evaluation: Any) -> None:
    """Raise a ValueError naming what is wrong with an evaluation JSON (the schema is in the module docstring)."""
    schema = 'expected {"dataset": {"name": ...}, "rows": [{"model": name, "metrics": {name: number}}]}'
    if not isinstance(evaluation, Mapping):
        raise ValueError(f"evaluation must be a JSON object, got {type(evaluation).__name__}; {schema}.")
    dataset = evaluation.get("dataset")
    if not isinstance(dataset, Mapping) or not isinstance(dataset.get("name"), str):
        raise ValueError(f'evaluation["dataset"] must be an object with a string "name"; {schema}.')
    for key in ("split", "type"):
        if dataset.get(key) is not None and not isinstance(dataset[key], str):
            raise ValueError(f'evaluation["dataset"]["{key}"] must be a string, got {dataset[key]!r}.')
    rows = evaluation.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f'evaluation["rows"] must be a non-empty list; {schema}.')
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("model"), str):
            raise ValueError(f'evaluation row {index} must be an object with a string "model"; {schema}.')
        if not isinstance(row.get("metrics"), Mapping):
            raise ValueError(f'evaluation row {index} ({row["model"]!r}) must have a "metrics" object; {schema}.')
        for name, value in row["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"evaluation row {index} ({row['model']!r}): metric {name!r} must be a number, got {value!r}."
                )


def card_row(evaluation: Mapping[str, Any], model_name: str) -> Mapping[str, Any]:
    """The row of a (checked) evaluation that describes ``model_name``: its own, or the only one there is."""
    rows = evaluation["rows"]
    matches = [row for row in rows if row["model"] == model_name]
    if len(matches) == 1:
        return matches[0]
    if len(rows) == 1:
        return rows[0]
    names = [row["model"] for row in rows]
    raise ValueError(
        f"The evaluation has {len(names)} rows {names} and {len(matches)} named {model_name!r}: "
        "pass the model name of exactly one row so the card's model-index describes this model."
    )


def eval_results(evaluation: Mapping[str, Any], model_name: str) -> list[EvalResult]:
    """``model-index`` entries for ``model_name`` from a (checked) evaluation; non-finite values are left out."""
    dataset = evaluation["dataset"]
    return [
        EvalResult(
            task_type=TASK_TYPE,
            task_name=TASK_NAME,
            dataset_type=dataset.get("type") or dataset["name"],
            dataset_name=dataset["name"],
            dataset_split=dataset.get("split"),
            metric_type=metric,
            metric_name=metric,
            metric_value=float(value),
        )
        for metric, value in card_row(evaluation, model_name)["metrics"].items()
        if math.isfinite(value)
    ]


def dataset_limitations(trained_on: str, datasets: list[str] | None) -> list[str]:
    """The limitation paragraphs of every known dataset the model was trained on."""
    sources = " ".join([trained_on, *(datasets or [])]).lower()
    found = [text for keyword, text in DATASET_LIMITATIONS.items() if keyword in sources]
    return found or [UNKNOWN_DATA_LIMITATION]


def build_model_card(
    *,
    model_name: str,
    trained_on: str,
    training_config: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    datasets: list[str] | None = None,
    license: str = "apache-2.0",
    resolution: int | None = None,
    extra_tags: list[str] | None = None,
    notes: str | None = None,
    steps: int | None = None,
    base_model: str | None = None,
    training_details: dict[str, Any] | None = None,
    repo_id: str | None = None,
    date: str | None = None,
    geometry: dict[str, Any] | None = None,
    trained_on_real_photos: bool = False,
) -> ModelCard:
    """A filled model card.

    ``trained_on`` is a human description of the training data (the provenance line); ``datasets`` are Hub dataset
    ids for the metadata. ``training_details`` are short facts listed under *Training* (region source, number of
    processes, ...); ``training_config`` is rendered in full as YAML. ``repo_id`` is the id in the usage snippet
    (default ``model_name``); ``date`` is when training finished (ISO date; default today in UTC, since cards
    are normally written at the end of training). ``geometry`` describes the pipeline's geometry component for the
    "Real photos" section (:func:`geometry_card_kwargs`); ``trained_on_real_photos`` is the editor's config value.
    """
    if evaluation is not None:
        check_evaluation(evaluation)
    results = eval_results(evaluation, model_name) if evaluation is not None else []
    tags = list(dict.fromkeys([*TAGS, *(extra_tags or [])]))
    card_data = ModelCardData(
        library_name="hf_segan",
        pipeline_tag=TASK_TYPE,
        license=license,
        tags=tags,
        datasets=datasets or None,
        base_model=base_model,
        model_name=model_name if results else None,
        eval_results=results or None,
    )
    template = resources.files("hf_segan").joinpath("assets", "model_card_template.md").read_text(encoding="utf-8")
    return ModelCard.from_template(
        card_data,
        template_str=template,
        model_name=model_name,
        repo_id=repo_id or model_name,
        trained_on=trained_on,
        steps=steps,
        date=date or datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        resolution=resolution,
        training_details=training_details or {},
        training_config=yaml.safe_dump(training_config, sort_keys=False).strip() if training_config else None,
        evaluation=evaluation,
        evaluation_table=results_table(evaluation["rows"]) if evaluation is not None else None,
        limitations=dataset_limitations(trained_on, datasets),
        notes=notes,
        geometry=geometry,
        trained_on_real_photos=trained_on_real_photos,
    )


def write_model_card(folder: str | os.PathLike, **kwargs: Any) -> Path:
    """Build a card (``build_model_card`` keywords) and write ``folder/README.md`` atomically.

    The card is fully built before anything is written, and lands by ``os.replace`` of a temporary file in the same
    folder, so a failure never leaves a half-written or missing README behind.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"Cannot write a model card into {folder}: not an existing folder.")
    text = str(build_model_card(**kwargs)).rstrip("\n") + "\n"  # a text file ends with a newline
    with atomic_path(folder / "README.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return folder / "README.md"


def card_kwargs_from_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``build_model_card`` keywords from a training script's ``training_summary.json``.

    Every key is optional: what the summary lacks is simply not stated on the card.
    """
    config = summary.get("config") if isinstance(summary.get("config"), Mapping) else {}
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    model = config.get("model") if isinstance(config.get("model"), Mapping) else {}
    ablation = summary.get("ablation") if isinstance(summary.get("ablation"), Mapping) else {}
    dataset = data.get("dataset")
    details = {
        "script": summary.get("script"),
        "region source": ablation.get("region_source", summary.get("region_source", config.get("region_source"))),
        "parser training": ablation.get("parser"),
        "parser initialised from": model.get("pretrained_parser"),
        "processes": summary.get("num_processes"),
        "resumed from step": summary.get("resumed_from_step"),
    }
    if dataset is None:
        trained_on = "unrecorded data"
    elif dataset == "synthfaces":
        trained_on = "SynthFaces (procedural synthetic faces, generated by `hf-segan synth`)"
    else:
        trained_on = str(dataset)
    return {
        "trained_on": trained_on,
        "training_config": dict(config) or None,
        "resolution": data.get("resolution"),
        "steps": summary.get("steps"),
        "datasets": None if dataset in (None, "synthfaces") else [str(dataset)],
        "training_details": {key: value for key, value in details.items() if value is not None},
    }


def evaluation_from_summary(summary: Mapping[str, Any], model_name: str) -> dict[str, Any] | None:
    """An evaluation JSON from a summary's ``final_metrics`` (the last evaluation during training), or None.

    Non-numeric entries are dropped: the summary is written by training scripts, not checked against the schema.
    """
    metrics = summary.get("final_metrics")
    if not isinstance(metrics, Mapping):
        return None
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not numbers:
        return None
    config = summary.get("config") if isinstance(summary.get("config"), Mapping) else {}
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    dataset: dict[str, Any] = {"name": str(data.get("dataset", "training data"))}
    split = data.get("eval_split") or data.get("split")
    if split:
        dataset["split"] = str(split)
    return {"dataset": dataset, "rows": [{"model": model_name, "metrics": numbers}]}


def geometry_card_kwargs(
    summary: Mapping[str, Any], scale: float = 1.0, region_scales: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The "Real photos" facts of a geometry component from ``train_geometry.py``'s training summary, with the
    pipeline's ``geometry_scale`` and ``geometry_region_scales``."""
    config = summary.get("config") if isinstance(summary.get("config"), Mapping) else {}
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    history = summary.get("eval_history") or []
    identities, pairs = data.get("num_identities"), data.get("pairs_per_identity")
    trained_on = "SynthFaces' exact landmarks"
    if identities and pairs:
        trained_on += f" ({identities} identities x {pairs} expression pairs)"
    return {
        "trained_on": trained_on,
        "steps": summary.get("steps", "an unrecorded number of"),
        "point_error": history[-1].get("eval/point_error") if history else None,
        "scale": scale,
        "region_scales": dict(region_scales or {}),
    }


def load_json(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object from ``path``; unreadable files and invalid JSON become a ValueError naming the file."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(value).__name__}.")
    return value
