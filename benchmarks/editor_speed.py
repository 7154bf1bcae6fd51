"""Inference speed of the hierarchical editor against a GANimation-size global generator.

Prints a table (milliseconds per batch, median over timed runs after warm-up, ``torch.inference_mode``, fp32) and
writes the same numbers as JSON. The parser is not included: region masks come from fixed random probabilities.

    python benchmarks/editor_speed.py --threads 2 --out benchmarks/results/editor_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from results_csv import write_text_atomic

from hf_segan.constants import EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.models.editor import EDITOR_PRESETS, HierarchicalExpressionGenerator

#: GANimation's generator (the `paper` preset without local generators): 7x7 stem with 64 channels, two
#: downsamplings to 256, 6 residual blocks, 7x7 heads.
GANIMATION_SIZE = {"region_source": "none", **EDITOR_PRESETS["paper"]}

CONFIGS = {
    "default (semantic)": {"region_source": "semantic"},
    "default (box)": {"region_source": "box"},
    "default (none)": {"region_source": "none"},
    "GANimation-size": GANIMATION_SIZE,
}


def time_editor(editor: torch.nn.Module, inputs: tuple[torch.Tensor, ...], warmup: int, runs: int) -> list[float]:
    """Seconds per forward pass for ``runs`` timed passes after ``warmup`` untimed ones."""
    times = []
    with torch.inference_mode():
        for index in range(warmup + runs):
            start = time.perf_counter()
            editor(*inputs)
            if index >= warmup:
                times.append(time.perf_counter() - start)
    return times


def write_json(data: dict, path: Path) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/editor_speed.json"))
    args = parser.parse_args(argv)
    if args.resolution % 4 or min(args.batch_size, args.warmup + 1, args.runs) < 1:
        raise SystemExit("--resolution must be a multiple of 4; --batch-size and --runs >= 1, --warmup >= 0.")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    size = (args.batch_size, 3, args.resolution, args.resolution)
    images = torch.rand(size) * 2 - 1
    probs = torch.randn(args.batch_size, len(FACE_PARSING_CLASSES), args.resolution, args.resolution).softmax(1)
    condition = torch.eye(len(EXPRESSIONS))[torch.arange(args.batch_size) % len(EXPRESSIONS)]

    rows = {}
    for name, kwargs in CONFIGS.items():
        editor = HierarchicalExpressionGenerator(**kwargs).eval()
        times = time_editor(editor, (images, probs, condition), args.warmup, args.runs)
        rows[name] = {
            "config": kwargs,
            "params": sum(p.numel() for p in editor.parameters()),
            "median_ms": 1000 * statistics.median(times),
            "min_ms": 1000 * min(times),
        }
    ratio = rows["default (semantic)"]["median_ms"] / rows["GANimation-size"]["median_ms"]

    print(
        f"batch {args.batch_size} x {args.resolution}px, fp32, {torch.get_num_threads()} threads, median of {args.runs}"
    )
    print(f"{'editor':<20} {'params':>10} {'median ms':>10} {'min ms':>10}")
    for name, row in rows.items():
        print(f"{name:<20} {row['params']:>10,} {row['median_ms']:>10.1f} {row['min_ms']:>10.1f}")
    print(f"default (semantic) / GANimation-size: {ratio:.2f}x")

    result = {
        "batch_size": args.batch_size,
        "resolution": args.resolution,
        "threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "runs": args.runs,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "editors": rows,
        "ratio_default_to_ganimation": ratio,
    }
    write_json(result, args.out)
    return result


if __name__ == "__main__":
    main()
