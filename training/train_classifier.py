"""Train the expression classifier (the evaluation classifier for edited faces) with accelerate.

    python training/train_classifier.py --config training/configs/classifier_tiny.yaml --output_dir runs/cls
    accelerate launch --multi_gpu --num_processes 2 training/train_classifier.py --config ... --output_dir ...

Cross-entropy over :data:`hf_segan.EXPRESSIONS`; validation accuracy every ``eval_every`` steps; the best model
goes to ``output_dir/best`` and the last one to ``output_dir/final``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed

from hf_segan.models.classifier import ExpressionClassifier
from hf_segan.training.config import DataConfig, OptimConfig, RunConfig, option, parse_config
from hf_segan.training.data import (
    FaceTrainingSet,
    TrainingStream,
    check_columns,
    check_expression_labels,
    check_kwargs,
    evaluation_loader,
    load_split,
)
from hf_segan.training.loop import OneModelRun
from hf_segan.training.runtime import create_accelerator, make_optimizer, run_script

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

    run = OneModelRun.resume(accelerator, config, model, optimizer, "train_classifier", "best_accuracy")
    batches = run.batches(stream)

    def micro_batch_loss() -> torch.Tensor:
        batch = next(batches)
        logits = model(batch["image"]).logits
        return F.cross_entropy(logits.float(), batch["expression"], label_smoothing=config.label_smoothing)

    def record(done: int, metrics: dict[str, float], _loss: torch.Tensor) -> tuple[float, dict]:
        return metrics["eval/accuracy"], {"step": done, "accuracy": metrics["eval/accuracy"]}

    evaluate_run = None if eval_loader is None else lambda: evaluate(accelerator, model, eval_loader)
    run.train(config.optim, micro_batch_loss, evaluate_run, record)
    run.finish({"best_accuracy": run.best})


if __name__ == "__main__":
    sys.exit(run_script(main))
