"""Atomic, resumable training checkpoints on top of ``accelerator.save_state``.

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

from accelerate import Accelerator

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
#: Written into each checkpoint next to accelerate's files: the step to resume from, plus script extras.
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

    Must be called on every process (``save_state`` writes each process's RNG state).
    """
    output_dir = Path(output_dir)
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        for leftover in output_dir.glob("checkpoint-*.tmp"):
            shutil.rmtree(leftover)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
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
    """Restore models, optimizers, RNG states and registered objects; return the saved training state."""
    accelerator.load_state(str(path))
    return json.loads((Path(path) / STATE_FILE).read_text())


def save_pretrained_atomic(model, path: str | Path) -> Path:
    """``model.save_pretrained(path)`` via a temporary folder, so ``path`` is either the old or the new model."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    old = path.with_name(path.name + ".old")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    if old.exists():
        shutil.rmtree(old)
    return path
