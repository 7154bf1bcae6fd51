"""SynthFaces: exact labels, expressions that only move expression regions, ground-truth pairs, dataset I/O."""

import dataclasses
import hashlib
import json

import datasets
import numpy as np
import pytest
from scipy import ndimage

from hf_segan.constants import CANONICAL_EYE_CENTERS, DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.data.synthfaces import (
    PROTOTYPES,
    expression_params,
    load_synthfaces,
    make_contact_sheet,
    render_face,
    sample_identity,
    split_identity_ids,
    write_imagefolder,
)
from hf_segan.data.synthfaces.landmarks import synthfaces_landmarks
from hf_segan.data.synthfaces.render import SUPERSAMPLE, _Canvas, _downsample, _ellipse, _identity_layers
from hf_segan.training.data import check_kwargs

LABEL = {name: i for i, name in enumerate(FACE_PARSING_CLASSES)}
EXPRESSION_CLASSES = [LABEL[c] for group in DEFAULT_REGION_GROUPS.values() for c in group]


def test_each_label_is_taken_where_its_pixel_colour_is_centred():
    """An output pixel more than half inside a part (by its area-averaged colour) must be labelled that part. A
    label sample half a supersample off the colour's centre (a quarter pixel at 2x) breaks this on a quarter of
    the edge pixels, and a horizontal flip turns that offset the other way, so no parser can match both."""
    size = 32
    side = size * SUPERSAMPLE
    disagreeing = edge_pixels = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        blank = np.zeros((side, side), np.uint8)
        canvas = _Canvas(sample_identity(seed), blank, blank.copy(), np.zeros((side, side, 3), np.float32))
        centre, radii = rng.uniform(0.4, 0.6, 2), rng.uniform(0.15, 0.3, 2)
        canvas.fill(_ellipse(*centre, *radii, n=200), "nose", (1.0, 1.0, 1.0))
        color, labels = _downsample(canvas, size)
        coverage = color[..., 0]
        clear = (np.abs(coverage - 0.5) > 0.2) & (coverage > 0.01) & (coverage < 0.99)  # edge pixels, not ties
        disagreeing += ((labels == LABEL["nose"]) != (coverage > 0.5))[clear].sum()
        edge_pixels += clear.sum()
    assert edge_pixels > 100
    assert disagreeing <= 0.02 * edge_pixels


def test_prototypes_cover_the_expressions_in_order():
    assert tuple(PROTOTYPES) == EXPRESSIONS


