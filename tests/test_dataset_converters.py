"""Dataset converters, run on miniature trees laid out exactly like each dataset's original release."""

import csv
from pathlib import Path

import cv2
import datasets
import numpy as np
import pytest
import yaml
from datasets import ClassLabel, Features, Image, load_dataset
from PIL import Image as PILImage
from skimage import data

from hf_segan.cli import main
from hf_segan.constants import CANONICAL_EYE_CENTERS, EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.data.convert import convert_affectnet, convert_celebamask_hq, convert_rafd
from hf_segan.data.convert.common import CardText, ConversionSummary, SplitSource, png_image, write_dataset
from hf_segan.data.convert.rafd import RAFD_EXPRESSIONS, held_out_subjects
from hf_segan.data.loading import load_dataset_split
from hf_segan.training.config import DataConfig
from hf_segan.training.data import load_split


def load(folder: Path, tmp_path: Path):
    return load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))


def save_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(rgb).save(path, quality=95)


def save_truncated_jpeg(path: Path, rgb: np.ndarray) -> None:
    save_jpeg(path, rgb)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])


def card_header(folder: Path) -> dict:
    return yaml.safe_load((folder / "README.md").read_text().split("---")[1])


# ----------------------------------------------------------------------------------------------- CelebAMask-HQ

LABEL = {name: index for index, name in enumerate(FACE_PARSING_CLASSES)}

#: Part rectangles (rows, cols) of the fully annotated photo 0, on 8-pixel boundaries so a nearest-neighbour
#: resize from 512 to 64 px samples every region exactly. They overlap on purpose: hair covers skin, hat covers
#: hair, the eye sits inside the skin.
PARTS = {
    "skin": (slice(96, 448), slice(96, 416)),
    "l_eye": (slice(192, 240), slice(160, 224)),
    "hair": (slice(32, 160), slice(64, 448)),
    "hat": (slice(0, 64), slice(96, 416)),
    "neck": (slice(448, 512), slice(192, 320)),
}


def expected_labels() -> np.ndarray:
    """The merged map, built by hand in class order (later classes win), independently of the converter."""
    labels = np.zeros((512, 512), dtype=np.uint8)
    for name in sorted(PARTS, key=LABEL.__getitem__):
        labels[PARTS[name]] = LABEL[name]
    return labels


SKIN = (slice(96, 400), slice(104, 384))  # the skin mask of the other photos


