"""The face-api ports: TFJS reading and conversion, parity with the original's stored output, and the landmark API."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_segan.cli import main
from hf_segan.face_api_weights import DETECTOR_MANIFEST, LANDMARKS_MANIFEST, load_face_api
from hf_segan.landmarks import LANDMARK_GROUPS, NUM_LANDMARKS, detect_landmarks, landmarks_in_box
from hf_segan.tfjs_weights import read_tfjs_weights

REFERENCE = Path(__file__).parent / "data" / "face_api_reference.json"


def _write_manifest(folder: Path, stem: str, tensors: dict[str, np.ndarray], shards: int = 1) -> Path:
    """A float32 TFJS manifest + ``shards`` .bin files holding ``tensors`` in order."""
    data = b"".join(np.ascontiguousarray(value, dtype="<f4").tobytes() for value in tensors.values())
    cut = len(data) // shards
    paths = []
    for index in range(shards):
        chunk = data[index * cut : (index + 1) * cut if index < shards - 1 else len(data)]
        paths.append(f"{stem}.bin" if shards == 1 else f"{stem}-shard{index + 1}of{shards}")
        (folder / paths[-1]).write_bytes(chunk)
    weights = [{"name": name, "shape": list(value.shape), "dtype": "float32"} for name, value in tensors.items()]
    manifest = folder / f"{stem}-weights_manifest.json"
    manifest.write_text(json.dumps([{"paths": paths, "weights": weights}]))
    return manifest


def _separable(prefix: str, c_in: int, c_out: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}/depthwise_filter": (3, 3, c_in, 1),
        f"{prefix}/pointwise_filter": (1, 1, c_in, c_out),
        f"{prefix}/bias": (c_out,),
    }


def _face_api_shapes() -> tuple[dict, dict]:
    """face-api's tensor names and TFJS shapes of the two networks (as in its weight manifests)."""
    widths = [16, 32, 64, 128, 256, 512]
    detector = {"conv0/filters": (3, 3, 3, 16), "conv0/bias": (16,)}
    for index in range(1, 6):
        detector.update(_separable(f"conv{index}", widths[index - 1], widths[index]))
    detector.update({"conv8/filters": (1, 1, 512, 25), "conv8/bias": (25,)})
    landmarks = {"dense0/conv0/filters": (3, 3, 3, 32), "dense0/conv0/bias": (32,)}
    for block, (c_in, c_out) in enumerate([(32, 32), (32, 64), (64, 128), (128, 256)]):
        if block:
            landmarks.update(_separable(f"dense{block}/conv0", c_in, c_out))
        for conv in (1, 2, 3):
            landmarks.update(_separable(f"dense{block}/conv{conv}", c_out, c_out))
    landmarks.update({"fc/weights": (256, 136), "fc/bias": (136,)})
    return detector, landmarks


