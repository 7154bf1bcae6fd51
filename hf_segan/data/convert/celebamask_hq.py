"""CelebAMask-HQ (original release layout) -> face-parsing dataset with ``image`` and ``mask`` columns.

Expected under the source root (as downloaded from the CelebAMask-HQ project):

- ``CelebA-HQ-img/{i}.jpg``: the 30,000 1024 px photos;
- ``CelebAMask-HQ-mask-anno/{i // 2000}/{i:05d}_{part}.png``: one 512 px binary mask per annotated part, white
  (non-zero) = part, parts named as in ``FACE_PARSING_CLASSES``;
- ``CelebA-HQ-to-CelebA-mapping.txt``: columns ``idx orig_idx orig_file``;
- ``list_eval_partition.txt`` from CelebA (lines ``000001.jpg 0``; 0 = train, 1 = validation, 2 = test), which
  gives the official split through the mapping.

Parts are merged into one label map in class order, later classes overwriting earlier ones (hair over skin, hat
over hair), exactly as the dataset authors' own preprocessing does. Most parts are legitimately absent from
most photos (hats, earrings, glasses), so a missing part file means "not in this photo"; only ``skin`` is
required, and an image without a skin mask is skipped as unannotated rather than converted as all background.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Features, Image

from ...constants import FACE_PARSING_CLASSES
from .common import CardText, ConversionSummary, SplitSource, jpeg_image, png_image, read_image, resize, write_dataset

IMAGE_DIR = "CelebA-HQ-img"
MASK_DIR = "CelebAMask-HQ-mask-anno"
MAPPING_FILE = "CelebA-HQ-to-CelebA-mapping.txt"
PARTITION_FILE = "list_eval_partition.txt"
MASK_SIZE = 512
IMAGES_PER_MASK_FOLDER = 2000

_PARTITIONS = {"0": "train", "1": "validation", "2": "test"}

FEATURES = Features({"image": Image(), "mask": Image()})

CARD = CardText(
    pretty_name="CelebAMask-HQ face parsing",
    description=(
        "Face photos with 19-class parsing masks (`hf_segan.FACE_PARSING_CLASSES`; mask pixel value = class "
        "index), converted from the original CelebAMask-HQ release: the per-part binary masks are merged in class "
        "order (later classes overwrite earlier ones), photos are resized to the mask size, and the official "
        "CelebA train/validation/test partition is used. Images without a `skin` mask are skipped."
    ),
    licence=(
        "CelebAMask-HQ is released by its authors for non-commercial research and educational use only; see "
        "https://github.com/switchablenorms/CelebAMask-HQ. The CelebA-derived photos follow the CelebA terms."
    ),
    task_categories=("image-segmentation",),
)


@dataclass(frozen=True)
class _Item:
    index: int


def read_mapping(path: Path) -> dict[int, int]:
    """CelebA-HQ index -> CelebA image number, from ``CelebA-HQ-to-CelebA-mapping.txt``."""
    lines = path.read_text().split("\n")
    header = lines[0].split()
    for column in ("idx", "orig_file"):
        if column not in header:
            raise ValueError(f"{path} has no {column!r} column; its header is {header}.")
    idx_col, file_col = header.index("idx"), header.index("orig_file")
    mapping = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            mapping[int(fields[idx_col])] = int(Path(fields[file_col]).stem)
        except (IndexError, ValueError) as error:
            raise ValueError(f"{path}:{number}: malformed mapping line {line!r}.") from error
    return mapping


def read_partition(path: Path) -> dict[int, str]:
    """CelebA image number -> split name, from CelebA's ``list_eval_partition.txt``."""
    partition = {}
    for number, line in enumerate(path.read_text().split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in _PARTITIONS or not Path(fields[0]).stem.isdigit():
            raise ValueError(f"{path}:{number}: expected '<number>.jpg <0|1|2>', got {line!r}.")
        partition[int(Path(fields[0]).stem)] = _PARTITIONS[fields[1]]
    return partition


def merge_part_masks(index: int, mask_root: Path, summary: ConversionSummary) -> np.ndarray | None:
    """The label map of one photo from its part masks, or None after recording why it cannot be built."""
    folder = mask_root / str(index // IMAGES_PER_MASK_FOLDER)
    labels = np.zeros((MASK_SIZE, MASK_SIZE), dtype=np.uint8)
    for label, part in enumerate(FACE_PARSING_CLASSES[1:], start=1):
        path = folder / f"{index:05d}_{part}.png"
        if not path.is_file():
            if part == "skin":
                summary.skip(path, "missing skin mask")
                return None
            continue
        part_mask = read_image(path, summary, mode="L")
        if part_mask is None:
            return None
        if part_mask.shape != labels.shape:
            summary.skip(path, "mask has the wrong size", f"{part_mask.shape[::-1]} instead of {MASK_SIZE}x{MASK_SIZE}")
            return None
        labels[part_mask != 0] = label
    return labels


def convert_celebamask_hq(
    src_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    image_size: int = MASK_SIZE,
    limit: int | None = None,
    partition_file: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ConversionSummary:
    """Convert an original CelebAMask-HQ download into an HF dataset folder with ``image`` and ``mask`` columns.

    ``partition_file`` defaults to ``list_eval_partition.txt`` in ``src_root`` (it ships with CelebA, not with
    CelebAMask-HQ). Photos and masks are resized to ``image_size`` (masks with nearest neighbour, so every
    pixel keeps an exact class index).
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer of at least 8, got {image_size!r}.")
    root = Path(src_root)
    for required in (root / IMAGE_DIR, root / MASK_DIR, root / MAPPING_FILE):
        if not required.exists():
            raise FileNotFoundError(f"{required} not found: {root} is not an original CelebAMask-HQ release.")
    partition_path = Path(partition_file) if partition_file else root / PARTITION_FILE
    if not partition_path.is_file():
        raise FileNotFoundError(
            f"{partition_path} not found: copy CelebA's Eval/list_eval_partition.txt there or pass its path."
        )
    mapping = read_mapping(root / MAPPING_FILE)
    partition = read_partition(partition_path)
    summary = ConversionSummary(dataset="CelebAMask-HQ")
    split_items: dict[str, list[_Item]] = {split: [] for split in _PARTITIONS.values()}
    for index, celeba_number in sorted(mapping.items()):
        split = partition.get(celeba_number)
        if split is None:
            summary.skip(root / MAPPING_FILE, "CelebA image missing from the partition file", f"idx {index}")
            continue
        split_items[split].append(_Item(index))

    def convert(item: _Item) -> dict | None:
        labels = merge_part_masks(item.index, root / MASK_DIR, summary)
        if labels is None:
            return None
        photo = read_image(root / IMAGE_DIR / f"{item.index}.jpg", summary)
        if photo is None:
            return None
        return {"image": jpeg_image(resize(photo, image_size)), "mask": png_image(resize(labels, image_size, True))}

    splits = {split: SplitSource(items, convert) for split, items in split_items.items()}
    return write_dataset(out_dir, summary, FEATURES, splits, CARD, limit=limit, overwrite=overwrite)
