"""Glasses: found on Grace Hopper (who wears them) and not on the astronaut (who does not), in every view of the
development set; found on the astronaut once a frame is drawn on her; and a face with glasses keeps its frame (where
the landmarks put its brows) still in a geometric edit while its brows move above it, with a note saying why."""

import cv2
import numpy as np
import pytest
from PIL import Image

from hf_segan.alignment import find_faces
from hf_segan.cli import main
from hf_segan.expressions import expression_condition
from hf_segan.glasses import BRIDGE_EDGE, RIM_EDGE, glasses_edges, wears_glasses
from hf_segan.photo_evaluation import development_photos
from hf_segan.photo_geometry import (
    BROWS_ABOVE_FRAME,
    FIELD_SIZE,
    MAX_BROW_DESCENT,
    MAX_FRAME_GAP_STRETCH,
    SCALE_GROUPS,
    brows_above_frame,
    edit_face_geometry,
)
from hf_segan.pipeline import SeganPipeline, default_model_path
from hf_segan.warp_field import eye_distance

BROWS = list(SCALE_GROUPS["brows"])


@pytest.fixture(scope="module")
def views():
    """Each development view (plain, mirrored, turned by -10 and +10 degrees) and its largest aligned face."""
    return {
        photo.name: (photo, find_faces(photo.rgb, "largest", size=FIELD_SIZE)[0][0]) for photo in development_photos()
    }


@pytest.mark.parametrize("name", ["grace_hopper", "grace_hopper_flip", "grace_hopper_rot-10", "grace_hopper_rot+10"])
def test_glasses_are_found_on_grace_hopper(views, name):
    _, face = views[name]
    assert wears_glasses(face.crop, face.landmarks)


@pytest.mark.parametrize("name", ["astronaut", "astronaut_flip", "astronaut_rot-10", "astronaut_rot+10"])
def test_no_glasses_on_the_astronaut(views, name):
    _, face = views[name]
    assert not wears_glasses(face.crop, face.landmarks)


def _draw_frame(crop: np.ndarray, points: np.ndarray, bridge: bool) -> np.ndarray:
    """A dark frame drawn on the crop: a rectangle around each eye, and the bridge between them if asked."""
    drawn = crop.copy()
    distance = eye_distance(points)
    for eye in (slice(36, 42), slice(42, 48)):
        centre = points[eye].mean(0)
        half = np.array([0.36, 0.3]) * distance
        corners = np.round([centre - half, centre + half]).astype(int)
        cv2.rectangle(drawn, tuple(map(int, corners[0])), tuple(map(int, corners[1])), (25, 20, 20), 2)
    if bridge:
        y = round(points[36:48, 1].mean())
        x0, x1 = round(points[36:42, 0].mean() + 0.36 * distance), round(points[42:48, 0].mean() - 0.36 * distance)
        cv2.line(drawn, (x0, y), (x1, y), (25, 20, 20), 2)
    return drawn


