"""The nearby-colour search against the question it answers, asked pixel by pixel: is there a colour within the
tolerance in the disc, and if not, which is the closest (first in row-major order among equals)?"""

from __future__ import annotations

import numpy as np
import pytest
from face_shapes import neutral_face, place

from hf_segan.nearby_colours import in_mouth_zone, mouth_colours, snap_to_nearby_colours


def snap_one_by_one(original, ys, xs, colours, radius, tolerance):
    """The definition, written plainly: every offset of the disc, row by row, for every pixel."""
    height, width = original.shape[:2]
    result = colours.copy()
    for i, (y, x) in enumerate(zip(ys, xs, strict=True)):
        closest, best = None, None
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dy * dy + dx * dx > radius * radius:
                    continue
                candidate = original[min(max(y + dy, 0), height - 1), min(max(x + dx, 0), width - 1)]
                difference = int(np.abs(candidate.astype(int) - colours[i].astype(int)).max())
                if best is None or difference < best:
                    closest, best = candidate, difference
        if best > tolerance:
            result[i] = closest
    return result


def textured_photo(seed: int, size: int = 64) -> np.ndarray:
    """Smooth gradients with grain and a few flat patches: colours repeat nearby, as in a photo, and ties occur."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    photo = np.stack([2 * y + 40, 3 * x + 20, y + x + 60], axis=-1).astype(float)
    photo += rng.normal(0, 4, photo.shape)
    photo[10:20, 30:45] = (200, 40, 40)
    photo[40:44, 5:60] = (30, 30, 30)
    return np.clip(photo, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("radius", "tolerance"), [(0, 0), (1, 8), (5, 8), (13, 0), (13, 8), (21, 16)])
def test_matches_the_pixel_by_pixel_definition(radius, tolerance):
    photo = textured_photo(radius)
    rng = np.random.default_rng(100 + radius)
    # pixels everywhere, the border included (where the photo's edge repeats), asking for both colours the photo
    # has nearby and colours it has nowhere (dark, saturated), so that both the rings and the tiles decide
    ys = np.r_[rng.integers(0, 64, 150), 0, 63, 0, 63]
    xs = np.r_[rng.integers(0, 64, 150), 0, 63, 63, 0]
    kind = rng.integers(0, 3, len(ys))[:, None]
    colours = (
        np.select(
            [kind == 0, kind == 1],
            [photo[ys, xs], photo[ys, xs].astype(int) + rng.integers(-12, 13, (len(ys), 3))],
            rng.integers(0, 256, (len(ys), 3)),
        )
        .clip(0, 255)
        .astype(np.uint8)
    )
    got = snap_to_nearby_colours(photo, ys, xs, colours, radius, tolerance)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, snap_one_by_one(photo, ys, xs, colours, radius, tolerance))
    kept = np.all(got == colours, axis=1)
    assert 0 < kept.sum() < len(ys)  # both answers occur, so neither path is left untested


def test_a_colour_far_away_is_not_nearby():
    photo = np.full((80, 80, 3), 120, np.uint8)
    photo[70, 70] = (10, 200, 30)
    ys, xs, wanted = np.array([10, 60]), np.array([10, 60]), np.array([[10, 200, 30], [10, 200, 30]], np.uint8)
    got = snap_to_nearby_colours(photo, ys, xs, wanted, 15, 0)
    np.testing.assert_array_equal(got, [[120, 120, 120], [10, 200, 30]])


def test_nothing_asked_and_bad_arguments():
    photo = textured_photo(0)
    empty = np.zeros(0, int)
    assert snap_to_nearby_colours(photo, empty, empty, np.zeros((0, 3), np.uint8), 4, 8).shape == (0, 3)
    with pytest.raises(ValueError, match="radius"):
        snap_to_nearby_colours(photo, empty, empty, np.zeros((0, 3), np.uint8), 2.5, 8)
    with pytest.raises(ValueError, match="tolerance"):
        snap_to_nearby_colours(photo, empty, empty, np.zeros((0, 3), np.uint8), 2, -1)


def test_equally_close_colours_give_the_first_in_row_major_order():
    # two colours 55 levels from the one asked about: one 3 px to the right, one 10 px above (first in row-major
    # order although farther; a search that stopped at the nearer one would return the wrong one)
    photo = np.full((40, 40, 3), 120, np.uint8)
    photo[20, 23], photo[10, 20] = (20, 200, 40), (10, 200, 30)
    got = snap_to_nearby_colours(photo, np.array([20]), np.array([20]), np.array([[0, 255, 0]], np.uint8), 12, 0)
    np.testing.assert_array_equal(got, [[10, 200, 30]])


def test_shared_colours_count_as_near_every_pixel_and_replace_a_colour_when_closer():
    """A mouth's own colours (``shared``) are near every pixel of its zone: one within the tolerance is kept however
    far its nearest copy lies; beyond the tolerance, the closer of the shared colours and the disc's replaces it."""
    photo = np.full((40, 40, 3), 120, np.uint8)
    photo[2, 2] = (20, 10, 10)  # the shadow, 39 px from the pixel asked about
    shared = np.array([[20, 10, 10], [200, 200, 200]], np.uint8)
    ys, xs = np.full(3, 30), np.full(3, 30)
    colours = np.array([[22, 12, 9], [60, 60, 60], [122, 118, 120]], np.uint8)
    got = snap_to_nearby_colours(photo, ys, xs, colours, 5, 4, shared)
    # kept (a shared colour within 4); the shadow is 50 away, the disc's grey 60; kept (the disc's grey within 4)
    np.testing.assert_array_equal(got, [[22, 12, 9], [20, 10, 10], [122, 118, 120]])
    np.testing.assert_array_equal(
        snap_to_nearby_colours(photo, ys, xs, colours, 5, 4), [[120, 120, 120], [120, 120, 120], [122, 118, 120]]
    )


