"""``hf-segan synth``: write SynthFaces to disk as an imagefolder tree and/or a contact sheet PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..constants import EXPRESSIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="Render SynthFaces (procedural faces with exact labels) to an imagefolder tree or a contact sheet.",
        description=(
            "Writes OUT_DIR/SPLIT/ with images, masks/ and metadata.jsonl (datasets.load_dataset('imagefolder', "
            "data_dir=OUT_DIR) reads it), and/or a contact sheet PNG of identities x expressions."
        ),
    )
    parser.add_argument("out_dir", nargs="?", help="imagefolder root to write (omit to write only --contact-sheet)")
    parser.add_argument("--split", default="train", choices=("train", "validation", "test"))
    parser.add_argument("--num-identities", type=int, default=100)
    parser.add_argument("--expressions", nargs="+", choices=EXPRESSIONS, help="default: all eight")
    parser.add_argument("--intensities", nargs="+", type=float, default=[1.0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--contact-sheet", metavar="PNG", help="also write a contact sheet here")
    parser.add_argument("--sheet-identities", type=int, default=6)
    parser.add_argument("--sheet-size", type=int, default=96)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.synthfaces import make_contact_sheet, write_imagefolder
    from ..io import atomic_path

    if args.out_dir is None and args.contact_sheet is None:
        raise ValueError("Nothing to do: give OUT_DIR and/or --contact-sheet PNG.")
    if args.out_dir is not None:
        synthfaces_args = {
            "split": args.split,
            "num_identities": args.num_identities,
            "expressions": args.expressions,
            "intensities": args.intensities,
            "image_size": args.image_size,
            "seed": args.seed,
            "progress": True,
        }
        folder = write_imagefolder(synthfaces_args, args.out_dir, overwrite=args.overwrite)
        count = (folder / "metadata.jsonl").read_text(encoding="utf-8").count("\n")
        print(f"Wrote {count} faces to {folder}")
    if args.contact_sheet is not None:
        sheet = make_contact_sheet(args.sheet_identities, size=args.sheet_size, split=args.split, seed=args.seed)
        path = Path(args.contact_sheet)
        with atomic_path(path) as tmp:
            sheet.save(tmp, format="PNG", optimize=True)
        print(f"Wrote contact sheet {path} ({sheet.width}x{sheet.height})")
    return 0
