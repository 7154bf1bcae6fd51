"""Real-face detection and 68-point landmarks, offline, from the shipped port of face-api's two networks.

:func:`detect_landmarks` finds faces with the tiny face detector and runs the 68-point landmark net on each box;
:func:`landmarks_in_box` runs the landmark net on a box that is already known (e.g. the same face after an edit).
Both follow face-api's pipeline step by step (see :mod:`hf_segan.face_api_ops`), so on photos up to
``PRESHRINK_FACTOR`` times the networks' input size they give face-api's numbers. Larger photos and face boxes are
first shrunk with area averaging by an integer factor to at most that size (face-api's plain bilinear resize
would skip most pixels), so a 12-megapixel photo costs about what a small one does. Boxes that reach past the
photo border are filled with zeros (black) outside it instead of being clipped, so the face stays centred in the
landmark net's input.

Landmark order is iBUG-300W's, with left and right as seen in the image (image-left is the subject's right):

==========  ========  =====================================================
indices     group     what
==========  ========  =====================================================
0-16        jaw       jaw line, image-left ear to image-right ear
17-21       left_brow image-left eyebrow, outer to inner end
22-26       right_brow image-right eyebrow, inner to outer end
27-35       nose      bridge 27-30 (top to tip), nostrils 31-35 (left to right)
36-41       left_eye  image-left eye, outer corner 36, inner corner 39
42-47       right_eye image-right eye, inner corner 42, outer corner 45
48-59       outer_lips outer lip contour, mouth corners 48 (left) and 54 (right)
60-67       inner_lips inner lip contour, inner corners 60 and 64
==========  ========  =====================================================

Use :data:`LANDMARK_GROUPS` rather than hard-coding these ranges.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .alignment import check_rgb
from .face_api_ops import js_round, non_max_suppression, pad_to_square, resize_bilinear_tf
from .models.face_detector import TinyFaceDetector
from .models.face_landmarks import FaceLandmark68Net

#: Where the converted face-api weights ship (``hf-segan convert-face-api`` writes this layout).
FACE_API_ASSETS = Path(__file__).resolve().parent / "assets" / "face_api"

#: iBUG-300W landmark index ranges; left/right as seen in the image.
LANDMARK_GROUPS: dict[str, range] = {
    "jaw": range(0, 17),
    "left_brow": range(17, 22),
    "right_brow": range(22, 27),
    "nose": range(27, 36),
    "left_eye": range(36, 42),
    "right_eye": range(42, 48),
    "outer_lips": range(48, 60),
    "inner_lips": range(60, 68),
}
NUM_LANDMARKS = 68
#: Upper and lower eyelid points facing each other (two pairs per eye): an eye's opening is their gap.
EYELID_PAIRS: tuple[tuple[int, int], ...] = ((37, 41), (38, 40), (43, 47), (44, 46))

#: Photos and boxes larger than this many times a network's input side are area-shrunk before its bilinear resize.
PRESHRINK_FACTOR = 4

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: its detector box and score, and its 68 landmarks in photo pixels.

    Attributes:
        box: (x, y, width, height) in photo pixels (may reach past the photo border).
        score: detector confidence in [0, 1].
        points: (68, 2) float64 (x, y) photo pixels in iBUG-300W order (see :data:`LANDMARK_GROUPS`).
    """

    box: Box
    score: float
    points: np.ndarray


_models_lock = threading.Lock()
_models: tuple[TinyFaceDetector, FaceLandmark68Net] | None = None


