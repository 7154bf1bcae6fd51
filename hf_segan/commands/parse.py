"""``hf-segan parse``: face parsing label maps and colour overlays for face crops."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._common import OutputPlan, add_model_arguments, check_inference_arguments, find_inputs, load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="Write the 19-class parsing label map (PNG, pixel = class index) and a colour overlay per image.",
        description=(
            "For each input NAME.EXT, OUT_DIR gets NAME_labels.png and NAME_overlay.png. Inputs are never "
            "overwritten; two inputs with the same NAME are reported and the later one skipped (exit status 2)."
        ),
    )
    parser.add_argument("inputs", nargs="+", help="image files and/or folders of aligned face crops")
    parser.add_argument("--out", required=True, help="output folder")
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..image_utils import overlay_labels
    from ..io import load_image, save_image_atomic

    check_inference_arguments(args)
    files = find_inputs(args.inputs)
    plan = OutputPlan(args.out, files)
    jobs: list[tuple[Path, list[Path]]] = []
    failures = 0
    for path in files:
        claimed = plan.claim(path, [f"{path.stem}_labels.png", f"{path.stem}_overlay.png"])
        if isinstance(claimed, ValueError):
            failures += 1
            print(f"error: {claimed}", file=sys.stderr)
        else:
            jobs.append((path, claimed))
    pipe = load_pipeline(args)
    for path, (labels_path, overlay_path) in tqdm(jobs, desc="parsing", unit="image"):
        try:
            rgb = load_image(path).rgb
            labels = pipe.parse(rgb)[0].astype(np.uint8)
            save_image_atomic(labels, labels_path)
            save_image_atomic(overlay_labels(rgb, labels), overlay_path)
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Parsed {len(files) - failures} of {len(files)} image(s) into {plan.out_dir}")
    return 2 if failures else 0
