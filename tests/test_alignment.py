"""Face detection, canonical alignment and paste-back: from Haar boxes on a real photo (scikit-image's
public-domain astronaut), from 68 landmarks (hand-made ones moved by known similarities) and from the landmark net on
real photos (the astronaut and matplotlib's Grace Hopper, who wears glasses), flipped, rotated and side by side."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image
from skimage import data
from synthetic_landmarks import apply_similarity, template_landmarks

from hf_segan import landmarks
from hf_segan.alignment import (
    HAAR_FALLBACK_NOTE,
    AlignedFace,
    FaceBox,
    align_face,
    align_face_from_landmarks,
    alignment_points,
    detect_faces,
    find_faces,
    landmark_template,
    paste_face,
    paste_mask,
)
from hf_segan.constants import CANONICAL_EYE_CENTERS
from hf_segan.landmarks import FaceLandmarks, detect_landmarks, landmarks_in_box


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def face(photo) -> FaceBox:
    faces = detect_faces(photo)
    assert faces, "the astronaut's face must be found"
    return faces[0]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def face_footprint(aligned: AlignedFace, shape: tuple[int, int], threshold: float) -> np.ndarray:
    """Photo pixels where the paste mask, warped back, exceeds ``threshold``."""
    weight = cv2.warpAffine(paste_mask(aligned.size), aligned.inverse, (shape[1], shape[0]))
    return weight > threshold


def test_detects_the_astronaut_face_where_it_is(face):
    # Looking at the 512x512 image: the face (brows to chin) spans about x 175-275, y 65-165; the eyes sit around
    # (200, 100) and (245, 100). Bounds are generous so cascade jitter between OpenCV versions does not matter.
    assert 150 <= face.x <= 200 and 270 <= face.x + face.width <= 300
    assert 50 <= face.y <= 90 and 140 <= face.y + face.height <= 200
    assert face.eye_centers is not None
    (lx, ly), (rx, ry) = face.eye_centers
    assert 185 <= lx <= 215 and 230 <= rx <= 260
    assert 85 <= ly <= 115 and 85 <= ry <= 115


def test_large_photos_are_detected_on_a_downscaled_copy_and_mapped_back(photo, face):
    big = cv2.resize(photo, (1536, 1536), interpolation=cv2.INTER_LINEAR)
    found = detect_faces(big, max_side=512)
    assert found
    assert found[0].x / 3 == pytest.approx(face.x, abs=12)
    assert found[0].width / 3 == pytest.approx(face.width, abs=12)


def test_faces_are_sorted_largest_first(photo):
    small = cv2.resize(photo, (320, 320), interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 1024, 3), 128, dtype=np.uint8)
    canvas[:, :512] = photo
    canvas[96:416, 600:920] = small
    faces = detect_faces(canvas)
    assert len(faces) >= 2
    assert faces[0].area > faces[1].area
    assert faces[0].x < 512 and faces[1].x >= 512


def test_blank_image_has_no_face():
    assert detect_faces(np.full((200, 300, 3), 90, dtype=np.uint8)) == []


def test_eye_alignment_puts_the_eyes_on_the_canonical_template(photo, face):
    aligned = align_face(photo, face, size=96)
    assert aligned.crop.shape == (96, 96, 3) and aligned.crop.dtype == np.uint8
    for (ex, ey), (cx, cy) in zip(face.eye_centers, CANONICAL_EYE_CENTERS, strict=True):
        mapped = aligned.matrix @ np.array([ex, ey, 1.0])
        np.testing.assert_allclose(mapped, [cx * 96, cy * 96], atol=1e-6)
    # The crop really shows the eyes there: it matches a crop sampled directly from the photo at those points.
    x, y = aligned.inverse @ np.array([48.0, 40.0, 1.0])
    assert np.abs(aligned.crop[40, 48].astype(int) - photo[round(y), round(x)].astype(int)).max() < 40


def test_given_eye_centers_override_the_detector(photo, face):
    eyes = ((200.0, 90.0), (250.0, 110.0))  # a tilted pair: the crop must rotate to level them
    aligned = align_face(photo, face, size=64, eye_centers=eyes)
    left, right = (aligned.matrix @ np.array([x, y, 1.0]) for x, y in eyes)
    assert left[1] == pytest.approx(right[1], abs=1e-6)
    assert right[0] - left[0] == pytest.approx(64 * (CANONICAL_EYE_CENTERS[1][0] - CANONICAL_EYE_CENTERS[0][0]))


def test_box_alignment_without_eyes_frames_the_face_like_eye_alignment(photo, face):
    by_eyes = align_face(photo, face, size=64)
    by_box = align_face(photo, FaceBox(face.x, face.y, face.width, face.height), size=64)
    for ex, ey in face.eye_centers:
        a = by_eyes.matrix @ np.array([ex, ey, 1.0])
        b = by_box.matrix @ np.array([ex, ey, 1.0])
        assert np.abs(a - b).max() < 64 * 0.06


def test_margin_zooms_out_around_the_crop_centre(photo, face):
    tight = align_face(photo, face, size=64)
    wide = align_face(photo, face, size=64, margin=2.0)
    tight_scale, wide_scale = (np.sqrt(np.linalg.det(a.matrix[:, :2])) for a in (tight, wide))
    assert wide_scale == pytest.approx(tight_scale / 2)
    (cx, cy), _ = CANONICAL_EYE_CENTERS
    np.testing.assert_allclose(wide.matrix @ [*face.eye_centers[0], 1], [64 * (0.5 + cx) / 2, 64 * (0.5 + cy) / 2])


def test_matrix_and_inverse_round_trip(photo, face):
    aligned = align_face(photo, face, size=80)
    full = np.vstack([aligned.matrix, [0, 0, 1]])
    full_inverse = np.vstack([aligned.inverse, [0, 0, 1]])
    np.testing.assert_allclose(full @ full_inverse, np.eye(3), atol=1e-9)
    a, b = aligned.matrix[0, 0], aligned.matrix[1, 0]
    np.testing.assert_allclose(aligned.matrix[:, :2], [[a, -b], [b, a]])  # rotation + uniform scale only


def test_pasting_the_unmodified_crop_reproduces_the_photo(photo, face):
    aligned = align_face(photo, face, size=128)
    pasted = paste_face(photo, aligned.crop, aligned)
    # only the change is pasted: an edit that changed nothing leaves every full-resolution pixel as it was
    np.testing.assert_array_equal(pasted, photo)


def test_pasting_an_edited_crop_changes_only_the_face(photo, face):
    aligned = align_face(photo, face, size=64)
    edited = np.zeros_like(aligned.crop)
    pasted = paste_face(photo, edited, aligned)
    # The face box grown by half its size on every side bounds the pasted ellipse generously.
    changed = np.any(pasted != photo, axis=2)
    x0, y0 = int(face.x - face.width / 2), int(face.y - face.height / 2)
    x1, y1 = int(face.x + 1.5 * face.width), int(face.y + 1.5 * face.height)
    outside = np.ones_like(changed)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    # ... and the face itself really was replaced (the nose, between eyes and mouth, is now black).
    nose_x, nose_y = int(face.x + face.width / 2), int(face.y + 0.6 * face.height)
    assert pasted[nose_y, nose_x].max() < 10
    assert photo[nose_y, nose_x].max() > 100


def test_paste_mask_is_exactly_zero_off_the_face_ellipse():
    mask = paste_mask(64, feather=0.1)
    assert mask.max() == pytest.approx(1.0) and mask[0].max() == 0 and mask[:, 0].max() == 0
    assert 0 < mask[36, 7:14].max() < 1  # a ramp, not a hard edge


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((32, 32), dtype=np.uint8),
        np.zeros((32, 32, 4), dtype=np.uint8),
        np.zeros((32, 32, 3), dtype=np.float32),
        [[0, 0, 0]],
    ],
)
def test_bad_photos_raise_value_error(bad):
    with pytest.raises(ValueError, match=r"RGB uint8|numpy array"):
        detect_faces(bad)
    with pytest.raises(ValueError, match=r"RGB uint8|numpy array"):
        align_face(bad, FaceBox(0, 0, 10, 10))


def test_bad_alignment_arguments_raise_value_error(photo, face):
    with pytest.raises(ValueError, match="size"):
        align_face(photo, face, size=4)
    with pytest.raises(ValueError, match="margin"):
        align_face(photo, face, margin=0)
    with pytest.raises(ValueError, match="width and height"):
        align_face(photo, FaceBox(10, 10, 0, 20))
    with pytest.raises(ValueError, match="coincide"):
        align_face(photo, face, eye_centers=((5.0, 5.0), (5.0, 5.0)))
    aligned = align_face(photo, face, size=64)
    with pytest.raises(ValueError, match="shape"):
        paste_face(photo, np.zeros((32, 32, 3), dtype=np.uint8), aligned)
    with pytest.raises(ValueError, match="feather"):
        paste_face(photo, aligned.crop, aligned, feather=0.5)


def _landmark_face(points: np.ndarray) -> FaceLandmarks:
    """A face as the landmark detector reports it: its box (x, y, width, height), score and 68 photo points."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return FaceLandmarks(box=(x0, y0, x1 - x0, y1 - y0), score=0.9, points=points)


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(0.0, 1.0, (0.0, 0.0)), (-20.0, 2.5, (130.0, 40.0)), (17.0, 0.7, (-10.0, 90.0))]
)
def test_landmark_alignment_undoes_a_similarity_exactly(angle, scale, shift):
    # The hand-made face has its eye centres, nose tip and mouth corners exactly on the template, so after any
    # rotation, scale and shift the alignment must map every one of its 68 points back to where it was.
    template = template_landmarks(64)
    photo_points = apply_similarity(template, angle, scale, shift)
    photo = np.zeros((240, 320, 3), dtype=np.uint8)
    aligned = align_face_from_landmarks(photo, _landmark_face(photo_points), size=64)
    np.testing.assert_allclose(aligned.landmarks, template, atol=1e-9)
    np.testing.assert_allclose(aligned.matrix @ np.c_[photo_points, np.ones(68)].T, template.T, atol=1e-9)
    a, b = aligned.matrix[0, 0], aligned.matrix[1, 0]
    assert np.hypot(a, b) == pytest.approx(1 / scale) and np.degrees(np.arctan2(b, a)) == pytest.approx(-angle)
    np.testing.assert_allclose(
        aligned.box.eye_centers, apply_similarity(landmark_template(64)[:2], angle, scale, shift)
    )