def _synthetic_face_api_folder(folder: Path) -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    detector, landmarks = (
        {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
        for shapes in _face_api_shapes()
    )
    _write_manifest(folder, "tiny_face_detector_model", detector, shards=2)
    _write_manifest(folder, "face_landmark_68_model", landmarks)
    return detector, landmarks


def test_tfjs_reader_dequantizes_and_reads_shards_in_order(tmp_path):
    values = np.arange(6, dtype="<f4").reshape(2, 3) - 2.5
    quantized = np.array([0, 1, 255, 7], dtype=np.uint8)
    halves = np.array([0.5, -2.0], dtype="<f2")
    data = values.tobytes() + quantized.tobytes() + halves.tobytes()
    (tmp_path / "a.bin").write_bytes(data[:10])
    (tmp_path / "b.bin").write_bytes(data[10:])
    weights = [
        {"name": "dense/w", "shape": [2, 3], "dtype": "float32"},
        {"name": "q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
        {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
    ]
    manifest = tmp_path / "m-weights_manifest.json"
    manifest.write_text(json.dumps([{"paths": ["a.bin", "b.bin"], "weights": weights}]))
    tensors = read_tfjs_weights(manifest)
    assert list(tensors) == ["dense/w", "q", "h"]
    np.testing.assert_array_equal(tensors["dense/w"], values)
    np.testing.assert_array_equal(tensors["q"], [-1.0, -0.5, 126.5, 2.5])
    np.testing.assert_array_equal(tensors["h"], [0.5, -2.0])
    assert all(value.dtype == np.float32 for value in tensors.values())


def test_tfjs_reader_errors_name_the_problem(tmp_path):
    manifest = _write_manifest(tmp_path, "m", {"x": np.zeros((2, 2), np.float32)})
    (tmp_path / "m.bin").write_bytes(b"\0" * 12)
    with pytest.raises(ValueError, match="too few"):
        read_tfjs_weights(manifest)
    (tmp_path / "m.bin").write_bytes(b"\0" * 20)
    with pytest.raises(ValueError, match="describes 16"):
        read_tfjs_weights(manifest)
    (tmp_path / "m.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"m\.bin"):
        read_tfjs_weights(manifest)
    manifest.write_text("{not json")
    with pytest.raises(ValueError, match="not a TFJS weights manifest"):
        read_tfjs_weights(manifest)
    with pytest.raises(FileNotFoundError, match="No TFJS weights manifest"):
        read_tfjs_weights(tmp_path / "absent.json")


def test_conversion_puts_each_tensorflow_value_where_the_port_reads_it(tmp_path):
    detector_tf, landmarks_tf = _synthetic_face_api_folder(tmp_path)
    detector, landmark_net = load_face_api(tmp_path)
    # TensorFlow filters are (kh, kw, in, out), depthwise (kh, kw, channel, 1), dense (in, out).
    assert detector.conv0.weight[5, 2, 0, 1] == torch.tensor(detector_tf["conv0/filters"][0, 1, 2, 5])
    assert detector.separable[2].depthwise.weight[7, 0, 2, 1] == torch.tensor(
        detector_tf["conv3/depthwise_filter"][2, 1, 7, 0]
    )
    assert detector.separable[4].pointwise.weight[300, 200, 0, 0] == torch.tensor(
        detector_tf["conv5/pointwise_filter"][0, 0, 200, 300]
    )
    assert detector.head.bias[24] == torch.tensor(detector_tf["conv8/bias"][24])
    assert landmark_net.blocks[3].convs[2].pointwise.bias[9] == torch.tensor(landmarks_tf["dense3/conv3/bias"][9])
    assert landmark_net.fc.weight[100, 3] == torch.tensor(landmarks_tf["fc/weights"][3, 100])


def test_conversion_rejects_wrong_shapes_and_unknown_tensors(tmp_path):
    detector_tf, landmarks_tf = _synthetic_face_api_folder(tmp_path)
    _write_manifest(tmp_path, "tiny_face_detector_model", {**detector_tf, "conv8/bias": np.zeros(30, np.float32)})
    with pytest.raises(ValueError, match=r"'conv8/bias' has shape \[30\]"):
        load_face_api(tmp_path)
    _write_manifest(tmp_path, "tiny_face_detector_model", {**detector_tf, "conv9/bias": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="unexpected tensor 'conv9/bias'"):
        load_face_api(tmp_path)
    del landmarks_tf["fc/bias"]
    _write_manifest(tmp_path, "tiny_face_detector_model", detector_tf)
    _write_manifest(tmp_path, "face_landmark_68_model", landmarks_tf)
    with pytest.raises(ValueError, match=r"no tensor for FaceLandmark68Net parameters fc\.bias"):
        load_face_api(tmp_path)


def _cli(capsys, *args) -> tuple[int, str]:
    """Exit status and stderr of ``hf-segan ARGS`` (run in-process: the CLI's own error handling is what is tested)."""
    status = main([str(arg) for arg in args])
    return status, capsys.readouterr().err


def test_cli_converts_a_face_api_folder_and_refuses_a_wrong_one(tmp_path, capsys):
    source = tmp_path / "model"
    source.mkdir()
    detector_tf, _ = _synthetic_face_api_folder(source)
    status, err = _cli(capsys, "convert-face-api", tmp_path, tmp_path / "out")
    assert status == 2 and DETECTOR_MANIFEST in err and LANDMARKS_MANIFEST in err
    assert not (tmp_path / "out").exists()
    status, err = _cli(capsys, "convert-face-api", source, tmp_path / "out")
    assert status == 0, err
    from hf_segan.models import TinyFaceDetector

    detector = TinyFaceDetector.from_pretrained(str(tmp_path / "out" / "face_detector"))
    assert detector.conv0.bias[3] == torch.tensor(detector_tf["conv0/bias"][3])
    record = json.loads((tmp_path / "out" / "face_api_source.json").read_text())
    assert set(record["files_sha256"]) == {
        DETECTOR_MANIFEST,
        "tiny_face_detector_model-shard1of2",
        "tiny_face_detector_model-shard2of2",
        LANDMARKS_MANIFEST,
        "face_landmark_68_model.bin",
    }
    status, err = _cli(capsys, "convert-face-api", source, tmp_path / "out")
    assert status == 2 and "--overwrite" in err


# ---- the shipped weights on real photos (scikit-image's astronaut, matplotlib's grace_hopper.jpg) ----


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("skimage")
    pytest.importorskip("matplotlib")
    from hf_segan.face_api_parity import parity_photos

    return parity_photos()


def test_port_matches_face_api_reference_outputs(photos):
    """face-api 1.7.15 (tfjs cpu backend) ran on the same pixels: boxes within 1 px, landmarks within 0.5 px."""
    from hf_segan.face_api_parity import compare_with_reference

    result = compare_with_reference(json.loads(REFERENCE.read_text()))
    for row in result["rows"]:
        assert row["faces_port"] == row["faces_reference"], row
        assert row["border_faces"] == 0, row
    assert result["box_px"] <= 1.0
    assert result["score"] <= 1e-4
    assert result["landmark_px"] <= 0.5
    # face-api shifts its landmarks by the unfloored box corner, not the floored corner it cropped at.
    assert result["landmark_end_to_end_px"] <= 1.0 + 0.5


def _eye_centres(face) -> tuple[np.ndarray, np.ndarray]:
    points = face.points
    return points[LANDMARK_GROUPS["left_eye"]].mean(0), points[LANDMARK_GROUPS["right_eye"]].mean(0)


def _assert_plausible_face(face, rgb):
    x, y, width, height = face.box
    assert 0.5 < face.score <= 1.0
    assert face.points.shape == (NUM_LANDMARKS, 2) and face.points.dtype == np.float64
    inside = (face.points >= (x - 0.25 * width, y - 0.25 * height)) & (
        face.points <= (x + 1.25 * width, y + 1.25 * height)
    )
    assert inside.all()
    left_eye, right_eye = _eye_centres(face)
    mouth = face.points[LANDMARK_GROUPS["outer_lips"]].mean(0)
    nose_tip = face.points[30]
    assert left_eye[0] < right_eye[0]
    eye_line = (left_eye + right_eye) / 2
    assert eye_line[1] < nose_tip[1] < mouth[1]
    assert 0.25 * width < np.linalg.norm(right_eye - left_eye) < 0.7 * width


@pytest.mark.parametrize(
    "name", ["astronaut", "grace_hopper", "astronaut_mirrored", "grace_hopper_rotated_15", "astronaut_rotated_-15"]
)
def test_finds_the_development_faces_flipped_and_rotated(photos, name):
    from hf_segan.face_api_parity import rotated

    rgb = rotated(photos["astronaut"], -15.0) if name == "astronaut_rotated_-15" else photos[name]
    faces = detect_landmarks(rgb)
    assert len(faces) == 1
    _assert_plausible_face(faces[0], rgb)


def test_rotation_turns_the_eye_line(photos):
    upright = detect_landmarks(photos["grace_hopper"])[0]
    from hf_segan.face_api_parity import rotated

    turned = detect_landmarks(rotated(photos["grace_hopper"], 15.0))[0]

    def angle(face):
        left, right = _eye_centres(face)
        return np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))

    # cv2 rotates counter-clockwise for a positive angle, so the image-right eye moves up (smaller y).
    assert angle(turned) - angle(upright) == pytest.approx(-15.0, abs=4.0)


def test_every_face_of_a_two_face_photo_largest_first(photos):
    pair = photos["astronaut_and_grace_hopper"]
    faces = detect_landmarks(pair)
    assert len(faces) == 2
    areas = [face.box[2] * face.box[3] for face in faces]
    assert areas[0] >= areas[1]
    assert faces[0].box[0] > 512 and faces[1].box[0] + faces[1].box[2] < 512 + 20  # Grace Hopper is the larger
    for face in faces:
        _assert_plausible_face(face, pair)
    assert len(detect_landmarks(pair, max_faces=1)) == 1


def test_same_landmarks_when_the_face_is_cut_by_the_border(photos):
    astronaut = photos["astronaut"]
    whole = detect_landmarks(astronaut)[0]
    shift = int(whole.box[0] + 0.2 * whole.box[2])  # cut off the image-left 20 % of the face box
    cut = np.ascontiguousarray(astronaut[:, shift:])
    face = detect_landmarks(cut)[0]
    assert face.box[0] < 0
    moved = face.points + np.array([shift, 0])
    visible = whole.points[:, 0] > shift + 5
    inter_ocular = np.linalg.norm(np.subtract(*_eye_centres(whole)))
    assert np.median(np.linalg.norm(moved[visible] - whole.points[visible], axis=1)) < 0.15 * inter_ocular


def test_large_photo_gives_the_small_photos_landmarks_scaled(photos):
    import cv2

    small = photos["astronaut"]
    large = cv2.resize(small, (2048, 2048), interpolation=cv2.INTER_CUBIC)  # past the 4x pre-shrink threshold
    small_face, large_face = detect_landmarks(small)[0], detect_landmarks(large)[0]
    inter_ocular = np.linalg.norm(np.subtract(*_eye_centres(small_face)))
    error = np.linalg.norm(large_face.points / 4 - small_face.points, axis=1)
    assert np.median(error) < 0.05 * inter_ocular
    assert np.allclose(np.divide(large_face.box, 4), small_face.box, atol=0.05 * small_face.box[2])


def test_landmarks_in_box_match_detection_and_threads_agree(photos):
    rgb = photos["astronaut_and_grace_hopper"]
    faces = detect_landmarks(rgb)
    np.testing.assert_array_equal(landmarks_in_box(rgb, faces[1].box), faces[1].points)
    inputs = [photos["astronaut"], photos["grace_hopper"]]
    sequential = [detect_landmarks(image) for image in inputs]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(detect_landmarks, inputs * 4))
    for expected, got in zip(sequential * 4, threaded, strict=True):
        assert [face.box for face in got] == [face.box for face in expected]
        for face_got, face_expected in zip(got, expected, strict=True):
            np.testing.assert_array_equal(face_got.points, face_expected.points)


def test_no_face_and_bad_input():
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert detect_landmarks(flat) == []
    with pytest.raises(ValueError, match="RGB uint8"):
        detect_landmarks(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="min_score"):
        detect_landmarks(flat, min_score=1.5)
    with pytest.raises(ValueError, match="max_faces"):
        detect_landmarks(flat, max_faces=0)
    with pytest.raises(ValueError, match="four finite numbers"):
        landmarks_in_box(flat, (0, 0, float("nan"), 10))
    with pytest.raises(ValueError, match="at least 1x1"):
        landmarks_in_box(flat, (0, 0, 0.5, 10))
    assert landmarks_in_box(flat, (-50, -50, 80, 80)).shape == (NUM_LANDMARKS, 2)


def test_models_reject_wrong_tensors_with_a_sentence():
    from hf_segan.models import FaceLandmark68Net, TinyFaceDetector

    with pytest.raises(ValueError, match="multiple of 32"):
        TinyFaceDetector()(torch.zeros(1, 3, 100, 100))
    with pytest.raises(ValueError, match=r"\[0.0, 255.0\]"):
        TinyFaceDetector()(torch.full((1, 3, 64, 64), -1.0))
    with pytest.raises(ValueError, match="112x112"):
        FaceLandmark68Net()(torch.zeros(1, 3, 96, 96))
    assert FaceLandmark68Net()(torch.zeros(2, 3, 112, 112)).shape == (2, 68, 2)
    assert TinyFaceDetector()(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 2, 5, 5)
