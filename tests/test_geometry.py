"""The geometry edit for photos: SynthFaces landmarks, the geometry model and its training, the dense field,
the mouth interior and the pipeline's geometry-only photo edit."""

import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan import photo_geometry
from hf_segan.alignment import find_faces
from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.data.synthfaces import render_face, sample_identity
from hf_segan.data.synthfaces.landmarks import synthfaces_landmarks
from hf_segan.data.synthfaces.params import PROTOTYPES, split_identity_ids
from hf_segan.expressions import expression_condition
from hf_segan.landmarks import EYELID_PAIRS
from hf_segan.metrics.photo_fidelity import (
    SHARPNESS_TOLERANCE,
    box_mask,
    new_colour_fraction,
    photo_fidelity,
    sharpness_ratio,
)
from hf_segan.models.geometry import LandmarkGeometryModel, eye_frame, to_eye_frame
from hf_segan.mouth_interior import (
    NEARBY_COLOUR_RADIUS,
    NEARBY_COLOUR_TOLERANCE,
    fill_opened_mouth,
    lip_line_colors,
    teeth_gap,
)
from hf_segan.photo_evaluation import Photo, find_face, rotate_photo
from hf_segan.photo_geometry import (
    FIELD_SIZE,
    JAW_FOLLOW,
    MAX_EYE_WIDENING,
    REGION_LANDMARKS,
    SCALE_GROUPS,
    UPPER_LIP_SHARE,
    edit_face_geometry,
    limit_eye_widening,
    open_mouth_with_the_jaw,
)
from hf_segan.pipeline import SeganPipeline, default_model_path
from hf_segan.warp_field import (
    FACE_MASK_BELOW_JAW,
    REGULARISATION,
    RESAMPLING,
    eye_distance,
    face_mask,
    field_in_photo,
    landmark_field,
    warp_photo,
    wendland,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
LABEL = {name: i for i, name in enumerate(FACE_PARSING_CLASSES)}


def _near(labels: np.ndarray, point: np.ndarray, names: tuple[str, ...], radius: float = 1.5) -> bool:
    """Whether a pixel of one of ``names`` lies within ``radius`` pixels of ``point``."""
    ys, xs = np.nonzero(np.isin(labels, [LABEL[n] for n in names]))
    return bool(len(xs) and np.hypot(xs - point[0], ys - point[1]).min() <= radius)


def _on_boundary(labels: np.ndarray, point: np.ndarray, names: tuple[str, ...]) -> bool:
    inside = np.isin(labels, [LABEL[n] for n in names])
    outside = ~inside
    ys, xs = np.nonzero(inside)
    oy, ox = np.nonzero(outside)
    return bool(
        np.hypot(xs - point[0], ys - point[1]).min() <= 1.5 and np.hypot(ox - point[0], oy - point[1]).min() <= 1.5
    )


@pytest.mark.parametrize("expression", ["neutral", "happy", "surprise", "anger"])
def test_synthfaces_landmarks_sit_on_the_rendered_parts(expression):
    identities = [sample_identity(i) for i in range(12)]
    identities = [identity for identity in identities if not identity.glasses and not identity.hat][:3]
    for identity in identities:
        _, labels = render_face(identity, expression, 1.0, 128)
        points = synthfaces_landmarks(identity, expression, 1.0, 128)
        assert points.shape == (68, 2)
        for i in range(36, 42):
            assert _on_boundary(labels, points[i], ("l_eye",)), (expression, i)
        for i in range(42, 48):
            assert _on_boundary(labels, points[i], ("r_eye",)), (expression, i)
        for i in (48, 54):  # mouth corners: the ends of the lip bands
            assert _on_boundary(labels, points[i], ("u_lip", "l_lip", "mouth")), (expression, i)
        for i in range(0, 17):
            assert _on_boundary(labels, points[i], ("skin", "nose", "l_eye", "r_eye")), (expression, i)
        assert labels[tuple(np.round(points[30, ::-1]).astype(int))] == LABEL["nose"]
        for i, side in ((19, "l_brow"), (24, "r_brow")):
            assert labels[tuple(np.round(points[i, ::-1]).astype(int))] == LABEL[side]


def test_synthfaces_landmarks_follow_the_expression_parameters():
    identity = sample_identity(3)
    neutral = synthfaces_landmarks(identity, "neutral", size=200)
    scale = identity.scale * 200
    happy = synthfaces_landmarks(identity, "happy", size=200)
    lift = (neutral[[48, 54], 1] - happy[[48, 54], 1]) / scale
    assert np.allclose(lift, PROTOTYPES["happy"].mouth_curve, atol=0.004)
    surprise = synthfaces_landmarks(identity, "surprise", size=200)
    gap = np.linalg.norm(surprise[66] - surprise[62]) / scale
    assert gap == pytest.approx(PROTOTYPES["surprise"].mouth_open, abs=0.002)
    assert np.allclose(surprise[:17], neutral[:17])  # the jaw never moves in SynthFaces


def test_geometry_model_save_load_is_exact(tmp_path):
    model = LandmarkGeometryModel(hidden_dim=16, num_layers=2).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = LandmarkGeometryModel.from_pretrained(tmp_path).eval()
    points, condition = torch.randn(3, 68, 2), torch.rand(3, 8)
    assert torch.equal(model(points, condition), loaded(points, condition))
    with pytest.raises(ValueError, match="landmarks must be shaped"):
        model(torch.randn(3, 60, 2), condition)


def test_eye_frame_normalisation_ignores_position_size_and_roll():
    points = torch.from_numpy(synthfaces_landmarks(sample_identity(5)))[None]
    angle = 0.3
    rotation = torch.tensor([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=torch.float64)
    moved = points @ rotation.T * 2.5 + torch.tensor([40.0, -7.0], dtype=torch.float64)
    a, b = to_eye_frame(points, eye_frame(points)), to_eye_frame(moved, eye_frame(moved))
    assert torch.allclose(a, b, atol=1e-9)
    assert torch.allclose(a[0, 36:42].mean(0), torch.tensor([-0.5, 0.0], dtype=torch.float64), atol=1e-9)


def test_training_reduces_the_loss(tmp_path):
    from train_geometry import main

    out = tmp_path / "run"
    main(
        [
            "--config",
            str(Path(__file__).resolve().parents[1] / "training/configs/geometry_synthfaces.yaml"),
            "--output_dir",
            str(out),
            "--max_steps",
            "150",
            "--eval_every",
            "150",
            "--checkpoint_every",
            "150",
            "--data.num_identities",
            "30",
            "--data.pairs_per_identity",
            "8",
            "--data.eval_identities",
            "10",
            "--model.kwargs",
            "{hidden_dim: 64, num_layers: 2}",
        ]
    )
    summary = json.loads((out / "training_summary.json").read_text())
    final = LandmarkGeometryModel.from_pretrained(out / "final")
    fresh = LandmarkGeometryModel(hidden_dim=64, num_layers=2)
    from hf_segan.training.geometry_data import landmark_pairs

    pairs = landmark_pairs("validation", 10, 8, seed=1, augment=0.0)
    with torch.no_grad():
        before = (fresh(pairs["source"], pairs["condition"]) - pairs["displacement"]).pow(2).mean()
        after = (final(pairs["source"], pairs["condition"]) - pairs["displacement"]).pow(2).mean()
    assert after < before / 5
    assert summary["eval_history"][-1]["eval/mse"] == pytest.approx(float(after), rel=1e-4)
    assert (out / "checkpoint-150" / "training_state.json").is_file()


def test_training_resumed_from_a_checkpoint_ends_with_the_same_model(tmp_path):
    """The stopped run's batch draws are replayed on resume, so it trains on the batches it would have seen."""
    import shutil

    from safetensors.torch import load_file
    from train_geometry import main

    config = Path(__file__).resolve().parents[1] / "training/configs/geometry_synthfaces.yaml"
    tiny = ["--max_steps", "6", "--eval_every", "3", "--checkpoint_every", "3", "--data.num_identities", "4"]
    tiny += ["--data.pairs_per_identity", "4", "--data.eval_identities", "2", "--data.batch_size", "8"]
    tiny += ["--model.kwargs", "{hidden_dim: 16, num_layers: 2}", "--config", str(config)]
    main([*tiny, "--output_dir", str(tmp_path / "straight")])
    shutil.copytree(tmp_path / "straight" / "checkpoint-3", tmp_path / "resumed" / "checkpoint-3")
    main([*tiny, "--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint", "latest"])
    weights = [
        load_file(tmp_path / run / "final" / "diffusion_pytorch_model.safetensors") for run in ("straight", "resumed")
    ]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    history = [
        json.loads((tmp_path / run / "training_summary.json").read_text())["eval_history"]
        for run in ("straight", "resumed")
    ]
    assert history[0] == history[1]


@pytest.fixture(scope="module")
def shipped_geometry():
    return LandmarkGeometryModel.from_pretrained(default_model_path() / "geometry").eval()


@pytest.mark.parametrize("expression", ["happy", "sad", "surprise", "anger"])
def test_shipped_geometry_moves_unseen_faces_to_their_true_targets(shipped_geometry, expression):
    errors = []
    for identity_id in split_identity_ids("test", 6):
        identity = sample_identity(identity_id)
        source = synthfaces_landmarks(identity, "neutral")
        truth = synthfaces_landmarks(identity, expression)
        condition = expression_condition(expression)[None]
        predicted = shipped_geometry.predict_targets(torch.from_numpy(source)[None], condition)[0].numpy()
        errors.append(np.linalg.norm(predicted - truth, axis=1).max() / eye_distance(source))
        if expression == "happy":  # corners up by the true amount (about 0.13 eye distances)
            lift = (source[[48, 54], 1] - predicted[[48, 54], 1]) / eye_distance(source)
            true_lift = (source[[48, 54], 1] - truth[[48, 54], 1]) / eye_distance(source)
            assert np.all(lift > 0.1) and np.allclose(lift, true_lift, atol=0.02)
        if expression == "anger":  # inner brow ends (21, 22) drawn together by the true amount (about 0.09)
            gap = {
                name: np.linalg.norm(p[22] - p[21]) / eye_distance(source)
                for name, p in (("source", source), ("predicted", predicted), ("truth", truth))
            }
            true_closer = gap["source"] - gap["truth"]
            assert true_closer > 0.06 and gap["source"] - gap["predicted"] == pytest.approx(true_closer, abs=0.015)
    assert max(errors) < 0.04


def _face_points(size: int = 128) -> np.ndarray:
    return synthfaces_landmarks(sample_identity(1), "neutral", size=size)


def test_field_is_zero_outside_the_face_and_carries_the_mouth_corners():
    points = _face_points()
    target = points.copy()
    target[[48, 54, 60, 64], 1] -= 3.0  # both mouth corners (outer and inner contour) up by 3 pixels
    limit = face_mask(points, 128)
    field = landmark_field(points, target, 128, limit=limit)
    assert not field.field[limit == 0].any()
    assert field.moving.any() and field.moving.sum() < (limit > 0).sum()
    # a ramp image encodes each pixel's own position (2 grey levels per pixel); after the warp, the pixel at each
    # corner's target must hold the value from 3 pixels below it: the corner's source
    ys, xs = np.mgrid[0:128, 0:128]
    image = np.stack([xs * 2, ys * 2, np.zeros_like(xs)], -1).astype(np.uint8)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    box, displacement = field_in_photo(field, identity, identity, image.shape[:2])
    warped, changed = warp_photo(image, box, displacement)
    assert np.array_equal(warped[~changed], image[~changed])
    for i in (48, 54):
        x, y = np.round(target[i]).astype(int)
        came_from = warped[y, x, :2] / 2.0
        assert abs(came_from[0] - x) < 0.4 and abs(came_from[1] - y - 3.0) < 0.4, (i, came_from, (x, y))
    far = np.round(points[8] + [0, 10]).astype(int)  # below the chin
    assert not changed[far[1], far[0]]


def test_room_below_the_jaw_only_when_asked_and_only_as_far_as_asked():
    points = _face_points()
    distance = eye_distance(points)
    chin = points[8]
    plain, room = face_mask(points, 128), face_mask(points, 128, below_jaw=FACE_MASK_BELOW_JAW)
    near = np.round(chin + np.array([0.0, 0.25 * distance])).astype(int)
    far = np.round(chin + np.array([0.0, 0.55 * distance])).astype(int)
    assert plain[near[1], near[0]] == 0 and room[near[1], near[0]] > 0.5  # the dropping chin may move there
    assert room[far[1], far[0]] == 0  # nothing past the room given
    np.testing.assert_array_equal(room[plain > 0] > 0, True)  # the face itself stays inside


def test_field_is_the_kernel_interpolation_it_defines():
    # the field written as its definition, every pixel against every point: Wendland kernels centred on the
    # targets, weights solving the regularised kernel system for source - target (a face near the crop's border,
    # so points' reaches are cut by it)
    points = _face_points() + np.array([-40.0, 10.0])
    rng = np.random.default_rng(3)
    target = points + rng.normal(0, 2.0, points.shape) * (rng.random(len(points)) < 0.5)[:, None]
    radius = 20.0
    field = landmark_field(points, target, 128, radius=radius).field
    ys, xs = np.mgrid[0:128, 0:128]
    grid = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)
    moving = np.any(points != target, axis=1)
    near = np.linalg.norm(target[:, None] - target[moving][None], axis=-1).min(1) < 2 * radius
    centres, values = target[near], (points - target)[near]
    kernel = wendland(np.linalg.norm(centres[:, None] - centres[None], axis=-1), radius)
    weights = np.linalg.solve(kernel + REGULARISATION * np.eye(len(centres)), values)
    expected = wendland(np.linalg.norm(grid[:, None] - centres[None], axis=-1), radius) @ weights
    np.testing.assert_allclose(field.reshape(-1, 2), expected, atol=1e-5)


def test_no_move_means_no_field():
    points = _face_points()
    assert not landmark_field(points, points.copy(), 128).moving.any()


def test_an_opening_mouth_is_filled_with_the_faces_own_dark_lip_colours():
    rng = np.random.default_rng(0)
    points = _face_points(256)
    photo = rng.integers(120, 200, (256, 256, 3), dtype=np.uint8)
    cv2.polylines(photo, [np.round(points[60:68]).astype(np.int32)], True, (40, 10, 20), 2)
    target = points.copy()
    target[[61, 62, 63], 1] -= 6
    target[[65, 66, 67], 1] += 6
    pristine = photo.copy()
    result, painted = fill_opened_mouth(photo, photo, points, target)
    assert painted.any() and np.array_equal(photo, pristine)  # a new photo; the input is only read
    owned = photo.copy()
    in_place, painted_in_place = fill_opened_mouth(owned, photo, points, target, in_place=True)
    assert in_place is owned and np.array_equal(in_place, result) and np.array_equal(painted_in_place, painted)
    inner = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(inner, [np.round(target[60:68]).astype(np.int32)], 1)
    assert not painted[cv2.dilate(inner, np.ones((5, 5), np.uint8)) == 0].any()
    assert np.array_equal(result[~painted], photo[~painted])
    low, high = photo.reshape(-1, 3).min(0), photo.reshape(-1, 3).max(0)
    assert np.all(result >= low) and np.all(result <= high)
    centre = np.round(target[[62, 66]].mean(0)).astype(int)
    assert result[centre[1], centre[0]].astype(int).sum() < 150  # dark, from the lip line
    closing = target.copy()
    closing[60:68] = points[60:68]
    same, nothing = fill_opened_mouth(photo, photo, target, closing)
    assert not nothing.any() and np.array_equal(same, photo)


def _open_mouth_photo(gap_row: bool) -> tuple[np.ndarray, np.ndarray]:
    """A 256 px face whose mouth is open 12 px at its middle: skin, a bright band of "teeth" filling the opening
    and, with ``gap_row``, a dark row across its middle (two rows of teeth parted)."""
    points = _face_points(256)
    points[[61, 62, 63], 1] -= 6
    points[[65, 66, 67], 1] += 6
    photo = np.full((256, 256, 3), (200, 150, 130), np.uint8)
    cv2.fillPoly(photo, [np.round(points[60:68] * 16).astype(np.int32)], (245, 245, 235), cv2.LINE_8, 4)
    cv2.polylines(photo, [np.round(points[60:68]).astype(np.int32)], True, (150, 60, 60), 2)  # the lips' edge
    if gap_row:
        middle = np.round(points[[62, 66], 1].mean()).astype(int)
        photo[middle - 1 : middle + 2, :] = np.where(
            photo[middle - 1 : middle + 2, :] == (245, 245, 235), np.uint8(60), photo[middle - 1 : middle + 2, :]
        )
    return photo, points


def test_teeth_move_with_the_lips_instead_of_staying_or_stretching():
    photo, points = _open_mouth_photo(gap_row=False)
    assert teeth_gap(photo, points) == 1.0  # one row of teeth: all of it hangs from the upper lip
    target = points.copy()
    target[[61, 62, 63], 1] -= 3  # the upper lip rises by 3 px, the lower one drops by 9
    target[[65, 66, 67], 1] += 9
    result, _ = fill_opened_mouth(photo, photo, points, target)
    x = round(points[62, 0])
    column = result[:, x].astype(int).sum(1)
    top, bottom = round(target[62, 1]) - 2, round(target[66, 1]) + 2
    teeth = np.flatnonzero(column[top : bottom + 1] > 650) + top  # bright: (245, 245, 235) sums to 725
    middle = points[[62, 66], 1].mean()
    assert abs(teeth.mean() - (middle - 3)) < 1.5  # the teeth rose with the upper lip...
    assert len(teeth) <= 14  # ...unstretched (12 px tall, a pixel of feather either side)...
    assert column[teeth.max() + 3 : round(target[66, 1]) - 2].max() < 650  # ...and what opened below is not teeth


def test_parted_teeth_rows_follow_their_own_lip():
    photo, points = _open_mouth_photo(gap_row=True)
    assert 0.3 < teeth_gap(photo, points) < 0.7
    target = points.copy()
    target[[65, 66, 67], 1] += 8  # the jaw drops by 8 px: the lower row goes with it
    result, _ = fill_opened_mouth(photo, photo, points, target)
    x = round(points[62, 0])
    column = result[:, x].astype(int).sum(1)
    lower_row = round(points[66, 1]) - 3  # bright in the source, just above the lower lip
    assert column[lower_row + 8] > 650 and column[lower_row] < 400  # moved down by 8, dark where it was


@pytest.fixture(scope="module")
def geometry_pipe(shipped_geometry):
    pipe = build_tiny_pipeline()
    return SeganPipeline(parser=pipe.parser, editor=pipe.editor, geometry=shipped_geometry, resolution=64)


@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)).save(path)
    return path


