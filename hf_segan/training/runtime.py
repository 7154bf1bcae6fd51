"""What every training script does the same way: the Accelerator, seeding, learning rates, errors, progress."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import ProjectConfiguration
from tqdm.auto import tqdm

from ..fast_path import native_bf16
from .checkpointing import list_checkpoints, save_pretrained_atomic
from .config import OptimConfig, RunConfig, config_to_dict
from .safe_state import TrainingDivergedError


def resolve_mixed_precision(precision: str, cpu: bool) -> str:
    """``auto`` is bf16 where the device computes it natively (a GPU, or a CPU with avx512_bf16 or AMX), else
    ``no``; other values are kept.

    On such a CPU a bf16 joint SynthFaces step is much faster than an fp32 one and learns as much per step
    (docs/experiments.md); emulated bf16 would be slower than fp32.
    """
    if precision != "auto":
        return precision
    return "bf16" if native_bf16("cpu" if cpu else "cuda") else "no"


def create_accelerator(config: RunConfig) -> Accelerator:
    """An Accelerator for ``config``: CPU when asked or when there is no CUDA, precision by
    :func:`resolve_mixed_precision`.

    ``find_unused_parameters`` is on because parsers return auxiliary heads only some losses use.
    """
    cpu = config.cpu or not torch.cuda.is_available()
    precision = resolve_mixed_precision(config.mixed_precision, cpu)
    return Accelerator(
        cpu=cpu,
        mixed_precision=precision,
        log_with=None if config.report_to == "none" else config.report_to,
        project_config=ProjectConfiguration(
            project_dir=config.output_dir, logging_dir=str(Path(config.output_dir) / "logs")
        ),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def learning_rate(optim: OptimConfig, step: int, max_steps: int) -> float:
    """The learning rate at ``step``: linear warm-up, then constant, linear or poly decay to 0 at ``max_steps``.

    A pure function of the step, so resuming needs no scheduler state.
    """
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    progress = (step - optim.warmup_steps) / max(1, max_steps - optim.warmup_steps)
    if optim.schedule == "linear":
        return optim.lr * max(0.0, 1.0 - progress)
    if optim.schedule == "poly":
        return optim.lr * max(0.0, 1.0 - progress) ** optim.poly_power
    return optim.lr


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_optimizer(parameters, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW with the fused kernel: one call updates every tensor. The default on a CPU is a Python loop of about
    ten small operations per tensor, which for the editor's many small tensors is a visible share of a joint
    training step (docs/experiments.md)."""
    return torch.optim.AdamW(
        list(parameters), lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay, fused=True
    )


def progress_bar(accelerator: Accelerator, total: int, initial: int, desc: str) -> tqdm:
    """A tqdm bar shown on the main process only."""
    return tqdm(total=total, initial=initial, desc=desc, disable=not accelerator.is_local_main_process)


def write_json(path: str | Path, data: dict) -> None:
    """Write JSON atomically (temp file, then rename), so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def record_indices(accelerator: Accelerator, output_dir: str | Path, indices: list[int]) -> None:
    """Debug aid for distributed runs: each process writes the sample indices it trained on."""
    write_json(
        Path(output_dir) / f"debug_indices_{accelerator.process_index}.json",
        {"process_index": accelerator.process_index, "num_processes": accelerator.num_processes, "indices": indices},
    )


def check_losses_finite(accelerator: Accelerator, losses: dict[str, torch.Tensor], step: int, output_dir: Path) -> None:
    """Stop a diverged run: raise :class:`TrainingDivergedError` when a loss term of ``step`` is NaN or infinite on
    any process (all processes agree, so they stop together), naming the terms and the last good checkpoint."""
    names = list(losses)
    values = torch.stack([torch.as_tensor(losses[name]).detach().float().reshape(()) for name in names])
    bad = accelerator.reduce((~values.isfinite()).float().to(accelerator.device), "sum").cpu()
    if not bool(bad.any()):
        return
    terms = ", ".join(f"{name}={float(values[i])}" for i, name in enumerate(names) if bad[i] > 0)
    checkpoints = list_checkpoints(output_dir)
    kept = (
        f"the last good checkpoint is {checkpoints[-1]} (resume it with a lower learning rate)"
        if checkpoints
        else "no checkpoint was written"
    )
    raise TrainingDivergedError(f"the loss became non-finite at step {step} ({terms}); stopped, {kept}.")


def run_script(main: Callable[[Sequence[str]], None], argv: Sequence[str] | None = None) -> int:
    """Run a script's ``main``; user errors (bad config, bad data) become one line on stderr and exit status 2, a
    diverged run (non-finite loss or weights) one line and exit status 3."""
    try:
        main(sys.argv[1:] if argv is None else argv)
    except TrainingDivergedError as error:
        # on a line of its own: the run stopped in the middle of the progress bar's line
        print(f"\nerror: {error}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def sync_context(accelerator: Accelerator, models: Sequence[torch.nn.Module], sync: bool) -> ExitStack:
    """Skip the gradient all-reduce of ``models`` on all but the last micro-batch of an accumulated step."""
    stack = ExitStack()
    if not sync:
        for model in models:
            stack.enter_context(accelerator.no_sync(model))
    return stack


def keep_best(accelerator: Accelerator, model: torch.nn.Module, output_dir: Path, score: float, best: float) -> float:
    """Save ``model`` to ``output_dir/best`` when ``score`` beats ``best``; return the best score so far."""
    if score <= best:
        return best
    if accelerator.is_main_process:
        save_pretrained_atomic(accelerator.unwrap_model(model), output_dir / "best")
    return score


def end_training(accelerator: Accelerator) -> None:
    """Close the trackers and the process group once every process is here; a process of a multi-process run
    then exits at once, without Python's teardown.

    Why: in about one in four 2-process CPU test runs a process hung after its last line (py-spy: freeing DDP's
    reducer at the end of ``main`` joins a gloo worker thread while holding the GIL, and that thread waits for the
    GIL to free the tensors of the last barrier; pytorch/pytorch#179291 describes this kind of race). Everything is
    written and closed by then (checkpoints and models atomically, trackers by ``end_training``), so skipping the
    destructors loses nothing. The barrier first: the main process writes the final model while the others wait.
    """
    accelerator.wait_for_everyone()
    accelerator.end_training()
    if accelerator.num_processes > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def finish_run(
    accelerator: Accelerator,
    model: torch.nn.Module,
    config: RunConfig,
    script: str,
    resumed_from_step: int | None,
    seen_indices: list[int],
    results: dict,
) -> None:
    """The end of a single-model run: debug indices, ``output_dir/final`` and ``training_summary.json``
    (script, processes, steps, resume point, ``results``, config)."""
    output_dir = Path(config.output_dir)
    accelerator.wait_for_everyone()
    if config.debug_record_indices:
        record_indices(accelerator, output_dir, seen_indices)
    if accelerator.is_main_process:
        save_pretrained_atomic(accelerator.unwrap_model(model), output_dir / "final")
        summary = {
            "script": script,
            "num_processes": accelerator.num_processes,
            "steps": config.max_steps,
            "resumed_from_step": resumed_from_step,
            **results,
            "config": config_to_dict(config),
        }
        write_json(output_dir / "training_summary.json", summary)
    end_training(accelerator)
