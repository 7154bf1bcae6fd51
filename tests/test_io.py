"""Every kind of image file users hand us: decoded right, or refused with the file and the reason."""

import io as stdio
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from hf_segan import io


def _save(path, image, **kwargs):
    image.save(path, **kwargs)
    return path


def test_plain_rgb_round_trips(tmp_path):
    array = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    loaded = io.load_image(_save(tmp_path / "a.png", Image.fromarray(array)))
    assert np.array_equal(loaded.rgb, array) and loaded.alpha is None and loaded.notes == []


def test_exif_orientation_is_honoured(tmp_path):
    array = np.zeros((40, 60, 3), np.uint8)
    array[:, :10] = 255  # a white band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    loaded = io.load_image(_save(tmp_path / "r.jpg", Image.fromarray(array), exif=exif, quality=95))
    assert loaded.rgb.shape == (60, 40, 3)  # displayed upright: portrait
    assert loaded.rgb[:10].mean() > 200 and loaded.rgb[-10:].mean() < 50  # the band is now on top


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    gray = np.full((40, 40), 40000, np.uint16)
    loaded = io.load_image(_save(tmp_path / "g16.png", Image.fromarray(gray)))
    assert loaded.rgb.shape == (40, 40, 3) and loaded.rgb[0, 0, 0] == round(40000 / 257)


def test_palette_grayscale_and_cmyk_become_rgb(tmp_path):
    base = Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    palette = io.load_image(_save(tmp_path / "p.png", base.convert("P")))
    assert np.array_equal(palette.rgb, np.asarray(base.convert("P").convert("RGB")))
    gray = io.load_image(_save(tmp_path / "l.png", base.convert("L")))
    assert np.array_equal(gray.rgb[..., 0], np.asarray(base.convert("L"))) and gray.rgb.shape[2] == 3
    red = Image.new("RGB", (40, 40), (220, 20, 20))
    cmyk = io.load_image(_save(tmp_path / "c.jpg", red.convert("CMYK"), quality=95))
    assert cmyk.rgb[20, 20, 0] > 180 and cmyk.rgb[20, 20, 1] < 70


def test_rgba_keeps_alpha(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 3] = np.arange(40, dtype=np.uint8)[None] * 6
    loaded = io.load_image(_save(tmp_path / "a.png", Image.fromarray(rgba, "RGBA")))
    assert np.array_equal(loaded.alpha, rgba[..., 3])
    out = io.save_image_atomic(loaded.rgb, tmp_path / "out.png", loaded.alpha)
    assert np.array_equal(np.asarray(Image.open(out))[..., 3], rgba[..., 3])


def test_animated_gif_uses_the_first_frame_and_says_so(tmp_path):
    frames = [Image.new("RGB", (40, 40), (c, c, c)) for c in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = io.load_image(path)
    assert loaded.rgb.mean() < 50 and "animated" in loaded.notes[0] and "first frame" in loaded.notes[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text.png", b"this is not an image", "not an image"),
        ("empty.jpg", b"", "not an image"),
    ],
)
def test_non_images_are_refused_by_name(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{name}: {message}"):
        io.load_image(path)


def test_truncated_file_is_refused(tmp_path):
    buffer = stdio.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    with pytest.raises(ValueError, match=r"cut\.jpg: truncated or corrupt"):
        io.load_image(path)


def test_tiny_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"16x16 is too small; images need at least 32 px"):
        io.load_image(_save(tmp_path / "t.png", Image.new("RGB", (16, 16))))


def test_decompression_bombs_are_refused_before_decoding(tmp_path, monkeypatch):
    path = _save(tmp_path / "big.png", Image.new("L", (300, 300)))
    monkeypatch.setattr(io, "MAX_PIXELS", 50_000)
    with pytest.raises(ValueError, match=r"big\.png: 300x300 .* decompression bomb"):
        io.load_image(path)


