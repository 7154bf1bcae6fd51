"""SynthFaces throughput: rendering alone, PNG encoding alone, and building the datasets.Dataset.

    python benchmarks/synthfaces_speed.py [--images 10000] [--size 128] [--dataset-identities 125]
        [--out benchmarks/results/synthfaces_speed.json]

Target (issue 3): 10,000 images at 128x128 (image + label map) rendered in well under a minute on a 2-core
machine. Rendering runs identity by identity, every expression in turn, as ``load_synthfaces`` does. The dataset
rows are paired (each row holds the image, mask, target image and target mask; every render is encoded once and
shared between the row that shows it and the row that targets it).
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
from hf_segan.data.synthfaces.dataset import _png


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--dataset-identities", type=int, default=125, help="identities (x8 rows) per dataset build")
    parser.add_argument("--out", default="benchmarks/results/synthfaces_speed.json")
    args = parser.parse_args()

    count = len(EXPRESSIONS)
    identities = [sample_identity(i) for i in range(-(-args.images // count))]
    kept = min(args.images, 2000)  # renders kept for the encoding benchmark (10,000 would need 650 MB)
    sample = []

    def render_all() -> None:
        for i in range(args.images):
            rendered = render_face(identities[i // count], EXPRESSIONS[i % count], 1.0, args.size)
            if i < kept:
                sample.append(rendered)

    render_seconds, _ = _timed(render_all)
    png_seconds, _ = _timed(lambda: [(_png(rgb), _png(labels)) for rgb, labels in sample])

    builds = {}
    for paired in (False, True):
        seconds, dataset = _timed(
            lambda paired=paired: load_synthfaces("train", args.dataset_identities, image_size=args.size, paired=paired)
        )
        builds[paired] = (len(dataset), seconds)

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "size": args.size,
        "render_images": args.images,
        "render_seconds": round(render_seconds, 2),
        "render_images_per_second": round(args.images / render_seconds, 1),
        "png_encode_pairs_per_second": round(len(sample) / png_seconds, 1),
        "dataset_rows": builds[False][0],
        "dataset_seconds": round(builds[False][1], 2),
        "dataset_rows_per_second": round(builds[False][0] / builds[False][1], 1),
        "paired_dataset_rows": builds[True][0],
        "paired_dataset_seconds": round(builds[True][1], 2),
        "paired_dataset_rows_per_second": round(builds[True][0] / builds[True][1], 1),
    }
    table = [
        (f"render {args.size}px (image + labels)", args.images, render_seconds),
        ("PNG-encode image + labels", len(sample), png_seconds),
        ("load_synthfaces rows (unpaired)", *builds[False]),
        ("load_synthfaces rows (paired)", *builds[True]),
    ]
    print("| what | count | seconds | per second |\n|---|---|---|---|")
    for name, count, seconds in table:
        print(f"| {name} | {count} | {seconds:.2f} | {count / seconds:.0f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
