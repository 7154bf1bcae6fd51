"""``hf-segan convert-bisenet``: the public face-parsing BiSeNet checkpoint -> a safetensors model folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-bisenet",
        help="Convert the public face-parsing BiSeNet checkpoint (79999_iter.pth) to a BiSeNetFaceParser folder.",
        description="Strictly maps every tensor of the checkpoint onto BiSeNetFaceParser and saves safetensors.",
    )
    parser.add_argument("checkpoint", help="the .pth state dict (loaded with weights_only=True)")
    parser.add_argument("out_dir", help="model folder to write (BiSeNetFaceParser.from_pretrained reads it)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..convert import load_reference_bisenet
    from ..training.checkpointing import save_pretrained_atomic

    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{str(out_dir)!r} exists and is not a folder.")
    if out_dir.exists() and not args.overwrite:
        raise ValueError(f"{str(out_dir)!r} exists; pass --overwrite to replace it.")
    model = load_reference_bisenet(args.checkpoint)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    save_pretrained_atomic(model, out_dir)
    params = sum(p.numel() for p in model.parameters())
    print(f"Converted {args.checkpoint} -> {out_dir} (BiSeNetFaceParser, {params:,} parameters, safetensors).")
    return 0
