"""Edited photos are written the way their source was stored: format, mode, bit depth, orientation and metadata
kept, every pixel the edit did not touch unchanged (exactly for lossless formats, as closely as JPEG allows for
JPEG), files with the umask's permissions, and NaN/inf images refused at the door."""

import io as stdio
import os

import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from PIL import Image, ImageCms, JpegImagePlugin
from skimage import data

from hf_segan import io
from hf_segan.alignment import detect_faces
from hf_segan.cli import main

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()[:320, 64:384]


@pytest.fixture(scope="module")
def far_from_face(photo):
    """Pixels outside twice the detected face box: the paste region (an ellipse inside the aligned crop) never
    reaches them."""
    face = detect_faces(photo)[0]
    far = np.ones(photo.shape[:2], bool)
    cx, cy = face.x + face.width / 2, face.y + face.height / 2
    far[max(0, int(cy - face.height)) : int(cy + face.height), max(0, int(cx - face.width)) : int(cx + face.width)] = 0
    return far


@pytest.fixture
def edit(tiny_pipeline_dir, tmp_path):
    """``hf-segan edit SOURCE`` in process; returns the result's path."""

    def run(source):
        out = tmp_path / "out"
        assert main(["edit", str(source), "--out", str(out), "--model", str(tiny_pipeline_dir)]) == 0
        return out / source.name

    return run


def test_jpeg_keeps_its_tables_metadata_and_untouched_pixels(edit, tmp_path, photo, far_from_face):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    source = tmp_path / "p.jpg"
    Image.fromarray(photo).save(source, quality=90, exif=exif, icc_profile=ICC, dpi=(300, 300))
    result = edit(source)
    original, edited = Image.open(source), Image.open(result)
    assert edited.format == "JPEG" and edited.quantization == original.quantization
    assert JpegImagePlugin.get_sampling(edited) == JpegImagePlugin.get_sampling(original)
    assert edited.getexif()[0x010F] == "TestCam" and edited.info["icc_profile"] == ICC
    assert edited.info["dpi"] == (300, 300)
    before, after = np.asarray(original).astype(int), np.asarray(edited).astype(int)
    assert np.abs(after - before)[~far_from_face].max() > 10  # the face was edited
    # Far from the face, the result is as close as re-encoding the untouched decoded pixels with the source's own
    # tables can be (JPEG's floor; quality 75 as before this fix moved them by up to 57 levels).
    buffer = stdio.BytesIO()
    original.save(buffer, "JPEG", quality="keep")
    floor = np.abs(np.asarray(Image.open(buffer)).astype(int) - before)[far_from_face]
    far = np.abs(after - before)[far_from_face]
    assert far.max() <= floor.max() and far.mean() <= floor.mean() * 1.05


def test_exif_orientation_is_written_back_with_the_stored_pixels(edit, tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, displayed upright
    source = tmp_path / "r.png"
    Image.fromarray(np.rot90(photo, 1).copy()).save(source, exif=exif)  # rot90 undone by orientation 6
    assert np.array_equal(io.load_image(source).rgb, photo)
    result = edit(source)
    edited = Image.open(result)
    assert edited.getexif()[0x0112] == 6 and edited.size == Image.open(source).size
    assert io.load_image(result).rgb.shape == photo.shape


def test_png_keeps_text_icc_dpi_and_every_untouched_pixel(edit, tmp_path, photo, far_from_face):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Description", "holiday")
    source = tmp_path / "p.png"
    Image.fromarray(photo).save(source, pnginfo=info, icc_profile=ICC, dpi=(150, 150))
    edited = Image.open(edit(source))
    assert edited.format == "PNG" and edited.mode == "RGB" and edited.text["Description"] == "holiday"
    assert edited.info["icc_profile"] == ICC and tuple(round(v) for v in edited.info["dpi"]) == (150, 150)
    after = np.asarray(edited)
    assert np.array_equal(after[far_from_face], photo[far_from_face]) and not np.array_equal(after, photo)


def test_grayscale_stays_grayscale_without_colour(edit, tmp_path, photo, far_from_face):
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    source = tmp_path / "g.png"
    Image.fromarray(gray).save(source)
    edited = Image.open(edit(source))
    assert edited.mode == "L"
    after = np.asarray(edited)
    assert np.array_equal(after[far_from_face], gray[far_from_face]) and not np.array_equal(after, gray)


def test_sixteen_bit_keeps_sixteen_bits_outside_the_edit(edit, tmp_path, photo, far_from_face):
    gray = np.asarray(Image.fromarray(photo).convert("L")).astype(np.uint16) * 257
    gray += np.random.default_rng(0).integers(0, 200, gray.shape).astype(np.uint16)  # detail below 8 bits
    source = tmp_path / "g16.png"
    Image.fromarray(gray).save(source)
    edited = Image.open(edit(source))
    assert edited.mode == "I;16"
    after = np.asarray(edited)
    assert np.array_equal(after[far_from_face], gray[far_from_face])
    changed = after != gray
    assert changed.any() and not (after[changed] % 257 == 0).all()  # edited pixels keep their low bits too


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_results_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = io.save_image_atomic(np.zeros((8, 8, 3), np.uint8), tmp_path / "x.png")
        with io.atomic_path(tmp_path / "card.md") as tmp:  # what ONNX exports and model cards are written through
            tmp.write_text("text")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "card.md").stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md", "x.png"]  # no temporary file left


