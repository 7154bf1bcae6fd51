"""The full training state of an Accelerator in safetensors and JSON: nothing a checkpoint holds is ever unpickled.

``accelerator.save_state`` pickles what it cannot put in safetensors: optimizer states (``optimizer.bin``), RNG
states (``random_states_*.pkl``) and objects registered with ``register_for_checkpointing``
(``custom_checkpoint_*.pkl``, which ``load_state`` reads with ``weights_only=False``, so a crafted checkpoint folder
runs code on resume). This module writes the same state as tensors (safetensors) plus plain data (JSON) and reads
it back without any unpickler; :func:`load_training_state` refuses a folder holding any other kind of file.

What is saved is what the Accelerator tracks: every prepared model and optimizer (in preparation order), every
object registered for checkpointing (its ``state_dict`` must be tensors), the gradient scaler, ``accelerator.step``
and each process's Python, NumPy and torch RNG states, so a resumed run continues bit-identically.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file

#: The only kinds of file a checkpoint folder may hold; anything else (a pickle) is refused, never opened.
SAFE_SUFFIXES = (".safetensors", ".json")
ACCELERATOR_STATE_FILE = "accelerator_state.json"


class UnsafeCheckpointError(ValueError):
    """A checkpoint folder holds files that only an unpickler could read."""


class TrainingDivergedError(ValueError):
    """A loss or a weight about to be saved is NaN or infinite: nothing is written."""


def _tensor_state(obj: Any) -> dict[str, torch.Tensor]:
    state = obj.state_dict()
    bad = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise TypeError(
            f"{type(obj).__name__} is registered for checkpointing but its state_dict holds non-tensor entries "
            f"({', '.join(bad[:3])}); only tensors are saved (as safetensors)."
        )
    return state


def check_finite(state: dict[str, torch.Tensor], what: str) -> None:
    """Raise :class:`TrainingDivergedError` naming the first floating-point tensor of ``state`` that is not finite."""
    for key, value in state.items():
        if value.is_floating_point() and not bool(value.isfinite().all()):
            raise TrainingDivergedError(f"{what} has non-finite weights ({key}); nothing was written.")


def _save_tensors(state: dict[str, torch.Tensor], path: Path) -> None:
    # Tied parameters share storage, which safetensors refuses: each name gets its own contiguous copy.
    save_file({key: value.detach().contiguous().clone() for key, value in state.items()}, str(path))


def _load_into(obj: Any, path: Path) -> None:
    state = load_file(str(path))
    expected = obj.state_dict()
    if state.keys() != expected.keys():
        missing, extra = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
        raise ValueError(f"{path} does not match {type(obj).__name__}: missing {missing[:3]}, unexpected {extra[:3]}.")
    obj.load_state_dict(state)


def _optimizer_files(folder: Path, index: int) -> tuple[Path, Path]:
    return folder / f"optimizer_{index}.safetensors", folder / f"optimizer_{index}.json"


def _save_optimizer(optimizer: torch.optim.Optimizer, folder: Path, index: int) -> None:
    """Per-parameter tensors (moments, step counters) to safetensors; param groups and other values to JSON."""
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    for param_id, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value
            else:
                plain.setdefault(str(param_id), {})[name] = value
    tensor_path, json_path = _optimizer_files(folder, index)
    _save_tensors(tensors, tensor_path)
    json_path.write_text(json.dumps({"param_groups": state["param_groups"], "plain_state": plain}))


def _load_optimizer(optimizer: torch.optim.Optimizer, folder: Path, index: int) -> None:
    tensor_path, json_path = _optimizer_files(folder, index)
    data = json.loads(json_path.read_text())
    state: dict[int, dict[str, Any]] = {}
    for key, value in load_file(str(tensor_path)).items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in data["plain_state"].items():
        state.setdefault(int(param_id), {}).update(entries)
    # JSON has no tuples; optimizers keep hyper-parameter pairs such as Adam's betas as tuples.
    groups = [
        {key: tuple(value) if isinstance(value, list) and key != "params" else value for key, value in group.items()}
        for group in data["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _rng_files(folder: Path, process_index: int) -> tuple[Path, Path]:
    return folder / f"rng_state_{process_index}.json", folder / f"rng_state_{process_index}.safetensors"


def _save_rng(folder: Path, process_index: int) -> None:
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), position, has_gauss, cached],
    }
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors |= {f"cuda.{i}": state for i, state in enumerate(torch.cuda.get_rng_state_all())}
    json_path, tensor_path = _rng_files(folder, process_index)
    json_path.write_text(json.dumps(plain))
    _save_tensors(tensors, tensor_path)


def _load_rng(folder: Path, process_index: int) -> None:
    json_path, tensor_path = _rng_files(folder, process_index)
    plain = json.loads(json_path.read_text())
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    tensors = load_file(str(tensor_path))
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[f"cuda.{i}"] for i in range(len(tensors) - 1)]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def _tracked_states(accelerator: Accelerator) -> dict[str, dict[str, torch.Tensor]]:
    """``{file stem: state}`` of every prepared model and every object registered for checkpointing."""
    states = {f"model_{i}": accelerator.unwrap_model(model).state_dict() for i, model in enumerate(accelerator._models)}
    states |= {f"custom_{i}": _tensor_state(obj) for i, obj in enumerate(accelerator._custom_objects)}
    return states


def check_weights_finite(accelerator: Accelerator) -> None:
    """Raise :class:`TrainingDivergedError` if a tracked model has a NaN or infinite weight. Every process holds the
    same weights, so every process raises together (no process is left waiting at a barrier)."""
    for name, state in _tracked_states(accelerator).items():
        check_finite(state, name)


def save_training_state(accelerator: Accelerator, folder: str | Path) -> None:
    """Write the Accelerator's training state to ``folder`` (which must exist). Call on every process: each one
    writes its RNG state; the main process writes models, optimizers and registered objects."""
    folder = Path(folder)
    if accelerator.is_main_process:
        states = _tracked_states(accelerator)
        for name, state in states.items():
            _save_tensors(state, folder / f"{name}.safetensors")
        for index, optimizer in enumerate(accelerator._optimizers):
            _save_optimizer(optimizer, folder, index)
        counts = {
            "models": len(accelerator._models),
            "custom_objects": len(accelerator._custom_objects),
            "optimizers": len(accelerator._optimizers),
        }
        extra = {"step": accelerator.step, "scaler": accelerator.scaler.state_dict() if accelerator.scaler else None}
        (folder / ACCELERATOR_STATE_FILE).write_text(json.dumps({**counts, **extra}))
    _save_rng(folder, accelerator.process_index)


def check_safe_folder(folder: str | Path) -> None:
    """Refuse a checkpoint folder holding anything but safetensors and JSON, naming the refused files."""
    folder = Path(folder)
    unsafe = sorted(p.name for p in folder.rglob("*") if p.is_file() and p.suffix not in SAFE_SUFFIXES)
    if unsafe:
        raise UnsafeCheckpointError(
            f"Checkpoint {str(folder)!r} holds {', '.join(unsafe)}: refused, nothing in it was loaded. Only "
            "safetensors and JSON are read (unpickling a file can run code); a checkpoint written before this "
            "format (accelerate's pickles) cannot be resumed: start the run again."
        )


def load_training_state(accelerator: Accelerator, folder: str | Path) -> None:
    """Restore what :func:`save_training_state` wrote, after :func:`check_safe_folder`; the models, optimizers and
    registered objects must be the same kinds, in the same order, as when it was saved."""
    folder = Path(folder)
    check_safe_folder(folder)
    saved = json.loads((folder / ACCELERATOR_STATE_FILE).read_text())
    tracked = {
        "models": len(accelerator._models),
        "custom_objects": len(accelerator._custom_objects),
        "optimizers": len(accelerator._optimizers),
    }
    for kind, count in tracked.items():
        if saved[kind] != count:
            raise ValueError(
                f"Checkpoint {str(folder)!r} holds {saved[kind]} {kind.replace('_', ' ')}, this run has {count}: "
                "resume with the configuration that wrote it."
            )
    for index, model in enumerate(accelerator._models):
        _load_into(accelerator.unwrap_model(model), folder / f"model_{index}.safetensors")
    for index, obj in enumerate(accelerator._custom_objects):
        _load_into(obj, folder / f"custom_{index}.safetensors")
    for index, optimizer in enumerate(accelerator._optimizers):
        _load_optimizer(optimizer, folder, index)
    if accelerator.scaler is not None and saved["scaler"]:
        accelerator.scaler.load_state_dict(saved["scaler"])
    accelerator.step = saved["step"]
    _load_rng(folder, accelerator.process_index)
