"""Colours an image has near a pixel: what "no colour that was not there" means for an edit of a photo.

A warp brings each pixel's colour from nearby; paint brings colours from nowhere. Both the real-photo fidelity
metric (is each changed pixel's colour one the original had nearby?) and the opened mouth's fill (take only such
colours) ask the same question, answered here once.

The disc grows with the face (a 12 MP portrait's has thousands of offsets), so comparing every pixel asked about
with every offset costs the face's size to the fourth power. The search is exact but cheaper in two steps:

1. **Rings.** Nearby colours are usually similar, so the disc's centre is searched first, out to
   :data:`RING_RADIUS`, and a pixel whose colour is found there within the tolerance leaves the search.
2. **Tiles.** For the pixels left, the photo around them is cut into tiles of :data:`TILE` x :data:`TILE` pixels,
   each summarised by its per-channel minimum and maximum: no pixel of a tile can be closer to a colour than that
   box, so only tiles whose box is at least as close as the best colour found so far are searched pixel by pixel.
   A colour the face lacks nearby is far from almost every tile's box.

**A mouth is one place.** An opening mouth shows its own cavity, which is in shadow: the colour a photo shows of
it is the dark between the lips, often only in the mouth's corners (a smile), far from the middle where the mouth
opens. Inside the mouth's zone (:func:`in_mouth_zone`) every colour of the original mouth (:func:`mouth_colours`:
lips, teeth, the shadow between them) therefore counts as nearby, wherever in the mouth it was. Colours from
anywhere else in the face still do not (grey "brows" painted on a forehead, lips tinted a colour they never had).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from .landmarks import LANDMARK_GROUPS
from .warp_field import eye_distance, polygon_mask

#: Radius (pixels) of the disc's centre searched offset by offset before the tiles.
RING_RADIUS = 6
#: Side (pixels) of the tiles whose colour boxes bound the search beyond the rings.
TILE = 8
#: Tiles searched per pixel and round, nearest colour box first.
TILES_PER_ROUND = 2
#: Pixels x offsets (or pixels x tiles) compared per numpy step: bounds one step's memory.
_STEP_ELEMENTS = 1 << 18
#: How far (inter-ocular distances) beyond its outer lips a mouth's zone reaches: an opening mouth's lower lip
#: drops by up to a fifth of an eye distance with the jaw (``photo_geometry.open_mouth_with_the_jaw``).
MOUTH_ZONE_MARGIN = 0.25
OUTER_LIPS = list(LANDMARK_GROUPS["outer_lips"])


def _outer_lips(points: np.ndarray, shape: tuple[int, ...], pad: int) -> tuple[int, int, np.ndarray] | None:
    """``(x0, y0, mask)``: the outer-lip contour of the face whose 68 landmarks are ``points`` drawn in its box,
    grown by ``pad`` pixels and clipped to a photo of ``shape``, whose pixel (0, 0) is ``(x0, y0)``; None when the
    box lies outside the photo."""
    height, width = int(shape[0]), int(shape[1])
    lips = np.asarray(points, np.float64)[OUTER_LIPS]
    x0, y0 = (np.floor(lips.min(0)).astype(int) - pad).clip(0, [width, height])
    x1, y1 = (np.ceil(lips.max(0)).astype(int) + pad + 2).clip(0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), polygon_mask(lips, (x0, y0), (y1 - y0, x1 - x0))


def mouth_colours(photo: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, C) the distinct colours of ``photo`` (H, W, C uint8) inside the outer-lip contour of the face whose 68
    landmarks are ``points`` (photo pixels): the colours an opening mouth may show anywhere in its zone."""
    window = _outer_lips(points, photo.shape, 0)
    if window is None:  # the mouth lies outside the photo
        return np.zeros((0, photo.shape[2]), photo.dtype)
    x0, y0, mask = window
    height, width = mask.shape
    return np.unique(photo[y0 : y0 + height, x0 : x0 + width][mask > 0].reshape(-1, photo.shape[2]), axis=0)


