"""Train the expression classifier (the evaluation classifier for edited faces) with accelerate.

    python training/train_classifier.py --config training/configs/classifier_tiny.yaml --output_dir runs/cls
    accelerate launch --multi_gpu --num_processes 2 training/train_classifier.py --config ... --output_dir ...

Cross-entropy over :data:`hf_segan.EXPRESSIONS`; validation accuracy every ``eval_every`` steps; the best model
goes to ``output_dir/best`` and the last one to ``output_dir/final``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed

from hf_segan.models.classifier import ExpressionClassifier
from hf_segan.training.checkpointing import (
    load_checkpoint,
    resolve_resume_path,
    save_checkpoint,
)
from hf_segan.training.config import (
    DataConfig,
    OptimConfig,
    RunConfig,
    config_to_dict,
    option,
    parse_config,
)
from hf_segan.training.data import (
    FaceTrainingSet,
    TrainingStream,
    check_columns,
    check_expression_labels,
    check_kwargs,
    evaluation_loader,
    load_split,
)
from hf_segan.training.logging import log_scalars, start_tracking
from hf_segan.training.runtime import (
    check_losses_finite,
    create_accelerator,
    finish_run,
    keep_best,
    learning_rate,
    make_optimizer,
    progress_bar,
    run_script,
    set_learning_rate,
    sync_context,
)

COLUMNS = ["image", "expression"]


@dataclasses.dataclass
class ClassifierModelConfig:
    kwargs: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "constructor arguments of ExpressionClassifier"}
    )


@dataclasses.dataclass
class ClassifierTrainingConfig(RunConfig):
    model: ClassifierModelConfig = dataclasses.field(default_factory=ClassifierModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    label_smoothing: float = option(0.0, ge=0.0, lt=1.0, help="cross-entropy label smoothing")


@torch.no_grad()
def evaluate(accelerator: Accelerator, model: torch.nn.Module, loader) -> dict[str, float]:
    """Top-1 accuracy over the whole split, gathered from every process."""
    model.eval()
    correct, count = 0, 0
    for batch in loader:
        predictions = model(batch["image"]).logits.argmax(1)
        predictions, targets = accelerator.gather_for_metrics((predictions, batch["expression"]))
        correct += int((predictions == targets).sum())
        count += targets.numel()
    model.train()
    return {"eval/accuracy": correct / max(count, 1)}


def main(argv: Sequence[str]) -> None:
    config = parse_config(ClassifierTrainingConfig, argv)
    check_kwargs(ExpressionClassifier.__init__, config.model.kwargs, "model.kwargs")
    train_data = load_split(config.data, config.data.split)
    eval_data = load_split(config.data, config.data.eval_split) if config.data.eval_split else None
    for dataset in (train_data, eval_data):
        if dataset is not None:
            check_columns(dataset, COLUMNS, "expression")
            check_expression_labels(dataset)

    accelerator = create_accelerator(config)
    output_dir = Path(config.output_dir)
    set_seed(config.seed)
    model = ExpressionClassifier(**config.model.kwargs)
    optimizer = make_optimizer(model.parameters(), config.optim)
    model, optimizer = accelerator.prepare(model, optimizer)
    train_set = FaceTrainingSet(train_data, COLUMNS, config.data.resolution, config.data.flip_probability, config.seed)
    stream = TrainingStream(accelerator, train_set, config.data.batch_size, config.seed, config.channels_last)
    eval_loader = None
    if eval_data is not None:
        eval_set = FaceTrainingSet(eval_data, COLUMNS, config.data.resolution)
        eval_loader = evaluation_loader(accelerator, eval_set, config.data.eval_batch_size)

    set_seed(config.seed, device_specific=True)
    start_step, best_accuracy, history = 0, -math.inf, []
    resume_path = resolve_resume_path(output_dir, config.resume_from_checkpoint)
    if resume_path is not None:
        state = load_checkpoint(accelerator, resume_path)
        start_step, best_accuracy, history = state["step"], state["best_accuracy"], state["history"]
    start_tracking(accelerator, "train_classifier", config_to_dict(config))

    accumulation = config.gradient_accumulation_steps
    batches = stream.batches(start_step * accumulation)
    seen_indices: list[int] = []
    bar = progress_bar(accelerator, config.max_steps, start_step, "classifier")
    model.train()
    for step in range(start_step, config.max_steps):
        lr = learning_rate(config.optim, step, config.max_steps)
        set_learning_rate(optimizer, lr)
        total = 0.0
        for micro in range(accumulation):
            batch = next(batches)
            seen_indices.extend(batch["index"].tolist())
            with sync_context(accelerator, [model], micro == accumulation - 1):
                logits = model(batch["image"]).logits
                loss = F.cross_entropy(logits.float(), batch["expression"], label_smoothing=config.label_smoothing)
                accelerator.backward(loss / accumulation)
            total += loss.detach() / accumulation
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        bar.update(1)
        check_losses_finite(accelerator, {"train/loss": total}, done, output_dir)

        if done % config.log_every == 0:
            log_scalars(accelerator, {"train/loss": accelerator.reduce(total, "mean"), "train/lr": lr}, done)
        if eval_loader is not None and (done % config.eval_every == 0 or done == config.max_steps):
            metrics = evaluate(accelerator, model, eval_loader)
            log_scalars(accelerator, metrics, done)
            history.append({"step": done, "accuracy": metrics["eval/accuracy"]})
            best_accuracy = keep_best(accelerator, model, output_dir, metrics["eval/accuracy"], best_accuracy)
        if done % config.checkpoint_every == 0:
            extra = {"best_accuracy": best_accuracy, "history": history}
            save_checkpoint(accelerator, output_dir, done, config.checkpoints_total_limit, extra)
    bar.close()

    finish_run(
        accelerator,
        model,
        config,
        "train_classifier",
        start_step if resume_path is not None else None,
        seen_indices,
        {"best_accuracy": best_accuracy if history else None, "eval_history": history},
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