def test_edit_photo_moves_only_the_face_and_adds_no_colour(geometry_pipe, portrait, monkeypatch):
    original = np.asarray(Image.open(portrait))
    monkeypatch.setattr(geometry_pipe.editor, "forward", lambda *a, **k: pytest.fail("editor repainted a photo"))
    result = geometry_pipe.edit_photo(portrait, "surprise")
    edited = np.asarray(result.image)
    changed = np.any(edited != original, axis=-1)
    assert changed.sum() > 200
    face = result.faces[0]
    ys, xs = np.nonzero(changed)
    pad = 0.35 * face.width
    assert xs.min() >= face.x - pad and xs.max() <= face.x + face.width + pad
    assert ys.min() >= face.y - pad and ys.max() <= face.y + face.height + pad
    region = original[max(0, int(face.y - pad)) : int(face.y + face.height + pad), int(face.x - pad) :][
        :, : int(face.width + 2 * pad)
    ]
    low, high = region.reshape(-1, 3).min(0), region.reshape(-1, 3).max(0)
    assert np.all(edited[changed] >= low) and np.all(edited[changed] <= high)
    assert any("Geometry-only" in note for note in result.notes)
    still = geometry_pipe.edit_photo(portrait, "surprise", intensity=0.0)
    assert np.array_equal(np.asarray(still.image), original)


