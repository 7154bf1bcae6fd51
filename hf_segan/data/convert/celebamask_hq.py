"""CelebAMask-HQ (original release layout) -> face-parsing dataset with ``image`` and ``mask`` columns.

Expected under the source root (as downloaded from the CelebAMask-HQ project):

- ``CelebA-HQ-img/{i}.jpg``: the 30,000 1024 px photos;
- ``CelebAMask-HQ-mask-anno/{i // 2000}/{i:05d}_{part}.png``: one 512 px binary mask per annotated part, white
  (non-zero) = part, parts named as in ``FACE_PARSING_CLASSES``;
- ``CelebA-HQ-to-CelebA-mapping.txt``: columns ``idx orig_idx orig_file``.

The split is the one the CelebAMask-HQ authors' ``g_partition.py`` computes from the mapping's ``orig_idx``
(train below 162771, validation below 182638, test from there on). A ``list_eval_partition.txt`` from CelebA
(lines ``000001.jpg 0``; 0 = train, 1 = validation, 2 = test), when present in the source root or passed as
``partition_file``, is used instead through ``orig_file``; it differs from the authors' split by at most the two
photos on the boundaries.

Parts are merged into one label map in ``FACE_PARSING_CLASSES`` order, later classes overwriting earlier ones
(hair over skin, hat over hair, eyes over glasses): the order of face-parsing.PyTorch's ``prepropess_data.py``,
which this label set and the public BiSeNet checkpoint follow. The dataset authors' own ``g_mask.py`` merges in
another order (:data:`G_MASK_ORDER`) and numbers the classes by it; label maps already merged by it are accepted
with ``premerged_masks`` and renumbered, keeping the authors' overlap precedence. Most parts are legitimately
absent from most photos (hats, earrings, glasses), so a missing part file means "not in this photo"; only
``skin`` is required, and an image without a skin mask is skipped as unannotated rather than converted as all
background.
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
#: ``g_partition.py``'s thresholds on ``orig_idx``: train below the first, validation below the second.
ORIG_IDX_VALIDATION_START = 162771
ORIG_IDX_TEST_START = 182638
#: The class order of the CelebAMask-HQ authors' ``g_mask.py``; a pre-merged map's label k is ``G_MASK_ORDER[k - 1]``.
G_MASK_ORDER = (
    "skin",
    "nose",
    "eye_g",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "ear_r",
    "neck_l",
    "neck",
    "cloth",
)
#: Pre-merged label (``g_mask.py`` numbering) -> ``FACE_PARSING_CLASSES`` index.
G_MASK_TO_CLASS = np.array([0] + [FACE_PARSING_CLASSES.index(name) for name in G_MASK_ORDER], dtype=np.uint8)

FEATURES = Features({"image": Image(), "mask": Image()})

CARD = CardText(
    pretty_name="CelebAMask-HQ face parsing",
    description=(
        "Face photos with 19-class parsing masks (`hf_segan.FACE_PARSING_CLASSES`; mask pixel value = class "
        "index), converted from the original CelebAMask-HQ release: the per-part binary masks are merged in class "
        "order (later classes overwrite earlier ones, as face-parsing.PyTorch does), photos are resized to the mask "
        "size, and the official train/validation/test split is used. Images without a `skin` mask are skipped."
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


@dataclass(frozen=True)
class CelebAOrigin:
    """Where a CelebA-HQ photo comes from in CelebA: its 0-based index and its file's number (``orig_file``)."""

    orig_idx: int
    orig_file: int


def read_mapping(path: Path) -> dict[int, CelebAOrigin]:
    """CelebA-HQ index -> its CelebA origin, from ``CelebA-HQ-to-CelebA-mapping.txt``."""
    lines = path.read_text().split("\n")
    header = lines[0].split()
    for column in ("idx", "orig_idx", "orig_file"):
        if column not in header:
            raise ValueError(f"{path} has no {column!r} column; its header is {header}.")
    idx_col, orig_col, file_col = (header.index(name) for name in ("idx", "orig_idx", "orig_file"))
    mapping = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            mapping[int(fields[idx_col])] = CelebAOrigin(int(fields[orig_col]), int(Path(fields[file_col]).stem))
        except (IndexError, ValueError) as error:
            raise ValueError(f"{path}:{number}: malformed mapping line {line!r}.") from error
    return mapping