def test_rendering_is_deterministic_and_identities_differ():
    a = render_face(sample_identity(3, seed=1), "happy", 0.7, 64)
    b = render_face(sample_identity(3, seed=1), "happy", 0.7, 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    other = render_face(sample_identity(4, seed=1), "happy", 0.7, 64)
    # identity layers are cached across renders: another expression rendered in between must not leak into them
    render_face(sample_identity(3, seed=1), "surprise", 1.0, 64)
    _identity_layers.cache_clear()
    c = render_face(sample_identity(3, seed=1), "happy", 0.7, 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert not np.array_equal(a[0], other[0])
    assert a[0].shape == (64, 64, 3) and a[0].dtype == np.uint8 and a[1].shape == (64, 64)


def test_splits_have_disjoint_identities():
    ids = {split: set(split_identity_ids(split, 50)) for split in ("train", "validation", "test")}
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        split_identity_ids("dev", 3)


def test_labels_cover_the_classes_and_accessories_appear_on_some_identities():
    seen, with_glasses, with_hats = set(), 0, 0
    for identity_id in range(40):
        identity = sample_identity(identity_id)
        _, labels = render_face(identity, "surprise", 1.0, 96)
        present = set(np.unique(labels).tolist())
        seen |= present
        with_glasses += LABEL["eye_g"] in present
        with_hats += LABEL["hat"] in present
        assert (LABEL["eye_g"] in present) == identity.glasses
    required = set(FACE_PARSING_CLASSES) - {"neck_l", "ear_r"}
    assert {FACE_PARSING_CLASSES[i] for i in seen} >= required
    assert 0 < with_glasses < 40 and 0 < with_hats < 40


def test_eyes_sit_on_the_canonical_template_on_average_left_classes_on_the_image_left():
    size, centres = 64, {"l_eye": [], "r_eye": []}
    for identity_id in range(24):
        _, labels = render_face(sample_identity(identity_id), "neutral", 1.0, size)
        for name in centres:
            ys, xs = np.nonzero(labels == LABEL[name])
            centres[name].append(((xs.mean() + 0.5) / size, (ys.mean() + 0.5) / size))
    for name, template in zip(("l_eye", "r_eye"), CANONICAL_EYE_CENTERS, strict=True):
        assert np.allclose(np.mean(centres[name], axis=0), template, atol=0.015)
    assert all(left[0] < right[0] for left, right in zip(centres["l_eye"], centres["r_eye"], strict=True))


def test_images_are_textured_not_flat():
    rgb, labels = render_face(sample_identity(0), "neutral", 1.0, 96)
    skin = rgb[labels == LABEL["skin"]].astype(float)
    assert skin.std(axis=0).min() > 2.0


@pytest.mark.parametrize("expression", EXPRESSIONS[1:])
def test_an_expression_only_changes_expression_regions(expression):
    identity = sample_identity(7)
    neutral_rgb, neutral_labels = render_face(identity, "neutral", 1.0, 96)
    rgb, labels = render_face(identity, expression, 1.0, 96)
    regions = np.isin(neutral_labels, EXPRESSION_CLASSES) | np.isin(labels, EXPRESSION_CLASSES)
    near = ndimage.binary_dilation(regions, iterations=3)  # anti-aliased edges spill over by up to a pixel
    assert np.array_equal(rgb[~near], neutral_rgb[~near])
    assert np.array_equal(labels[~near], neutral_labels[~near])
    assert not np.array_equal(rgb, neutral_rgb)


def test_intensity_zero_is_neutral_and_intensity_grows_monotonically():
    identity = sample_identity(2)
    neutral = render_face(identity, "neutral", 1.0, 96)
    assert all(np.array_equal(x, y) for x, y in zip(render_face(identity, "surprise", 0.0, 96), neutral, strict=True))
    openings = [(render_face(identity, "surprise", t, 128)[1] == LABEL["mouth"]).sum() for t in (0.0, 0.3, 0.6, 1.0)]
    assert openings == sorted(openings) and openings[-1] > openings[0] + 20


def _mouth_corner_lift(labels):
    """How far the lips' corners sit above their centre line (pixels; positive = smile)."""
    ys, xs = np.nonzero(np.isin(labels, [LABEL["u_lip"], LABEL["l_lip"], LABEL["mouth"]]))
    left, right, centre = xs.min(), xs.max(), (xs.min() + xs.max()) / 2
    corners = ys[(xs <= left + 1) | (xs >= right - 1)].mean()
    middle = ys[np.abs(xs - centre) <= 1].mean()
    return middle - corners


def test_happy_lifts_the_mouth_corners_and_sad_drops_them():
    identity = dataclasses.replace(sample_identity(5), rotation=0.0)
    assert _mouth_corner_lift(render_face(identity, "happy", 1.0, 128)[1]) > 1.0
    assert _mouth_corner_lift(render_face(identity, "sad", 1.0, 128)[1]) < -1.0


def _inner_brow_gap(labels: np.ndarray) -> int:
    """Pixels between the image-left brow's rightmost and the image-right brow's leftmost labelled column."""
    left_columns = np.nonzero((labels == LABEL["l_brow"]).any(0))[0]
    right_columns = np.nonzero((labels == LABEL["r_brow"]).any(0))[0]
    return int(right_columns.min() - left_columns.max())


def test_anger_draws_the_inner_brow_ends_together_in_the_render_and_the_landmarks():
    """FACS AU4 (corrugator) pulls the brows' inner ends toward the midline in anger: the rendered brows' gap and
    the distance between landmarks 21 and 22 (read off the same polygons) both shrink, by the same amount."""
    size = 128
    for identity_id in range(4):
        identity = dataclasses.replace(sample_identity(identity_id), rotation=0.0, glasses=False)
        gaps, distances = {}, {}
        for expression in ("neutral", "anger"):
            gaps[expression] = _inner_brow_gap(render_face(identity, expression, 1.0, size)[1])
            points = synthfaces_landmarks(identity, expression, 1.0, size)
            distances[expression] = points[22, 0] - points[21, 0]
        expected = 2 * PROTOTYPES["anger"].brow_together * identity.scale * size
        assert expected > 2.5
        assert distances["neutral"] - distances["anger"] == pytest.approx(expected, abs=1e-6)
        assert gaps["neutral"] - gaps["anger"] == pytest.approx(expected, abs=1.5)
        assert gaps["anger"] == pytest.approx(distances["anger"], abs=2.0)  # polygon ends sit on the landmarks


#: sha256 of the label maps and landmarks (rounded to 1e-6 px) of identities 0-3 showing neutral, happy and
#: surprise at 128 px, as rendered before brows could be drawn together: expressions without that action must keep
#: their renders, which the bundled parser and editor were trained on.
RENDERS_WITHOUT_BROWS_TOGETHER = "ea66e9ea7cdecac124d2f3355e7a6a1d8add6b0cef291208b6042a28f3414523"


def test_expressions_without_brows_together_render_as_before():
    digest = hashlib.sha256()
    for identity_id in range(4):
        identity = sample_identity(identity_id)
        for expression in ("neutral", "happy", "surprise"):
            digest.update(render_face(identity, expression, 1.0, 128)[1].tobytes())
            digest.update(np.round(synthfaces_landmarks(identity, expression, 1.0, 128), 6).tobytes())
    assert digest.hexdigest() == RENDERS_WITHOUT_BROWS_TOGETHER


def test_blends_interpolate_parameters():
    blend = expression_params({"happy": 0.5, "surprise": 0.5})
    assert blend.mouth_open == pytest.approx((PROTOTYPES["happy"].mouth_open + PROTOTYPES["surprise"].mouth_open) / 2)
    half = expression_params("anger", 0.5)
    assert half.brow_tilt == pytest.approx(PROTOTYPES["anger"].brow_tilt / 2)
    identity = sample_identity(1)
    opening = {
        name: (render_face(identity, spec, 1.0, 96)[1] == LABEL["mouth"]).sum()
        for name, spec in (("happy", "happy"), ("blend", {"happy": 1.0, "surprise": 1.0}), ("surprise", "surprise"))
    }
    assert opening["happy"] < opening["blend"] < opening["surprise"]


def test_dataset_columns_and_paired_ground_truth():
    dataset = load_synthfaces("validation", num_identities=2, intensities=[0.5, 1.0], image_size=48, seed=3)
    assert len(dataset) == 2 * (1 + 7 * 2)
    assert dataset.features["expression"].names == list(EXPRESSIONS)
    assert set(dataset.column_names) == {
        "image", "mask", "expression", "intensity", "identity",
        "target_image", "target_mask", "target_expression", "target_intensity",
    }  # fmt: skip
    row = dataset[5]
    assert row["image"].size == (48, 48) and row["mask"].mode == "L"
    identity = sample_identity(row["identity"], seed=3)
    target_name = EXPRESSIONS[row["target_expression"]]
    rgb, labels = render_face(identity, target_name, row["target_intensity"], 48)
    assert np.array_equal(np.asarray(row["target_image"]), rgb)
    assert np.array_equal(np.asarray(row["target_mask"]), labels)
    assert (row["target_expression"], row["target_intensity"]) != (row["expression"], row["intensity"])
    assert set(dataset["identity"]) == set(split_identity_ids("validation", 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 16}, "image_size must be an integer >= 32"),
        ({"image_size": 64.0}, "image_size must be an integer >= 32"),
        ({"intensities": [1.5]}, r"Intensity must lie in \[0, 1\]"),
        ({"intensities": "1.0"}, "intensities must be a number or a non-empty list"),
        ({"intensities": []}, "intensities must be a number or a non-empty list"),
        ({"expressions": ["smug"]}, "expressions must be a non-empty list drawn from"),
        ({"expressions": "happy"}, "expressions must be a non-empty list drawn from"),
        ({"split": "dev"}, "Unknown split 'dev'"),
        ({"num_identities": 0}, "num_identities must be an integer >= 1"),
        ({"num_identities": True}, "num_identities must be an integer >= 1"),
        ({"paired": "yes"}, "paired must be true or false"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"expressions": ["happy"], "intensities": 1.0}, "paired=True needs at least two"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_synthfaces(**{"num_identities": 1, "image_size": 32, **kwargs})


def test_yaml_style_arguments_are_accepted_and_unknown_ones_named():
    dataset = load_synthfaces(num_identities=1, expressions=["neutral", "sad"], intensities=0.5, image_size=32)
    assert sorted(zip(dataset["expression"], dataset["intensity"], strict=True)) == [(0, 0.0), (2, 0.5)]
    with pytest.raises(ValueError, match=r"Unknown `data.synthfaces` argument\(s\) \['num_identites'\]"):
        check_kwargs(load_synthfaces, {"num_identites": 3}, "data.synthfaces")


def test_imagefolder_round_trip(tmp_path):
    dataset = load_synthfaces("test", num_identities=1, expressions=["neutral", "happy", "sad"], image_size=32)
    folder = write_imagefolder(dataset, tmp_path)
    assert folder == tmp_path / "test"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path), split="test")
    for column in ("image", "mask", "target_image", "target_mask"):
        assert isinstance(loaded.features[column], datasets.Image), column
    loaded = loaded.cast_column("expression", datasets.ClassLabel(names=list(EXPRESSIONS)))
    loaded = loaded.cast_column("target_expression", datasets.ClassLabel(names=list(EXPRESSIONS)))
    assert len(loaded) == len(dataset)
    by_variant = {(row["expression"], row["intensity"]): row for row in dataset}
    for row in loaded:
        original = by_variant[(row["expression"], row["intensity"])]
        assert row["identity"] == original["identity"] and row["target_expression"] == original["target_expression"]
        for column in ("image", "mask", "target_image", "target_mask"):
            assert np.array_equal(np.asarray(row[column]), np.asarray(original[column])), column
    with pytest.raises(ValueError, match="exists"):
        write_imagefolder(dataset, tmp_path, "test")
    args = {"split": "validation", "num_identities": 1, "expressions": ["neutral", "anger"], "image_size": 32}
    written = write_imagefolder(args, tmp_path)
    assert written == tmp_path / "validation" and (tmp_path / "test" / "metadata.jsonl").exists()
    records = [json.loads(line) for line in (written / "metadata.jsonl").read_text().splitlines()]
    assert [r["expression"] for r in records] == ["neutral", "anger"] and "target_expression" not in records[0]