@pytest.mark.parametrize(("radius", "tolerance"), [(5, 8), (13, 8), (21, 16)])
def test_with_shared_colours_matches_the_definition(radius, tolerance):
    """With ``shared`` colours: kept when one of them is within the tolerance; otherwise as without them, unless a
    shared colour is closer than the disc's closest, which then replaces it (any of the equally close ones)."""
    photo = textured_photo(radius + 1)
    rng = np.random.default_rng(200 + radius)
    ys, xs = rng.integers(0, 64, 200), rng.integers(0, 64, 200)
    shared = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    # a third near a shared colour, a third near the photo's own colour there, a third anything
    kind = np.arange(200)[:, None] % 3
    near_shared = shared[rng.integers(0, 40, 200)].astype(int) + rng.integers(-6, 7, (200, 3))
    near_photo = photo[ys, xs].astype(int) + rng.integers(-6, 7, (200, 3))
    colours = np.select([kind == 0, kind == 1], [near_shared, near_photo], rng.integers(0, 256, (200, 3)))
    colours = colours.clip(0, 255).astype(np.uint8)
    got = snap_to_nearby_colours(photo, ys, xs, colours, radius, tolerance, shared)
    plain = snap_one_by_one(photo, ys, xs, colours, radius, tolerance)
    to_shared = np.abs(colours[:, None].astype(int) - shared[None].astype(int)).max(axis=2).min(axis=1)
    to_disc = np.abs(plain.astype(int) - colours.astype(int)).max(axis=1)
    keep = to_shared <= tolerance
    np.testing.assert_array_equal(got[keep], colours[keep])
    disc = ~keep & (to_disc <= to_shared)
    np.testing.assert_array_equal(got[disc], plain[disc])
    closer = ~keep & ~disc
    assert np.all(np.abs(got[closer].astype(int) - colours[closer].astype(int)).max(axis=1) == to_shared[closer])
    assert all((shared == colour).all(axis=1).any() for colour in got[closer])
    assert keep.sum() and disc.sum() and closer.sum()  # every case occurs


def test_a_mouth_outside_the_photo_has_no_colours_and_no_zone():
    photo = np.full((50, 50, 3), 90, np.uint8)
    points = place(neutral_face(), 40.0, 0.0, (25.0, -80.0))  # the whole face above the photo
    ys, xs = np.nonzero(np.ones(photo.shape[:2], bool))
    assert mouth_colours(photo, points).shape == (0, 3)
    assert not in_mouth_zone(photo.shape, points, ys, xs).any()
    inside = place(neutral_face(), 20.0, 0.0, (25.0, 10.0))
    assert mouth_colours(photo, inside).tolist() == [[90, 90, 90]] and in_mouth_zone(photo.shape, inside, ys, xs).any()
