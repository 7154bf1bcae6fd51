"""``hf-segan edit``: change the expression of the faces in photos (folders in, folder out)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ._common import add_model_arguments, find_inputs, load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edit",
        help="Edit the facial expression in photos (detect, align, edit, paste back).",
        description=(
            "Each input photo is written to OUT_DIR under the same name (PNG when it has alpha). A file that cannot "
            "be edited is reported on stderr and skipped; the exit status is 2 if any failed."
        ),
    )
    parser.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--expression", default="happy", help="a name, or a blend such as happy=0.6,surprise=0.4")
    parser.add_argument("--intensity", type=float, default=1.0, help="0 = neutral .. 1 = full expression")
    parser.add_argument("--regions", nargs="+", help="only these region groups may change (e.g. mouth eyes)")
    parser.add_argument("--all-faces", action="store_true", help="edit every detected face, not only the largest")
    parser.add_argument("--margin", type=float, default=1.0, help="zoom-out of the face crop (1 = training template)")
    parser.add_argument("--aligned", action="store_true", help="inputs are already aligned face crops: no detection")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="fast path: folded BatchNorms, bf16 where the device runs it natively (edits within 0.05 of fp32)",
    )
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..expressions import expression_condition, parse_expression_arg
    from ..io import save_image_atomic

    expression = parse_expression_arg(args.expression)
    expression_condition(expression, args.intensity)  # bad expression / intensity: fail before loading anything
    files = find_inputs(args.inputs)
    pipe = load_pipeline(args)
    if args.fast:
        pipe.enable_fast_path()
    out_dir = Path(args.out)
    edits = _edit_crops(pipe, files, expression, args) if args.aligned else _edit_photos(pipe, files, expression, args)
    written: dict[Path, Path] = {}
    failures = 0
    for path, outcome in tqdm(edits, total=len(files), desc="editing", unit="image"):
        try:
            if isinstance(outcome, ValueError):
                raise outcome
            image, alpha, notes = outcome
            # Formats that cannot hold the result (alpha, or an edited animation) are written as PNG.
            keeps = image.mode == "RGB" and alpha is None and path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
            target = out_dir / f"{path.stem}{path.suffix.lower() if keeps else '.png'}"
            if target in written:
                raise ValueError(f"{path}: its output {target.name} would overwrite the edit of {written[target]}.")
            save_image_atomic(image, target, alpha)
            written[target] = path
            for note in notes:
                tqdm.write(f"note: {note}", file=sys.stderr)
        except ValueError as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Edited {len(files) - failures} of {len(files)} image(s) into {out_dir}")
    return 2 if failures else 0


Outcome = tuple[Image.Image, np.ndarray | None, list[str]] | ValueError


def _edit_crops(pipe, files: list[Path], expression, args: argparse.Namespace) -> Iterator[tuple[Path, Outcome]]:
    """Aligned crops, ``--batch-size`` at a time: (path, (edited image, alpha, notes)) or (path, the error)."""
    from ..io import load_image

    for start in range(0, len(files), args.batch_size):
        loaded = []
        for path in files[start : start + args.batch_size]:
            try:
                loaded.append((path, load_image(path)))
            except ValueError as error:
                yield path, error
        if loaded:
            crops = [image.rgb for _, image in loaded]
            edited = pipe(crops, expression, args.intensity, args.regions, batch_size=args.batch_size).images
            for (path, image), result in zip(loaded, edited, strict=True):
                yield path, (result, image.alpha, image.notes)


def _edit_photos(pipe, files: list[Path], expression, args: argparse.Namespace) -> Iterator[tuple[Path, Outcome]]:
    """Whole photos one at a time (their faces are batched): (path, (edited photo, None, notes)) or the error."""
    faces = "all" if args.all_faces else "largest"
    for path in files:
        try:
            result = pipe.edit_photo(path, expression, args.intensity, args.regions, faces, args.margin)
        except ValueError as error:
            yield path, error if str(path) in str(error) else ValueError(f"{path}: {error}")
            continue
        yield path, (result.image, None, result.notes)
