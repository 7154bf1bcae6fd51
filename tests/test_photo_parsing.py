"""Parsing whole photos: faces aligned and parsed on their crops, labels mapped back onto the photo
(``SeganPipeline.parse_photo`` and ``hf-segan parse PHOTO``)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan import landmarks
from hf_segan.alignment import HAAR_FALLBACK_NOTE, align_found_faces, alignment_points, locate_faces
from hf_segan.cli import main
from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.landmarks import detect_landmarks
from hf_segan.photo_parsing import labels_on_photo

LABEL = FACE_PARSING_CLASSES.index


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_pipeline()


@pytest.fixture(scope="module")
def astronaut_points() -> np.ndarray:
    """The astronaut's 68 landmarks in photo pixels, found independently of parse_photo's own alignment."""
    return detect_landmarks(data.astronaut())[0].points


def _centroid(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    ys, xs = np.nonzero(np.isin(labels, [LABEL(name) for name in names]))
    return np.array([xs.mean(), ys.mean()])


def test_labels_sit_on_the_face_of_the_photo(pipe, astronaut_points):
    photo = data.astronaut()
    result = pipe.parse_photo(photo)
    assert result.parser == "landmarks" and result.notes == [] and len(result.faces) == 1
    labels = result.labels
    assert labels.shape == photo.shape[:2] and labels.dtype == np.uint8
    # each part where the photo's landmarks put it (within a few pixels of a 45 px eye distance)
    mouth = _centroid(labels, ("u_lip", "l_lip", "mouth"))
    assert np.linalg.norm(mouth - astronaut_points[48:60].mean(axis=0)) < 4
    for name, eye in zip(("l_eye", "r_eye"), alignment_points(astronaut_points)[:2], strict=True):
        assert np.linalg.norm(_centroid(labels, (name,)) - eye) < 3
    assert np.linalg.norm(_centroid(labels, ("nose",)) - astronaut_points[30]) < 8
    # background everywhere away from the face: beyond the landmarks' extent grown by a third of its size
    (x0, y0), (x1, y1) = astronaut_points.min(axis=0), astronaut_points.max(axis=0)
    grow = (x1 - x0) / 3
    outside = np.ones_like(labels, dtype=bool)
    outside[int(y0 - 2 * grow) : int(y1 + grow), int(x0 - grow) : int(x1 + grow)] = False
    assert (labels[outside] == 0).all() and (labels[~outside] == LABEL("skin")).sum() > 2000


def test_auto_takes_the_learned_parser_only_for_a_model_trained_on_real_photos(pipe):
    photo = data.astronaut()
    real = build_tiny_pipeline()
    real.editor.register_to_config(trained_on_real_photos=True)
    result = real.parse_photo(photo)
    assert result.parser == "model"
    face = result.faces[0]
    # the learned parser's labels on the crop, warped back: compare at the crop's centre, mapped into the photo
    crop_labels = real.parse(face.crop)[0]
    x, y = np.rint(face.inverse @ [face.size / 2, face.size / 2, 1.0]).astype(int)
    assert result.labels[y, x] == crop_labels[face.size // 2, face.size // 2]
    assert pipe.parse_photo(photo, parser="model").parser == "model"


def test_the_learned_parser_reads_faces_aligned_at_its_own_resolution():
    """A parser trained at another side than the editor (e.g. a converted 512 px BiSeNet) must get crops cut at
    its side from the photo, not the editor's smaller crops upsampled."""
    pipe = build_tiny_pipeline()
    pipe.parser.register_to_config(input_resolution=128)
    assert (pipe.config.resolution, pipe.parser_resolution) == (64, 128)
    result = pipe.parse_photo(data.astronaut(), faces="largest", parser="model")
    face = result.faces[0]
    assert face.crop.shape == (128, 128, 3)
    x, y = np.rint(face.inverse @ [64.0, 64.0, 1.0]).astype(int)
    assert result.labels[y, x] == pipe.parse(face.crop)[0][64, 64]


def test_faces_found_before_are_aligned_at_the_parsers_side_as_its_own_detection_would(monkeypatch):
    pipe = build_tiny_pipeline()
    pipe.parser.register_to_config(input_resolution=128)
    photo = data.astronaut()
    found, _ = locate_faces(photo, "largest")
    expected = {parser: pipe.parse_photo(photo, faces="largest", parser=parser) for parser in ("model", "landmarks")}

    def no_detection(*args, **kwargs):
        raise AssertionError("the faces were found before: nothing is detected again")

    monkeypatch.setattr(landmarks, "detect_face_boxes", no_detection)
    monkeypatch.setattr(landmarks, "landmarks_in_box", no_detection)
    for parser, reference in expected.items():
        result = pipe.parse_photo(photo, faces=found, parser=parser)
        np.testing.assert_array_equal(result.labels, reference.labels)
        assert result.faces[0].size == 128 and np.array_equal(result.faces[0].matrix, reference.faces[0].matrix)
    aligned_at_parser_side = align_found_faces(photo, found, size=128)
    np.testing.assert_array_equal(
        pipe.parse_photo(photo, faces=aligned_at_parser_side, parser="model").labels, expected["model"].labels
    )


def test_faces_found_before_of_a_wrong_kind_or_side_are_refused(pipe):
    photo = data.astronaut()
    with pytest.raises(ValueError, match=r"faces\[0\] must be a FaceLandmarks, FaceBox or AlignedFace, got tuple"):
        pipe.parse_photo(photo, faces=[(10, 20, 100, 100)])
    with pytest.raises(ValueError, match="or a list of faces"):
        pipe.parse_photo(photo, faces=np.zeros((1, 4)))
    small = align_found_faces(photo, locate_faces(photo)[0], size=32)
    with pytest.raises(ValueError, match="AlignedFace of side 32, but side 64 is needed"):
        pipe.parse_photo(photo, faces=small)
    with pytest.raises(ValueError, match="no face found in photo"):
        pipe.parse_photo(photo, faces=[])