def test_huge_images_are_downscaled_while_decoding(tmp_path, monkeypatch):
    path = _save(tmp_path / "huge.jpg", Image.new("RGB", (400, 300), (90, 120, 150)))
    monkeypatch.setattr(io, "WORK_PIXELS", 30_000)
    loaded = io.load_image(path)
    assert loaded.rgb.shape[0] * loaded.rgb.shape[1] <= 31_000 and "downscaled" in loaded.notes[0]


def test_save_drops_alpha_only_where_the_format_cannot_hold_it(tmp_path):
    rgba = Image.fromarray(np.random.default_rng(6).integers(0, 255, (40, 40, 4), dtype=np.uint8), "RGBA")
    assert Image.open(io.save_image_atomic(rgba, tmp_path / "a.webp")).mode == "RGBA"
    assert Image.open(io.save_image_atomic(rgba, tmp_path / "a.jpg")).mode == "RGB"


def test_save_is_atomic_and_checks_the_suffix(tmp_path):
    with pytest.raises(ValueError, match="unknown image suffix"):
        io.save_image_atomic(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.notanimage")
    io.save_image_atomic(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.png")
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def _chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header_only(width, height):
    """A PNG announcing ``width`` x ``height`` RGB pixels whose image data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = _chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + data + _chunk(b"IEND", b"")


# 100 MP: over this package's bound but under PIL's error threshold (2 x its warning); 900 MP: over both.
@pytest.mark.parametrize("side", [10_000, 30_000])
def test_crafted_header_claiming_huge_dimensions_is_refused(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))  # announced by a ~100-byte file
    with pytest.raises(ValueError, match=r"bomb\.png: .*decompression bomb"):
        io.load_image(path)


def test_in_memory_images_convert_like_files():
    sixteen = Image.fromarray(np.full((40, 40), 40000, np.uint16))
    assert io.as_image(sixteen).rgb[0, 0, 0] == round(40000 / 257)  # PIL's own convert("RGB") would clip to 255
    rgba = np.random.default_rng(3).integers(0, 255, (40, 40, 4), dtype=np.uint8)
    split = io.as_image(rgba)
    assert np.array_equal(split.rgb, rgba[..., :3]) and np.array_equal(split.alpha, rgba[..., 3])
    gray = io.as_image(np.full((40, 40), 0.5))
    assert gray.rgb.shape == (40, 40, 3) and np.all(gray.rgb == 128)
    tensor = torch.linspace(-1, 1, 3 * 40 * 40).reshape(3, 40, 40)
    assert io.as_image(tensor).rgb[0, 0, 0] == 0 and io.as_image(tensor).rgb[-1, -1, 2] == 255


def test_from_any_batches_with_one_convention():
    uint8 = np.random.default_rng(4).integers(0, 255, (2, 36, 40, 3), dtype=np.uint8)
    tensors = io.from_any(uint8)
    assert len(tensors) == 2 and tensors[0].shape == (3, 36, 40)
    assert torch.allclose(tensors[1], torch.from_numpy(uint8[1]).permute(2, 0, 1).float() / 127.5 - 1)
    unit = np.random.default_rng(5).random((36, 40, 3))
    assert torch.allclose(io.from_any(unit)[0], torch.from_numpy(unit).permute(2, 0, 1).float() * 2 - 1)
    batch = torch.rand(2, 3, 36, 40) * 2 - 1
    assert all(torch.equal(a, b) for a, b in zip(io.from_any(batch), batch, strict=True))  # float kept exactly


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((40, 40, 3), np.int32), "uint8 or float in \\[0, 1\\], got int32"),
        (np.full((40, 40, 3), 2.0), "float numpy images must lie in \\[0, 1\\]"),
        (torch.zeros(40, 40), r"tensors must be \(3, H, W\) or \(B, 3, H, W\)"),
        ("missing.png", "missing.png: no such file"),
        (object(), "cannot read a object"),
    ],
)
def test_in_memory_images_are_checked(image, message):
    with pytest.raises(ValueError, match=message):
        io.from_any(image)
