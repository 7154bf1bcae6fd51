"""SynthFaces throughput: rendering alone and building the datasets.Dataset (PNG encoding included).

    python benchmarks/synthfaces_speed.py [--images 10000] [--size 128] [--out benchmarks/results/synthfaces_speed.json]

Target (issue 3): 10,000 images at 128x128 rendered in well under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from hf_segan.constants import EXPRESSIONS
from hf_segan.data.synthfaces import load_synthfaces, render_face, sample_identity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out", default="benchmarks/results/synthfaces_speed.json")
    args = parser.parse_args()

    identities = [sample_identity(i) for i in range(args.images // len(EXPRESSIONS) + 1)]
    start = time.perf_counter()
    for index in range(args.images):
        render_face(identities[index // len(EXPRESSIONS)], EXPRESSIONS[index % len(EXPRESSIONS)], 1.0, args.size)
    render_seconds = time.perf_counter() - start

    dataset_identities = max(1, args.images // 10 // len(EXPRESSIONS))
    start = time.perf_counter()
    dataset = load_synthfaces("train", dataset_identities, image_size=args.size, paired=True)
    dataset_seconds = time.perf_counter() - start

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "size": args.size,
        "render_images": args.images,
        "render_seconds": round(render_seconds, 2),
        "render_images_per_second": round(args.images / render_seconds, 1),
        "dataset_rows": len(dataset),
        "dataset_seconds": round(dataset_seconds, 2),
        "dataset_rows_per_second": round(len(dataset) / dataset_seconds, 1),
    }
    print("| what | count | seconds | per second |\n|---|---|---|---|")
    rate = results["render_images_per_second"]
    print(f"| render {args.size}px (image + labels) | {args.images} | {render_seconds:.1f} | {rate} |")
    print(
        f"| load_synthfaces rows (paired, PNG-encoded) | {len(dataset)} | {dataset_seconds:.1f} | "
        f"{results['dataset_rows_per_second']} |"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