def load_face_api_models() -> tuple[TinyFaceDetector, FaceLandmark68Net]:
    """The shipped detector (channels-last) and landmark net, loaded once per process (thread-safe), in eval
    mode."""
    global _models
    with _models_lock:
        if _models is None:
            missing = [name for name in ("face_detector", "face_landmarks") if not (FACE_API_ASSETS / name).is_dir()]
            if missing:
                raise FileNotFoundError(
                    f"The face-api weights are missing from {FACE_API_ASSETS} ({', '.join(missing)}); regenerate them "
                    "with `hf-segan convert-face-api MODEL_DIR` (see docs/face_api.md)."
                )
            detector = TinyFaceDetector.from_pretrained(str(FACE_API_ASSETS / "face_detector")).eval()
            landmark_net = FaceLandmark68Net.from_pretrained(str(FACE_API_ASSETS / "face_landmarks")).eval()
            # channels-last: the detector's depthwise convolutions on its large input run much faster in that layout
            # on CPU (docs/performance.md, "Whole-photo latency"); the landmark net's small input gains nothing
            torch.nn.Module.to(detector, memory_format=torch.channels_last)
            _models = (detector, landmark_net)
        return _models


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Box-average ``image`` by the smallest integer factor that brings its longer side to at most ``max_side``.

    Returns the image and the factor (1: unchanged). An integer factor lets OpenCV take its exact, several times
    faster integer-factor area path; the last ``side % factor`` rows and columns (fewer than ``factor``) are left
    out for it, so small pixel ``i`` covers exactly photo pixels ``i * factor`` to ``(i + 1) * factor - 1``.
    """
    height, width = image.shape[:2]
    factor = -(-max(height, width) // max_side)
    if factor <= 1:
        return image, 1
    used_h, used_w = max(height - height % factor, factor), max(width - width % factor, factor)
    small = cv2.resize(image[:used_h, :used_w], (used_w // factor, used_h // factor), interpolation=cv2.INTER_AREA)
    return small, factor


def _network_input(square: np.ndarray, size: int) -> torch.Tensor:
    """A square (S, S, 3) image -> the (1, 3, size, size) float tensor face-api feeds its network."""
    pixels = resize_bilinear_tf(square, size, size) if square.shape[0] != size else square.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


def detect_face_boxes(
    rgb: np.ndarray, min_score: float = 0.5, input_size: int | None = None
) -> list[tuple[Box, float]]:
    """Face boxes (x, y, width, height in photo pixels) and scores, best score first, as face-api's detector.

    ``input_size`` is the detector's square input (a multiple of 32; None: the model's, face-api's default 416;
    larger finds smaller faces at more cost).
    """
    check_rgb(rgb, "rgb")
    if not 0.0 <= min_score < 1.0:
        raise ValueError(f"min_score must be in [0, 1), got {min_score}.")
    detector, _ = load_face_api_models()
    input_size = detector.config.input_size if input_size is None else input_size
    if input_size < 32 or input_size % 32:
        raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}.")
    work, factor = _shrink(rgb, PRESHRINK_FACTOR * input_size)
    work_h, work_w = work.shape[:2]
    width, height = work_w * factor, work_h * factor  # the photo pixels the detector saw
    square, _ = pad_to_square(work, centered=False)
    scale = input_size / max(work_h, work_w)
    content = (js_round(work_w * scale) / input_size, js_round(work_h * scale) / input_size)
    with torch.inference_mode():
        grid = detector(_network_input(square, input_size))[0]
        boxes, scores = detector.decode(grid, content)
    boxes, scores = boxes.numpy(), scores.numpy()
    candidates = np.flatnonzero(scores > min_score)
    kept = non_max_suppression(boxes[candidates], scores[candidates], detector.config.iou_threshold)
    found = []
    for index in candidates[kept]:
        x, y, w, h = boxes[index] * (width, height, width, height)
        found.append(((float(x), float(y), float(w), float(h)), float(scores[index])))
    return found


def _crop_box(rgb: np.ndarray, box: Box) -> tuple[np.ndarray, int, int]:
    """The integer box face-api crops for a detection (floored corner and size), zero-filled past the border."""
    values = [float(value) for value in box]
    if len(values) != 4 or not all(math.isfinite(value) for value in values):
        raise ValueError(f"box must be four finite numbers (x, y, width, height), got {box!r}.")
    x0, y0, width, height = (math.floor(value) for value in values)
    if width < 1 or height < 1:
        raise ValueError(f"box must be at least 1x1 pixel, got width {values[2]} and height {values[3]}.")
    photo_h, photo_w = rgb.shape[:2]
    crop = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = max(y0, 0), max(x0, 0)
    bottom, right = min(y0 + height, photo_h), min(x0 + width, photo_w)
    if bottom > top and right > left:
        crop[top - y0 : bottom - y0, left - x0 : right - x0] = rgb[top:bottom, left:right]
    return crop, x0, y0


def _landmarks_in_crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    """One face's landmarks in photo pixels: crop, pad to a square, resize, run the net, map back (face-api's steps).

    Faces run one at a time (not batched) so a box gives bit-identical points however many faces share the photo.
    """
    _, landmark_net = load_face_api_models()
    size = landmark_net.config.input_size
    crop, x0, y0 = _crop_box(rgb, box)
    small, factor = _shrink(crop, PRESHRINK_FACTOR * size)
    small_h, small_w = small.shape[:2]
    square, _ = pad_to_square(small, centered=True)
    with torch.inference_mode():
        relative = landmark_net(_network_input(square, size))[0].double().numpy()
    # face-api's FaceLandmark68NetBase.postProcess: undo the centred padding in the crop scaled to the input size.
    scale = size / max(small_w, small_h)
    scaled_w, scaled_h = small_w * scale, small_h * scale
    pad_x = abs(scaled_w - scaled_h) / 2 if scaled_w < scaled_h else 0.0
    pad_y = abs(scaled_w - scaled_h) / 2 if scaled_h < scaled_w else 0.0
    in_crop = (relative * size - (pad_x, pad_y)) / (scaled_w, scaled_h)
    return in_crop * (small_w * factor, small_h * factor) + (x0, y0)


def landmarks_in_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The 68 landmarks ((68, 2) float64 photo pixels, iBUG order) of the face in ``box`` (x, y, width, height).

    For measuring a face whose box is already known, e.g. the same face after an edit.
    """
    check_rgb(rgb, "rgb")
    return _landmarks_in_crop(rgb, box)


def detect_landmarks(rgb: np.ndarray, min_score: float = 0.5, max_faces: int | None = None) -> list[FaceLandmarks]:
    """Every face in an (H, W, 3) uint8 RGB photo with its 68 landmarks, largest box first.

    Args:
        rgb: the photo.
        min_score: detector confidence a face must exceed, in [0, 1).
        max_faces: keep at most this many faces (the largest); None keeps all.
    """
    check_rgb(rgb, "rgb")
    if max_faces is not None and (not isinstance(max_faces, int) or max_faces < 1):
        raise ValueError(f"max_faces must be a positive integer or None, got {max_faces!r}.")
    found = sorted(detect_face_boxes(rgb, min_score), key=lambda item: item[0][2] * item[0][3], reverse=True)
    found = found[:max_faces] if max_faces is not None else found
    return [FaceLandmarks(box=box, score=score, points=_landmarks_in_crop(rgb, box)) for box, score in found]
