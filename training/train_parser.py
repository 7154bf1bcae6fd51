"""Train a face parser (BiSeNet or UNet) on a parsing dataset with accelerate.

    python training/train_parser.py --config training/configs/parser_tiny.yaml --output_dir runs/parser
    accelerate launch --multi_gpu --num_processes 2 training/train_parser.py --config ... --output_dir ...

Cross-entropy on the main and auxiliary heads (optionally OHEM), poly learning rate, face-correct flips,
validation mIoU / per-class F1 every ``eval_every`` steps; the best parser goes to ``output_dir/best`` and the last
one to ``output_dir/final`` (both loadable with ``from_pretrained``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.losses import parser_loss
from hf_segan.metrics import ConfusionMatrix
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.unet import UNetFaceParser
from hf_segan.training.config import DataConfig, OptimConfig, RunConfig, option, parse_config
from hf_segan.training.data import FaceTrainingSet, TrainingStream, check_kwargs, evaluation_loader, load_split
from hf_segan.training.logging import labels_as_image, log_image_grid
from hf_segan.training.loop import OneModelRun
from hf_segan.training.runtime import create_accelerator, make_optimizer, run_script

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

    run = OneModelRun.resume(accelerator, config, model, optimizer, "train_parser", "best_miou")
    batches = run.batches(stream)
    last: dict = {}  # the step's last micro-batch and output, for the image grid

    def micro_batch_loss() -> torch.Tensor:
        last["batch"] = batch = next(batches)
        last["output"] = output = model(batch["image"], return_aux=True)
        terms = config.loss
        return parser_loss(
            output.logits, output.aux_logits, batch["mask"], terms.aux_weight, terms.ohem_threshold, terms.ohem_min_kept
        )

    def log_images(done: int) -> None:
        if done % config.image_every == 0:
            predictions = last["output"].logits.detach().argmax(1)
            batch = last["batch"]
            columns_ = [batch["image"], labels_as_image(batch["mask"]), labels_as_image(predictions)]
            log_image_grid(accelerator, "train/input_truth_prediction", columns_, done)

    def record(done: int, metrics: dict[str, float], _loss: torch.Tensor) -> tuple[float, dict]:
        return metrics["eval/miou"], {"step": done, "miou": metrics["eval/miou"]}

    evaluate_run = None if eval_loader is None else lambda: evaluate(accelerator, model, eval_loader)
    run.train(config.optim, micro_batch_loss, evaluate_run, record, after_step=log_images)
    run.finish({"best_miou": run.best})


if __name__ == "__main__":
    sys.exit(run_script(main))
