"""The whole-photo path works on the face's region only (docs/performance.md, "Whole-photo latency"): these tests
check that doing so changes nothing a user can see. Each compares the region-limited code with the whole-photo
formulation it replaced (written out here as the reference), or shows that the result depends only on the pixels
around the face (the same face pasted into a larger canvas gives the same bytes)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from hf_segan.alignment import AlignedFace, FaceBox, _warp, crop_footprint, paste_face, paste_mask
from hf_segan.face_api_ops import resize_bilinear_tf
from hf_segan.io import PNG_COMPRESS_LEVEL, save_image_atomic
from hf_segan.models.face_detector import SeparableConv
from hf_segan.mouth_interior import INNER_LIPS, LUMINANCE, lip_line_colors
from hf_segan.warp_field import eye_distance

RNG = np.random.default_rng(0)
PHOTO = cv2.GaussianBlur(RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8), (5, 5), 1.5)


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    """A photo-to-crop similarity (2x3)."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def aligned_face(photo: np.ndarray, matrix: np.ndarray, size: int = 64) -> AlignedFace:
    return AlignedFace(
        crop=_warp(photo, matrix, size),
        matrix=matrix,
        inverse=cv2.invertAffineTransform(matrix),
        box=FaceBox(0.0, 0.0, 1.0, 1.0),
    )


