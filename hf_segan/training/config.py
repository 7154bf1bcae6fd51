"""Typed training configs: dataclasses filled from a YAML file, then from ``--key value`` command-line overrides.

A config is a dataclass whose fields are scalars, lists, dicts or nested *section* dataclasses. Constraints live
next to the field in its metadata (``choices``, ``ge``/``gt``/``le``), so :func:`validate` can name the exact key
that is wrong and what it accepts; an unknown key lists the valid ones. Nothing here knows about any particular
script: each script declares its dataclass and calls :func:`parse_config`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

ConfigT = TypeVar("ConfigT")


def option(default: Any, *, help: str = "", **constraints: Any) -> Any:
    """A dataclass field with an immutable default, a help text and constraints: ``choices``, ``ge``, ``gt``,
    ``le``, ``lt``. Mutable defaults and sections use ``dataclasses.field(default_factory=...)``."""
    return dataclasses.field(default=default, metadata={"help": help, **constraints})


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def valid_keys(cls: type, prefix: str = "") -> list[str]:
    """Every settable key of a config class, nested ones written ``section.key``."""
    keys = []
    for name, tp in _field_types(cls).items():
        if _is_section(tp):
            keys.extend(valid_keys(tp, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` (int -> float widening, None for optionals), or a ValueError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ValueError as error:
                errors.append(str(error))
        raise ValueError(errors[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"Config key `{key}` must be a list, got {value!r}.")
        (item_type,) = typing.get_args(tp) or (Any,)
        return [_coerce(item, item_type, key) for item in value]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"Config key `{key}` must be a mapping, got {value!r}.")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"Config key `{key}` must be true or false, got {value!r}.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"Config key `{key}` must be a number, got {value!r}.")
        if not math.isfinite(value):
            raise ValueError(f"Config key `{key}` must be a finite number, got {value!r}.")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"Config key `{key}` must be an integer, got {value!r}.")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"Config key `{key}` must be a string, got {value!r}.")
        return value
    raise TypeError(f"Unsupported config field type {tp!r} for `{key}`.")


def _build(cls: type[ConfigT], data: dict[str, Any], prefix: str = "") -> ConfigT:
    if not isinstance(data, dict):
        raise ValueError(f"Config section `{prefix.rstrip('.') or '<root>'}` must be a mapping, got {data!r}.")
    hints = _field_types(cls)
    unknown = [name for name in data if name not in hints]
    if unknown:
        raise ValueError(
            f"Unknown config key `{prefix}{unknown[0]}`; valid keys are: {', '.join(valid_keys(cls, prefix))}."
        )
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        key = f"{prefix}{name}"
        kwargs[name] = _build(tp, value or {}, f"{key}.") if _is_section(tp) else _coerce(value, tp, key)
    return cls(**kwargs)


def _check_constraints(value: Any, metadata: typing.Mapping[str, Any], key: str) -> None:
    if value is None:
        return
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"Config key `{key}` must be one of {list(choices)}, got {value!r}.")
    bounds = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">")}
    bounds |= {"le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<")}
    for name, (holds, symbol) in bounds.items():
        if name in metadata:
            items = value if isinstance(value, list) else [value]
            bad = [item for item in items if not holds(item, metadata[name])]
            if bad:
                raise ValueError(f"Config key `{key}` must be {symbol} {metadata[name]}, got {value!r}.")


def validate(config: Any, prefix: str = "") -> None:
    """Check every field's constraints recursively, then the config's own ``check()`` for cross-field rules."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            validate(value, f"{key}.")
        else:
            _check_constraints(value, field.metadata, key)
    check = getattr(config, "check", None)
    if callable(check):
        check()


