"""The skeleton every one-model training script shares: resume, the optimisation loop, evaluation, checkpoints.

``train_parser.py``, ``train_classifier.py`` and ``train_geometry.py`` each train one model with one optimizer; they
differ only in their config, their data and the loss of one micro-batch (and what they evaluate), which they hand
to :class:`OneModelRun`. :func:`resume_run` is also the joint script's resume step. Everything a checkpoint holds is
written by :mod:`.checkpointing` (safetensors + JSON, atomically), so a resumed run continues bit-identically.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from .checkpointing import load_checkpoint, resolve_resume_path, save_checkpoint
from .config import OptimConfig, RunConfig, config_to_dict
from .data import TrainingStream
from .logging import log_scalars, start_tracking
from .runtime import (
    check_losses_finite,
    finish_run,
    keep_best,
    learning_rate,
    progress_bar,
    set_learning_rate,
    sync_context,
)


@dataclasses.dataclass
class RunState:
    """Where a run stands: the step it starts from, its best evaluation score so far (higher is better) and its
    evaluation history. ``resumed`` says whether it continues a checkpoint."""

    start_step: int = 0
    best: float = -math.inf
    history: list[dict] = dataclasses.field(default_factory=list)
    resumed: bool = False

    @property
    def resumed_from_step(self) -> int | None:
        """The step the run was resumed at (for ``training_summary.json``), or None for a fresh run."""
        return self.start_step if self.resumed else None


def resume_run(accelerator: Accelerator, config: RunConfig, script: str, best_key: str | None = None) -> RunState:
    """Seed each process's training randomness, restore ``config.resume_from_checkpoint`` (if any) and start the
    trackers. Called once the models, optimizers and data streams exist: the checkpoint restores into them.

    ``best_key`` names the best score in the checkpoint's ``training_state.json`` (scripts that keep one)."""
    set_seed(config.seed, device_specific=True)
    state = RunState()
    resume_path = resolve_resume_path(Path(config.output_dir), config.resume_from_checkpoint)
    if resume_path is not None:
        saved = load_checkpoint(accelerator, resume_path)
        state = RunState(saved["step"], resumed=True)
        if best_key is not None:
            state.best, state.history = saved[best_key], saved["history"]
    start_tracking(accelerator, script, config_to_dict(config))
    return state


@dataclasses.dataclass
class OneModelRun:
    """A run of a script that trains one model with one optimizer (parser, classifier, geometry model).

    The script builds the model, optimizer and data, then calls :meth:`resume`, :meth:`train` with the loss of
    one micro-batch and its evaluation, and :meth:`finish`. ``best_key`` names the best evaluation score in every
    checkpoint's ``training_state.json``.
    """

    accelerator: Accelerator
    config: RunConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    script: str
    best_key: str
    state: RunState
    #: Every training sample index this process drew, in order (``debug_record_indices``).
    seen_indices: list[int] = dataclasses.field(default_factory=list)

    @classmethod
    def resume(
        cls,
        accelerator: Accelerator,
        config: RunConfig,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        script: str,
        best_key: str,
    ) -> OneModelRun:
        """:func:`resume_run` for a prepared ``model`` and ``optimizer``."""
        return cls(
            accelerator, config, model, optimizer, script, best_key, resume_run(accelerator, config, script, best_key)
        )

    def batches(self, stream: TrainingStream) -> Iterator[dict]:
        """``stream``'s batches from where the run stands, each one's sample indices recorded."""
        for batch in stream.batches(self.state.start_step * self.config.gradient_accumulation_steps):
            self.seen_indices.extend(batch["index"].tolist())
            yield batch

    def train(
        self,
        optim: OptimConfig,
        micro_batch_loss: Callable[[], torch.Tensor],
        evaluate: Callable[[], dict[str, float]] | None,
        record: Callable[[int, dict[str, float], torch.Tensor], tuple[float, dict]],
        after_step: Callable[[int], None] | None = None,
    ) -> None:
        """Train from ``state.start_step`` to ``config.max_steps``, updating ``state`` in place.

        Each step sets the learning rate of ``optim``'s schedule, sums ``micro_batch_loss()`` over
        ``config.gradient_accumulation_steps`` micro-batches (backward on each, gradients synchronised across
        processes on the last only), steps the optimizer and stops a diverged run. Then, at their intervals: the
        loss and the learning rate are logged, ``after_step(done)`` runs (script extras such as image grids),
        ``evaluate()`` is scored by ``record(done, metrics, loss) -> (score, history entry)`` and the best model so
        far saved to ``output_dir/best``, and a checkpoint is written.
        """
        accelerator, config, model, optimizer, state = (
            self.accelerator, self.config, self.model, self.optimizer, self.state
        )  # fmt: skip
        output_dir = Path(config.output_dir)
        accumulation = config.gradient_accumulation_steps
        bar = progress_bar(accelerator, config.max_steps, state.start_step, self.script.removeprefix("train_"))
        model.train()
        for step in range(state.start_step, config.max_steps):
            lr = learning_rate(optim, step, config.max_steps)
            set_learning_rate(optimizer, lr)
            total = 0.0
            for micro in range(accumulation):
                with sync_context(accelerator, [model], micro == accumulation - 1):
                    loss = micro_batch_loss()
                    accelerator.backward(loss / accumulation)
                total += loss.detach().float() / accumulation
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            bar.update(1)
            check_losses_finite(accelerator, {"train/loss": total}, done, output_dir)

            if done % config.log_every == 0:
                log_scalars(accelerator, {"train/loss": accelerator.reduce(total, "mean"), "train/lr": lr}, done)
            if after_step is not None:
                after_step(done)
            if evaluate is not None and (done % config.eval_every == 0 or done == config.max_steps):
                metrics = evaluate()
                log_scalars(accelerator, metrics, done)
                score, entry = record(done, metrics, total)
                state.history.append(entry)
                state.best = keep_best(accelerator, model, output_dir, score, state.best)
            if done % config.checkpoint_every == 0:
                extra = {self.best_key: state.best, "history": state.history}
                save_checkpoint(accelerator, output_dir, done, config.checkpoints_total_limit, extra)
        bar.close()

    @property
    def best(self) -> float | None:
        """The best evaluation score, or None when the run never evaluated."""
        return self.state.best if self.state.history else None

    def finish(self, results: dict) -> None:
        """:func:`~.runtime.finish_run`: the final model, ``training_summary.json`` (with ``results``), exit."""
        finish_run(
            self.accelerator,
            self.model,
            self.config,
            self.script,
            self.state.resumed_from_step,
            self.seen_indices,
            {**results, "eval_history": self.state.history},
        )
