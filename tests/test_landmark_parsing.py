"""Face parsing from 68 landmarks: regions where the landmarks' polygons are, soft edges, probabilities summing to 1,
usable as the editor's parsing probabilities, and close to SynthFaces' exact labels."""

import cv2
import numpy as np
import pytest
import torch
from synthetic_landmarks import apply_similarity, template_landmarks

from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.landmark_parsing import landmark_parsing_probs
from hf_segan.models.editor import REGION_DILATION, HierarchicalExpressionGenerator

SIZE = 128
LABEL = FACE_PARSING_CLASSES.index


def _pixels_inside(polygon: np.ndarray, margin: float) -> np.ndarray:
    """(N, 2) integer (x, y) pixels at least ``margin`` pixels inside ``polygon`` (negative: outside, that far)."""
    (x0, y0), (x1, y1) = np.floor(polygon.min(axis=0) + margin), np.ceil(polygon.max(axis=0) - margin)
    contour = polygon.astype(np.float32)
    candidates = [(x, y) for x in range(int(x0), int(x1) + 1) for y in range(int(y0), int(y1) + 1)]
    return np.array(
        [p for p in candidates if cv2.pointPolygonTest(contour, (float(p[0]), float(p[1])), True) >= margin]
    )


def _probs_at(probs: torch.Tensor, pixels: np.ndarray, name: str) -> np.ndarray:
    return probs[0, LABEL(name), pixels[:, 1], pixels[:, 0]].numpy()


@pytest.fixture(scope="module")
def open_mouth() -> tuple[np.ndarray, torch.Tensor]:
    points = template_landmarks(SIZE, mouth_open=0.05)
    return points, landmark_parsing_probs(points, SIZE)


def test_probabilities_sum_to_one_for_every_pixel(open_mouth):
    _, probs = open_mouth
    assert probs.shape == (1, len(FACE_PARSING_CLASSES), SIZE, SIZE) and probs.dtype == torch.float32
    assert probs.min() >= 0 and probs.max() <= 1
    torch.testing.assert_close(probs.sum(1), torch.ones(1, SIZE, SIZE))


@pytest.mark.parametrize(
    ("name", "indices"),
    [
        ("l_eye", range(36, 42)),
        ("r_eye", range(42, 48)),
        ("mouth", range(60, 68)),
        ("u_lip", [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]),
        ("l_lip", [54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]),
    ],
)
def test_each_region_covers_the_polygon_of_its_landmarks(name, indices):
    # The region is a smooth curve through its landmarks: every pixel inside their polygon belongs to it, nothing
    # a few pixels outside their convex hull does. At 256 px, where even a lip is several pixels thick.
    size = 256
    points = template_landmarks(size, mouth_open=0.05)
    probs = landmark_parsing_probs(points, size)
    polygon = points[list(indices)]
    inside = _pixels_inside(polygon, margin=2.0)
    assert len(inside) >= 10
    assert _probs_at(probs, inside, name).min() > 0.9
    hull = cv2.convexHull(polygon.astype(np.float32))[:, 0]
    ring = _pixels_inside(hull, margin=-6.0)
    ring = ring[[cv2.pointPolygonTest(hull, (float(x), float(y)), True) < -3.0 for x, y in ring]]
    assert len(ring) >= 10
    assert _probs_at(probs, ring, name).max() < 0.05


def test_brows_nose_skin_and_background_are_where_the_face_is(open_mouth):
    points, probs = open_mouth
    labels = probs[0].argmax(0).numpy()

    def label_at(point: np.ndarray) -> str:
        x, y = np.round(point).astype(int)
        return FACE_PARSING_CLASSES[labels[y, x]]

    assert label_at(points[19]) == "l_brow" and label_at(points[24]) == "r_brow"
    assert label_at(points[29]) == "nose"  # on the bridge, above the tip
    assert label_at((points[8] + points[57]) / 2) == "skin"  # the chin
    assert label_at((points[2] + points[31]) / 2) == "skin"  # a cheek
    assert label_at(points[19] - (0, 6)) == "skin"  # the forehead ...
    assert label_at(points[19] - (0, 25)) == "background"  # ... up to where the hair would begin
    corners = probs[0, LABEL("background"), [0, 0, SIZE - 1, SIZE - 1], [0, SIZE - 1, 0, SIZE - 1]]
    assert corners.min() == 1.0


def test_closed_lips_have_no_inner_mouth():
    probs = landmark_parsing_probs(template_landmarks(SIZE, mouth_open=0.0), SIZE)
    assert probs[0, LABEL("mouth")].max() < 0.5
    labels = probs[0].argmax(0)
    assert (labels == LABEL("u_lip")).sum() > 20 and (labels == LABEL("l_lip")).sum() > 20


def test_edges_are_soft_over_a_pixel_or_two(open_mouth):
    _, probs = open_mouth
    eye = probs[0, LABEL("l_eye")]
    row = eye[round(0.42 * SIZE)]  # across the eye from corner to corner
    ramp = ((row > 0.02) & (row < 0.98)).nonzero().ravel()
    # two edges (one per eye corner), each a few pixels wide, neither hard nor blurred over the eye
    assert 2 <= len(ramp) <= 10
    sharp = landmark_parsing_probs(template_landmarks(SIZE, mouth_open=0.05), SIZE, softness=0.0)[0, LABEL("l_eye")]
    assert ((sharp > 0.02) & (sharp < 0.98)).sum() < ((eye > 0.02) & (eye < 0.98)).sum()