def test_contact_sheet_has_a_header_and_a_face_and_overlay_row_per_identity():
    sheet = make_contact_sheet(2, expressions=["neutral", "surprise"], size=40)
    assert sheet.size == (2 * 40, 16 + 2 * 2 * 40)
    pixels = np.asarray(sheet)
    rgb, labels = render_face(sample_identity(split_identity_ids("train", 1)[0]), "surprise", 1.0, 40)
    assert np.array_equal(pixels[16 : 16 + 40, 40:], rgb)
    overlay = pixels[16 + 40 : 16 + 80, 40:]
    assert np.array_equal(overlay[labels == 0], rgb[labels == 0]) and not np.array_equal(overlay, rgb)


def test_cli_writes_tree_and_contact_sheet(tmp_path, capsys):
    from hf_segan.cli import main

    # in process: test_cli_edit runs the command line as a subprocess
    command = ["synth", str(tmp_path / "faces"), "--num-identities", "1"]
    command += ["--image-size", "32", "--contact-sheet", str(tmp_path / "sheet.png"), "--sheet-identities", "2"]
    assert main(command) == 0
    assert len(list((tmp_path / "faces" / "train").glob("*.png"))) == len(EXPRESSIONS)
    assert (tmp_path / "sheet.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["synth", str(tmp_path / "other"), "--num-identities", "0"]) == 2
    assert "num_identities must be an integer >= 1" in capsys.readouterr().err
