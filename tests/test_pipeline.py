"""SeganPipeline: exact save/load, input types, batching, region restriction, whole-photo editing."""

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan.alignment import align_face, detect_faces, paste_mask
from hf_segan.pipeline import SeganPipeline


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_pipeline()


@pytest.fixture(scope="module")
def crops():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]


def test_save_and_load_round_trip_is_exact(pipe, crops, tmp_path):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["parser"] == ["hf_segan.models.unet", "UNetFaceParser"] and index["resolution"] == 64
    loaded = SeganPipeline.from_pretrained(tmp_path)
    a = pipe(crops, "happy", output_type="np")
    b = loaded(crops, "happy", output_type="np")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.parsing, b.parsing)
    for name in ("parser", "editor"):
        for (key, x), (_, y) in zip(
            getattr(pipe, name).state_dict().items(), getattr(loaded, name).state_dict().items(), strict=True
        ):
            assert torch.equal(x, y), f"{name}.{key}"


def test_outputs_types_and_batch_consistency(pipe, crops):
    batch = pipe(crops, "surprise", output_type="np", batch_size=2)
    single = pipe(crops[1], "surprise", output_type="np")
    # float kernels may round differently for another batch size: at most one grey level apart
    assert np.abs(batch.images[1].astype(int) - single.images[0]).max() <= 1
    assert np.abs(batch.images[1].astype(int) - crops[1]).mean() > 1.0
    assert batch.images.shape == (3, 64, 64, 3) and batch.images.dtype == np.uint8
    assert batch.parsing.shape == (3, 64, 64) and batch.region_masks.shape == (3, 3, 64, 64)
    assert batch.attention.shape == (3, 64, 64)
    pil = pipe(Image.fromarray(crops[0]), "surprise").images
    assert isinstance(pil[0], Image.Image) and np.array_equal(np.asarray(pil[0]), batch.images[0])
    tensor = torch.from_numpy(crops[0]).permute(2, 0, 1).float() / 127.5 - 1
    pt = pipe(tensor, "surprise", output_type="pt").images
    assert pt.shape == (1, 3, 64, 64) and pt.min() >= -1 and pt.max() <= 1


@pytest.fixture(scope="module")
def skin_only_pipe():
    """A pipeline whose parser is certain every pixel is skin: no pixel belongs to the mouth group."""
    pipe = build_tiny_pipeline()
    with torch.no_grad():
        pipe.parser.classifier.bias[1] = 50.0
    return pipe


def test_regions_restrict_the_edit(skin_only_pipe, crops):
    free = skin_only_pipe(crops, "happy", output_type="np")
    mouth_only = skin_only_pipe(crops, "happy", regions=["mouth"], output_type="np")
    assert np.abs(free.images.astype(int) - np.stack(crops)).mean() > 1.0  # the editor does change these faces
    assert np.array_equal(mouth_only.images, np.stack(crops))  # but there is no mouth, so nothing may change
    with pytest.raises(ValueError, match=r"Unknown editable region\(s\) \['ears'\]; valid region groups"):
        skin_only_pipe(crops, "happy", regions=["ears"])


def test_inputs_of_other_sizes_keep_untouched_pixels_exactly(skin_only_pipe):
    # The edit is computed at the model's resolution and only its change is resized back: pixels the editor
    # leaves alone stay bit-identical instead of going through a down/up-sampling round trip.
    image = np.random.default_rng(1).integers(0, 255, (100, 80, 3), dtype=np.uint8)
    out = skin_only_pipe(image, "anger", regions=["mouth"], output_type="np")
    assert out.images.shape == (1, 100, 80, 3) and np.array_equal(out.images[0], image)
    assert out.parsing.shape == (1, 100, 80) and np.all(out.parsing == 1)


def test_bad_arguments(pipe, crops):
    with pytest.raises(ValueError, match="valid expressions are"):
        pipe(crops, "smug")
    with pytest.raises(ValueError, match="Intensity must lie in"):
        pipe(crops, "happy", intensity=-0.1)
    with pytest.raises(ValueError, match="output_type must be one of"):
        pipe(crops, output_type="jpeg")
    with pytest.raises(ValueError, match=r"image 1: numpy images must be \(H, W\), \(H, W, 3\) or \(H, W, 4\)"):
        pipe([crops[0], np.zeros((64, 64, 2), np.uint8)])
    with pytest.raises(ValueError, match=r"`image 0` values must lie in \[-1.0, 1.0\]"):
        pipe(torch.full((3, 64, 64), 255.0))  # a 0..255 tensor is refused, not silently clipped
    with pytest.raises(ValueError, match=r"box must be \(x, y, width, height\)"):
        pipe.edit_photo(crops[0], box=(10, 10, 0, 20))


def test_parse_returns_label_maps_at_input_size(pipe, skin_only_pipe):
    labels = pipe.parse([np.zeros((70, 50, 3), np.uint8)])
    assert labels.shape == (1, 70, 50) and labels.dtype == np.int64 and labels.max() < 19
    as_pil = skin_only_pipe.parse(np.zeros((70, 50, 3), np.uint8), output_type="pil")
    assert as_pil[0].mode == "L" and np.all(np.asarray(as_pil[0]) == 1)  # label value = class index (skin)
    as_pt = pipe.parse([np.zeros((70, 50, 3), np.uint8)], output_type="pt")
    assert torch.equal(as_pt, torch.from_numpy(labels))
    assert pipe.overlay(np.zeros((70, 50, 3), np.uint8), labels[0]).size == (50, 70)