def test_without_landmarks_auto_falls_back_to_the_model_with_notes_and_landmarks_refuses(pipe, monkeypatch):
    monkeypatch.setattr(landmarks, "detect_face_boxes", lambda *args, **kwargs: [])
    result = pipe.parse_photo(data.astronaut())
    assert result.parser == "model" and result.faces[0].landmarks is None
    assert result.notes[0] == HAAR_FALLBACK_NOTE and "parsed by the model's parser" in result.notes[1]
    with pytest.raises(ValueError, match="parser 'landmarks' needs face landmarks"):
        pipe.parse_photo(data.astronaut(), parser="landmarks")


def test_threads_get_what_a_sequential_run_gets(pipe):
    photos = [data.astronaut(), data.astronaut()[:, ::-1].copy(), data.astronaut()[40:, 30:].copy()]
    sequential = [pipe.parse_photo(photo).labels for photo in photos]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda photo: pipe.parse_photo(photo).labels, photos))
    for expected, got in zip(sequential, threaded, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_bad_requests_are_refused(pipe):
    with pytest.raises(ValueError, match="parser must be one of"):
        pipe.parse_photo(data.astronaut(), parser="bisenet")
    with pytest.raises(ValueError, match="no face found in photo"):
        pipe.parse_photo(np.full((120, 160, 3), 90, np.uint8))


def _square_face(side: int, value: int, strength: float = 1.0) -> np.ndarray:
    """(19, side, side) probabilities: background, with a nose square of ``strength`` in the middle half."""
    probs = np.zeros((len(FACE_PARSING_CLASSES), side, side), np.float32)
    probs[0] = 1.0
    quarter = side // 4
    probs[0, quarter : 3 * quarter, quarter : 3 * quarter] = 1.0 - strength
    probs[value, quarter : 3 * quarter, quarter : 3 * quarter] = strength
    return probs


def test_crop_probabilities_are_warped_to_where_the_crop_came_from():
    # A 32 px crop of the photo square x 100-164, y 20-84 (photo -> crop: scale 0.5, shift): its middle half is the
    # photo square x 116-148, y 36-68.
    matrix = np.array([[0.5, 0.0, -50.25], [0.0, 0.5, -10.25]])
    labels = labels_on_photo((100, 200), [(_square_face(32, LABEL("nose")), matrix)])
    assert labels.shape == (100, 200)
    ys, xs = np.nonzero(labels == LABEL("nose"))
    assert abs(xs.min() - 116) <= 1 and abs(xs.max() - 147) <= 1 and abs(ys.min() - 36) <= 1 and abs(ys.max() - 67) <= 1
    assert set(np.unique(labels)) == {0, LABEL("nose")}
    # a crop reaching past the photo's border is clipped, not wrapped
    shifted = matrix.copy()
    shifted[0, 2] -= 40.0  # the crop now covers photo x 180-244, its nose x 196-227
    _, xs = np.nonzero(labels_on_photo((100, 200), [(_square_face(32, LABEL("nose")), shifted)]) == LABEL("nose"))
    assert abs(xs.min() - 196) <= 1 and xs.max() == 199


def test_where_faces_overlap_the_one_claiming_a_pixel_more_strongly_wins():
    matrix = np.array([[0.5, 0.0, -50.25], [0.0, 0.5, -10.25]])
    weak, strong = _square_face(32, LABEL("nose"), 0.6), _square_face(32, LABEL("mouth"), 0.9)
    for order in ([(weak, matrix), (strong, matrix)], [(strong, matrix), (weak, matrix)]):
        labels = labels_on_photo((100, 200), order)
        assert set(np.unique(labels)) == {0, LABEL("mouth")}


def test_cli_parses_photos_into_photo_sized_label_maps(tiny_pipeline_dir, tmp_path, capsys, astronaut_points):
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    Image.new("RGB", (160, 120), (90, 90, 90)).save(tmp_path / "wall.png")
    code = main(["parse", str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(tiny_pipeline_dir)])
    assert code == 2
    assert "wall.png: no face found" in capsys.readouterr().err
    labels = np.asarray(Image.open(tmp_path / "out" / "astronaut_labels.png"))
    assert labels.shape == (512, 512)
    mouth = _centroid(labels, ("u_lip", "l_lip", "mouth"))
    assert np.linalg.norm(mouth - astronaut_points[48:60].mean(axis=0)) < 4
    assert np.asarray(Image.open(tmp_path / "out" / "astronaut_overlay.png")).shape == (512, 512, 3)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["astronaut_labels.png", "astronaut_overlay.png"]


def test_cli_parses_aligned_crops_with_landmark_masks(tiny_pipeline_dir, tmp_path, pipe):
    face = pipe.parse_photo(data.astronaut()).faces[0]
    big = np.asarray(Image.fromarray(face.crop).resize((128, 128), Image.BICUBIC))
    Image.fromarray(big).save(tmp_path / "crop.png")
    args = ["parse", str(tmp_path / "crop.png"), "--out", str(tmp_path / "o"), "--model", str(tiny_pipeline_dir)]
    assert main([*args, "--aligned"]) == 0
    labels = np.asarray(Image.open(tmp_path / "o" / "crop_labels.png"))
    # the crop's own landmarks (scaled to 128 px) say where the mouth is; the net found it again on the crop
    expected = face.landmarks[48:60].mean(axis=0) * 128 / face.size + (128 / face.size - 1) / 2
    assert np.linalg.norm(_centroid(labels, ("u_lip", "l_lip", "mouth")) - expected) < 4