def test_the_geometry_edit_copies_the_photo_once_and_never_writes_into_it(geometry_pipe, portrait, monkeypatch):
    """The mouth is redrawn into the photo warp_photo returned (the edit's one copy), giving the bytes the
    copying fill gives; the input photo is never written."""
    from hf_segan import photo_geometry

    photo = np.asarray(Image.open(portrait)).copy()
    pristine = photo.copy()
    face = find_faces(photo, size=FIELD_SIZE)[0][0]
    condition = expression_condition("surprise", 1.0)
    returned = {}

    def recorded(name, function):
        def call(*args, **kwargs):
            returned[name] = function(*args, **kwargs)
            return returned[name]

        return call

    monkeypatch.setattr(photo_geometry, "warp_photo", recorded("warp", warp_photo))
    monkeypatch.setattr(photo_geometry, "fill_opened_mouth", recorded("fill", fill_opened_mouth))
    edit = edit_face_geometry(photo, face, geometry_pipe.geometry, condition)
    assert returned["fill"][1].any()  # the mouth opened: the fill painted
    assert edit.image is returned["warp"][0] and np.array_equal(photo, pristine)

    def copying_fill(*args, **kwargs):
        return fill_opened_mouth(*args, **{**kwargs, "in_place": False})

    monkeypatch.setattr(photo_geometry, "fill_opened_mouth", copying_fill)
    copied = edit_face_geometry(photo, face, geometry_pipe.geometry, condition)
    assert np.array_equal(edit.image, copied.image) and np.array_equal(edit.changed, copied.changed)
    assert np.array_equal(photo, pristine)


