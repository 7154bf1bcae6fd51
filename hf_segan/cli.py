"""The ``hf-segan`` command line: one sub-command per module in ``hf_segan.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules; each defines ``register(subparsers)`` which adds its parser with ``func`` set.
COMMAND_MODULES = (
    "prepare_dataset",
    "convert_bisenet",
    "convert_face_api",
    "synth",
    "edit",
    "parse",
    "info",
    "evaluate",
    "export_onnx",
    "space",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-segan", description="Face parsing + hierarchical GAN facial expression editing."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"hf_segan.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; user errors print one line to stderr and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"hf-segan {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