def test_landmark_alignment_puts_the_photo_pixels_at_the_eyes_on_the_template():
    photo = np.full((200, 300, 3), 40, dtype=np.uint8)
    points = apply_similarity(template_landmarks(128), 12.0, 1.3, (60.0, -30.0))
    for x, y in alignment_points(points)[:2]:
        cv2.circle(photo, (round(x), round(y)), 3, (255, 255, 255), -1)
    aligned = align_face_from_landmarks(photo, _landmark_face(points), size=128)
    for cx, cy in CANONICAL_EYE_CENTERS:
        assert aligned.crop[round(cy * 128), round(cx * 128)].min() > 200
    assert aligned.crop[round(0.56 * 128), 64].max() == 40  # the nose tip: no dot there


def test_landmark_alignment_keeps_the_eyes_within_2_px_on_a_face_longer_than_synthfaces():
    # Real faces have the mouth about 1.15 eye distances below the eyes, SynthFaces about 0.96: a similarity cannot
    # fit both, and the weighted fit must keep the difference off the eyes (2 px at 128 px is the bound).
    points = template_landmarks(128)
    eye_line = points[36:48, 1].mean()
    eye_distance = (CANONICAL_EYE_CENTERS[1][0] - CANONICAL_EYE_CENTERS[0][0]) * 128
    below = points[:, 1] > eye_line + 5
    points[below, 1] = eye_line + (points[below, 1] - eye_line) * 1.15 / 0.96
    aligned = align_face_from_landmarks(np.zeros((128, 128, 3), np.uint8), _landmark_face(points), size=128)
    eyes = alignment_points(aligned.landmarks)[:2]
    error = np.linalg.norm(eyes - landmark_template(128)[:2], axis=1)
    assert error.max() < 2.0
    # the nose and mouth still count: the fit is not the two-eye one, which would leave the eyes exact
    assert error.max() > 0.1 and eye_distance > 30


