"""Every public entry point gives the same result from many threads as sequentially (bit-exact).

OpenCV's Haar cascades keep scratch state while they detect: one cascade object shared between threads returned
wrong boxes. The photos differ per call so that a result computed from another thread's state shows."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import build_tiny_pipeline
from skimage import data

from hf_segan.alignment import detect_faces

THREADS = 8


@pytest.fixture(scope="module")
def photos():
    """Eight photos of one face at different places and scales (so each call's boxes differ)."""
    base = data.astronaut()[:384, 64:448]
    out = []
    for index in range(THREADS):
        shifted = np.roll(base, 24 * index, axis=1)
        out.append(np.ascontiguousarray(shifted[: 320 + 8 * index, : 320 + 8 * index]))
    return out


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_pipeline(warp=True)


def concurrently(function, items):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(function, items))


def test_face_detection_is_thread_safe(photos):
    sequential = [detect_faces(photo) for photo in photos]
    assert all(sequential) and len({faces[0] for faces in sequential}) == THREADS
    for _ in range(2):
        assert concurrently(detect_faces, photos) == sequential


def test_photo_edits_are_thread_safe(pipe, photos):
    def edit(photo):
        return np.asarray(pipe.edit_photo(photo, "surprise").image)

    sequential = [edit(photo) for photo in photos]
    for result, expected in zip(concurrently(edit, photos), sequential, strict=True):
        assert np.array_equal(result, expected)


def test_crop_edits_and_parsing_are_thread_safe(pipe, photos):
    crops = [photo[:64, :64] for photo in photos]

    def edit(crop):
        return pipe(crop, "happy", output_type="np").images[0]

    for function in (edit, lambda crop: pipe.parse(crop)[0]):
        sequential = [function(crop) for crop in crops]
        for result, expected in zip(concurrently(function, crops), sequential, strict=True):
            assert np.array_equal(result, expected)