def write_part(root: Path, index: int, part: str, region=SKIN, rgb=False, size=512):
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[region] = 255
    if rgb:  # the release's masks are 3-channel PNGs; both forms must work
        mask = np.repeat(mask[..., None], 3, axis=2)
    path = root / "CelebAMask-HQ-mask-anno" / str(index // 2000) / f"{index:05d}_{part}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(mask).save(path)


@pytest.fixture(scope="module")
def celebamask_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("CelebAMask-HQ")
    rng = np.random.default_rng(0)
    # CelebA-HQ idx -> CelebA file number -> official partition (0 train, 1 validation, 2 test).
    celeba_number = {0: 10, 1: 11, 2: 12, 3: 170000, 4: 190000, 2001: 190001, 5: 13, 6: 14, 7: 15, 8: 16, 9: 999}
    partition = {10: 0, 11: 0, 12: 0, 170000: 1, 190000: 2, 190001: 2, 13: 0, 14: 0, 15: 0, 16: 0}
    mapping = ["idx         orig_idx    orig_file"]
    mapping += [f"{i} {n - 1} {n:06d}.jpg" for i, n in celeba_number.items()]
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(mapping) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{n:06d}.jpg {s}\n" for n, s in partition.items()))
    for index in celeba_number:
        if index != 6:  # 6: the photo is missing
            save_jpeg(root / "CelebA-HQ-img" / f"{index}.jpg", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
        if index != 5:  # 5: no skin mask
            write_part(root, index, "skin", rgb=index == 1)
    save_truncated_jpeg(root / "CelebA-HQ-img" / "7.jpg", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    for part, region in PARTS.items():
        write_part(root, 0, part, region)
    write_part(root, 8, "nose", size=256)  # 8: a part mask of the wrong size
    return root


def test_celebamask_hq_merges_parts_and_uses_the_official_split(celebamask_root, tmp_path):
    out = tmp_path / "celebamask"
    summary = convert_celebamask_hq(celebamask_root, out, image_size=64)
    dataset = load(out, tmp_path)

    assert summary.rows == {"train": 3, "validation": 1, "test": 2}
    assert {split: len(dataset[split]) for split in dataset} == summary.rows
    assert sorted(path.name for path in (out / "data").iterdir()) == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    first = dataset["train"][0]  # rows keep the CelebA-HQ index order, so this is photo 0
    assert first["image"].mode == "RGB" and first["image"].size == (64, 64)
    assert first["mask"].mode == "L" and first["mask"].size == (64, 64)
    # Each 8x8 block of the 512 px map becomes the label under the output pixel's centre (row/col 8k + 4).
    np.testing.assert_array_equal(np.asarray(first["mask"]), expected_labels()[4::8, 4::8])
    # Photo 1's skin mask was an RGB PNG: still read as one part, not as garbage.
    skin_only = np.zeros((512, 512), dtype=np.uint8)
    skin_only[SKIN] = LABEL["skin"]
    np.testing.assert_array_equal(np.asarray(dataset["train"][1]["mask"]), skin_only[4::8, 4::8])

    assert summary.skip_counts() == {
        "missing skin mask": 1,
        "missing image file": 1,
        "unreadable image": 1,
        "mask has the wrong size": 1,
        "CelebA image missing from the partition file": 1,
    }
    assert any(issue.path.endswith("00005_skin.png") for issue in summary.skipped)
    assert any(issue.path.endswith("00008_nose.png") for issue in summary.skipped)
    header = card_header(out)
    assert [f["split"] for f in header["configs"][0]["data_files"]] == ["train", "validation", "test"]
    assert "missing skin mask: 1" in (out / "README.md").read_text()


def test_celebamask_hq_refuses_incomplete_releases(celebamask_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="list_eval_partition"):
        convert_celebamask_hq(celebamask_root, tmp_path / "out", partition_file=tmp_path / "nope.txt")
    bad_mapping = tmp_path / "src"
    bad_mapping.mkdir()
    (bad_mapping / "CelebA-HQ-img").mkdir()
    (bad_mapping / "CelebAMask-HQ-mask-anno").mkdir()
    (bad_mapping / "CelebA-HQ-to-CelebA-mapping.txt").write_text("idx orig_idx\n0 1\n")
    (bad_mapping / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    with pytest.raises(ValueError, match="orig_file"):
        convert_celebamask_hq(bad_mapping, tmp_path / "out")
    (bad_mapping / "CelebA-HQ-to-CelebA-mapping.txt").write_text("idx orig_idx orig_file\n0 0 000001.jpg\n")
    (bad_mapping / "list_eval_partition.txt").write_text("000001.jpg 7\n")
    with pytest.raises(ValueError, match=r"list_eval_partition.txt:1"):
        convert_celebamask_hq(bad_mapping, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def write_celebamask_release(root: Path, orig_idx: dict[int, int]) -> None:
    """A release as shipped: photos, part masks in folders of 2000, the mapping, and no CelebA partition list."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["idx         orig_idx    orig_file"] + [f"{i} {o} {o + 1:06d}.jpg" for i, o in orig_idx.items()]
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(lines) + "\n")
    for index in orig_idx:
        save_jpeg(root / "CelebA-HQ-img" / f"{index}.jpg", np.full((1024, 1024, 3), 40 * (index % 5), np.uint8))
        write_part(root, index, "skin")


def test_celebamask_hq_as_shipped_is_split_by_orig_idx(tmp_path, capsys):
    # The CelebAMask-HQ authors' g_partition.py: train below orig_idx 162771, validation below 182638, test above.
    orig_idx = {0: 0, 1: 162770, 2: 162771, 2001: 182637, 4: 182638, 5: 202598}
    expected = {0: "train", 1: "train", 2: "validation", 2001: "validation", 4: "test", 5: "test"}
    root = tmp_path / "CelebAMask-HQ"
    write_celebamask_release(root, orig_idx)
    out = tmp_path / "out"
    assert main(["prepare-dataset", "celebamask-hq", str(root), str(out), "--image-size", "16"]) == 0
    assert "train: 2 rows" in capsys.readouterr().out
    dataset = {split: load_dataset_split(out, split) for split in ("train", "validation", "test")}
    for index, split in expected.items():  # each photo is a different grey: find it in its split
        greys = [int(np.asarray(row["image"])[0, 0, 0]) for row in dataset[split]]
        assert any(abs(grey - 40 * (index % 5)) < 3 for grey in greys), (index, split, greys)
    with pytest.raises(FileNotFoundError, match="Partition file"):
        convert_celebamask_hq(root, tmp_path / "x", partition_file=tmp_path / "nope.txt")


def test_celebamask_hq_label_maps_sit_where_the_area_averaged_photo_puts_them(tmp_path):
    """A part starting at an odd source row and column (83 = 8 * 10 + 3 at 512 px): 5 of the 8 source pixels
    under output pixel 10 are part, so the area-averaged photo shows it there; a sample at the block's corner
    (source 80) would call it background."""
    root = tmp_path / "CelebAMask-HQ"
    write_celebamask_release(root, {0: 0})
    photo = np.zeros((1024, 1024, 3), np.uint8)
    photo[2 * 83 : 2 * 181, 2 * 99 : 2 * 301] = 255  # the photo is 1024 px, its masks 512 px
    save_jpeg(root / "CelebA-HQ-img" / "0.jpg", photo)
    write_part(root, 0, "skin", (slice(83, 181), slice(99, 301)))
    convert_celebamask_hq(root, tmp_path / "out", image_size=64)
    row = load_dataset_split(tmp_path / "out", "train")[0]
    bright, part = np.asarray(row["image"])[..., 0] > 127, np.asarray(row["mask"]) == LABEL["skin"]
    assert bright[10, 20] and not bright[9, 20] and bright[20, 12] and not bright[20, 11]
    # Across the part's edges (a row and a column through its middle), label and photo agree pixel for pixel.
    np.testing.assert_array_equal(part[:, 20], bright[:, 20])
    np.testing.assert_array_equal(part[20, :], bright[20, :])


#: The CelebAMask-HQ authors' g_mask.py class order (its label k is the k-th name).
G_MASK_NAMES = ["skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth"]
G_MASK_NAMES += ["u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]


def test_celebamask_hq_accepts_maps_premerged_by_g_mask_and_renumbers_them(tmp_path, capsys):
    root = tmp_path / "CelebAMask-HQ"
    write_celebamask_release(root, {0: 0, 1: 1})
    premerged = root / "CelebAMask-HQ-mask"
    premerged.mkdir()
    labels = np.zeros((512, 512), np.uint8)
    for number in range(1, len(G_MASK_NAMES) + 1):  # one 16-row band per class
        labels[16 * number : 16 * number + 16] = number
    PILImage.fromarray(labels).save(premerged / "0.png")
    PILImage.fromarray(np.full((512, 512), 19, np.uint8)).save(premerged / "1.png")  # not a g_mask.py label
    out = tmp_path / "out"
    args = ["prepare-dataset", "celebamask-hq", str(root), str(out), "--image-size", "512"]
    assert main([*args, "--premerged-masks", str(premerged)]) == 0
    assert "label outside g_mask.py's 0..18: 1" in capsys.readouterr().out
    mask = np.asarray(load_dataset_split(out, "train")[0]["mask"])
    assert mask[0, 0] == 0
    for number, name in enumerate(G_MASK_NAMES, start=1):
        assert mask[16 * number + 8, 100] == LABEL[name], name
    assert main(["prepare-dataset", "rafd", str(root), str(tmp_path / "x"), "--premerged-masks", str(premerged)]) == 2


# --------------------------------------------------------------------------------------------------- AffectNet

AFFECTNET_COLUMNS = [
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
]
RED_EYE, BLUE_EYE = (60.0, 70.0), (100.0, 80.0)  # a tilted pair of "eyes" in a 160 px photo


def two_dot_photo() -> np.ndarray:
    photo = np.full((160, 160, 3), 128, dtype=np.uint8)
    cv2.circle(photo, tuple(map(int, RED_EYE)), 8, (255, 0, 0), -1)
    cv2.circle(photo, tuple(map(int, BLUE_EYE)), 8, (0, 0, 255), -1)
    return photo


def landmarks() -> str:
    contour = np.array([[-3, 0], [-1, -1], [1, -1], [3, 0], [1, 1], [-1, 1]])  # six points around each eye
    points = np.zeros((68, 2))
    points[36:42] = contour + RED_EYE
    points[42:48] = contour + BLUE_EYE
    return ";".join(f"{value:.2f}" for value in points.ravel())


def write_affectnet(root: Path, training: list[tuple[str, str, str]], validation: list[tuple[str, str, str]]):
    """Rows are (file, expression code, landmarks); every listed file exists unless its name says otherwise.

    As in the release, training.csv starts with a header line and validation.csv does not.
    """
    for name, rows in (("training.csv", training), ("validation.csv", validation)):
        path = root / "Manually_Annotated_file_lists" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            if name == "training.csv":
                writer.writerow(AFFECTNET_COLUMNS)
            for file, code, points in rows:
                writer.writerow([file, 0, 0, 160, 160, points, code, 0.1, -0.2])  # a box far off the eyes
                image = root / "Manually_Annotated_Images" / file
                if "missing" in file:
                    continue
                (save_truncated_jpeg if "truncated" in file else save_jpeg)(image, two_dot_photo())


@pytest.fixture(scope="module")
def affectnet_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("AffectNet")
    points = landmarks()
    training = [(f"1/train_{code}.jpg", str(code), points) for code in (0, 1, 2, 7, 8, 10, 12)]
    training += [
        ("1/happy_b.jpg", "1", points),
        ("2/happy_c.jpg", "1", ""),  # no landmarks: aligned by the face box
        ("2/not_a_code.jpg", "abc", points),
        ("2/missing.jpg", "3", points),
        ("2/truncated.jpg", "4", points),
    ]
    validation = [(f"3/val_{code}.jpg", str(code), points) for code in (3, 4, 5, 6, 9)]
    write_affectnet(root, training, validation)
    return root


def test_affectnet_keeps_the_eight_expressions_and_aligns_by_landmarks(affectnet_root, tmp_path):
    out = tmp_path / "affectnet"
    summary = convert_affectnet(affectnet_root, out, image_size=64)
    dataset = load(out, tmp_path)

    assert set(dataset) == {"train", "test"}  # training.csv -> train, validation.csv -> test
    assert dataset["train"].features["expression"] == ClassLabel(names=list(EXPRESSIONS))
    names = dataset["train"].features["expression"].names
    assert sorted(names[i] for i in dataset["train"]["expression"]) == sorted(
        ["neutral", "happy", "sad", "contempt", "happy", "happy"]
    )
    assert sorted(names[i] for i in dataset["test"]["expression"]) == ["anger", "disgust", "fear", "surprise"]
    assert summary.label_counts["train"]["happy"] == 3

    assert summary.dropped == {"expression 8 (None)": 1, "expression 10 (No-Face)": 1, "expression 9 (Uncertain)": 1}
    assert summary.skip_counts() == {"unknown expression code": 2, "missing image file": 1, "unreadable image": 1}
    assert summary.notes == {"aligned by the face box (no usable landmarks)": 1}

    crop = np.asarray(dataset["train"][0]["image"]).astype(int)
    assert crop.shape == (64, 64, 3)
    # The landmark eyes land on the canonical template: red on the image-left eye, blue on the right one.
    (lx, ly), (rx, ry) = ((round(x * 64), round(y * 64)) for x, y in CANONICAL_EYE_CENTERS)
    assert crop[ly, lx, 0] - crop[ly, lx, 2] > 100
    assert crop[ry, rx, 2] - crop[ry, rx, 0] > 100


def test_affectnet_max_per_class_caps_each_expression(affectnet_root, tmp_path):
    summary = convert_affectnet(affectnet_root, tmp_path / "capped", image_size=32, max_per_class=2)
    assert summary.label_counts["train"]["happy"] == 2
    assert summary.dropped["over the --max-per-class cap"] == 1
    assert max(summary.label_counts["train"].values()) == 2


def test_affectnet_reads_the_headerless_validation_list_in_the_training_header_order(tmp_path):
    root = tmp_path / "src"
    write_affectnet(root, [("1/a.jpg", "1", landmarks())], [("1/b.jpg", "2", landmarks()), ("1/c.jpg", "6", "")])
    assert (root / "Manually_Annotated_file_lists" / "validation.csv").read_text().startswith("1/b.jpg,")
    summary = convert_affectnet(root, tmp_path / "out", image_size=32)
    assert summary.label_counts["test"] == {name: int(name in ("sad", "anger")) for name in EXPRESSIONS}
    assert summary.notes == {"aligned by the face box (no usable landmarks)": 1}  # c.jpg's empty landmarks column


def test_affectnet_refuses_a_list_without_a_required_column(tmp_path):
    root = tmp_path / "src"
    write_affectnet(root, [("1/a.jpg", "1", landmarks())], [("1/b.jpg", "2", landmarks())])
    path = root / "Manually_Annotated_file_lists" / "training.csv"
    path.write_text(path.read_text().replace("facial_landmarks", "landmarks"))
    with pytest.raises(ValueError, match=r"training\.csv.*facial_landmarks"):
        convert_affectnet(root, tmp_path / "out")
    path.write_text(path.read_text().split("\n", 1)[1])  # neither list has a header line now
    with pytest.raises(ValueError, match="header line"):
        convert_affectnet(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -------------------------------------------------------------------------------------------------------- RaFD


#: The blue channel of each expression's photo, so a crop tells which photo it came from.
RAFD_BLUE = {"angry": 0, "happy": 120, "contemptuous": 250, "sad": 60, "fearful": 190}


def rafd_photo(face: np.ndarray, word: str) -> np.ndarray:
    photo = face.copy()
    photo[..., 2] = RAFD_BLUE[word]
    return photo


@pytest.fixture(scope="module")
def rafd_root(tmp_path_factory) -> Path:
    """Five subjects, played by the astronaut's face (scaled and mirrored), in three expressions looking ahead;
    subject 1 also in two looking left; plus malformed files."""
    root = tmp_path_factory.mktemp("RaFD")
    face = cv2.resize(data.astronaut()[0:320, 60:380], (160, 160), interpolation=cv2.INTER_AREA)
    for subject in range(1, 6):
        mirrored = face if subject % 2 else face[:, ::-1].copy()
        for word in ("angry", "happy", "contemptuous"):
            save_jpeg(root / f"Rafd090_{subject:02d}_Caucasian_female_{word}_frontal.jpg", rafd_photo(mirrored, word))
    for word in ("sad", "fearful"):
        save_jpeg(root / "left" / f"Rafd090_01_Caucasian_female_{word}_left.jpg", rafd_photo(face, word))
    save_jpeg(root / "Rafd045_01_Caucasian_female_angry_frontal.jpg", face)  # another camera: dropped
    save_jpeg(root / "Rafd090_02_Caucasian_female_sad_right.jpg", face)  # alone in its gaze: no pair, dropped
    save_jpeg(root / "Rafd090_06_Caucasian_male_bored_frontal.jpg", face)  # unknown expression
    save_jpeg(root / "holiday.jpg", face)  # not a RaFD file
    save_jpeg(root / "Rafd090_01_Caucasian_female_happy_left.jpg", np.full((160, 160, 3), 90, np.uint8))  # no face
    save_truncated_jpeg(root / "sub" / "Rafd090_03_Caucasian_female_sad_frontal.jpg", face)  # unreadable
    return root


def test_rafd_rows_are_true_pairs_with_subject_disjoint_splits(rafd_root, tmp_path):
    out = tmp_path / "rafd"
    summary = convert_rafd(rafd_root, out, image_size=48, test_fraction=0.2)
    dataset = {split: load_dataset_split(out, split) for split in ("train", "test")}

    train, test = dataset["train"], dataset["test"]
    assert train.features["expression"].names == list(EXPRESSIONS) == train.features["target_expression"].names
    train_ids, test_ids = set(train["identity"]), set(test["identity"])
    assert train_ids | test_ids == {1, 2, 3, 4, 5}
    assert not train_ids & test_ids and len(test_ids) == 1
    # 3 expressions per subject looking ahead: 6 ordered pairs each; subject 1 looking left: sad <-> fearful (its
    # faceless happy photo spoils the 4 pairs it is in); subject 3's unreadable sad photo spoils 6.
    assert len(train) + len(test) == 5 * 6 + 2
    names = train.features["expression"].names
    blue_of = {RAFD_EXPRESSIONS[word]: blue for word, blue in RAFD_BLUE.items()}
    seen = set()
    for split in (train, test):
        for row in split:
            assert row["angle"] == 90 and row["gaze"] in ("frontal", "left")
            source, target = names[row["expression"]], names[row["target_expression"]]
            assert source != target
            seen.add((row["identity"], row["gaze"], source, target))
            for image, expression in ((row["image"], source), (row["target_image"], target)):
                assert abs(int(np.median(np.asarray(image)[..., 2])) - blue_of[expression]) < 12, expression
    assert (1, "left", "sad", "fear") in seen and (1, "left", "fear", "sad") in seen
    assert {(s, t) for i, g, s, t in seen if i == 4} == {
        (s, t) for s in ("anger", "happy", "contempt") for t in ("anger", "happy", "contempt") if s != t
    }
    assert np.asarray(test[0]["image"]).shape == np.asarray(test[0]["target_image"]).shape == (48, 48, 3)

    assert summary.dropped == {
        "camera 045 not selected": 1,
        "no other expression of the same subject, camera and gaze": 1,
    }
    assert summary.skip_counts() == {
        "unknown expression": 1,
        "not a RaFD file name": 1,
        "no face detected": 1,
        "unreadable image": 1,
    }


def test_held_out_subjects_are_spread_over_the_id_range():
    held_out = held_out_subjects(list(range(1, 74)), 0.2)
    assert len(held_out) == 15
    assert min(held_out) < 10 and max(held_out) > 64
    assert held_out_subjects([3, 3, 4], 0.0) == set()
    assert held_out_subjects([1, 2], 0.9) != {1, 2}  # some subject always stays for training


def test_rafd_bad_options_raise_value_error(rafd_root, tmp_path):
    with pytest.raises(ValueError, match="test_fraction"):
        convert_rafd(rafd_root, tmp_path / "out", test_fraction=1.0)
    with pytest.raises(ValueError, match="cameras"):
        convert_rafd(rafd_root, tmp_path / "out", cameras=("front",))
    with pytest.raises(ValueError, match="limit"):
        convert_rafd(rafd_root, tmp_path / "out", limit=0)


# ------------------------------------------------------------------------------------------ writer and the CLI


def test_writer_shards_and_is_all_or_nothing(tmp_path):
    features = Features({"mask": Image()})
    card = CardText("Tiny", "Tiny masks.", "Made up.", ("image-segmentation",))
    masks = [np.full((8, 8), value, dtype=np.uint8) for value in (1, 2, 3)]
    source = SplitSource(masks, lambda mask: {"mask": png_image(mask)})
    write_dataset(tmp_path / "tiny", ConversionSummary("tiny"), features, {"train": source}, card, max_shard_bytes=1)
    assert sorted(path.name for path in (tmp_path / "tiny" / "data").iterdir()) == [
        f"train-0000{i}-of-00003.parquet" for i in range(3)
    ]
    loaded = load(tmp_path / "tiny", tmp_path)["train"]
    assert [int(np.asarray(row["mask"])[0, 0]) for row in loaded] == [1, 2, 3]

    def explode(mask):
        if mask[0, 0] == 2:
            raise RuntimeError("disk full")
        return {"mask": png_image(mask)}

    with pytest.raises(RuntimeError, match="disk full"):
        write_dataset(
            tmp_path / "boom", ConversionSummary("tiny"), features, {"train": SplitSource(masks, explode)}, card
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hf-cache", "tiny"]  # no half-written output
    with pytest.raises(ValueError, match="not empty"):
        write_dataset(tmp_path / "tiny", ConversionSummary("tiny"), features, {"train": source}, card)
    with pytest.raises(ValueError, match="No tiny example"):
        write_dataset(tmp_path / "none", ConversionSummary("tiny"), features, {"train": SplitSource([], None)}, card)


def test_a_converted_folder_always_loads_its_own_current_files(tmp_path, monkeypatch):
    """Two datasets of the same features converted to folders of the same name, one shared datasets cache, then a
    folder converted again with 7 rows and with all: every load (the training loader's included) returns what is
    in the folder now."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "shared-cache"))
    features = Features({"mask": Image()})
    card = CardText("Tiny", "Tiny masks.", "Made up.", ("image-segmentation",))

    def convert(folder: Path, values: list[int], limit: int | None = None) -> list[int]:
        source = SplitSource(values, lambda value: {"mask": png_image(np.full((4, 4), value, np.uint8))})
        write_dataset(folder, ConversionSummary("tiny"), features, {"train": source}, card, limit, overwrite=True)
        return [int(np.asarray(row["mask"])[0, 0]) for row in load_split(DataConfig(dataset=str(folder)), "train")]

    first, second = tmp_path / "a" / "converted", tmp_path / "b" / "converted"
    assert convert(first, list(range(12)), limit=7) == list(range(7))
    assert convert(second, [100, 101]) == [100, 101]
    assert convert(first, list(range(12))) == list(range(12))
    assert [int(np.asarray(row["mask"])[0, 0]) for row in load_dataset_split(second, "train")] == [100, 101]
    with pytest.raises(ValueError, match=r"no 'validation' split; it has \['train'\]"):
        load_split(DataConfig(dataset=str(first)), "validation")


def test_cli_prepare_dataset(rafd_root, tmp_path, capsys):
    out = tmp_path / "rafd"
    assert main(["prepare-dataset", "rafd", str(rafd_root), str(out), "--image-size", "32", "--limit", "2"]) == 0
    printed = capsys.readouterr().out
    assert "train: 2 rows" in printed and "test: 2 rows" in printed and "not a RaFD file name: 1" in printed
    assert main(["prepare-dataset", "rafd", str(rafd_root), str(out)]) == 2  # exists, no --overwrite
    assert "not empty" in capsys.readouterr().err
    assert main(["prepare-dataset", "rafd", str(rafd_root), str(out), "--overwrite", "--limit", "1"]) == 0
    assert len(load(out, tmp_path)["train"]) == 1
    assert main(["prepare-dataset", "celebamask-hq", str(rafd_root), str(tmp_path / "x"), "--max-per-class", "3"]) == 2
    assert main(["prepare-dataset", "affectnet", str(rafd_root), str(tmp_path / "x"), "--cameras", "045"]) == 2