def _parse_raw(raw: str | None, tp: Any, key: str) -> Any:
    """Command-line text as a value: YAML (``1e-4``, ``true``, ``[1, 2]``), except that string fields keep the text
    (YAML would read ``--mixed_precision no`` as ``False``); ``null`` clears an optional field. A flag given without
    a value (``raw`` None, e.g. ``--cpu``) means true for a boolean key and is an error for any other."""
    if raw is None:
        if tp is bool:
            return True
        raise ValueError(f"Missing value for `--{key}`.")
    args = set(typing.get_args(tp)) or {tp}
    if str in args:
        return None if raw == "null" and type(None) in args else raw
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:  # YAML 1.1 reads `3e-3` (no dot) as text; on the command line it means a number
            return float(value)
        except ValueError:
            return value
    return value


def _set_override(data: dict[str, Any], cls: type, key: str, raw: str | None) -> None:
    """Set dotted ``key`` in the nested ``data`` dict to the command-line text ``raw``."""
    parts = key.split(".")
    tp: Any = cls
    node = data
    for depth, part in enumerate(parts):
        hints = _field_types(tp) if _is_section(tp) else {}
        if part not in hints:
            raise ValueError(f"Unknown config key `{key}`; valid keys are: {', '.join(valid_keys(cls))}.")
        tp = hints[part]
        if depth == len(parts) - 1:
            if _is_section(tp):
                raise ValueError(f"Config key `{key}` is a section; set one of its keys, e.g. `{key}.<key>`.")
            node[part] = _parse_raw(raw, tp, key)
        else:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ValueError(f"Config section `{'.'.join(parts[: depth + 1])}` must be a mapping.")
            node = child


def parse_overrides(argv: Sequence[str]) -> list[tuple[str, str | None]]:
    """``["--a", "1", "--b.c=2", "--flag"]`` -> ``[("a", "1"), ("b.c", "2"), ("flag", None)]``: a key followed by
    another ``--key`` or by nothing has no value (a boolean flag); anything else is a clear error."""
    pairs = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("--") or len(token) == 2:
            raise ValueError(f"Expected `--key value` arguments, got {token!r}.")
        if "=" in token:
            key, raw = token[2:].split("=", 1)
            index += 1
        elif index + 1 >= len(argv) or argv[index + 1].startswith("--"):
            key, raw = token[2:], None
            index += 1
        else:
            key, raw = token[2:], argv[index + 1]
            index += 2
        pairs.append((key, raw))
    return pairs


def load_config(cls: type[ConfigT], path: str | Path | None = None, overrides: Sequence[str] = ()) -> ConfigT:
    """Build and validate ``cls`` from a YAML file (optional) plus ``--key value`` overrides (which win)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Config file {str(path)!r} does not exist.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ValueError(f"Config file {str(path)!r} is not valid YAML{line}: {problem}.") from None
        if not isinstance(data, dict):
            raise ValueError(f"Config file {str(path)!r} must hold a YAML mapping at the top level.")
    for key, raw in parse_overrides(overrides):
        _set_override(data, cls, key, raw)
    config = _build(cls, data)
    validate(config)
    return config


def parse_config(cls: type[ConfigT], argv: Sequence[str]) -> ConfigT:
    """A script's command line: ``[--config FILE] [--key value ...]`` in any order -> a validated ``cls``."""
    pairs = parse_overrides(argv)
    paths = [raw for key, raw in pairs if key == "config"]
    if len(paths) > 1:
        raise ValueError("`--config` given more than once.")
    if paths and paths[0] is None:
        raise ValueError("Missing value for `--config`.")
    overrides = [token for key, raw in pairs if key != "config" for token in (f"--{key}", raw) if token is not None]
    return load_config(cls, paths[0] if paths else None, overrides)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as plain JSON data (for the tracker, the summary file and the saved run config)."""
    return dataclasses.asdict(config)


# Sections shared by the training scripts ---------------------------------------------------------------------


@dataclasses.dataclass
class TrainingDataConfig:
    """Where the training samples come from and how they are batched: all that a second training set takes (the
    joint model's ``parsing_data``, read at ``data.resolution`` and never evaluated)."""

    dataset: str = option("synthfaces", help="`synthfaces` (generated on the fly) or a datasets.load_dataset path/name")
    dataset_config: str | None = option(None, help="datasets.load_dataset configuration name")
    split: str = option("train", help="training split")
    synthfaces: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "keyword arguments of load_synthfaces (training split)"}
    )
    flip_probability: float = option(0.5, ge=0.0, le=1.0, help="chance of a face-correct horizontal flip")
    batch_size: int = option(8, ge=1, help="per-process training batch size")