def test_edit_photo_regions_restrict_what_moves(geometry_pipe, portrait):
    original = np.asarray(Image.open(portrait)).astype(int)
    mouth = np.any(np.asarray(geometry_pipe.edit_photo(portrait, "happy", regions=["mouth"]).image) != original, -1)
    eyes = np.any(np.asarray(geometry_pipe.edit_photo(portrait, "happy", regions=["eyes"]).image) != original, -1)
    assert mouth.any() and eyes.any()
    assert np.nonzero(mouth)[0].mean() > np.nonzero(eyes)[0].mean() + 20  # the mouth edit lies below the eyes'
    with pytest.raises(ValueError, match="Unknown regions"):
        geometry_pipe.edit_photo(portrait, "happy", regions=["ears"])


def test_pipeline_with_geometry_saves_and_loads_and_old_folders_still_load(geometry_pipe, tmp_path):
    geometry_pipe.save_pretrained(tmp_path / "new")
    index = json.loads((tmp_path / "new" / "model_index.json").read_text())
    assert index["geometry"] == ["hf_segan.models.geometry", "LandmarkGeometryModel"]
    loaded = SeganPipeline.from_pretrained(tmp_path / "new")
    for (key, a), (_, b) in zip(
        geometry_pipe.geometry.state_dict().items(), loaded.geometry.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), key
    build_tiny_pipeline().save_pretrained(tmp_path / "old")
    assert SeganPipeline.from_pretrained(tmp_path / "old").geometry is None


