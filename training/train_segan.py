"""Train the joint model (parser + hierarchical expression editor + critics) with accelerate: config, data, loop.

    python training/train_segan.py --config training/configs/segan_tiny.yaml --output_dir runs/segan
    accelerate launch --multi_gpu --num_processes 2 training/train_segan.py --config ... --output_dir ...

The config is :class:`hf_segan.training.segan_config.SeganTrainingConfig`; the update rules (critic and
editor/parser updates, EMA editor) are :class:`hf_segan.training.segan_trainer.SeganTrainer`. This script reads
the data, runs the loop, logs, checkpoints and evaluates. The result is saved as a
``SeganPipeline`` with the EMA editor in ``output_dir/pipeline``, next to ``training_summary.json`` (config + final
metrics; model cards are generated from it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from hf_segan.model_card import card_kwargs_from_summary, write_model_card
from hf_segan.pipeline import SeganPipeline
from hf_segan.training.checkpointing import save_checkpoint, save_pretrained_atomic
from hf_segan.training.config import config_to_dict, parse_config
from hf_segan.training.data import (
    FaceTrainingSet,
    TrainingStream,
    check_columns,
    check_expression_labels,
    evaluation_loader,
    load_split,
)
from hf_segan.training.logging import log_image_grid, log_scalars
from hf_segan.training.loop import resume_run
from hf_segan.training.runtime import (
    check_losses_finite,
    create_accelerator,
    end_training,
    progress_bar,
    record_indices,
    run_script,
    write_json,
)
from hf_segan.training.segan_config import CONDITION_COLUMNS, SeganTrainingConfig, required_columns
from hf_segan.training.segan_trainer import SeganTrainer, add_conditions


def main(argv: Sequence[str]) -> None:
    config = parse_config(SeganTrainingConfig, argv)
    train_data = load_split(config.data, config.data.split)
    columns = required_columns(config)
    check_columns(train_data, columns, "expression")
    check_expression_labels(train_data)
    columns += [c for c in CONDITION_COLUMNS if c in train_data.column_names and c not in columns]
    parsing_data = None
    if config.parser_trainable and config.separate_parsing_data:
        parsing_data = load_split(config.parsing_data, config.parsing_data.split)
        check_columns(parsing_data, ["image", "mask"], "parsing")
    eval_data = load_split(config.data, config.data.eval_split) if config.data.eval_split else None

    accelerator = create_accelerator(config)
    output_dir = Path(config.output_dir)
    trainer = SeganTrainer(config, accelerator)
    data = config.data
    stream = TrainingStream(
        accelerator,
        FaceTrainingSet(train_data, columns, data.resolution, data.flip_probability, config.seed),
        data.batch_size,
        config.seed,
        config.channels_last,
    )
    parsing_stream = None
    if parsing_data is not None:
        parsing_set = FaceTrainingSet(
            parsing_data, ["image", "mask"], data.resolution, config.parsing_data.flip_probability, config.seed
        )
        parsing_stream = TrainingStream(
            accelerator, parsing_set, config.parsing_data.batch_size, config.seed, config.channels_last
        )
    sample_source = eval_data if eval_data is not None else train_data
    sample_set = FaceTrainingSet(sample_source, ["image"], data.resolution)
    samples = torch.stack([sample_set[i]["image"] for i in range(min(config.sample_count, len(sample_set)))])
    samples = samples.to(accelerator.device)
    eval_loader = None
    if eval_data is not None:
        eval_columns = [
            c for c in ("image", "expression", "target_image", *CONDITION_COLUMNS) if c in eval_data.column_names
        ]
        eval_loader = evaluation_loader(
            accelerator, FaceTrainingSet(eval_data, eval_columns, data.resolution), data.eval_batch_size
        )

    state = resume_run(accelerator, config, "train_segan")
    start_step = state.start_step

    accumulation, n_critic = config.gradient_accumulation_steps, config.loss.n_critic
    batches = stream.batches(start_step * accumulation)
    parsing_batches = parsing_stream.batches((start_step // n_critic) * accumulation) if parsing_stream else None
    seen_indices: list[int] = []
    last_logged: dict[str, float] = {}
    bar = progress_bar(accelerator, config.max_steps, start_step, "segan")
    for step in range(start_step, config.max_steps):
        rates = trainer.set_learning_rates(step)
        micro_batches = []
        for _ in range(accumulation):
            batch = next(batches)
            add_conditions(batch)
            seen_indices.extend(batch["index"].tolist())
            micro_batches.append(batch)
        if (step + 1) % n_critic == 0:
            supervision = [next(parsing_batches) for _ in range(accumulation)] if parsing_batches else micro_batches
            losses, fakes = trainer.generator_step(micro_batches, supervision)
            losses.update(trainer.critic_step(micro_batches, fakes))
        else:
            losses = trainer.critic_step(micro_batches)
        done = step + 1
        bar.update(1)
        check_losses_finite(accelerator, losses, done, output_dir)

        if done % config.log_every == 0 or done == config.max_steps:
            scalars = {k: float(accelerator.reduce(v, "mean")) for k, v in losses.items()}
            last_logged.update(scalars)
            log_scalars(accelerator, {**scalars, **rates}, done)
        if done % config.image_every == 0:
            log_image_grid(accelerator, "samples/input_attention_edit", trainer.sample_grid(samples), done)
        if eval_loader is not None and done % config.eval_every == 0:
            log_scalars(accelerator, trainer.evaluate(eval_loader), done)
        if done % config.checkpoint_every == 0:
            save_checkpoint(accelerator, output_dir, done, config.checkpoints_total_limit)
    bar.close()

    final_metrics = dict(last_logged)
    if eval_loader is not None:
        final_metrics.update(trainer.evaluate(eval_loader))
    accelerator.wait_for_everyone()
    if config.debug_record_indices:
        record_indices(accelerator, output_dir, seen_indices)
    if accelerator.is_main_process:
        parser = trainer.unwrap(trainer.parser)
        # The editor learned from this parser's probabilities on faces at the data's resolution: parse at it.
        parser.register_to_config(input_resolution=config.data.resolution)
        pipeline = SeganPipeline(parser=parser, editor=trainer.ema_editor, resolution=config.data.resolution)
        save_pretrained_atomic(pipeline, output_dir / "pipeline")
        summary = {
            "script": "train_segan",
            "num_processes": accelerator.num_processes,
            "steps": config.max_steps,
            "resumed_from_step": state.resumed_from_step,
            "samples_per_epoch_per_process": len(stream) * data.batch_size,
            "ablation": {
                "region_source": config.region_source,
                "parser": "frozen" if config.freeze_parser else ("joint" if config.joint else "supervised only"),
            },
            "final_metrics": final_metrics,
            "config": config_to_dict(config),
        }
        write_json(output_dir / "training_summary.json", summary)
        evaluation = {
            "dataset": {"name": config.data.dataset, "split": config.data.eval_split or config.data.split},
            "rows": [{"model": output_dir.name, "metrics": final_metrics}],
        }
        write_model_card(
            output_dir / "pipeline",
            model_name=output_dir.name,
            evaluation=evaluation,
            **card_kwargs_from_summary(summary),
        )
    end_training(accelerator)


if __name__ == "__main__":
    sys.exit(run_script(main))
