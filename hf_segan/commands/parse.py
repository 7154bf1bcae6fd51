"""``hf-segan parse``: face parsing label maps and colour overlays for photos (each face aligned and parsed, the
labels mapped back onto the photo) or for already aligned face crops (``--aligned``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..constants import PHOTO_PARSERS
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
            labels = _parse_photo(pipe, rgb, path, args)
            save_image_atomic(labels, labels_path)
            save_image_atomic(overlay_labels(rgb, labels), overlay_path)
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Parsed {len(files) - failures} of {len(files)} image(s) into {plan.out_dir}")
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