@pytest.fixture(scope="module")
def astronaut_face():
    rgb = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    faces, _ = find_faces(rgb, "largest", size=FIELD_SIZE)
    return rgb, faces[0]


def test_region_scales_scale_only_their_groups_moves(shipped_geometry, astronaut_face):
    rgb, face = astronaut_face
    condition = expression_condition("happy", 1.0)
    plain = edit_face_geometry(rgb, face, shipped_geometry, condition, 0.5)
    wider = edit_face_geometry(rgb, face, shipped_geometry, condition, 0.5, region_scales={"mouth": 1.4})
    assert plain.applied == wider.applied == 1.0
    mouth, rest = list(SCALE_GROUPS["mouth"]), [i for i in range(68) if i not in SCALE_GROUPS["mouth"]]
    np.testing.assert_allclose(wider.target[mouth] - wider.source[mouth], 1.4 * (plain.target - plain.source)[mouth])
    np.testing.assert_allclose(wider.target[rest], plain.target[rest])
    with pytest.raises(ValueError, match="Unknown group 'ears'"):
        SeganPipeline(parser=None, editor=None, geometry_region_scales={"ears": 2.0})
    with pytest.raises(ValueError, match="positive number"):
        edit_face_geometry(rgb, face, shipped_geometry, condition, region_scales={"mouth": -1.0})


def test_a_fold_at_the_mouth_scales_down_only_the_mouth(shipped_geometry, astronaut_face):
    rgb, face = astronaut_face
    condition = expression_condition("surprise", 1.0)
    plain = edit_face_geometry(rgb, face, shipped_geometry, condition)
    folding = edit_face_geometry(rgb, face, shipped_geometry, condition, region_scales={"mouth": 4.0})
    assert folding.applied < 1.0
    mouth, eyes = list(SCALE_GROUPS["mouth"]), list(REGION_LANDMARKS["eyes"])
    np.testing.assert_allclose(folding.target[eyes], plain.target[eyes])
    mouth_move = np.linalg.norm(folding.target[mouth] - folding.source[mouth], axis=1).mean()
    assert mouth_move < 4.0 * np.linalg.norm(plain.target[mouth] - plain.source[mouth], axis=1).mean()


#: The landmarks each limit holds back: the lids (eye widening) in surprise, the brows (brow descent) in anger.
LIMITED_LANDMARKS = {"surprise": (37, 38, 40, 41, 43, 44, 46, 47), "anger": tuple(range(17, 27))}


