"""``hf-segan prepare-dataset``: convert a dataset's original release into an HF dataset folder."""

from __future__ import annotations

import argparse

#: The datasets ``prepare-dataset`` converts (the keys of ``hf_segan.data.convert.CONVERTERS``, which imports
#: datasets and is loaded only when a conversion runs).
DATASETS = ("affectnet", "celebamask-hq", "rafd")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare-dataset",
        help="Convert CelebAMask-HQ, AffectNet or RaFD (as downloaded) into a datasets folder.",
        description=(
            "Convert a dataset's original release (which you obtain under its licence) into parquet shards and a "
            "dataset card that datasets.load_dataset(OUT_DIR) reads. Skipped files are listed with their reason."
        ),
    )
    parser.add_argument("dataset", choices=DATASETS, help="which dataset SRC_ROOT holds")
    parser.add_argument("src_root", metavar="SRC_ROOT", help="root folder of the original release")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (must not exist unless --overwrite)")
    parser.add_argument(
        "--image-size", type=int, help="side of the stored square images (default: 512 CelebAMask-HQ, 256 others)"
    )
    parser.add_argument("--max-per-class", type=int, help="keep at most this many images per expression and split")
    parser.add_argument("--limit", type=int, help="keep at most this many rows per split (for quick trials)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    parser.add_argument("--cameras", nargs="+", help="RaFD only: camera angles to keep (default: frontal 090)")
    parser.add_argument("--test-fraction", type=float, help="RaFD only: fraction of subjects held out (default 0.2)")
    parser.add_argument(
        "--premerged-masks",
        metavar="DIR",
        help="CelebAMask-HQ only: label maps written by the authors' g_mask.py (DIR/{i}.png, their class order, "
        "renumbered) instead of the per-part masks",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.convert import CONVERTERS

    options = {"limit": args.limit, "overwrite": args.overwrite}
    if args.image_size is not None:
        options["image_size"] = args.image_size
    if args.max_per_class is not None:
        if args.dataset == "celebamask-hq":
            raise ValueError("--max-per-class applies to expression datasets (affectnet, rafd), not celebamask-hq.")
        options["max_per_class"] = args.max_per_class
    only_for = {
        "cameras": ("rafd", args.cameras and tuple(args.cameras)),
        "test_fraction": ("rafd", args.test_fraction),
        "premerged_masks": ("celebamask-hq", args.premerged_masks),
    }
    for name, (dataset, value) in only_for.items():
        if value is not None:
            if args.dataset != dataset:
                raise ValueError(f"--{name.replace('_', '-')} applies to {dataset} only, not {args.dataset}.")
            options[name] = value
    summary = CONVERTERS[args.dataset](args.src_root, args.out_dir, **options)
    print(summary.format())
    return 0