def test_faces_at_the_photo_border_align_with_the_edge_repeated():
    photo = np.zeros((100, 100, 3), dtype=np.uint8)
    photo[:, :50] = 200
    points = apply_similarity(template_landmarks(128), 0.0, 0.8, (-40.0, 10.0))  # the face's left half is off-photo
    aligned = align_face_from_landmarks(photo, _landmark_face(points), size=128)
    assert aligned.crop.shape == (128, 128, 3)
    np.testing.assert_allclose(aligned.landmarks, template_landmarks(128), atol=1e-9)
    assert aligned.crop[64, 0].min() == 200  # beyond the border the photo's edge column repeats


def test_haar_aligned_faces_have_no_landmarks(photo, face):
    assert align_face(photo, face, size=64).landmarks is None


@pytest.mark.parametrize(
    ("points", "match"),
    [
        (np.zeros((5, 2)), r"68 finite \(x, y\) points.*got \(5, 2\)"),
        (np.full((68, 2), np.nan), "68 finite"),
        ("not points", "68 finite.*got str"),
        (np.ones((68, 2)), "coincide"),
    ],
)
def test_bad_landmarks_raise_value_error(points, match):
    face = SimpleNamespace(box=(0, 0, 10, 10), score=1.0, points=points)  # not validated by FaceLandmarks
    with pytest.raises(ValueError, match=match):
        align_face_from_landmarks(np.zeros((32, 32, 3), np.uint8), face)


def _grace_hopper() -> np.ndarray:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.asarray(image.convert("RGB"))