def test_blur_and_size_do_not_change_the_answer(views):
    """A quarter-size Grace Hopper still wears glasses; a blurred astronaut, whose softened lower lids pass the
    rims' threshold, still does not: the bridge tells them apart."""
    grace, _ = views["grace_hopper"]
    small = cv2.resize(grace.rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    face = find_faces(small, "largest", size=FIELD_SIZE)[0][0]
    assert wears_glasses(face.crop, face.landmarks)
    astronaut, _ = views["astronaut"]
    face = find_faces(cv2.GaussianBlur(astronaut.rgb, (0, 0), 2), "largest", size=FIELD_SIZE)[0][0]
    bridge, *rims = glasses_edges(face.crop, face.landmarks)
    assert min(rims) >= RIM_EDGE and bridge < BRIDGE_EDGE and not wears_glasses(face.crop, face.landmarks)


def test_a_frame_drawn_on_a_bare_face_is_found_and_needs_its_bridge(views):
    _, face = views["astronaut"]
    assert wears_glasses(_draw_frame(face.crop, face.landmarks, bridge=True), face.landmarks)
    # rims without a bridge: lines under the eyes alone (wrinkles, a lid's shadow) are not glasses
    assert not wears_glasses(_draw_frame(face.crop, face.landmarks, bridge=False), face.landmarks)


@pytest.fixture(scope="module")
def bundled():
    return SeganPipeline.from_pretrained(default_model_path())


def _vertical_flow(before: np.ndarray, after: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Vertical optical flow (photo pixels, up negative) from ``before`` to ``after`` at ``points`` (N, 2)."""
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (before, after)]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey[0], grey[1], None)
    cols, rows = np.round(points).astype(int).T
    return flow[rows, cols, 1]


def test_a_face_with_glasses_keeps_its_frame_still_and_moves_the_brows_above_it(bundled, views):
    """The landmarks put Grace Hopper's brows on her frame's top bar: surprise leaves that line where it was (the
    frame does not bend) and raises the skin just above it, where her brows are, while her eyes still open."""
    photo, face = views["grace_hopper"]
    condition = expression_condition("surprise", 1.0)
    edit = edit_face_geometry(photo.rgb, face, bundled.geometry, condition)
    assert edit.glasses
    np.testing.assert_array_equal(edit.target[BROWS], edit.source[BROWS])
    assert np.abs(edit.target[36:48] - edit.source[36:48]).max() > 1.0  # the eyes still open
    distance = eye_distance(edit.source)
    inner = edit.source[[18, 19, 20, 21, 22, 23, 24, 25]]  # the brows' ends lie where the frame curves
    frame = _vertical_flow(photo.rgb, edit.image, inner)
    above = _vertical_flow(photo.rgb, edit.image, inner - (0, 0.12 * distance))
    # the frame's line moves by under a pixel (its lower rims follow the widening eyes a little), the brows above
    # it rise; moving the landmarks' brows instead takes the frame up by about 10 pixels
    assert np.abs(frame).max() < 1.0, frame
    assert above.mean() < -1.0, above
    free = edit_face_geometry(photo.rgb, face, bundled.geometry, condition, glasses=False)
    assert _vertical_flow(photo.rgb, free.image, inner).mean() < -5.0
    note = [n for n in bundled.edit_photo(photo.rgb, "surprise", 1.0).notes if "glasses" in n]
    assert note and "frame was held still" in note[0]
    # without glasses the same expression raises the landmarks' brows themselves
    bare_photo, bare = views["astronaut"]
    bare_edit = edit_face_geometry(bare_photo.rgb, bare, bundled.geometry, condition)
    assert not bare_edit.glasses
    assert (bare_edit.source[BROWS, 1] - bare_edit.target[BROWS, 1]).mean() > 1.0


def test_the_caller_can_say_whether_the_faces_wear_glasses(bundled, views, tmp_path):
    """Detection can be wrong (thin frames above visible brows, a bare face with glasses-like lines): glasses=False
    moves Grace Hopper's brows, glasses=True holds the astronaut's, and the notes then do not claim a detection."""
    grace, face = views["grace_hopper"]
    condition = expression_condition("surprise", 1.0)
    moved = edit_face_geometry(grace.rgb, face, bundled.geometry, condition, glasses=False)
    assert not moved.glasses and np.abs(moved.target[BROWS] - moved.source[BROWS]).max() > 1.0
    astronaut, bare = views["astronaut"]
    held = edit_face_geometry(astronaut.rgb, bare, bundled.geometry, condition, glasses=True)
    assert held.glasses
    np.testing.assert_array_equal(held.target[BROWS], held.source[BROWS])
    result = bundled.edit_photo(astronaut.rgb, "surprise", 1.0, glasses=True)
    assert not [note for note in result.notes if "glasses" in note]
    with pytest.raises(ValueError, match="glasses must be None"):
        bundled.edit_photo(astronaut.rgb, "surprise", glasses="yes")
    # the CLI's --glasses gives the same photo as the Python argument
    Image.fromarray(astronaut.rgb).save(tmp_path / "astronaut.png")
    assert (
        main(
            [
                "edit",
                str(tmp_path / "astronaut.png"),
                "--out",
                str(tmp_path / "out"),
                "--expression",
                "surprise",
                "--glasses",
                "yes",
            ]
        )
        == 0
    )
    written = np.asarray(Image.open(tmp_path / "out" / "astronaut.png").convert("RGB"))
    np.testing.assert_array_equal(written, np.asarray(result.image.convert("RGB")))


def test_the_brows_above_a_frame_rise_and_fall_within_their_gap(views):
    """The brows carried above a frame sit a fixed height above it and move by at most half that height up (the
    skin between stretches by half) and 0.4 of it down (it bunches), whatever the model asks."""
    _, face = views["grace_hopper"]
    source = np.asarray(face.landmarks, np.float64)
    height = BROWS_ABOVE_FRAME * eye_distance(source)
    for asked, allowed in ((-10.0, -MAX_FRAME_GAP_STRETCH * height), (10.0, MAX_BROW_DESCENT * height), (0.5, 0.5)):
        moves = np.zeros((68, 2))
        moves[BROWS] = (0.3, asked)
        points, carried = brows_above_frame(source, moves)
        np.testing.assert_allclose(points, source[BROWS] - (0, height))
        np.testing.assert_allclose(carried, np.tile([0.3, allowed], (10, 1)))
