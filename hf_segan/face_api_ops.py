"""face-api's input and output steps around its networks, reproduced in numpy so the PyTorch ports match it.

face-api (``NetInput.toBatchTensor``) pads a photo to a square with zeros (the detector pads the bottom/right, the
landmark net pads both sides of the shorter axis), resizes it with TensorFlow's legacy bilinear resize
(``align_corners=False, half_pixel_centers=False``: output pixel ``i`` samples input position ``i * in / out``),
and keeps the detector's boxes with a greedy IoU non-maximum suppression. Each function below is the numpy twin
of one of those TypeScript steps; the docstrings name the source.
"""

from __future__ import annotations

import math

import numpy as np


def js_round(value: float) -> int:
    """JavaScript's ``Math.round`` (halves round up, unlike Python's ``round``)."""
    return math.floor(value + 0.5)


def resize_bilinear_tf(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) float32, as tfjs' ``resizeBilinear(alignCorners=false, halfPixelCenters=false)``.

    Only the rows and columns the output samples are read, so the cost follows the output size, not the input's.
    """
    in_h, in_w = image.shape[:2]

    def taps(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = np.arange(out_size, dtype=np.float64) * (in_size / out_size)
        low = np.maximum(np.floor(position), 0).astype(np.int64)
        high = np.minimum(np.ceil(position), in_size - 1).astype(np.int64)
        return low, high, position - low

    row_low, row_high, row_frac = taps(height, in_h)
    col_low, col_high, col_frac = taps(width, in_w)
    col_frac = col_frac[None, :, None]

    def corner(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return image[np.ix_(rows, cols)].astype(np.float64)

    top_left, top_right = corner(row_low, col_low), corner(row_low, col_high)
    bottom_left, bottom_right = corner(row_high, col_low), corner(row_high, col_high)
    top = top_left + (top_right - top_left) * col_frac
    bottom = bottom_left + (bottom_right - bottom_left) * col_frac
    return (top + (bottom - top) * row_frac[:, None, None]).astype(np.float32)


def pad_to_square(image: np.ndarray, centered: bool) -> tuple[np.ndarray, int]:
    """Zero-pad the shorter axis to a square, as face-api's ``padToSquare``; also return the leading padding.

    Not centred (the detector): all padding after the image. Centred (the landmark net): ``round(diff / 2)``
    after and the rest before, with JavaScript rounding.
    """
    height, width = image.shape[:2]
    if height == width:
        return image, 0
    diff = abs(height - width)
    after = js_round(diff * 0.5) if centered else diff
    before = diff - after
    pad = [(before, after), (0, 0), (0, 0)] if height < width else [(0, 0), (before, after), (0, 0)]
    return np.pad(image, pad), before


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x, y, w, h) box with each of (N, 4) boxes, as face-api's ``iou``."""
    width = np.maximum(0.0, np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    height = np.maximum(0.0, np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    intersection = width * height
    return intersection / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - intersection)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of the kept boxes, best first, as face-api's greedy ``nonMaxSuppression`` (ties: later index first)."""
    order = list(np.argsort(scores, kind="stable"))
    kept: list[int] = []
    while order:
        best = int(order.pop())
        kept.append(best)
        if order:
            overlaps = iou(boxes[best], boxes[order])
            order = [index for index, overlap in zip(order, overlaps, strict=True) if overlap <= iou_threshold]
    return kept
