"""``hf-segan edit``: change the expression of the faces in photos (folders in, folder out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..expressions import expression_condition, parse_expression_arg
    from ..io import load_image, save_image_atomic

    expression = parse_expression_arg(args.expression)
    expression_condition(expression, args.intensity)  # bad expression / intensity: fail before loading anything
    files = find_inputs(args.inputs)
    pipe = load_pipeline(args)
    out_dir = Path(args.out)
    failures = 0
    for path in tqdm(files, desc="editing", unit="image"):
        try:
            if args.aligned:
                loaded = load_image(path)
                rgb = pipe(loaded.rgb, expression, args.intensity, args.regions, output_type="np").images[0]
                alpha, notes = loaded.alpha, loaded.notes
            else:
                result = pipe.edit_photo(
                    path, expression, args.intensity, args.regions, "all" if args.all_faces else "largest", args.margin
                )
                rgb, notes = result.image.convert("RGB"), result.notes
                alpha = result.image.getchannel("A") if result.image.mode == "RGBA" else None
            suffix = ".png" if alpha is not None else path.suffix.lower()
            if suffix in (".gif", ".bmp", ".tif", ".tiff"):
                suffix = ".png"
            save_image_atomic(_array(rgb), out_dir / f"{path.stem}{suffix}", None if alpha is None else _array(alpha))
            for note in notes:
                tqdm.write(f"note: {note}", file=sys.stderr)
        except ValueError as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    print(f"Edited {len(files) - failures} of {len(files)} image(s) into {out_dir}")
    return 2 if failures else 0


def _array(image):
    import numpy as np

    return np.asarray(image)