def _lid_gaps(points, face):
    upright = points @ face.matrix[:, :2].T + face.matrix[:, 2]
    return np.array([upright[lower, 1] - upright[upper, 1] for upper, lower in EYELID_PAIRS])


def test_surprise_widens_each_eye_by_at_most_half_its_height(shipped_geometry, astronaut_face, monkeypatch):
    rgb, face = astronaut_face
    condition = expression_condition("surprise", 1.0)
    edit = edit_face_geometry(rgb, face, shipped_geometry, condition)
    before, after = _lid_gaps(edit.source, face), _lid_gaps(edit.target, face)
    assert np.all(after <= (1 + MAX_EYE_WIDENING) * before + 1e-6)
    assert np.all(after > 1.2 * before)  # still visibly wider: the limit scales the opening, it does not cancel it
    # the model alone would more than double the smiling astronaut's eyes, so without the limit this test fails
    monkeypatch.setattr(photo_geometry, "MAX_EYE_WIDENING", 10.0)
    unlimited = edit_face_geometry(rgb, face, shipped_geometry, condition)
    assert np.all(_lid_gaps(unlimited.target, face) > (1 + MAX_EYE_WIDENING) * before)


@pytest.mark.parametrize("expression", ["surprise", "anger"])
def test_half_the_intensity_moves_every_landmark_half_as_far_even_where_a_limit_binds(
    shipped_geometry, astronaut_face, expression
):
    rgb, face = astronaut_face
    condition = expression_condition(expression, 1.0)
    full = edit_face_geometry(rgb, face, shipped_geometry, condition, 1.0)
    half = edit_face_geometry(rgb, face, shipped_geometry, condition, 0.5)
    assert full.applied == half.applied == 1.0
    np.testing.assert_allclose(half.target - half.source, 0.5 * (full.target - full.source), atol=1e-9)
    # the limits do bind at full strength here: the model's own moves are longer than those applied
    source = np.asarray(face.landmarks, np.float64)
    predicted = shipped_geometry.predict_targets(torch.from_numpy(source)[None], condition[None])[0].numpy()
    limited = list(LIMITED_LANDMARKS[expression])
    model_move = np.linalg.norm((predicted - source)[limited], axis=1).sum()
    applied_move = np.linalg.norm(((full.target - full.source) @ face.matrix[:, :2].T)[limited], axis=1).sum()
    assert applied_move < 0.9 * model_move


def test_the_eye_limit_leaves_closing_lids_and_sideways_moves_alone():
    source = np.zeros((68, 2))
    for upper, lower in EYELID_PAIRS:
        source[upper], source[lower] = (upper, 10.0), (upper, 14.0)  # gaps of 4 px
    moves = np.zeros((68, 2))
    moves[37], moves[41] = (1.0, -3.0), (0.5, 3.0)  # opens by 6 px, more than the limit allows
    moves[43], moves[47] = (0.0, 1.0), (0.0, -1.0)  # closes: untouched
    limited = limit_eye_widening(source, moves)
    allowed = MAX_EYE_WIDENING * 4.0
    np.testing.assert_allclose(limited[[37, 41]], [(1.0, -allowed / 2), (0.5, allowed / 2)])
    np.testing.assert_array_equal(limited[[43, 47]], moves[[43, 47]])
    np.testing.assert_array_equal(np.delete(limited, [37, 41], 0), np.delete(moves, [37, 41], 0))


def test_warp_without_a_squeeze_is_plain_resampling():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    box = (10, 12, 70, 50)
    displacement = np.zeros((38, 60, 2), np.float32)
    displacement[..., 0], displacement[..., 1] = 0.37, -0.61  # a shift: nothing squeezed, nothing to prefilter
    warped, changed = warp_photo(photo, box, displacement)
    map_x = np.arange(10, 70, dtype=np.float32) + displacement[..., 0]
    map_y = np.arange(12, 50, dtype=np.float32)[:, None] + displacement[..., 1]
    plain = cv2.remap(photo, map_x, map_y, interpolation=RESAMPLING, borderMode=cv2.BORDER_REFLECT)
    inside = photo[12:50, 10:70].reshape(-1, 3)
    assert changed[12:50, 10:70].all() and changed.sum() == 38 * 60
    assert np.array_equal(warped[12:50, 10:70], np.clip(plain, inside.min(0), inside.max(0)))


