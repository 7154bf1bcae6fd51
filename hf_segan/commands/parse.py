"""``hf-segan parse``: face parsing label maps and colour overlays for photos (each face aligned and parsed, the
labels mapped back onto the photo) or for already aligned face crops (``--aligned``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..constants import PHOTO_PARSERS
from ._common import add_model_arguments, find_inputs, load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="Write the 19-class parsing label map (PNG, pixel = class index) and a colour overlay per image.",
    )
    parser.add_argument("inputs", nargs="+", help="photos and/or folders of photos")
    parser.add_argument("--out", required=True, help="output folder")
    add_model_arguments(parser)
    parser.add_argument(
        "--parser",
        choices=PHOTO_PARSERS,
        default="auto",
        help="landmarks: region masks from 68 face landmarks; model: the model's learned parser; auto (default): "
        "the learned parser only if the model was trained on real photos",
    )
    parser.add_argument("--aligned", action="store_true", help="inputs are already aligned face crops: no detection")
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
            labels = _parse_photo(pipe, rgb, path, args)
            save_image_atomic(labels, out_dir / f"{path.stem}_labels.png")
            save_image_atomic(overlay_labels(rgb, labels), out_dir / f"{path.stem}_overlay.png")
        except ValueError as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Parsed {len(files) - failures} of {len(files)} image(s) into {out_dir}")
    return 2 if failures else 0


def _parse_photo(pipe, rgb: np.ndarray, path: Path, args: argparse.Namespace) -> np.ndarray:
    """The photo's label map at its size; notes go to stderr, errors name the file."""
    try:
        result = pipe.parse_photo(rgb, faces="all", parser=args.parser, aligned=args.aligned)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    for note in result.notes:
        tqdm.write(f"note: {path}: {note}", file=sys.stderr)
    return result.labels