@dataclasses.dataclass
class DataConfig(TrainingDataConfig):
    """A script's main data: the training samples, the resolution every image is resized to, and evaluation."""

    eval_split: str | None = option("validation", help="evaluation split; null disables evaluation")
    eval_synthfaces: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "keyword arguments of load_synthfaces (evaluation split)"}
    )
    resolution: int = option(128, ge=8, help="square side the images are resized to")
    eval_batch_size: int = option(16, ge=1, help="per-process evaluation batch size")
    max_eval_samples: int | None = option(None, ge=1, help="cap on evaluation samples")


@dataclasses.dataclass
class OptimConfig:
    """Adam(W) and the learning-rate schedule of one model."""

    lr: float = option(1e-4, gt=0.0, help="peak learning rate")
    betas: list[float] = dataclasses.field(
        default_factory=lambda: [0.5, 0.999], metadata={"ge": 0.0, "lt": 1.0, "help": "Adam betas"}
    )
    weight_decay: float = option(0.0, ge=0.0, help="decoupled weight decay (AdamW)")
    schedule: str = option("constant", choices=("constant", "linear", "poly"), help="decay after warm-up")
    poly_power: float = option(0.9, gt=0.0, help="exponent of the poly schedule")
    warmup_steps: int = option(0, ge=0, help="linear warm-up steps")


@dataclasses.dataclass
class RunConfig:
    """Keys every training script shares: output, length, precision, logging and checkpointing."""

    output_dir: str = option("outputs/run", help="where checkpoints, logs and the final model go")
    seed: int = option(0, ge=0, help="seed for model init, data order, augmentation and training randomness")
    max_steps: int = option(1000, ge=1, help="optimizer steps to train for")
    gradient_accumulation_steps: int = option(1, ge=1, help="micro-batches per optimizer step")
    mixed_precision: str = option(
        "auto",
        choices=("auto", "no", "bf16", "fp16"),
        help="auto: bf16 where native (GPU, CPU with avx512_bf16/AMX), else no",
    )
    cpu: bool = option(False, help="train on CPU even when CUDA is available")
    channels_last: bool = option(
        True, help="training batches' images in channels-last memory order (same numbers, faster convolutions)"
    )
    log_every: int = option(10, ge=1, help="steps between scalar logs")
    image_every: int = option(500, ge=1, help="steps between image-grid logs")
    eval_every: int = option(500, ge=1, help="steps between evaluations")
    checkpoint_every: int = option(500, ge=1, help="steps between save_state checkpoints")
    checkpoints_total_limit: int | None = option(3, ge=1, help="checkpoints kept (oldest deleted)")
    resume_from_checkpoint: str | None = option(None, help="`latest` or a checkpoint-<step> folder")
    report_to: str = option("tensorboard", choices=("tensorboard", "none"), help="tracker for logs")
    debug_record_indices: bool = option(False, help="write each process's sample indices to debug_indices_<rank>.json")

    def check(self) -> None:
        """Checks that need no work, done before any: the output folder can be a folder. Subclasses with their own
        cross-field rules call ``super().check()``."""
        check_output_dir(self.output_dir)


def check_output_dir(output_dir: str) -> None:
    """Refuse an ``output_dir`` that is a file, or lies under a file or a folder that cannot be written."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"`output_dir` {output_dir!r} is a file; pass a folder (it is created if missing).")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"`output_dir` {output_dir!r} cannot be created: {str(existing)!r} is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"`output_dir` {output_dir!r} cannot be written: no write permission on {str(existing)!r}.")