def _nan_image_file(path):
    values = np.full((40, 40), 0.5, np.float32)
    values[3, 4] = np.nan
    Image.fromarray(values, mode="F").save(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: np.full((40, 40, 3), np.nan, np.float32),
        lambda tmp: torch.full((3, 40, 40), float("inf")),
        lambda tmp: Image.fromarray(np.full((40, 40), np.nan, np.float32), mode="F"),
        lambda tmp: _nan_image_file(tmp / "nan.tif"),
    ],
)
def test_non_finite_images_are_refused(tmp_path, make):
    pipe = build_tiny_pipeline()
    with pytest.raises(ValueError, match="NaN or infinite values"):
        pipe(make(tmp_path))
    with pytest.raises(ValueError, match="NaN or infinite values"):
        pipe.parse(make(tmp_path))


_RGB = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("name", "source", "written_mode"),
    [
        ("la.png", Image.fromarray(np.dstack([_RGB[..., 0], _RGB[..., 1]]), "LA"), "LA"),
        ("g16.tif", Image.fromarray(_RGB[..., 0].astype(np.uint16) * 251), "I;16"),
        ("cmyk.tif", Image.fromarray(_RGB).convert("CMYK"), "CMYK"),
        ("palette.png", Image.fromarray(_RGB).convert("P"), "RGB"),  # a palette cannot hold new colours
    ],
)
def test_each_mode_is_written_back_in_its_own_mode(tmp_path, name, source, written_mode):
    source.save(tmp_path / name)
    loaded = io.load_image(tmp_path / name)
    edited = loaded.rgb.copy()
    edited[10:20, 10:20] = 255 - edited[10:20, 10:20]
    result = Image.open(io.save_image_atomic(edited, tmp_path / f"out_{name}", like=loaded))
    assert result.mode == written_mode
    before = np.asarray(Image.open(tmp_path / name).convert(written_mode)).astype(int)
    after = np.asarray(result).astype(int)
    untouched = np.ones(before.shape[:2], bool)
    untouched[10:20, 10:20] = False
    assert np.array_equal(after[untouched], before[untouched]) and not np.array_equal(after, before)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_models_and_pipelines_follow_the_umask(tmp_path, umask):
    """safetensors writes weights 0o600 whatever the umask; saved model folders must be readable as the umask says."""
    from conftest import build_tiny_pipeline

    from hf_segan.training.checkpointing import save_pretrained_atomic

    tiny_pipeline = build_tiny_pipeline()
    previous = os.umask(umask)
    try:
        tiny_pipeline.save_pretrained(tmp_path / "pipe")
        save_pretrained_atomic(tiny_pipeline.editor, tmp_path / "editor")
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in files)
    assert {str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in files} == {
        str(p.relative_to(tmp_path)): 0o666 & ~umask for p in files
    }