def split_of_orig_idx(orig_idx: int) -> str:
    """The CelebAMask-HQ authors' split of a photo (``g_partition.py``), from its CelebA ``orig_idx``."""
    if orig_idx < ORIG_IDX_VALIDATION_START:
        return "train"
    return "validation" if orig_idx < ORIG_IDX_TEST_START else "test"


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


def read_premerged_mask(index: int, folder: Path, summary: ConversionSummary) -> np.ndarray | None:
    """The label map ``g_mask.py`` wrote for one photo (``{index}.png``), renumbered to ``FACE_PARSING_CLASSES``."""
    path = folder / f"{index}.png"
    labels = read_image(path, summary, mode="L")
    if labels is None:
        return None
    if labels.shape != (MASK_SIZE, MASK_SIZE):
        summary.skip(path, "mask has the wrong size", f"{labels.shape[::-1]} instead of {MASK_SIZE}x{MASK_SIZE}")
        return None
    if int(labels.max()) > len(G_MASK_ORDER):
        summary.skip(path, "label outside g_mask.py's 0..18", str(int(labels.max())))
        return None
    return G_MASK_TO_CLASS[labels]


def convert_celebamask_hq(
    src_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    image_size: int = MASK_SIZE,
    limit: int | None = None,
    partition_file: str | os.PathLike | None = None,
    premerged_masks: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ConversionSummary:
    """Convert an original CelebAMask-HQ download into an HF dataset folder with ``image`` and ``mask`` columns.

    The split comes from the mapping's ``orig_idx`` unless ``partition_file`` (default: ``list_eval_partition.txt``
    in ``src_root``, if there) is CelebA's partition list. ``premerged_masks`` is a folder of label maps written by
    the authors' ``g_mask.py`` (``{i}.png``), used instead of the per-part masks and renumbered from
    :data:`G_MASK_ORDER`. Photos are area-averaged to ``image_size``; label maps take the label under each output
    pixel's centre, so every pixel keeps an exact class index and parts stay where the photo shows them.
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer of at least 8, got {image_size!r}.")
    root = Path(src_root)
    mask_root = Path(premerged_masks) if premerged_masks is not None else root / MASK_DIR
    for required in (root / IMAGE_DIR, mask_root, root / MAPPING_FILE):
        if not required.exists():
            raise FileNotFoundError(f"{required} not found: {root} is not an original CelebAMask-HQ release.")
    if partition_file is not None and not Path(partition_file).is_file():
        raise FileNotFoundError(f"Partition file {partition_file} not found; CelebA ships it as Eval/{PARTITION_FILE}.")
    partition_path = Path(partition_file) if partition_file is not None else root / PARTITION_FILE
    mapping = read_mapping(root / MAPPING_FILE)
    partition = read_partition(partition_path) if partition_path.is_file() else None
    summary = ConversionSummary(dataset="CelebAMask-HQ")
    split_items: dict[str, list[_Item]] = {split: [] for split in _PARTITIONS.values()}
    for index, origin in sorted(mapping.items()):
        split = split_of_orig_idx(origin.orig_idx) if partition is None else partition.get(origin.orig_file)
        if split is None:
            summary.skip(root / MAPPING_FILE, "CelebA image missing from the partition file", f"idx {index}")
            continue
        split_items[split].append(_Item(index))

    def convert(item: _Item) -> dict | None:
        if premerged_masks is None:
            labels = merge_part_masks(item.index, mask_root, summary)
        else:
            labels = read_premerged_mask(item.index, mask_root, summary)
        if labels is None:
            return None
        photo = read_image(root / IMAGE_DIR / f"{item.index}.jpg", summary)
        if photo is None:
            return None
        return {"image": jpeg_image(resize(photo, image_size)), "mask": png_image(resize(labels, image_size, True))}

    splits = {split: SplitSource(items, convert) for split, items in split_items.items()}
    return write_dataset(out_dir, summary, FEATURES, splits, CARD, limit=limit, overwrite=overwrite)
