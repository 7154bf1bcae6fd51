"""Seconds per joint training step (one critic update + one generator update) of the default-size models.

    python benchmarks/training_step.py [--threads 2] [--batch-size 16] [--resolution 128] [--steps 3]
        [--mixed-precision no] [--out benchmarks/results/training_step.json]

It drives the training script's own ``hf_segan.training.segan_trainer.SeganTrainer`` (default BiSeNet parser
trained jointly, default editor and critic, WGAN-GP), so the step is exactly the training script's:
``generator_step``, then ``critic_step`` on its edits, i.e. the cost of one generator step at
``loss.n_critic = 1`` (at the default ``n_critic = 5`` a generator update follows every fifth critic step).
Inputs are random tensors of the training shapes: the data pipeline is not timed. Prints one table row and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hf_segan.constants import EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.training.runtime import create_accelerator
from hf_segan.training.segan_config import SeganTrainingConfig
from hf_segan.training.segan_trainer import SeganTrainer, add_conditions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed steps, after one untimed warm-up step")
    parser.add_argument("--mixed-precision", default="no", choices=("no", "bf16"))
    parser.add_argument("--out", default="benchmarks/results/training_step.json")
    args = parser.parse_args()
    if args.steps < 1 or args.batch_size < 2 or args.resolution % 4:
        raise SystemExit("--steps >= 1, --batch-size >= 2 (batch norm), --resolution a multiple of 4.")
    torch.set_num_threads(args.threads)

    config = SeganTrainingConfig(
        output_dir=tempfile.mkdtemp(), report_to="none", cpu=True, mixed_precision=args.mixed_precision
    )
    trainer = SeganTrainer(config, create_accelerator(config))
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, 3, args.resolution, args.resolution)
    batch = {
        "image": torch.rand(shape, generator=generator) * 2 - 1,
        "expression": torch.randint(len(EXPRESSIONS), (args.batch_size,), generator=generator),
        "mask": torch.randint(len(FACE_PARSING_CLASSES), shape[:1] + shape[2:], generator=generator),
    }
    add_conditions(batch)
    times = []
    for index in range(args.steps + 1):
        start = time.perf_counter()
        _, fakes = trainer.generator_step([batch], [batch])
        trainer.critic_step([batch], fakes)
        if index:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {args.threads} threads, torch {torch.__version__}, precision {args.mixed_precision}")
    print("| joint step (critic + generator) | batch | resolution | median s/step | images/s |\n|---|---|---|---|---|")
    print(f"| default models | {args.batch_size} | {args.resolution} | {median:.2f} | {args.batch_size / median:.1f} |")
    result = {
        "threads": args.threads,
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "resolution": args.resolution,
        "mixed_precision": args.mixed_precision,
        "seconds_per_step": times,
        "median_seconds_per_step": median,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
