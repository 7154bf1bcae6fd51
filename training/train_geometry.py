"""Train the geometry model (SynthFaces landmarks + target expression -> landmark displacements) with accelerate.

    python training/train_geometry.py --config training/configs/geometry_synthfaces.yaml
    accelerate launch training/train_geometry.py --config ... --output_dir runs/geometry

The pairs are drawn once, up front, from SynthFaces' exact landmarks (:mod:`hf_segan.training.geometry_data`);
the loss is the mean squared displacement error in eye-frame units (inter-ocular distances). Validation error on
unseen identities every ``eval_every`` steps; the best model goes to ``output_dir/best`` and the last one to
``output_dir/final`` (both loadable with ``LandmarkGeometryModel.from_pretrained``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from accelerate.utils import set_seed

from hf_segan.models.geometry import LandmarkGeometryModel
from hf_segan.training.config import OptimConfig, RunConfig, option, parse_config
from hf_segan.training.data import check_kwargs
from hf_segan.training.geometry_data import landmark_pairs
from hf_segan.training.loop import OneModelRun
from hf_segan.training.runtime import create_accelerator, make_optimizer, run_script


@dataclasses.dataclass
class GeometryModelConfig:
    kwargs: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "constructor arguments of LandmarkGeometryModel"}
    )


@dataclasses.dataclass
class GeometryDataConfig:
    num_identities: int = option(800, ge=1, help="SynthFaces training identities")
    pairs_per_identity: int = option(24, ge=1, help="(source, target) expression pairs drawn per identity")
    eval_identities: int = option(100, ge=1, help="unseen validation identities")
    augment: float = option(1.0, ge=0.0, help="strength of the whole-face deformations (0 = SynthFaces as is)")
    batch_size: int = option(256, ge=1, help="pairs per step and process")


@dataclasses.dataclass
class GeometryTrainingConfig(RunConfig):
    model: GeometryModelConfig = dataclasses.field(default_factory=GeometryModelConfig)
    data: GeometryDataConfig = dataclasses.field(default_factory=GeometryDataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)


@torch.no_grad()
def evaluate(model: torch.nn.Module, pairs: dict[str, torch.Tensor], device: torch.device) -> dict[str, float]:
    """Mean squared error and mean per-point error (eye-frame units) on un-augmented validation pairs."""
    model.eval()
    predicted = model(pairs["source"].to(device), pairs["condition"].to(device)).float().cpu()
    model.train()
    error = predicted - pairs["displacement"]
    return {"eval/mse": float(error.pow(2).mean()), "eval/point_error": float(error.norm(dim=-1).mean())}


def main(argv: Sequence[str]) -> None:
    config = parse_config(GeometryTrainingConfig, argv)
    check_kwargs(LandmarkGeometryModel.__init__, config.model.kwargs, "model.kwargs")
    data = config.data
    accelerator = create_accelerator(config)
    set_seed(config.seed)
    train = landmark_pairs("train", data.num_identities, data.pairs_per_identity, config.seed, data.augment)
    validation = landmark_pairs("validation", data.eval_identities, 8, config.seed + 1, augment=0.0)
    model = LandmarkGeometryModel(**config.model.kwargs)
    optimizer = make_optimizer(model.parameters(), config.optim)
    model, optimizer = accelerator.prepare(model, optimizer)

    run = OneModelRun.resume(accelerator, config, model, optimizer, "train_geometry", "best_score")
    generator = torch.Generator().manual_seed(config.seed * 1000 + accelerator.process_index)

    def batch_indices() -> torch.Tensor:
        return torch.randint(len(train["source"]), (data.batch_size,), generator=generator)

    # A resumed run trains on the batches the stopped one would have drawn next: replay the draws it already made.
    for _ in range(run.state.start_step * config.gradient_accumulation_steps):
        batch_indices()

    def micro_batch_loss() -> torch.Tensor:
        index = batch_indices()
        source, condition, target = (train[key][index].to(accelerator.device) for key in train)
        with accelerator.autocast():
            return F.mse_loss(model(source, condition).float(), target)

    def record(done: int, metrics: dict[str, float], loss: torch.Tensor) -> tuple[float, dict]:
        return -metrics["eval/mse"], {"step": done, "train_loss": float(loss), **metrics}

    run.train(config.optim, micro_batch_loss, lambda: evaluate(model, validation, accelerator.device), record)
    run.finish({"best_eval_mse": None if run.best is None else -run.best})


if __name__ == "__main__":
    sys.exit(run_script(main))