def test_photo_edit_changes_only_the_pasted_face(pipe):
    photo = data.astronaut()
    result = pipe.edit_photo(photo, "happy")
    edited = np.asarray(result.image)
    assert edited.shape == photo.shape and len(result.faces) == 1
    # where the warped paste mask is zero the photo must be byte-identical; inside the face it must change
    aligned = align_face(photo, detect_faces(photo)[0], size=64)
    weight = cv2.warpAffine(paste_mask(64), aligned.inverse, photo.shape[1::-1])
    assert np.array_equal(edited[weight == 0], photo[weight == 0])
    assert np.abs(edited[weight > 0.99].astype(int) - photo[weight > 0.99]).mean() > 1.0


def test_photo_alpha_is_kept_and_faceless_photos_are_refused(pipe):
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 128, np.uint8)])
    result = pipe.edit_photo(Image.fromarray(rgba, "RGBA"), "sad")
    assert result.image.mode == "RGBA" and np.all(np.asarray(result.image)[..., 3] == 128)
    with pytest.raises(ValueError, match="no face found in photo"):
        pipe.edit_photo(np.full((200, 200, 3), 127, np.uint8))
    boxed = pipe.edit_photo(data.astronaut(), "sad", box=(177, 67, 93, 93))
    assert boxed.faces[0].width == 93


def test_photo_edit_of_faces_found_before_is_its_own_detections_edit_without_detecting(pipe, monkeypatch):
    from hf_segan import pipeline

    photo = data.astronaut()
    expected = pipe.edit_photo(photo, "fear", 0.6)
    largest = max(detect_faces(photo), key=lambda box: box.area)
    monkeypatch.setattr(pipeline, "detect_faces", lambda *args: pytest.fail("the faces were found before"))
    given = pipe.edit_photo(photo, "fear", 0.6, faces=[largest])
    assert np.array_equal(np.asarray(given.image), np.asarray(expected.image)) and given.faces == expected.faces
    with pytest.raises(ValueError, match=r"faces\[0\] must be a FaceLandmarks, FaceBox or AlignedFace, got str"):
        pipe.edit_photo(photo, faces=["largest"])
    with pytest.raises(ValueError, match="either box or a list of found faces"):
        pipe.edit_photo(photo, faces=[largest], box=(177, 67, 93, 93))
    with pytest.raises(ValueError, match="no face found in photo"):
        pipe.edit_photo(photo, faces=[])


def test_folders_that_are_not_safe_pipelines_are_refused(pipe, tmp_path):
    with pytest.raises(ValueError, match=r"no model_index\.json"):
        SeganPipeline.from_pretrained(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ValueError, match="holds a 'StableDiffusionPipeline', not a SeganPipeline"):
        SeganPipeline.from_pretrained(tmp_path)
    pipe.save_pretrained(tmp_path / "p")
    weights = tmp_path / "p" / "editor" / "diffusion_pytorch_model.safetensors"
    torch.save(pipe.editor.state_dict(), weights.with_suffix(".bin"))
    weights.unlink()
    with pytest.raises(ValueError, match="only safetensors weights are loaded"):
        SeganPipeline.from_pretrained(tmp_path / "p")


def test_half_precision_pipeline_loads_and_edits(pipe, crops, tmp_path):
    pipe.save_pretrained(tmp_path)
    half = SeganPipeline.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert half.parser.dtype == half.editor.dtype == torch.bfloat16
    full = pipe(crops, "happy", output_type="np").images.astype(int)
    out = half(crops, "happy", output_type="np").images.astype(int)
    assert out.shape == full.shape and np.abs(out - full).mean() < 8  # bf16 rounding, same edit


def test_return_dict_false_gives_the_outputs_fields_as_a_tuple(pipe, crops):
    """diffusers' convention: ``return_dict=False`` returns a plain tuple of the output's fields, in order."""
    as_output = pipe(crops, "happy", output_type="np")
    as_tuple = pipe(crops, "happy", output_type="np", return_dict=False)
    assert type(as_tuple) is tuple and len(as_tuple) == 4
    for name, value in zip(("images", "parsing", "region_masks", "attention"), as_tuple, strict=True):
        assert np.array_equal(value, as_output[name]), name


class _Stop(Exception):
    pass


@pytest.mark.parametrize("entry", ["__call__", "parse"])
def test_inputs_go_to_the_execution_device_not_the_weights_device(pipe, crops, monkeypatch, entry):
    """With model CPU offload the weights wait on the CPU while the models run on the accelerator: inputs must be
    sent to ``_execution_device`` (here a stand-in device the weights are not on)."""
    seen = []

    def record(batch, **kwargs):
        seen.append(batch.device)
        raise _Stop

    monkeypatch.setattr(SeganPipeline, "_execution_device", property(lambda self: torch.device("meta")))
    monkeypatch.setattr(pipe.parser, "forward", record)
    with pytest.raises(_Stop):
        getattr(pipe, entry)(crops)
    assert seen == [torch.device("meta")] and pipe.parser.device == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="model CPU offload needs an accelerator")
def test_model_cpu_offload_edits_as_the_pipeline_on_the_accelerator(crops, tmp_path):
    build_tiny_pipeline().save_pretrained(tmp_path)
    on_device = SeganPipeline.from_pretrained(tmp_path).to("cuda")
    offloaded = SeganPipeline.from_pretrained(tmp_path)
    offloaded.enable_model_cpu_offload()
    assert offloaded._execution_device.type == "cuda" and offloaded.editor.device.type == "cpu"
    expected = on_device(crops, "happy", output_type="np")
    edited = offloaded(crops, "happy", output_type="np")
    assert np.array_equal(edited.images, expected.images) and np.array_equal(edited.parsing, expected.parsing)
    assert np.array_equal(offloaded.parse(crops), on_device.parse(crops))
