"""Running the repository's scripts inside the test process.

A script run as a subprocess pays a fresh interpreter's imports of torch, diffusers and accelerate (most of a tiny
run's cost), so each script keeps one subprocess smoke test and its other tests call its ``main`` here, with the
same error handling (``hf_segan.training.runtime.run_script``: one line on stderr, exit status 2 or 3).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType

from accelerate.state import AcceleratorState, GradientState

ROOT = Path(__file__).resolve().parents[1]


@cache
def load_script(relative_path: str) -> ModuleType:
    """The script at ``ROOT/relative_path`` as a module (its ``if __name__ == "__main__"`` block not run)."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as for an imported module (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def reset_accelerate() -> None:
    """Forget accelerate's process-wide state: a new run may then choose another mixed precision, as a new process
    would (accelerate refuses to change it within one process)."""
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def run_training_script(name: str, argv: Sequence[str]) -> int:
    """``python training/train_{name}.py *argv``'s exit status, run in this process."""
    from hf_segan.training.runtime import run_script

    script = load_script(f"training/train_{name}.py")
    reset_accelerate()
    try:
        return run_script(script.main, [str(arg) for arg in argv])
    finally:
        reset_accelerate()