def test_a_half_pixel_shift_keeps_most_of_the_finest_detail():
    """A shift removes no detail, so an ideal resampler keeps all of it; a 4 x 4 bicubic kernel keeps half the
    Laplacian variance of texture near the pixel scale at a half-pixel offset, which is where a warped face lost
    its sharpness."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (120, 120, 3), dtype=np.uint8).astype(np.float32), (0, 0), 0.7)
    photo = np.clip(128 + 4 * (noise - 128), 0, 255).astype(np.uint8)
    displacement = np.full((120, 120, 2), 0.5, np.float32)
    warped, _ = warp_photo(photo, (0, 0, 120, 120), displacement)
    inside = np.zeros(photo.shape[:2], bool)
    inside[10:-10, 10:-10] = True
    assert sharpness_ratio(photo, warped, inside) > 0.6


def test_an_opening_mouth_is_carried_by_the_jaw():
    points = _face_points()
    moves = np.zeros((68, 2))
    moves[[50, 51, 52, 61, 62, 63], 1] = -4.0  # the upper lip up by 4 crop pixels, the lower one down by 4
    moves[[56, 57, 58, 65, 66, 67], 1] = 4.0
    carried = open_mouth_with_the_jaw(points, moves)
    assert carried[66, 1] - carried[62, 1] == pytest.approx(8.0, abs=0.05)  # the same opening...
    assert -carried[62, 1] <= UPPER_LIP_SHARE * 8.0 + 0.05  # ...mostly below: the upper lip rises by its share
    np.testing.assert_array_equal(carried[[48, 54, 60, 64]], moves[[48, 54, 60, 64]])  # corners stay
    assert carried[8, 1] == pytest.approx(JAW_FOLLOW * carried[[65, 66, 67], 1].mean())  # the chin follows
    # the jaw line less and less toward its ends, which hinge it
    assert 0 < carried[4, 1] < carried[6, 1] < carried[8, 1] and np.all(carried[[0, 16], 1] < 0.1 * carried[8, 1])
    np.testing.assert_array_equal(carried[17:48], moves[17:48])
    closing = -moves
    assert open_mouth_with_the_jaw(points, closing) is closing


@pytest.fixture(scope="module")
def bundled_pipe():
    return SeganPipeline.from_pretrained(default_model_path())


def test_squeezing_features_of_a_soft_photo_keeps_its_sharpness_within_ten_percent(bundled_pipe):
    """Happy narrows the eyes and lifts the mouth; on a photo already softened by a rotation, point-sampling the
    squeezed eyes and lips (no prefilter) made the face box 18% sharper than the photo (issue 20 allows 10%)."""
    photo = rotate_photo(data.astronaut(), 10.0)
    face = find_face(Photo("astronaut_rot+10", "astronaut", photo))
    edited = np.asarray(bundled_pipe.edit_photo(photo, "happy", 1.0).image.convert("RGB"))
    assert abs(sharpness_ratio(photo, edited, box_mask(photo.shape, face.box)) - 1.0) <= SHARPNESS_TOLERANCE


@pytest.fixture(scope="module")
def grace_hopper_photo():
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.asarray(image.convert("RGB"))


def test_surprise_drops_the_jaw_and_keeps_a_wrinkled_face_sharp(bundled_pipe, grace_hopper_photo):
    """SynthFaces opens a mouth both ways, which pushed Grace Hopper's upper lip into the skin under her nose; the
    opening now comes from the jaw. A chin that follows the lower lip in full, or bicubic resampling, took her
    wrinkled face below 90% of its sharpness (issue 20's bound)."""
    photo = grace_hopper_photo
    face = find_face(Photo("grace_hopper", "grace_hopper", photo))
    found, _ = find_faces(photo, "largest", size=FIELD_SIZE)
    edit = edit_face_geometry(photo, found[0], bundled_pipe.geometry, expression_condition("surprise", 1.0))
    upright = (edit.target - edit.source) @ found[0].matrix[:, :2].T
    opening = upright[66, 1] - upright[62, 1]
    assert opening > 0.2 * eye_distance(found[0].landmarks)
    # the upper lip's middle rises by its share (a little more just off the mouth's middle), and the chin drops
    assert -upright[62, 1] <= (UPPER_LIP_SHARE + 0.02) * opening and upright[8, 1] > 0.1 * opening
    source = np.asarray(found[0].landmarks, np.float64)
    condition = expression_condition("surprise", 1.0)
    predicted = bundled_pipe.geometry.predict_targets(torch.from_numpy(source)[None], condition[None])[0].numpy()
    model = predicted - source
    assert -model[62, 1] > 0.4 * (model[66, 1] - model[62, 1])  # the model alone opens the mouth both ways
    edited = np.asarray(bundled_pipe.edit_photo(photo, "surprise", 1.0).image.convert("RGB"))
    report = photo_fidelity(photo, edited, face.points, face.box)
    assert report.sharpness_passed and report.outside_passed, report


def test_an_opened_smile_shows_its_own_shadow_adds_no_new_colour_and_stays_as_sharp(bundled_pipe):
    """The astronaut smiles with her teeth showing and the dark of her mouth only in its corners; surprise opens her
    mouth further. The opening's middle takes that shadow (it used to be repainted in the pink of her lips, the
    only colours near the middle, which read as a tongue), no colour is new for the fidelity metric, and on the
    photo turned by -10 degrees (softened by the rotation) the new edges keep the face within 10% of its
    sharpness (unsoftened, 1.11)."""
    for degrees in (0.0, -10.0):
        photo = rotate_photo(data.astronaut(), degrees)
        face = find_face(Photo("astronaut", "astronaut", photo))
        found, _ = find_faces(photo, "largest", size=FIELD_SIZE)
        scales = bundled_pipe.config["geometry_region_scales"]
        condition = expression_condition("surprise", 1.0)
        edit = edit_face_geometry(photo, found[0], bundled_pipe.geometry, condition, region_scales=scales)
        opening = np.zeros(photo.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(edit.target[60:68]).astype(np.int32)], 1)
        luminance = edit.image[opening > 0] @ [0.299, 0.587, 0.114]
        _, lips = lip_line_colors(photo, edit.source)
        # shadow: darker than half the lips' median; 27% and 18% of the opening (in the lips' pink: 1.2% and 0.7%)
        assert np.mean(luminance < 0.5 * float(lips @ [0.299, 0.587, 0.114])) > 0.1, degrees
        edited = np.asarray(bundled_pipe.edit_photo(photo, "surprise", 1.0).image.convert("RGB"))
        report = photo_fidelity(photo, edited, face.points, face.box)
        assert report.colour_passed and report.sharpness_passed, (degrees, report)