def test_regions_follow_a_tilted_scaled_face():
    center, shift = np.array([SIZE / 2, SIZE / 2]), np.array([5.0, -3.0])
    points = template_landmarks(SIZE, mouth_open=0.05)
    moved = apply_similarity(points - center, 20.0, 0.8, tuple(center + shift))
    upright = landmark_parsing_probs(points, SIZE)[0].argmax(0).numpy().astype(np.uint8)
    tilted = landmark_parsing_probs(moved, SIZE)[0].argmax(0).numpy()
    angle = np.deg2rad(20.0)
    matrix = 0.8 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = np.c_[matrix, center + shift - matrix @ center]
    expected = cv2.warpAffine(upright, affine, (SIZE, SIZE), flags=cv2.INTER_NEAREST)
    face = expected != LABEL("background")
    assert (tilted[face] == expected[face]).mean() > 0.95
    for name in ("l_eye", "r_eye", "mouth", "nose", "l_brow"):
        assert (
            abs((tilted == LABEL(name)).sum() - 0.64 * (upright == LABEL(name)).sum())
            < 0.2 * (upright == LABEL(name)).sum() + 3
        )


def test_batches_and_tensors_give_the_same_probabilities(open_mouth):
    points, probs = open_mouth
    other = template_landmarks(SIZE)
    batch = landmark_parsing_probs(torch.from_numpy(np.stack([points, other])), SIZE)
    torch.testing.assert_close(batch[:1], probs)
    torch.testing.assert_close(batch[1:], landmark_parsing_probs(other, SIZE))
    wide = landmark_parsing_probs(points, (SIZE, SIZE + 32))
    torch.testing.assert_close(wide[..., :SIZE], probs)


@pytest.mark.parametrize("region_source", ["semantic", "box"])
def test_the_editor_takes_them_as_parsing_probabilities(region_source):
    points = template_landmarks(64, mouth_open=0.03)
    probs = landmark_parsing_probs(points, 64)
    editor = HierarchicalExpressionGenerator(
        base_channels=8, num_residual_blocks=1, local_channels=8, region_source=region_source
    )
    masks = editor.compute_region_masks(probs, (64, 64))
    mouth = masks[0, editor.region_names.index("mouth")]
    ys, xs = (mouth > 0.5).nonzero(as_tuple=True)
    lips = points[48:60]
    margin = 2 + REGION_DILATION  # the soft edge, then the editor grows its masks
    assert lips[:, 0].min() - margin <= xs.min() and xs.max() <= lips[:, 0].max() + margin
    assert lips[:, 1].min() - margin <= ys.min() and ys.max() <= lips[:, 1].max() + margin
    output = editor(torch.zeros(1, 3, 64, 64), probs, torch.eye(8)[1:2])
    assert output.images.shape == (1, 3, 64, 64)


def test_masks_match_synthfaces_exact_labels():
    # SynthFaces draws every part from the polygons its landmarks are read off, so its label maps are ground truth.
    synthfaces = pytest.importorskip("hf_segan.data.synthfaces.landmarks")
    from hf_segan.data.synthfaces.params import sample_identity
    from hf_segan.data.synthfaces.render import render_face

    intersections, unions = np.zeros(len(FACE_PARSING_CLASSES)), np.zeros(len(FACE_PARSING_CLASSES))
    for identity_id in range(6):
        identity = sample_identity(identity_id, seed=11)
        for expression in ("neutral", "happy", "surprise"):
            _, truth = render_face(identity, expression, size=SIZE)
            points = synthfaces.synthfaces_landmarks(identity, expression, size=SIZE)
            predicted = landmark_parsing_probs(points, SIZE)[0].argmax(0).numpy()
            for k in range(len(FACE_PARSING_CLASSES)):
                intersections[k] += ((predicted == k) & (truth == k)).sum()
                unions[k] += ((predicted == k) | (truth == k)).sum()
    ious = {name: intersections[LABEL(name)] / unions[LABEL(name)] for name in ("skin", "l_eye", "r_eye", "nose")}
    ious["lips"] = (
        intersections[[LABEL("u_lip"), LABEL("l_lip")]].sum() / unions[[LABEL("u_lip"), LABEL("l_lip")]].sum()
    )
    assert min(ious.values()) > 0.6, ious
    assert np.mean(list(ious.values())) > 0.75, ious


def test_bad_landmarks_raise_value_error():
    with pytest.raises(ValueError, match=r"\(68, 2\) or \(B, 68, 2\)"):
        landmark_parsing_probs(np.zeros(68), SIZE)
    with pytest.raises(ValueError, match="68 finite"):
        landmark_parsing_probs(np.zeros((2, 67, 2)), SIZE)
    with pytest.raises(ValueError, match="size"):
        landmark_parsing_probs(template_landmarks(SIZE), 0)
    with pytest.raises(ValueError, match="softness"):
        landmark_parsing_probs(template_landmarks(SIZE), SIZE, softness=-1.0)
    with pytest.raises(ValueError, match="coincide"):
        landmark_parsing_probs(np.ones((68, 2)), SIZE)
