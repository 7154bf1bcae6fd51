"""``hf-segan edit``: change the expression of the faces in photos (folders in, folder out)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from tqdm.auto import tqdm

from ..constants import GLASSES_CHOICES
from ._common import (
    OutputPlan,
    add_model_arguments,
    check_inference_arguments,
    check_positive,
    check_regions,
    find_inputs,
    load_pipeline,
)

if TYPE_CHECKING:
    from ..io import LoadedImage

#: Input formats whose results are written in the same format (others, e.g. BMP and GIF, become PNG).
KEPT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edit",
        help="Edit the facial expression in photos (detect, align, edit, paste back).",
        description=(
            "Each input photo is written to OUT_DIR under the same name, in its own format, mode, bit depth and "
            "metadata (BMP and GIF become PNG). Inputs are never overwritten: an OUT_DIR that would replace one is "
            "refused. A file that cannot be edited or written is reported on stderr and skipped; the exit status is "
            "2 if any failed."
        ),
    )
    parser.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--expression", default="happy", help="a name, or a blend such as happy=0.6,surprise=0.4")
    parser.add_argument("--intensity", type=float, default=1.0, help="0 = neutral .. 1 = full expression")
    parser.add_argument("--regions", nargs="+", help="only these region groups may change (e.g. mouth eyes)")
    parser.add_argument(
        "--glasses",
        choices=tuple(GLASSES_CHOICES),
        default="auto",
        help="photos: do the faces wear glasses? The frame is then held still and the brows move above it, as the "
        "landmarks put them on the frame (auto: found from each face's pixels)",
    )
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
    check_inference_arguments(args)
    check_positive(args.margin, "--margin")
    check_regions(args.regions, args.model)
    files = find_inputs(args.inputs)
    plan = OutputPlan(args.out, files)
    jobs: list[tuple[Path, Path]] = []
    failures = 0
    for path in files:
        claimed = plan.claim(path, [output_name(path)])
        if isinstance(claimed, ValueError):
            failures += 1
            print(f"error: {claimed}", file=sys.stderr)
        else:
            jobs.append((path, claimed[0]))
    pipe = load_pipeline(args)
    if args.fast:
        pipe.enable_fast_path()
    edits = _edit_crops(pipe, jobs, expression, args) if args.aligned else _edit_photos(pipe, jobs, expression, args)
    for target, outcome in tqdm(edits, total=len(jobs), desc="editing", unit="image"):
        try:
            if isinstance(outcome, Exception):
                raise outcome
            image, loaded, notes = outcome
            save_image_atomic(image, target, like=loaded)
            for note in notes:
                tqdm.write(f"note: {note}", file=sys.stderr)
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Edited {len(files) - failures} of {len(files)} image(s) into {plan.out_dir}")
    return 2 if failures else 0


def output_name(path: Path) -> str:
    """The result's file name: the input's, in its own format where that format can hold the edit, else PNG."""
    suffix = path.suffix.lower()
    return f"{path.stem}{suffix if suffix in KEPT_SUFFIXES else '.png'}"


Outcome = tuple[Image.Image, "LoadedImage", list[str]] | ValueError


def _edit_crops(pipe, jobs: list[tuple[Path, Path]], expression, args) -> Iterator[tuple[Path, Outcome]]:
    """Aligned crops, ``--batch-size`` at a time: (target, (edited image, source, notes)) or (target, the error)."""
    from ..io import load_image

    for start in range(0, len(jobs), args.batch_size):
        loaded = []
        for path, target in jobs[start : start + args.batch_size]:
            try:
                loaded.append((target, load_image(path)))
            except ValueError as error:
                yield target, error
        if loaded:
            crops = [image.rgb for _, image in loaded]
            edited = pipe(crops, expression, args.intensity, args.regions, batch_size=args.batch_size).images
            for (target, image), result in zip(loaded, edited, strict=True):
                yield target, (result, image, image.notes)


def _edit_photos(pipe, jobs: list[tuple[Path, Path]], expression, args) -> Iterator[tuple[Path, Outcome]]:
    """Whole photos one at a time (their faces are batched): (target, (edited photo, source, notes)) or the error.
    A model producing non-finite values stops the command: every other photo would fail the same way."""
    from ..io import load_image
    from ..pipeline import NonFiniteOutputError

    faces = "all" if args.all_faces else "largest"
    glasses = GLASSES_CHOICES[args.glasses]
    for path, target in jobs:
        try:
            loaded = load_image(path)
            result = pipe.edit_photo(
                loaded, expression, args.intensity, args.regions, faces, args.margin, glasses=glasses
            )
        except NonFiniteOutputError:
            raise
        except ValueError as error:
            yield target, error if str(path) in str(error) else ValueError(f"{path}: {error}")
            continue
        yield target, (result.image, loaded, result.notes)
