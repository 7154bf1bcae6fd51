"""CPU time the training data pipeline spends per sample of a converted real dataset.

    python benchmarks/real_data_loading.py [--rows 64] [--out benchmarks/results/real_data_loading.csv]

The training scripts decode and resize every sample in the training process (``FaceTrainingSet``), on the CPU,
whatever device trains: on a GPU this work can bound the step time. Folders are written with the converters' own
writer, in their formats: CelebAMask-HQ rows (512 px JPEG photo + PNG label map) and AffectNet/RaFD rows (256 px
JPEG crop). Times are process CPU seconds (``time.process_time``), so other programs on the machine do not
inflate them; one thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from datasets import ClassLabel, Features, Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthfaces import cpu_name
from results_csv import write_rows

from hf_segan.constants import EXPRESSIONS
from hf_segan.data.convert.common import CardText, ConversionSummary, SplitSource, jpeg_image, png_image, write_dataset
from hf_segan.data.loading import load_dataset_split
from hf_segan.training.data import FaceTrainingSet


def write_folder(folder: Path, rows: int, size: int, with_mask: bool) -> None:
    """``rows`` photo-like rows at ``size`` px (the astronaut, shifted per row so no two encode alike)."""
    face = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    labels = (np.arange(size)[:, None] * 19 // size + np.zeros(size, np.int64)).astype(np.uint8)
    columns = {"image": Image(), "mask": Image()} if with_mask else {"image": Image()}
    if not with_mask:
        columns["expression"] = ClassLabel(names=list(EXPRESSIONS))

    def convert(index: int) -> dict:
        row = {"image": jpeg_image(np.roll(face, index, axis=1))}
        if with_mask:
            row["mask"] = png_image(np.roll(labels, index, axis=1))
        else:
            row["expression"] = index % len(EXPRESSIONS)
        return row

    card = CardText("timing", "Timing rows.", "Made here.", ("image-segmentation",))
    splits = {"train": SplitSource(list(range(rows)), convert)}
    write_dataset(folder, ConversionSummary("timing"), Features(columns), splits, card)


def cpu_ms_per_sample(folder: Path, columns: list[str], resolution: int) -> float:
    samples = FaceTrainingSet(load_dataset_split(folder, "train"), columns, resolution, flip_probability=0.5)
    start = time.process_time()
    for index in range(len(samples)):
        samples[(index, 0)]
    return 1000 * (time.process_time() - start) / len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "real_data_loading.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [  # dataset, stored side, training resolution, used by
        ("celebamask-hq", 512, 512, "train_parser.py parser.yaml"),
        ("celebamask-hq", 512, 128, "train_segan.py segan_paper.yaml parsing_data"),
        ("affectnet/rafd", 256, 128, "train_segan.py segan_paper.yaml data"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, stored, resolution, used_by in cases:
            folder = Path(tmp) / f"{name.replace('/', '_')}_{stored}"
            with_mask = name == "celebamask-hq"
            if not folder.exists():
                write_folder(folder, args.rows, stored, with_mask)
            columns = ["image", "mask"] if with_mask else ["image", "expression"]
            ms = cpu_ms_per_sample(folder, columns, resolution)
            row = {"dataset": name, "stored_px": stored, "resolution": resolution, "used_by": used_by}
            row |= {"cpu_ms_per_sample": round(ms, 2), "cpu_s_per_batch_of_16": round(16 * ms / 1000, 3)}
            row["cpu"] = cpu_name()
            rows.append(row)
            print(", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    write_rows(Path(args.out), rows)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
