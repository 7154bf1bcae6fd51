"""Atomic, resumable training checkpoints of an Accelerator's state, in safetensors and JSON (:mod:`.safe_state`).

A checkpoint is written to ``checkpoint-{step}.tmp`` and renamed to ``checkpoint-{step}`` only once every process
has finished writing, so a run killed mid-save never leaves a checkpoint that looks complete. ``latest`` always
means the highest complete step; the ``.tmp`` leftovers of a killed save are ignored and cleaned up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator

from ..io import follow_umask
from .safe_state import check_finite, check_weights_finite, load_training_state, save_training_state

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
#: Written into each checkpoint next to the training state: the step to resume from, plus script extras.
STATE_FILE = "training_state.json"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := CHECKPOINT_PATTERN.match(p.name))
    ]
    return [path for _, path in sorted(found)]


def save_checkpoint(
    accelerator: Accelerator, output_dir: str | Path, step: int, total_limit: int | None, extra: dict | None = None
) -> Path:
    """Save the full training state at ``step`` atomically; keep only the newest ``total_limit`` checkpoints.

    Must be called on every process (each one writes its RNG state). Non-finite weights are refused
    (:class:`~.safe_state.TrainingDivergedError`) before anything is written, so the newest checkpoint stays the
    last good one.
    """
    check_weights_finite(accelerator)
    output_dir = Path(output_dir)
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        for leftover in output_dir.glob("checkpoint-*.tmp"):
            shutil.rmtree(leftover)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_training_state(accelerator, tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, **(extra or {})}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if total_limit is not None:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def resolve_resume_path(output_dir: str | Path, resume_from: str | None) -> Path | None:
    """``None`` -> no resume; ``latest`` -> newest complete checkpoint in ``output_dir`` (None if there is none,
    so a restarted job with nothing saved yet simply starts over); anything else must be a checkpoint folder."""
    if resume_from is None:
        return None
    if resume_from == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1] if checkpoints else None
    path = Path(resume_from)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(
            f"resume_from_checkpoint {resume_from!r} is not a checkpoint folder (no {STATE_FILE}); "
            "pass `latest` or a checkpoint-<step> folder written by this script."
        )
    return path


def load_checkpoint(accelerator: Accelerator, path: str | Path) -> dict:
    """Restore models, optimizers, RNG states and registered objects; return the saved training state.

    A folder holding anything but safetensors and JSON is refused before any file is read."""
    load_training_state(accelerator, path)
    return json.loads((Path(path) / STATE_FILE).read_text())


def save_pretrained_atomic(model, path: str | Path) -> Path:
    """``model.save_pretrained(path)`` via a temporary folder, so ``path`` is either the old or the new model.

    Non-finite weights are refused before anything is written."""
    modules = {"model": model} if isinstance(model, torch.nn.Module) else dict(model.components)
    for name, module in modules.items():
        if isinstance(module, torch.nn.Module):
            check_finite(module.state_dict(), f"{name} for {path}")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    follow_umask(tmp)
    old = path.with_name(path.name + ".old")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    if old.exists():
        shutil.rmtree(old)
    return path