def _rotated(photo: np.ndarray, degrees: float) -> np.ndarray:
    height, width = photo.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def _eye_error_measured_again(photo: np.ndarray, face: FaceLandmarks) -> float:
    """How far (pixels at 128 px) from the template the eyes of the aligned face are, as the landmark net finds
    them when run again on a 512 px crop of it: this checks the crop itself, not only the fit's arithmetic."""
    big = align_face_from_landmarks(photo, face, size=512)
    x, y, w, h = face.box
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]]) @ big.matrix[:, :2].T + big.matrix[:, 2]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    eyes = alignment_points(landmarks_in_box(big.crop, (x0, y0, x1 - x0, y1 - y0)))[:2] / 4
    return float(np.linalg.norm(eyes - landmark_template(128)[:2], axis=1).max())


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
@pytest.mark.parametrize(("flip", "degrees"), [(False, 0.0), (True, 15.0), (False, -15.0)])
def test_real_faces_align_with_the_eyes_within_2_px_of_the_template(name, flip, degrees):
    # Grace Hopper wears glasses: OpenCV's Haar eye detector finds no eyes on her and the box aligns her hat.
    photo = _grace_hopper() if name == "grace_hopper" else data.astronaut()
    photo = _rotated(photo[:, ::-1] if flip else photo, degrees)
    found = detect_landmarks(photo)
    assert len(found) == 1
    aligned = align_face_from_landmarks(photo, found[0], size=128)
    fitted = np.linalg.norm(alignment_points(aligned.landmarks)[:2] - landmark_template(128)[:2], axis=1)
    assert fitted.max() < 2.0
    assert _eye_error_measured_again(photo, found[0]) < 2.0
    # the head is levelled: the eye line of the crop is horizontal to within a degree or so
    (lx, ly), (rx, ry) = alignment_points(aligned.landmarks)[:2]
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 2.0


@pytest.mark.parametrize("cut", ["left", "top"])
def test_a_real_face_cut_by_the_photo_border_aligns(cut):
    # The astronaut's face spans about x 175-275, y 65-165: cut through it, so the crop reaches past the photo.
    photo = data.astronaut()[:, 190:] if cut == "left" else data.astronaut()[75:]
    aligned, notes = find_faces(photo, size=128)
    assert notes == [] and len(aligned) == 1
    fitted = np.linalg.norm(alignment_points(aligned[0].landmarks)[:2] - landmark_template(128)[:2], axis=1)
    assert fitted.max() < 2.0
    assert _eye_error_measured_again(photo, _as_landmark_face(aligned[0])) < 2.0


def _as_landmark_face(face: AlignedFace) -> FaceLandmarks:
    """The photo-space landmarks of an aligned face, as the detector reported them."""
    points = face.landmarks @ face.inverse[:, :2].T + face.inverse[:, 2]
    return FaceLandmarks(box=(face.box.x, face.box.y, face.box.width, face.box.height), score=1.0, points=points)


def test_every_face_of_a_group_photo_is_aligned_largest_first():
    astronaut, grace = data.astronaut(), _grace_hopper()
    photo = np.full((600, 1400, 3), 120, dtype=np.uint8)
    photo[:, :512] = grace
    photo[44:556, 520:1032] = astronaut
    photo[150:450, 1080:1380] = cv2.resize(astronaut[:, ::-1], (300, 300), interpolation=cv2.INTER_AREA)
    aligned, notes = find_faces(photo, faces="all", size=128)
    assert notes == []
    # one face per portrait, each where its portrait was pasted (the small one's face is about 70 px wide)
    centres = [np.mean(a.box.eye_centers, axis=0) for a in aligned]
    assert len(aligned) == 3
    assert [int(np.searchsorted([512, 1040], x)) for x, _ in centres] == [0, 1, 2]
    assert [a.box.area for a in aligned] == sorted((a.box.area for a in aligned), reverse=True)
    for face in aligned:
        fitted = np.linalg.norm(alignment_points(face.landmarks)[:2] - landmark_template(128)[:2], axis=1)
        assert fitted.max() < 2.0
    largest, _ = find_faces(photo, faces="largest", size=64)
    assert len(largest) == 1  # the same face (its box may differ: the group search also ran a finer detector pass)
    np.testing.assert_allclose(largest[0].box.eye_centers, aligned[0].box.eye_centers, atol=3.0)


def test_without_landmarks_faces_fall_back_to_haar_boxes_with_a_note(photo, monkeypatch):
    monkeypatch.setattr(landmarks, "detect_face_boxes", lambda *args, **kwargs: [])
    aligned, notes = find_faces(photo, size=64)
    assert notes == [HAAR_FALLBACK_NOTE]
    assert len(aligned) == 1 and aligned[0].landmarks is None
    np.testing.assert_array_equal(aligned[0].crop, align_face(photo, detect_faces(photo)[0], size=64).crop)


def test_a_photo_without_faces_gives_no_faces_and_no_note():
    assert find_faces(np.full((200, 300, 3), 90, dtype=np.uint8)) == ([], [])
    with pytest.raises(ValueError, match="faces must be one of"):
        find_faces(np.zeros((64, 64, 3), np.uint8), faces="first")