def test_the_opening_takes_the_mouths_own_shadow_and_no_colour_from_elsewhere():
    """The lip line is dark only at its two ends (a smile's corners): that shadow is the mouth's own, so it fills
    the middle of the opening too (the mouth is one place), while a dark colour the face has only on a cheek never
    enters the mouth, and nothing painted is new for the fidelity metric."""
    rng = np.random.default_rng(1)
    points = _face_points(256)
    photo = rng.integers(150, 200, (256, 256, 3), dtype=np.uint8)
    shadow, cheek = np.array([40, 10, 20]), np.array([10, 20, 120])
    for corner in (60, 64):
        cv2.circle(photo, tuple(int(v) for v in np.round(points[corner])), 3, shadow.tolist(), -1)
    cheek_centre = np.round(points[54] + (0.3 * eye_distance(points), 0)).astype(int)
    cv2.circle(photo, tuple(int(v) for v in cheek_centre), 4, cheek.tolist(), -1)
    target = points.copy()
    target[[61, 62, 63], 1] -= 8
    target[[65, 66, 67], 1] += 8
    result, painted = fill_opened_mouth(photo, photo, points, target)
    assert painted.any()
    middle = np.round((target[62] + target[66]) / 2).astype(int)
    assert np.abs(result[middle[1], middle[0]].astype(int) - shadow).max() <= NEARBY_COLOUR_TOLERANCE
    assert np.abs(result[painted].astype(int) - cheek).max(axis=1).min() > 40
    radius = int(NEARBY_COLOUR_RADIUS * eye_distance(points))
    assert new_colour_fraction(photo, result, painted, radius, NEARBY_COLOUR_TOLERANCE, points=points) == 0.0
    # the middle is further than the search radius from both corners: only the mouth rule lets its shadow there
    assert np.linalg.norm(points[[60, 64]] - middle, axis=1).min() > radius
    assert new_colour_fraction(photo, result, painted, radius, NEARBY_COLOUR_TOLERANCE) > 0.0


def test_squeeze_prefilter_blurs_only_the_window_it_reads_with_the_whole_photos_result():
    """The prefilter blurs the part of the photo the warp reads, not the whole photo (a face in a 12 MP photo),
    and must give exactly the samples of the whole photo blurred, at the photo's border too."""
    from hf_segan.warp_field import _remap_blurred

    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8), (0, 0), 1.0)
    for left, top, width, height in [(80, 70, 50, 40), (0, 0, 40, 30), (200, 170, 40, 30)]:
        rows, cols = np.mgrid[top : top + height, left : left + width].astype(np.float32)
        map_x, map_y = cols + 3 * np.sin(rows / 7), rows + 2 * np.cos(cols / 5)
        for sigma in (0.5, 2.0):
            whole = cv2.GaussianBlur(photo, (0, 0), sigma)
            expected = cv2.remap(whole, map_x, map_y, interpolation=RESAMPLING, borderMode=cv2.BORDER_REFLECT)
            np.testing.assert_array_equal(_remap_blurred(photo, map_x, map_y, sigma), expected)


def test_eyes_shut_in_the_photo_stay_shut_and_the_user_is_told(bundled_pipe, astronaut_face):
    rgb, face = astronaut_face
    shut = np.array(face.landmarks, np.float64)
    for upper, lower in EYELID_PAIRS:  # each lower lid 0.2 crop pixels below its upper lid: nearly closed
        shut[lower, 1] = shut[upper, 1] + 0.2
    closed = dataclasses.replace(face, landmarks=shut)
    condition = expression_condition("surprise", 1.0)
    edit = edit_face_geometry(rgb, closed, bundled_pipe.geometry, condition)
    assert edit.eyes_kept_shut
    assert np.all(_lid_gaps(edit.target, face) <= (1 + MAX_EYE_WIDENING) * _lid_gaps(edit.source, face) + 1e-6)
    notes = bundled_pipe.edit_photo(rgb, "surprise", faces=[closed]).notes
    assert any("closed" in note for note in notes)
    # open eyes (the smiling astronaut's, narrow but open) are widened as far as the limit allows, with no such note
    assert not edit_face_geometry(rgb, face, bundled_pipe.geometry, condition).eyes_kept_shut
    assert not any("closed" in note for note in bundled_pipe.edit_photo(rgb, "surprise", faces=[face]).notes)
    # at an intensity that asks for less than a pixel of opening nothing visible was held back, so nothing is said
    assert not edit_face_geometry(rgb, closed, bundled_pipe.geometry, condition, 0.1).eyes_kept_shut
    # an expression that does not open the eyes says nothing about them either
    assert not any("closed" in note for note in bundled_pipe.edit_photo(rgb, "happy", faces=[closed]).notes)