def shifted(matrix: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The same photo-to-crop map for the photo moved by (dx, dy) inside a larger canvas."""
    return np.concatenate([matrix[:, :2], matrix[:, 2:] - matrix[:, :2] @ [[dx], [dy]]], axis=1)


def whole_photo_paste(photo, edited_crop, aligned, feather=0.08):
    """The paste as it was written before: both warps at the whole photo's size."""
    height, width = photo.shape[:2]
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    weight = cv2.warpAffine(paste_mask(aligned.size, feather), aligned.inverse, (width, height), **flags)
    change = edited_crop.astype(np.float32) - aligned.crop.astype(np.float32)
    change = cv2.warpAffine(change, aligned.inverse, (width, height), **flags)
    inside = weight > 0
    result = photo.copy()
    blended = photo[inside].astype(np.float32) + weight[inside][:, None] * change[inside]
    result[inside] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result


def centred(scale: float, angle: float, center: tuple[float, float] = (205.3, 148.7), size: int = 64) -> np.ndarray:
    """A photo-to-crop similarity putting the photo point ``center`` at the middle of the crop."""
    matrix = similarity(scale, angle, 0.0, 0.0)
    matrix[:, 2] = size / 2 - matrix[:, :2] @ center
    return matrix


MATRICES = [
    centred(0.6, 0.2),  # plain bilinear crop
    centred(0.3, -0.3),  # shrinks by more than 2x: area-averaged first
    similarity(0.9, 0.1, 20.0, 30.0),  # reaches past the photo's top-left corner
]


@pytest.mark.parametrize("matrix", MATRICES)
def test_paste_changes_only_the_crop_footprint_and_matches_the_whole_photo_paste(matrix):
    aligned = aligned_face(PHOTO, matrix)
    edited = np.clip(aligned.crop.astype(int) + RNG.integers(-40, 41, aligned.crop.shape), 0, 255).astype(np.uint8)
    pasted, reference = paste_face(PHOTO, edited, aligned), whole_photo_paste(PHOTO, edited, aligned)
    x0, y0, x1, y1 = crop_footprint(aligned.matrix, aligned.size, PHOTO.shape, pad=2)
    outside = np.ones(PHOTO.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(pasted[outside], PHOTO[outside])
    assert np.array_equal(reference[outside], PHOTO[outside])  # nothing was lost outside the footprint
    changed = np.any(reference != PHOTO, axis=-1)
    assert changed.sum() > 500
    # Same warp, same blend; OpenCV rounds sample positions to 1/32 pixel from the output's origin, which the
    # region moves, so a few pixels take the neighbouring step: a level or two, never more than 3.
    difference = np.abs(pasted.astype(int) - reference)
    assert difference.max() <= 3
    assert np.mean(np.all(pasted == reference, axis=-1)[changed]) > 0.9


@pytest.mark.parametrize("matrix", MATRICES[:2])
def test_paste_and_crop_depend_only_on_the_pixels_around_the_face(matrix):
    canvas = np.zeros((700, 900, 3), np.uint8)
    canvas[:] = RNG.integers(0, 256, 3, dtype=np.uint8)
    dx, dy = 250, 130
    canvas[dy : dy + 300, dx : dx + 400] = PHOTO
    small, large = aligned_face(PHOTO, matrix), aligned_face(canvas, shifted(matrix, dx, dy))
    assert np.array_equal(small.crop, large.crop)
    edited = np.clip(small.crop.astype(int) + 25, 0, 255).astype(np.uint8)
    pasted_small, pasted_large = paste_face(PHOTO, edited, small), paste_face(canvas, edited, large)
    assert np.array_equal(pasted_large[dy : dy + 300, dx : dx + 400], pasted_small)
    rest = np.ones(canvas.shape[:2], bool)
    rest[dy : dy + 300, dx : dx + 400] = False
    assert np.array_equal(pasted_large[rest], canvas[rest])


@pytest.mark.parametrize("matrix", [MATRICES[0], MATRICES[2]])
def test_crops_without_shrinking_equal_the_whole_photo_warp(matrix):
    # with no area pre-shrink the crop is one bilinear warp: reading only the footprint must not change a byte,
    # including the repeated edge where the crop reaches past the photo
    reference = cv2.warpAffine(PHOTO, matrix, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(_warp(PHOTO, matrix, 64), reference)


def test_a_crop_almost_entirely_off_the_photo_still_shrinks():
    crop = _warp(PHOTO, similarity(0.1, 0.0, -45.0, -10.0), 64)
    assert crop.shape == (64, 64, 3)


def test_lip_line_colours_are_those_of_the_whole_photo_line():
    photo = RNG.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    source = np.zeros((68, 2))
    source[36:42] = (120.0, 100.0)
    source[42:48] = (200.0, 100.0)
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    for near_border in (False, True):
        center = (10.0, 150.0) if near_border else (160.0, 170.0)
        source[INNER_LIPS] = np.stack([center[0] + 30 * np.cos(angles), center[1] + 8 * np.sin(angles)], 1)
        mask = np.zeros(photo.shape[:2], np.uint8)
        line = np.round(source[INNER_LIPS] * 16).astype(np.int32)
        cv2.polylines(mask, [line], True, 1, max(2, round(0.04 * eye_distance(source))), cv2.LINE_8, 4)
        pixels = photo[mask > 0].astype(np.float64)
        order = np.argsort(pixels @ LUMINANCE)
        darkest, median = lip_line_colors(photo, source)
        assert np.array_equal(darkest, pixels[order[: max(1, round(0.1 * len(pixels)))]].mean(0))
        assert np.array_equal(median, pixels[order[len(order) // 2]])


def test_tf_bilinear_resize_follows_its_definition():
    image = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = resize_bilinear_tf(image, 16, 24)
    expected = np.zeros((16, 24, 3))
    for i in range(16):
        for j in range(24):
            y, x = i * 37 / 16, j * 53 / 24
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, 36), min(x0 + 1, 52)
            fy, fx = y - y0, x - x0
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            expected[i, j] = top * (1 - fy) + bottom * fy
    np.testing.assert_allclose(out, expected, atol=1e-3)


@pytest.mark.parametrize(("padding", "stride"), [((1, 1, 1, 1), 1), ((0, 1, 0, 1), 2)])
def test_separable_conv_pads_like_an_explicit_zero_pad(padding, stride):
    torch.manual_seed(0)
    conv = SeparableConv(4, 6).eval()
    x = torch.randn(2, 4, 12, 12)
    with torch.no_grad():
        padded = F.conv2d(F.pad(x, padding), conv.depthwise.weight, stride=stride, groups=4)
        torch.testing.assert_close(conv(x, padding, stride), conv.pointwise(padded), atol=1e-5, rtol=1e-5)


def test_png_outputs_are_written_at_the_library_level_and_stay_lossless(tmp_path):
    pixels = RNG.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    path = save_image_atomic(pixels, tmp_path / "out.png")
    expected = io.BytesIO()
    Image.fromarray(pixels).save(expected, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    assert path.read_bytes() == expected.getvalue()
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
