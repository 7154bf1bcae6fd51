"""What the real-data recipe (docs/train_real_datasets.md) costs: seconds and floating-point operations per step.

    python benchmarks/real_recipe_cost.py [--threads 2] [--out benchmarks/results/real_recipe_cost.csv]

Runs the real training scripts with their real configs (``parser.yaml`` at 512 px and ``segan_paper.yaml`` at
128 px, batch 16 each, mixed precision as configured) on SynthFaces faces rendered at those sizes, whose content
does not change the cost of a step. Seconds per step are the difference between a short and a longer run divided
by the extra steps, so start-up, data rendering and saving cancel out. Floating-point operations per step are
counted with ``torch.utils.flop_counter.FlopCounterMode`` around a run of one step (parser) or one ``n_critic``
cycle (joint); the counter cannot follow WGAN-GP's double backward, so the joint count runs with
``loss.lambda_gp 0`` and is a lower bound (the penalty adds a backward through the critic per critic step).
The printed totals multiply these by each config's ``max_steps``; a GPU time follows from the
operation count only under an assumed sustained throughput (``--assumed-tflops``), which is an assumption, not a
measurement.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthfaces import cpu_name
from results_csv import write_rows

REPO = Path(__file__).resolve().parents[1]

#: A child process that counts the operations of a training script's run and prints their total.
COUNT_FLOPS = """
import runpy, sys
from torch.utils.flop_counter import FlopCounterMode
sys.argv = sys.argv[1:]
with FlopCounterMode(display=False) as counter:
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as stop:
        if stop.code:
            raise
print("FLOPS", counter.get_total_flops())
"""


def recipes() -> dict[str, dict]:
    """Script, config and the overrides that feed it SynthFaces at the config's resolution without evaluation."""
    parser = {"split": "train", "num_identities": 2, "image_size": 512}
    joint = {"split": "train", "num_identities": 2, "image_size": 128}
    return {
        "parser": {
            "script": "train_parser.py",
            "config": "parser.yaml",
            "overrides": ["--data.dataset", "synthfaces", "--data.synthfaces", yaml.safe_dump(parser).strip()],
            "cycle": 1,
        },
        "joint": {
            "script": "train_segan.py",
            "config": "segan_paper.yaml",
            "overrides": [
                *("--data.dataset", "synthfaces", "--data.synthfaces", yaml.safe_dump(joint).strip()),
                *("--parsing_data.dataset", "synthfaces", "--parsing_data.synthfaces", yaml.safe_dump(joint).strip()),
                *("--model.pretrained_parser", "null"),
            ],
            "cycle": 5,
            "count_overrides": ["--loss.lambda_gp", "0"],
        },
    }


def run(recipe: dict, steps: int, output_dir: Path, threads: int, count_flops: bool = False) -> tuple[float, str]:
    """Wall seconds of one training run of ``steps`` steps (and its stdout)."""
    script = str(REPO / "training" / recipe["script"])
    args = ["--config", str(REPO / "training" / "configs" / recipe["config"]), *recipe["overrides"]]
    args += ["--max_steps", str(steps), "--data.eval_split", "null", "--report_to", "none"]
    args += ["--output_dir", str(output_dir), "--checkpoint_every", "100000", "--image_every", "100000"]
    if count_flops:
        args += recipe.get("count_overrides", [])
    command = [sys.executable, "-c", COUNT_FLOPS, script] if count_flops else [sys.executable, script]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    result = subprocess.run([*command, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cycles", type=int, nargs=2, default=[1, 3], help="short and long run, in cycles")
    parser.add_argument("--assumed-tflops", type=float, default=100.0, help="assumed sustained GPU TFLOP/s")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "real_recipe_cost.csv"))
    args = parser.parse_args()
    cpu = cpu_name()
    rows = []
    for name, recipe in recipes().items():
        config = yaml.safe_load((REPO / "training" / "configs" / recipe["config"]).read_text())
        short, long = (cycles * recipe["cycle"] for cycles in args.cycles)
        with tempfile.TemporaryDirectory() as folder:
            seconds_short, _ = run(recipe, short, Path(folder) / "short", args.threads)
            seconds_long, _ = run(recipe, long, Path(folder) / "long", args.threads)
            _, printed = run(recipe, recipe["cycle"], Path(folder) / "flops", args.threads, count_flops=True)
        flops = float(next(line.split()[1] for line in printed.splitlines() if line.startswith("FLOPS")))
        step_seconds = (seconds_long - seconds_short) / (long - short)
        step_flops = flops / recipe["cycle"]
        steps = int(config["max_steps"])
        row = {
            "recipe": name,
            "config": recipe["config"],
            "resolution": config["data"]["resolution"],
            "batch_size": config["data"]["batch_size"],
            "cpu": cpu,
            "threads": args.threads,
            "cpu_seconds_per_step": round(step_seconds, 3),
            "gflop_per_step": round(step_flops / 1e9, 1),
            "max_steps": steps,
            "cpu_days_for_max_steps": round(step_seconds * steps / 86400, 1),
            "assumed_gpu_tflops": args.assumed_tflops,
            "gpu_hours_at_assumed_tflops": round(step_flops * steps / (args.assumed_tflops * 1e12) / 3600, 2),
        }
        rows.append(row)
        print(", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    write_rows(Path(args.out), rows)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
