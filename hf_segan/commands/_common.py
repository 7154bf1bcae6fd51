"""What the inference commands share: model loading (with the bundled default) and input file discovery."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="SeganPipeline folder or hub id, or a parser-only folder such as convert-bisenet's (parsing only; "
        "default: the bundled SynthFaces model)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)


def load_pipeline(args: argparse.Namespace):
    """The pipeline named by ``--model`` (a parser-only folder gives a parse-only pipeline at the parser's
    resolution), or the bundled default with an honest notice on stderr."""
    from ..pipeline import DEFAULT_MODEL_NOTICE, SeganPipeline, default_model_path, parser_folder_class

    source = args.model
    if source is None:
        source = default_model_path()
        print(DEFAULT_MODEL_NOTICE, file=sys.stderr)
    load = SeganPipeline.from_parser if parser_folder_class(source) else SeganPipeline.from_pretrained
    return load(source).to(args.device)


def find_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted); a missing path is a clear error."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"{item}: no such file or folder.")
    if not found:
        raise ValueError(f"No images found in {inputs}.")
    return found
