"""Parsing probabilities of aligned face crops mapped back onto the photo they came from, as one label map.

A parser sees a face only as an aligned crop (the template the models and the landmark masks know); a whole photo
is mostly not face. So a photo is parsed face by face and each crop's class probabilities are warped back through
the crop's similarity transform, bilinearly, into the photo's pixels. Outside every face the label is background;
where two faces' crops overlap, each pixel takes the face that claims it more strongly (its probability of being
any face class).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .alignment import AlignedFace
from .landmark_parsing import landmark_parsing_probs
from .landmarks import landmarks_in_box

#: Where the landmark net's face box lies on an aligned crop (x, y, width, height, fractions of the crop side):
#: around the face from just above the brows to below the chin, as face-api's detector frames a face. Used to find
#: the landmarks of a crop that was aligned elsewhere (``hf-segan parse --aligned``).
TEMPLATE_FACE_BOX = (0.14, 0.26, 0.72, 0.64)
#: Largest side of the crop at which landmark masks of a photo face are drawn: at least the model's resolution, up
#: to the face's own size in the photo, so a large face gets sharp label edges without an oversized canvas.
MAX_MASK_SIZE = 512


def crop_landmarks(crop: np.ndarray) -> np.ndarray:
    """The 68 landmarks ((68, 2) crop pixels) of an already aligned face crop (margin 1), from the landmark net
    run in :data:`TEMPLATE_FACE_BOX`."""
    height, width = crop.shape[:2]
    x, y, w, h = TEMPLATE_FACE_BOX
    return landmarks_in_box(crop, (x * width, y * height, w * width, h * height))


def landmark_probs_for_photo(face: AlignedFace) -> tuple[np.ndarray, np.ndarray]:
    """``(probs, matrix)``: landmark parsing probabilities (19, S, S) of ``face`` drawn at a side ``S`` between its
    crop's and :data:`MAX_MASK_SIZE` that matches the face's size in the photo, and the photo-to-mask similarity.

    The crop's similarity scaled by ``S / size`` is the one that would have aligned the face at side ``S`` (the
    template scales with the side), so its landmarks scale the same way.
    """
    photo_pixels_per_crop_pixel = 1.0 / float(np.sqrt(abs(np.linalg.det(face.matrix[:, :2]))))
    side = int(min(MAX_MASK_SIZE, max(face.size, round(face.size * photo_pixels_per_crop_pixel))))
    scale = side / face.size
    probs = landmark_parsing_probs(face.landmarks * scale, side)[0].numpy()
    return probs, face.matrix * scale


def labels_on_photo(shape: tuple[int, int], faces: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The (H, W) uint8 label map of a photo of ``shape`` from each face's ``(probs, matrix)``: class probabilities
    (C, S, S) on a crop and the 2x3 similarity from photo to crop pixels.

    Each face is warped only into the photo rectangle its crop covers, so a small face in a large photo costs what
    its crop does.
    """
    height, width = shape
    labels = np.zeros((height, width), np.uint8)
    strength = np.zeros((height, width), np.float32)
    for probs, matrix in faces:
        side = probs.shape[-1]
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0], [side, 0], [0, side], [side, side]], np.float64) - 0.5
        in_photo = corners @ inverse[:, :2].T + inverse[:, 2]
        x0, y0 = np.maximum(np.floor(in_photo.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(in_photo.max(axis=0)).astype(int) + 1, (width, height))
        if x1 <= x0 or y1 <= y0:
            continue
        # photo pixel (x0 + u, y0 + v) -> crop pixel: the face's matrix after a shift by the rectangle's corner
        to_crop = np.concatenate([matrix[:, :2], matrix[:, 2:] + matrix[:, :2] @ [[x0], [y0]]], axis=1)
        warped = cv2.warpAffine(
            np.ascontiguousarray(probs.transpose(1, 2, 0)), to_crop, (int(x1 - x0), int(y1 - y0)),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
        warped = warped.reshape(y1 - y0, x1 - x0, -1)
        face_strength = warped[..., 1:].sum(axis=2)  # 0 off the crop, where every warped probability is 0
        stronger = face_strength > strength[y0:y1, x0:x1]
        labels[y0:y1, x0:x1][stronger] = warped.argmax(axis=2)[stronger]
        strength[y0:y1, x0:x1][stronger] = face_strength[stronger]
    return labels
