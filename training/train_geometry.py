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
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.utils import set_seed

from hf_segan.models.geometry import LandmarkGeometryModel
from hf_segan.training.checkpointing import load_checkpoint, resolve_resume_path, save_checkpoint
from hf_segan.training.config import OptimConfig, RunConfig, config_to_dict, option, parse_config
from hf_segan.training.data import check_kwargs
from hf_segan.training.geometry_data import landmark_pairs
from hf_segan.training.logging import log_scalars, start_tracking
from hf_segan.training.runtime import (
    create_accelerator,
    finish_run,
    keep_best,
    learning_rate,
    make_optimizer,
    progress_bar,
    run_script,
    set_learning_rate,
)


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
    output_dir = Path(config.output_dir)
    set_seed(config.seed)
    train = landmark_pairs("train", data.num_identities, data.pairs_per_identity, config.seed, data.augment)
    validation = landmark_pairs("validation", data.eval_identities, 8, config.seed + 1, augment=0.0)
    model = LandmarkGeometryModel(**config.model.kwargs)
    optimizer = make_optimizer(model.parameters(), config.optim)
    model, optimizer = accelerator.prepare(model, optimizer)

    set_seed(config.seed, device_specific=True)
    start_step, best_score, history = 0, -math.inf, []
    resume_path = resolve_resume_path(output_dir, config.resume_from_checkpoint)
    if resume_path is not None:
        state = load_checkpoint(accelerator, resume_path)
        start_step, best_score, history = state["step"], state["best_score"], state["history"]
    start_tracking(accelerator, "train_geometry", config_to_dict(config))
    generator = torch.Generator().manual_seed(config.seed * 1000 + accelerator.process_index)
    bar = progress_bar(accelerator, config.max_steps, start_step, "geometry")
    model.train()
    for step in range(start_step, config.max_steps):
        lr = learning_rate(config.optim, step, config.max_steps)
        set_learning_rate(optimizer, lr)
        total = 0.0
        for _ in range(config.gradient_accumulation_steps):
            index = torch.randint(len(train["source"]), (data.batch_size,), generator=generator)
            source, condition, target = (train[key][index].to(accelerator.device) for key in train)
            with accelerator.autocast():
                loss = F.mse_loss(model(source, condition).float(), target)
            accelerator.backward(loss / config.gradient_accumulation_steps)
            total += loss.detach() / config.gradient_accumulation_steps
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        bar.update(1)
        if done % config.log_every == 0:
            log_scalars(accelerator, {"train/loss": accelerator.reduce(total, "mean"), "train/lr": lr}, done)
        if done % config.eval_every == 0 or done == config.max_steps:
            metrics = evaluate(model, validation, accelerator.device)
            log_scalars(accelerator, metrics, done)
            history.append({"step": done, "train_loss": float(total), **metrics})
            best_score = keep_best(accelerator, model, output_dir, -metrics["eval/mse"], best_score)
        if done % config.checkpoint_every == 0:
            extra = {"best_score": best_score, "history": history}
            save_checkpoint(accelerator, output_dir, done, config.checkpoints_total_limit, extra)
    bar.close()
    finish_run(
        accelerator,
        model,
        config,
        "train_geometry",
        start_step if resume_path is not None else None,
        [],
        {"best_eval_mse": -best_score if history else None, "eval_history": history},
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
