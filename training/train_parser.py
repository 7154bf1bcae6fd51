"""Train a face parser (BiSeNet or UNet) on a parsing dataset with accelerate.

    python training/train_parser.py --config training/configs/parser_tiny.yaml --output_dir runs/parser
    accelerate launch --multi_gpu --num_processes 2 training/train_parser.py --config ... --output_dir ...

Cross-entropy on the main and auxiliary heads (optionally OHEM), poly learning rate, face-correct flips,
validation mIoU / per-class F1 every ``eval_every`` steps; the best parser goes to ``output_dir/best`` and the last
one to ``output_dir/final`` (both loadable with ``from_pretrained``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.losses import parser_loss
from hf_segan.metrics import ConfusionMatrix
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.unet import UNetFaceParser
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
from hf_segan.training.data import FaceTrainingSet, TrainingStream, check_kwargs, evaluation_loader, load_split
from hf_segan.training.logging import labels_as_image, log_image_grid, log_scalars, start_tracking
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

PARSERS = {"bisenet": BiSeNetFaceParser, "unet": UNetFaceParser}


@dataclasses.dataclass
class ParserModelConfig:
    type: str = option("bisenet", choices=tuple(PARSERS), help="parser architecture")
    kwargs: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "constructor arguments of the parser class (widths, norm, ...)"}
    )


@dataclasses.dataclass
class ParserLossConfig:
    aux_weight: float = option(1.0, ge=0.0, help="weight of each auxiliary head's loss")
    ohem_threshold: float | None = option(None, gt=0.0, help="OHEM: average only pixels whose loss exceeds this")
    ohem_min_kept: int = option(0, ge=0, help="OHEM: but never fewer than this many hardest pixels")


@dataclasses.dataclass
class ParserTrainingConfig(RunConfig):
    model: ParserModelConfig = dataclasses.field(default_factory=ParserModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    loss: ParserLossConfig = dataclasses.field(default_factory=ParserLossConfig)


@torch.no_grad()
def evaluate(accelerator: Accelerator, model: torch.nn.Module, loader) -> dict[str, float]:
    """Validation mIoU and per-class F1 over the whole split, gathered from every process."""
    model.eval()
    matrix = ConfusionMatrix(len(FACE_PARSING_CLASSES))
    for batch in loader:
        predictions = model(batch["image"]).logits.argmax(1)
        predictions, targets = accelerator.gather_for_metrics((predictions, batch["mask"]))
        matrix.update(predictions.cpu(), targets.cpu())
    model.train()
    metrics = {"eval/miou": matrix.mean_iou()}
    metrics.update({f"eval/f1/{name}": value for name, value in zip(FACE_PARSING_CLASSES, matrix.f1(), strict=True)})
    return metrics


def main(argv: Sequence[str]) -> None:
    config = parse_config(ParserTrainingConfig, argv)
    parser_class = PARSERS[config.model.type]
    check_kwargs(parser_class.__init__, config.model.kwargs, "model.kwargs")
    train_data = load_split(config.data, config.data.split)
    eval_data = load_split(config.data, config.data.eval_split) if config.data.eval_split else None

    accelerator = create_accelerator(config)
    output_dir = Path(config.output_dir)
    set_seed(config.seed)
    # The pipeline parses faces at the side the parser learned them at.
    model = parser_class(**{**config.model.kwargs, "input_resolution": config.data.resolution})
    optimizer = make_optimizer(model.parameters(), config.optim)
    model, optimizer = accelerator.prepare(model, optimizer)
    columns = ["image", "mask"]
    stream = TrainingStream(
        accelerator,
        FaceTrainingSet(train_data, columns, config.data.resolution, config.data.flip_probability, config.seed),
        config.data.batch_size,
        config.seed,
        config.channels_last,
    )
    eval_loader = None
    if eval_data is not None:
        eval_set = FaceTrainingSet(eval_data, columns, config.data.resolution)
        eval_loader = evaluation_loader(accelerator, eval_set, config.data.eval_batch_size)

    set_seed(config.seed, device_specific=True)
    start_step, best_miou, history = 0, -math.inf, []
    resume_path = resolve_resume_path(output_dir, config.resume_from_checkpoint)
    if resume_path is not None:
        state = load_checkpoint(accelerator, resume_path)
        start_step, best_miou, history = state["step"], state["best_miou"], state["history"]
    start_tracking(accelerator, "train_parser", config_to_dict(config))

    accumulation = config.gradient_accumulation_steps
    batches = stream.batches(start_step * accumulation)
    seen_indices: list[int] = []
    bar = progress_bar(accelerator, config.max_steps, start_step, "parser")
    model.train()
    for step in range(start_step, config.max_steps):
        lr = learning_rate(config.optim, step, config.max_steps)
        set_learning_rate(optimizer, lr)
        total = 0.0
        for micro in range(accumulation):
            batch = next(batches)
            seen_indices.extend(batch["index"].tolist())
            with sync_context(accelerator, [model], micro == accumulation - 1):
                output = model(batch["image"], return_aux=True)
                loss = parser_loss(
                    output.logits,
                    output.aux_logits,
                    batch["mask"],
                    config.loss.aux_weight,
                    config.loss.ohem_threshold,
                    config.loss.ohem_min_kept,
                )
                accelerator.backward(loss / accumulation)
            total += loss.detach().float() / accumulation
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        bar.update(1)
        check_losses_finite(accelerator, {"train/loss": total}, done, output_dir)

        if done % config.log_every == 0:
            log_scalars(accelerator, {"train/loss": accelerator.reduce(total, "mean"), "train/lr": lr}, done)
        if done % config.image_every == 0:
            predictions = output.logits.detach().argmax(1)
            columns_ = [batch["image"], labels_as_image(batch["mask"]), labels_as_image(predictions)]
            log_image_grid(accelerator, "train/input_truth_prediction", columns_, done)
        if eval_loader is not None and (done % config.eval_every == 0 or done == config.max_steps):
            metrics = evaluate(accelerator, model, eval_loader)
            log_scalars(accelerator, metrics, done)
            history.append({"step": done, "miou": metrics["eval/miou"]})
            best_miou = keep_best(accelerator, model, output_dir, metrics["eval/miou"], best_miou)
        if done % config.checkpoint_every == 0:
            extra = {"best_miou": best_miou, "history": history}
            save_checkpoint(accelerator, output_dir, done, config.checkpoints_total_limit, extra)
    bar.close()

    finish_run(
        accelerator,
        model,
        config,
        "train_parser",
        start_step if resume_path is not None else None,
        seen_indices,
        {"best_miou": best_miou if history else None, "eval_history": history},
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