def in_mouth_zone(shape: tuple[int, ...], points: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each pixel ``(ys[i], xs[i])`` of a photo of ``shape`` lies in the mouth's zone, the
    outer-lip contour of ``points`` grown by :data:`MOUTH_ZONE_MARGIN` inter-ocular distances, where
    :func:`mouth_colours` count as nearby. The zone is drawn in the lips' box only, not over the whole photo."""
    ys, xs = np.asarray(ys), np.asarray(xs)
    radius = max(1, round(MOUTH_ZONE_MARGIN * eye_distance(np.asarray(points, np.float64))))
    inside = np.zeros(ys.shape, bool)
    window = _outer_lips(points, shape, radius + 1)
    if window is None:
        return inside
    x0, y0, mask = window
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    zone = cv2.dilate(mask, disc, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    rows, cols = ys - y0, xs - x0
    within = (rows >= 0) & (rows < zone.shape[0]) & (cols >= 0) & (cols < zone.shape[1])
    inside[within] = zone[rows[within], cols[within]]
    return inside


def snap_to_nearby_or_mouth_colours(
    original: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    colours: np.ndarray,
    radius: int,
    tolerance: int,
    points: np.ndarray,
) -> np.ndarray:
    """:func:`snap_to_nearby_colours`, the mouth being one place: for the pixels in the mouth's zone
    (:func:`in_mouth_zone`) of the face whose 68 landmarks are ``points``, every colour of the original mouth
    (:func:`mouth_colours`) counts as near too."""
    ys, xs, colours = np.asarray(ys), np.asarray(xs), np.asarray(colours)
    result = np.empty(colours.shape, original.dtype)
    in_zone = in_mouth_zone(original.shape, points, ys, xs)
    for part, shared in ((~in_zone, None), (in_zone, mouth_colours(original, points) if in_zone.any() else None)):
        result[part] = snap_to_nearby_colours(original, ys[part], xs[part], colours[part], radius, tolerance, shared)
    return result


def snap_to_nearby_colours(
    original: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    colours: np.ndarray,
    radius: int,
    tolerance: int,
    shared: np.ndarray | None = None,
) -> np.ndarray:
    """Each ``colours[i]`` (for the pixel ``(ys[i], xs[i])``) kept where ``original`` (H, W, C uint8) has a colour
    within ``tolerance`` levels of it (largest channel difference) within ``radius`` pixels (a disc; the photo's
    edge repeats past its border), else replaced by the closest colour the original has there (among equally
    close ones, the first in the disc's row-major order). ``shared`` (M, C) colours count as near every pixel
    asked about (a mouth's own colours, for pixels in its zone: :func:`mouth_colours`); the closest of them
    replaces a colour when it is closer than the disc's.

    Returns (N, C) uint8: a returned colour differs from the one asked about exactly where that colour is new
    near its pixel.
    """
    if not isinstance(radius, int | np.integer) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer number of pixels, got {radius!r}.")
    if not isinstance(tolerance, int | np.integer) or tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative integer number of levels, got {tolerance!r}.")
    wanted = np.asarray(colours).astype(np.int16)
    result = wanted.astype(original.dtype)
    if len(ys) == 0:
        return result
    ys, xs = np.asarray(ys), np.asarray(xs)
    asked = np.arange(len(ys))
    if shared is not None and len(shared):
        shared = np.asarray(shared).reshape(-1, original.shape[2])
        shared_distance, shared_index = cKDTree(shared.astype(np.float64)).query(wanted.astype(np.float64), p=np.inf)
        asked = np.nonzero(shared_distance > tolerance)[0]  # the others are a colour of the shared set already
        if len(asked) == 0:
            return result
    search = _DiscSearch(original, ys[asked], xs[asked], int(radius))
    best = search.rings(wanted[asked], int(tolerance))
    left = np.nonzero(best // search.size > tolerance)[0]
    best[left] = search.tiles(left, wanted[asked][left], best[left], int(tolerance))
    new = best // search.size > tolerance
    result[asked[new]] = search.colour_at(np.nonzero(new)[0], best[new] % search.size)
    if shared is not None and len(shared):
        closer = new & (shared_distance[asked] < best // search.size)
        result[asked[closer]] = shared[shared_index[asked[closer]]]
    return result


class _DiscSearch:
    """The part of the photo the discs reach, as one flat array, so that an offset is one index step.

    A candidate colour is scored by ``difference * size + rank``, ``rank`` being its offset's place in the disc's
    row-major order: the smallest score is the closest colour, and the first one among equally close colours.
    """

    def __init__(self, original: np.ndarray, ys: np.ndarray, xs: np.ndarray, radius: int) -> None:
        height, width, channels = original.shape
        self.radius = radius
        top, left = int(ys.min()) - radius, int(xs.min()) - radius
        # rounded up to whole tiles; the edge repeats past the photo's border (and past the reach, where no disc
        # reads and the repeated colours only widen the last tiles' boxes)
        rows = -(-(int(ys.max()) + radius + 1 - top) // TILE) * TILE
        columns = -(-(int(xs.max()) + radius + 1 - left) // TILE) * TILE
        row_index = np.clip(np.arange(top, top + rows), 0, height - 1)
        column_index = np.clip(np.arange(left, left + columns), 0, width - 1)
        self.shape = (rows, columns)
        self.window = original[row_index[:, None], column_index[None, :]].astype(np.int16)
        self.flat = self.window.reshape(-1, channels)
        self.py, self.px = ys - top, xs - left
        self.centres = self.py * columns + self.px
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        inside = dy * dy + dx * dx <= radius * radius
        self.size = int(inside.sum())
        #: rank of each offset of the (2r+1)^2 square in the disc's row-major order, -1 outside the disc
        self.rank_of = np.where(inside, np.cumsum(inside).reshape(inside.shape) - 1, -1).ravel()
        self.offsets = np.stack([dy[inside], dx[inside]], axis=1)

    def rings(self, wanted: np.ndarray, tolerance: int) -> np.ndarray:
        """Best scores over the offsets within :data:`RING_RADIUS`, nearest first; a pixel stops at a colour within
        ``tolerance``. Pixels that found none have their best score within the rings (or none: int64 max)."""
        squared = (self.offsets**2).sum(1)
        near = np.nonzero(squared <= min(self.radius, RING_RADIUS) ** 2)[0]
        near = near[np.argsort(squared[near], kind="stable")]
        steps = self.offsets[near, 0] * self.shape[1] + self.offsets[near, 1]
        best = np.full(len(wanted), np.iinfo(np.int64).max, np.int64)
        active = np.arange(len(wanted))
        start = 0
        while start < len(near) and len(active):
            stop = min(len(near), start + max(16, _STEP_ELEMENTS // len(active)))
            nearby = self.flat[self.centres[active, None] + steps[None, start:stop]]
            difference = np.abs(nearby - wanted[active, None, :]).max(axis=2).astype(np.int64)
            score = (difference * self.size + near[None, start:stop]).min(axis=1)
            best[active] = np.minimum(best[active], score)
            active = active[best[active] // self.size > tolerance]
            start = stop
        return best

    def tiles(self, pixels: np.ndarray, wanted: np.ndarray, best: np.ndarray, tolerance: int) -> np.ndarray:
        """Best scores of ``pixels`` (indices into the pixels asked about) over their whole discs, given the best
        ``best`` found so far. A pixel's tiles are searched nearest colour box first, and the search stops at the
        first box farther than the closest colour found (none of the rest can hold a closer one) or once a colour
        within ``tolerance`` is found."""
        best = best.copy()
        tiled = self.window.reshape(self.shape[0] // TILE, TILE, self.shape[1] // TILE, TILE, -1)
        low, high = tiled.min(axis=(1, 3)), tiled.max(axis=(1, 3))
        # the tiles a disc can reach: a square of tiles around its centre, the same size for every pixel
        span = np.arange(2 * self.radius // TILE + 2)
        chunk = max(1, _STEP_ELEMENTS // len(span) ** 2)
        for start in range(0, len(pixels), chunk):
            part = slice(start, start + chunk)
            py, px = self.py[pixels[part]], self.px[pixels[part]]
            tile_y = ((py - self.radius) // TILE)[:, None] + span[None]
            tile_x = ((px - self.radius) // TILE)[:, None] + span[None]
            # a tile is in reach when it exists and its nearest pixel lies in the disc
            gap_y = np.maximum(0, np.maximum(tile_y * TILE - py[:, None], py[:, None] - tile_y * TILE - TILE + 1))
            gap_x = np.maximum(0, np.maximum(tile_x * TILE - px[:, None], px[:, None] - tile_x * TILE - TILE + 1))
            reach = (gap_y[:, :, None] ** 2 + gap_x[:, None, :] ** 2 <= self.radius**2) & (
                (tile_y < low.shape[0])[:, :, None] & (tile_x < low.shape[1])[:, None, :]
            )
            tile_y, tile_x = tile_y.clip(0, low.shape[0] - 1), tile_x.clip(0, low.shape[1] - 1)
            colour = wanted[part, None, None, :]
            box_low = low[tile_y[:, :, None], tile_x[:, None, :]]
            box_high = high[tile_y[:, :, None], tile_x[:, None, :]]
            # how far the colour asked about lies from each tile's box; a tile out of reach, farther than any
            bound = np.maximum(0, np.maximum(box_low - colour, colour - box_high)).max(axis=3)
            bound[~reach] = np.iinfo(bound.dtype).max
            # best first: each round searches every pixel's next nearest boxes, until a pixel's next box is
            # farther than the closest colour it has found
            order = np.argsort(bound.reshape(len(py), -1), axis=1, kind="stable")
            sorted_bound = np.take_along_axis(bound.reshape(len(py), -1), order, axis=1)
            part_best, part_wanted = best[part], wanted[part]
            active = np.arange(len(py))
            for first in range(0, order.shape[1], TILES_PER_ROUND):
                found = part_best[active] // self.size
                active = active[(sorted_bound[active, first] <= found) & (found > tolerance)]
                if len(active) == 0:
                    break
                tiles = order[active, first : first + TILES_PER_ROUND]
                who = np.repeat(active, tiles.shape[1])
                row, column = np.divmod(tiles.ravel(), len(span))
                score = self._tile_scores(py[who], px[who], tile_y[who, row], tile_x[who, column], part_wanted[who])
                score = score.reshape(len(active), -1).min(axis=1)
                part_best[active] = np.minimum(part_best[active], score)
        return best

    def _tile_scores(
        self, py: np.ndarray, px: np.ndarray, tile_y: np.ndarray, tile_x: np.ndarray, wanted: np.ndarray
    ) -> np.ndarray:
        """The best score of each pixel ``(py, px)`` over the pixels of its tile ``(tile_y, tile_x)`` in its disc."""
        within = np.arange(TILE)
        ys = (tile_y[:, None, None] * TILE + within[None, :, None]).repeat(TILE, axis=2).reshape(len(py), -1)
        xs = (tile_x[:, None, None] * TILE + within[None, None, :]).repeat(TILE, axis=1).reshape(len(py), -1)
        dy, dx = ys - py[:, None], xs - px[:, None]
        side = 2 * self.radius + 1
        in_square = (np.abs(dy) <= self.radius) & (np.abs(dx) <= self.radius)
        square_index = ((dy + self.radius) * side + dx + self.radius).clip(0, side * side - 1)
        rank = np.where(in_square, self.rank_of[square_index], -1)
        difference = np.abs(self.window[ys, xs] - wanted[:, None, :]).max(axis=2).astype(np.int64)
        return np.where(rank >= 0, difference * self.size + rank, np.iinfo(np.int64).max).min(axis=1)

    def colour_at(self, pixels: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """The colours at the offsets of row-major ``rank`` from ``pixels``."""
        picked = self.offsets[rank]
        return self.flat[self.centres[pixels] + picked[:, 0] * self.shape[1] + picked[:, 1]]
