"""``hf-segan parse``: face parsing label maps and colour overlays for face crops."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._common import add_model_arguments, find_inputs, load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="Write the 19-class parsing label map (PNG, pixel = class index) and a colour overlay per image.",
    )
    parser.add_argument("inputs", nargs="+", help="image files and/or folders of aligned face crops")
    parser.add_argument("--out", required=True, help="output folder")
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..image_utils import overlay_labels
    from ..io import load_image, save_image_atomic

    files = find_inputs(args.inputs)
    pipe = load_pipeline(args)
    out_dir = Path(args.out)
    failures = 0
    for path in tqdm(files, desc="parsing", unit="image"):
        try:
            rgb = load_image(path).rgb
            labels = pipe.parse(rgb)[0].astype(np.uint8)
            save_image_atomic(labels, out_dir / f"{path.stem}_labels.png")
            save_image_atomic(overlay_labels(rgb, labels), out_dir / f"{path.stem}_overlay.png")
        except ValueError as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Parsed {len(files) - failures} of {len(files)} image(s) into {out_dir}")
    return 2 if failures else 0
