"""Find faces in photos, crop them onto the canonical template, and paste edited crops back.

The editor only ever sees square crops whose eyes sit at ``CANONICAL_EYE_CENTERS``; the dataset converters crop
training faces with this same module, so a face cropped from a user's photo at inference looks like the faces
the models were trained on.

Photos are aligned from 68 facial landmarks (:func:`find_faces`, :func:`align_face_from_landmarks`): eye centres,
nose tip and mouth corners are fitted onto a template where SynthFaces draws them, so glasses, tilted heads and
several faces per photo align as well as a plain frontal face. The Haar cascades that ship inside
``opencv-python-headless`` (:func:`detect_faces`, :func:`align_face`) are the fallback when no landmarks are found;
their eye detector fails on glasses and their boxes only roughly frame a face. Nothing is downloaded and the whole
path runs on CPU.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import cv2
import numpy as np

from .constants import CANONICAL_EYE_CENTERS
from .face_api_ops import non_max_suppression

if TYPE_CHECKING:
    from .landmarks import FaceLandmarks

Point = tuple[float, float]

#: Where SynthFaces draws the nose tip and the mouth corners (image-left first) on a neutral face of average
#: proportions, as fractions of the crop side: the nose tip at the nostrils' line, 0.44 plus the mean nose length
#: 0.12, and the mouth corners on the mouth line y = 0.67, half the mean mouth width 0.165 either side of the centre
#: (``hf_segan/data/synthfaces``). With :data:`~hf_segan.constants.CANONICAL_EYE_CENTERS` they are the template
#: photo faces are fitted onto, so a photo crop and a SynthFaces crop put the same parts in the same places.
CANONICAL_NOSE_TIP: Point = (0.5, 0.56)
CANONICAL_MOUTH_CORNERS: tuple[Point, Point] = ((0.4175, 0.67), (0.5825, 0.67))

#: Weight of each eye centre against 1 for the nose tip and each mouth corner in the least-squares fit. Real faces
#: are longer than SynthFaces' (the mouth sits further below the eyes, relative to their distance), and a similarity
#: cannot stretch a face: the heavy eyes keep that mismatch off the eyes, which must land within 2 px of the template
#: at 128 px (see ``docs/real_photos.md``), while the other points steady the roll and the scale where an eye's
#: landmarks are off (a half-closed eye, glasses).
_EYE_WEIGHT = 8.0

#: iBUG-300W indices of the nose tip and the mouth corners (image-left first); the eyes are ``LANDMARK_GROUPS``'.
_NOSE_TIP = 30
_MOUTH_CORNERS = (48, 54)

#: Where the eyes sit in a Haar frontal-face box: eye distance as a fraction of the box width, eye line as a
#: fraction of the box height (the eye cascade puts them at 0.47-0.50 and 0.35-0.38 of the face cascade's box on
#: scikit-image's astronaut photo). Aligning a face whose eyes were not found with these keeps box- and
#: eye-aligned crops alike.
_BOX_EYE_DISTANCE = 0.48
_BOX_EYE_HEIGHT = 0.37

#: Face-shaped paste region in crop coordinates (fractions of the crop side): an ellipse covering brows, eyes,
#: nose, mouth and chin of a face on the canonical template, but not the hair or the background.
_PASTE_ELLIPSE_CENTER = (0.5, 0.56)
_PASTE_ELLIPSE_AXES = (0.34, 0.42)


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in photo pixels, optionally with the eye centres (image-left eye first)."""

    x: float
    y: float
    width: float
    height: float
    eye_centers: tuple[Point, Point] | None = None

    @property
    def area(self) -> float:
        return self.width * self.height


@dataclass(frozen=True)
class AlignedFace:
    """A canonical face crop and the similarity transforms between it and the photo it came from.

    ``matrix`` maps photo pixel coordinates to crop coordinates (2x3, for ``cv2.warpAffine``); ``inverse`` maps
    back, which is what :func:`paste_face` uses. ``landmarks`` are the face's 68 iBUG-300W points in crop pixels
    ((68, 2) float64, x then y) when it was aligned from landmarks, ``None`` when it was aligned from a Haar box.
    """

    crop: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    box: FaceBox
    landmarks: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.crop.shape[0]


#: A face found before, as a caller may hand it over instead of having it found again: its landmarks
#: (:class:`hf_segan.landmarks.FaceLandmarks`), a Haar box, or a face already aligned.
FoundFace = Union["FaceLandmarks", FaceBox, AlignedFace]


def check_rgb(image: np.ndarray, name: str = "image") -> None:
    """Raise a ValueError unless ``image`` is an (H, W, 3) uint8 RGB array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}.")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{name} must be an RGB uint8 array shaped (H, W, 3), got dtype {image.dtype} and shape {image.shape}; "
            "convert grayscale or RGBA photos to RGB first (e.g. PIL's Image.convert('RGB'))."
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got shape {image.shape}.")


#: Each thread's own loaded cascades (see :func:`_cascade`).
_THREAD_CASCADES = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    """One of OpenCV's bundled Haar cascades, loaded once per thread (loading parses a large XML file).

    A ``CascadeClassifier`` keeps scratch state while it detects, so one object shared by concurrent threads
    returns wrong boxes (or raises ``cv2.error``); each thread gets its own copy instead.
    """
    cascades = _THREAD_CASCADES.__dict__
    if name not in cascades:
        cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
        if cascade.empty():
            raise OSError(f"Could not load the OpenCV Haar cascade {name!r} from {cv2.data.haarcascades}.")
        cascades[name] = cascade
    return cascades[name]


def detect_faces(rgb: np.ndarray, max_side: int = 640, min_face_fraction: float = 0.08) -> list[FaceBox]:
    """Frontal faces in an RGB photo, largest first, with eye centres when both eyes are found.

    Detection runs on a grayscale copy downscaled so its longer side is at most ``max_side`` (cascades are slow
    on large photos and gain nothing from the extra pixels); boxes are mapped back to the input's pixels. Faces
    narrower than ``min_face_fraction`` of the shorter image side are ignored.
    """
    check_rgb(rgb, "rgb")
    if max_side < 32:
        raise ValueError(f"max_side must be at least 32 pixels, got {max_side}.")
    if not 0 < min_face_fraction < 1:
        raise ValueError(f"min_face_fraction must be in (0, 1), got {min_face_fraction}.")
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    min_side = max(24, round(min_face_fraction * min(gray.shape)))
    boxes = np.empty((0, 4))
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"):
        found = _cascade(name).detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        if len(found):
            boxes = np.asarray(found, dtype=np.float64)
            break
    faces = []
    for x, y, w, h in boxes:
        eyes = _detect_eyes(gray, int(x), int(y), int(w), int(h))
        if eyes is not None:
            eyes = tuple((float(ex / scale), float(ey / scale)) for ex, ey in eyes)
        faces.append(FaceBox(float(x / scale), float(y / scale), float(w / scale), float(h / scale), eyes))
    return sorted(faces, key=lambda face: face.area, reverse=True)


def _detect_eyes(gray: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[Point, Point] | None:
    """Both eye centres inside the upper half of a face box, or None unless one eye is found on each side."""
    top, bottom = y + h // 8, y + h * 11 // 20
    roi = gray[top:bottom, x : x + w]
    min_eye = max(8, w // 8)
    found = _cascade("haarcascade_eye.xml").detectMultiScale(
        roi, scaleFactor=1.1, minNeighbors=3, minSize=(min_eye, min_eye), maxSize=(w // 2, w // 2)
    )
    left = [(ex, ey, ew, eh) for ex, ey, ew, eh in found if ex + ew / 2 < w / 2]
    right = [(ex, ey, ew, eh) for ex, ey, ew, eh in found if ex + ew / 2 >= w / 2]
    if not left or not right:
        return None
    centers = []
    for candidates in (left, right):
        ex, ey, ew, eh = max(candidates, key=lambda eye: eye[2] * eye[3])
        centers.append((x + ex + ew / 2, top + ey + eh / 2))
    return centers[0], centers[1]


def _fit_similarity(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None, what: str = "points"
) -> np.ndarray:
    """The 2x3 rotation + uniform scale + translation mapping the (N, 2) points ``src`` onto ``dst`` with the least
    weighted sum of squared distances (exact for two points). Complex numbers make it closed-form: ``q = a p + b``.
    """
    p = src[:, 0] + 1j * src[:, 1]
    q = dst[:, 0] + 1j * dst[:, 1]
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    p_mean, q_mean = (w * p).sum() / w.sum(), (w * q).sum() / w.sum()
    spread = (w * np.abs(p - p_mean) ** 2).sum() / w.sum()
    if not spread > 1e-12:
        raise ValueError(f"The {what} {src.tolist()} coincide; cannot derive a face alignment from them.")
    a = (w * (q - q_mean) * np.conj(p - p_mean)).sum() / (w.sum() * spread)
    b = q_mean - a * p_mean
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def _template_pixels(points: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Template points (fractions of the crop side) in pixels of a ``size`` crop zoomed out by ``margin`` around
    its centre."""
    return size * (0.5 + (np.asarray(points, dtype=np.float64) - 0.5) / margin)


def _box_eye_centers(box: FaceBox) -> tuple[Point, Point]:
    """Where the eyes of a frontal face usually sit inside a detector box."""
    eye_y = box.y + _BOX_EYE_HEIGHT * box.height
    center_x = box.x + box.width / 2
    half = _BOX_EYE_DISTANCE * box.width / 2
    return (center_x - half, eye_y), (center_x + half, eye_y)


def crop_footprint(matrix: np.ndarray, size: int, shape: tuple[int, ...], pad: int) -> tuple[int, int, int, int]:
    """The photo rectangle ``(x0, y0, x1, y1)`` that a ``size`` x ``size`` crop taken with ``matrix`` (photo to crop,
    2x3) reads, grown by ``pad`` pixels and clipped to the photo (``shape`` (H, W, ...)); never empty."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[-1.0, -1.0], [size + 1.0, -1.0], [-1.0, size + 1.0], [size + 1.0, size + 1.0]])
    in_photo = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = shape[:2]
    x0, y0 = (np.floor(in_photo.min(0)).astype(int) - pad).clip(0, [width - 1, height - 1])
    x1, y1 = (np.ceil(in_photo.max(0)).astype(int) + pad + 1).clip([x0 + 1, y0 + 1], [width, height])
    return int(x0), int(y0), int(x1), int(y1)


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``cv2.warpAffine`` that area-downsamples first when shrinking by more than 2x, so crops do not alias.

    Only the part of the photo the crop reads (:func:`crop_footprint`) is resampled, so a crop of a 12-megapixel
    photo costs what its face does. Where the crop reaches past the photo, that part's border is the photo's own,
    which ``BORDER_REPLICATE`` repeats as before; elsewhere the margin is wide enough that the border is never read.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    # bilinear taps reach one pixel past a sample; an area cell of the shrunk copy spans 1 / scale photo pixels
    pad = 2 + (math.ceil(2 / scale) if scale < 0.5 else 0)
    x0, y0, x1, y1 = crop_footprint(matrix, size, image.shape, pad)
    if scale < 0.5:  # the shrunk copy needs at least one pixel each way, even of a crop mostly off the photo
        least = math.ceil(1 / scale)
        x0, y0 = max(0, min(x0, x1 - least)), max(0, min(y0, y1 - least))
        x1, y1 = min(image.shape[1], max(x1, x0 + least)), min(image.shape[0], max(y1, y0 + least))
    image = image[y0:y1, x0:x1]
    matrix = np.concatenate([matrix[:, :2], matrix[:, 2:] + matrix[:, :2] @ [[x0], [y0]]], axis=1)
    if scale < 0.5:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # cv2.resize maps source pixel centres as dst = scale * src + (scale - 1) / 2; undo that in the matrix.
        shift = (1 - scale) / (2 * scale)
        matrix = np.concatenate([matrix[:, :2] / scale, matrix[:, 2:] + matrix[:, :2] @ [[shift], [shift]]], axis=1)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_face(
    rgb: np.ndarray,
    box: FaceBox,
    size: int = 128,
    margin: float = 1.0,
    eye_centers: tuple[Point, Point] | None = None,
) -> AlignedFace:
    """Crop a face onto the canonical ``size`` x ``size`` template with a similarity transform.

    The eye centres (``eye_centers`` if given, e.g. from dataset landmarks, else ``box.eye_centers`` from the
    detector; image-left eye first) are mapped onto ``CANONICAL_EYE_CENTERS``, which also levels a tilted head.
    Without eyes the box is mapped to where a frontal face box sits on the same template. ``margin`` > 1 zooms
    out around the crop centre to keep more context (1 = the template the models are trained on). Pixels
    beyond the photo's border repeat its edge.
    """
    _check_crop_arguments(rgb, size, margin)
    if not (box.width > 0 and box.height > 0):
        raise ValueError(f"The face box must have a positive width and height, got {box}.")
    eyes = np.asarray(eye_centers or box.eye_centers or _box_eye_centers(box), dtype=np.float64)
    matrix = _fit_similarity(eyes, _template_pixels(CANONICAL_EYE_CENTERS, size, margin), what="two eye centres")
    crop = _warp(rgb, matrix, size)
    return AlignedFace(crop=crop, matrix=matrix, inverse=cv2.invertAffineTransform(matrix), box=box)


def _check_crop_arguments(rgb: np.ndarray, size: int, margin: float) -> None:
    check_rgb(rgb, "rgb")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, got {size!r}.")
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin}.")


def _landmarks_module():
    """:mod:`hf_segan.landmarks`, imported on first use: it imports this module's :func:`check_rgb`, so importing
    it at the top of this module would be circular."""
    from . import landmarks

    return landmarks


def check_landmarks(points: np.ndarray, name: str = "landmarks") -> np.ndarray:
    """``points`` as a (68, 2) float64 array of finite (x, y) pixels, or a ValueError saying what is wrong."""
    count = _landmarks_module().NUM_LANDMARKS
    array = np.asarray(points, dtype=np.float64) if isinstance(points, (np.ndarray, list, tuple)) else None
    if array is None or array.shape != (count, 2) or not np.isfinite(array).all():
        shape = getattr(array, "shape", type(points).__name__)
        raise ValueError(
            f"{name} must be {count} finite (x, y) points in iBUG-300W order, shaped ({count}, 2); got {shape}."
        )
    return array


def alignment_points(points: np.ndarray) -> np.ndarray:
    """The (5, 2) points the alignment fits, from 68 landmarks: image-left and image-right eye centres (the means
    of each eye's six points), nose tip, image-left and image-right mouth corners."""
    points = check_landmarks(points)
    groups = _landmarks_module().LANDMARK_GROUPS
    return np.stack(
        [
            points[groups["left_eye"]].mean(axis=0),
            points[groups["right_eye"]].mean(axis=0),
            points[_NOSE_TIP],
            points[_MOUTH_CORNERS[0]],
            points[_MOUTH_CORNERS[1]],
        ]
    )


def landmark_template(size: int = 128, margin: float = 1.0) -> np.ndarray:
    """The (5, 2) crop pixels :func:`alignment_points` are fitted onto: eye centres, nose tip, mouth corners."""
    template = np.array([*CANONICAL_EYE_CENTERS, CANONICAL_NOSE_TIP, *CANONICAL_MOUTH_CORNERS], dtype=np.float64)
    return _template_pixels(template, size, margin)


def similarity_from_landmarks(points: np.ndarray, size: int = 128, margin: float = 1.0) -> np.ndarray:
    """The 2x3 photo-to-crop similarity that fits 68 landmarks' eye centres, nose tip and mouth corners onto the
    canonical template by weighted least squares (eyes weighted :data:`_EYE_WEIGHT` times the others)."""
    weights = np.array([_EYE_WEIGHT, _EYE_WEIGHT, 1.0, 1.0, 1.0])
    return _fit_similarity(alignment_points(points), landmark_template(size, margin), weights, what="landmarks")


def align_face_from_landmarks(
    rgb: np.ndarray, face: FaceLandmarks, size: int = 128, margin: float = 1.0
) -> AlignedFace:
    """Crop a face onto the canonical ``size`` x ``size`` template from its 68 landmarks (see
    :func:`similarity_from_landmarks`); the crop's ``landmarks`` are the face's points in crop pixels.

    ``face`` is a :class:`hf_segan.landmarks.FaceLandmarks` (its ``box`` (x, y, width, height) and ``points``
    (68, 2), photo pixels). ``margin`` > 1 zooms out around the crop centre, as in :func:`align_face`; pixels
    beyond the photo's border repeat its edge, so faces near the border align too.
    """
    _check_crop_arguments(rgb, size, margin)
    points = check_landmarks(face.points, "face.points")
    matrix = similarity_from_landmarks(points, size, margin)
    eyes = alignment_points(points)[:2]
    box = FaceBox(*(float(v) for v in face.box), eye_centers=tuple((float(x), float(y)) for x, y in eyes))
    crop = _warp(rgb, matrix, size)
    landmarks = points @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(
        crop=crop, matrix=matrix, inverse=cv2.invertAffineTransform(matrix), box=box, landmarks=landmarks
    )


#: What :func:`find_faces` tells the caller when no face had landmarks and Haar boxes were used instead.
HAAR_FALLBACK_NOTE = "no landmarks found; aligned from a Haar box, edits may be off"
FACE_CHOICES = ("largest", "all")


#: Factor on face-api's detector input side (416) for a second pass over a large photo, for the small faces of a
#: group photo (at the default side, a face narrower than about a tenth of the photo's longer side is missed).
SMALL_FACE_PASS_SCALE = 2


def _detect_landmark_faces(rgb: np.ndarray, faces: str, min_score: float) -> list[FaceLandmarks]:
    """Faces with landmarks, largest first. The detector runs at its default input side, and again at
    :data:`SMALL_FACE_PASS_SCALE` times that where all faces are wanted or none was found, on photos at least that
    large (the first pass shrank them by that factor or more; upsampling a smaller photo only adds false
    detections); boxes found twice are merged by the detector's own non-maximum suppression."""
    module = _landmarks_module()
    detector_config = module.load_face_api_models()[0].config
    large = SMALL_FACE_PASS_SCALE * detector_config.input_size
    found = module.detect_face_boxes(rgb, min_score)
    if (faces == "all" or not found) and max(rgb.shape[:2]) >= large:
        found += module.detect_face_boxes(rgb, min_score, large)
        boxes, scores = np.array([box for box, _ in found]), np.array([score for _, score in found])
        found = [found[i] for i in non_max_suppression(boxes, scores, detector_config.iou_threshold)] if found else []
    found = sorted(found, key=lambda item: item[0][2] * item[0][3], reverse=True)[: 1 if faces == "largest" else None]
    return [module.FaceLandmarks(box, score, module.landmarks_in_box(rgb, box)) for box, score in found]


def locate_faces(rgb: np.ndarray, faces: str = "largest", min_score: float = 0.5) -> tuple[list[FoundFace], list[str]]:
    """The detection half of :func:`find_faces`: the face(s) of a photo, largest first, as
    :class:`hf_segan.landmarks.FaceLandmarks` (photo pixels), or as Haar :class:`FaceBox` es when no face had
    landmarks (with :data:`HAAR_FALLBACK_NOTE`), and notes for the user.

    A caller that needs a photo's faces at more than one crop side (a view of the face and the parser's crop) finds
    them once here and aligns them for each use with :func:`align_found_faces`, which is what :func:`find_faces`
    does, so the alignments are the same as :func:`find_faces`' at each side.
    """
    if faces not in FACE_CHOICES:
        raise ValueError(f"faces must be one of {FACE_CHOICES}, got {faces!r}.")
    check_rgb(rgb, "rgb")
    found = _detect_landmark_faces(rgb, faces, min_score)
    if found:
        return list(found), []
    boxes = detect_faces(rgb)[: 1 if faces == "largest" else None]
    return list(boxes), [HAAR_FALLBACK_NOTE] if boxes else []


def check_found_faces(faces: object, name: str = "faces") -> None:
    """A ValueError unless ``faces`` is a list or tuple of faces found before (:data:`FoundFace`)."""
    face_landmarks = _landmarks_module().FaceLandmarks
    accepted = "FaceLandmarks, FaceBox or AlignedFace"
    if not isinstance(faces, (list, tuple)):
        raise ValueError(f"{name} must be {FACE_CHOICES} or a list of faces ({accepted}), got {faces!r}.")
    for index, face in enumerate(faces):
        if not isinstance(face, (face_landmarks, FaceBox, AlignedFace)):
            raise ValueError(f"{name}[{index}] must be a {accepted}, got {type(face).__name__}.")


def align_found_faces(
    rgb: np.ndarray, faces: Sequence[FoundFace], size: int = 128, margin: float = 1.0
) -> list[AlignedFace]:
    """Faces found before aligned onto the template at ``size`` (and ``margin``), in their order:
    :class:`~hf_segan.landmarks.FaceLandmarks` by :func:`align_face_from_landmarks`, a :class:`FaceBox` by
    :func:`align_face`, exactly as :func:`find_faces` aligns what it finds. An :class:`AlignedFace` is taken as it
    is, so it must have been aligned at ``size`` and ``margin`` (a different side is refused; pass the
    ``FaceLandmarks`` to align at any side).
    """
    _check_crop_arguments(rgb, size, margin)
    check_found_faces(faces)
    aligned = []
    for index, face in enumerate(faces):
        if isinstance(face, AlignedFace):
            if face.size != size:
                raise ValueError(
                    f"faces[{index}] is an AlignedFace of side {face.size}, but side {size} is needed here; pass the "
                    "face's FaceLandmarks (or FaceBox) to have it aligned at any side."
                )
            aligned.append(face)
        elif isinstance(face, FaceBox):
            aligned.append(align_face(rgb, face, size, margin))
        else:
            aligned.append(align_face_from_landmarks(rgb, face, size, margin))
    return aligned


def find_faces(
    rgb: np.ndarray,
    faces: str | Sequence[FoundFace] = "largest",
    size: int = 128,
    margin: float = 1.0,
    min_score: float = 0.5,
) -> tuple[list[AlignedFace], list[str]]:
    """The face(s) of a photo aligned onto the canonical template, largest first, and notes for the user.

    Faces are found by face-api's detector (:func:`hf_segan.landmarks.detect_face_boxes`, confidence above
    ``min_score``; see :data:`SMALL_FACE_PASS_SCALE`), get their 68 landmarks from its landmark net
    (:func:`hf_segan.landmarks.landmarks_in_box`) and are aligned with :func:`align_face_from_landmarks`. Only when
    no face has landmarks are
    the Haar cascades tried (:func:`detect_faces`, :func:`align_face`); those faces have no ``landmarks`` and the
    notes say so (:data:`HAAR_FALLBACK_NOTE`). No face at all gives an empty list: the caller knows the photo's
    name for the error. :func:`locate_faces` and :func:`align_found_faces` are its two halves.

    Args:
        rgb: the photo, (H, W, 3) uint8.
        faces: ``"largest"`` (one face) or ``"all"``, or faces found before (:func:`locate_faces`), which are
            aligned by :func:`align_found_faces` without detecting again (and without notes).
        size, margin: the crop's side and zoom-out, as in :func:`align_face`.
        min_score: detector confidence a face must exceed, in [0, 1).
    """
    if not isinstance(faces, str):
        return align_found_faces(rgb, faces, size, margin), []
    if faces not in FACE_CHOICES:
        raise ValueError(f"faces must be one of {FACE_CHOICES}, got {faces!r}.")
    _check_crop_arguments(rgb, size, margin)
    found, notes = locate_faces(rgb, faces, min_score)
    return align_found_faces(rgb, found, size, margin), notes


def paste_mask(size: int, feather: float = 0.08) -> np.ndarray:
    """The float32 blend weight of a face crop: 1 on the face, a smooth ramp at its edge, exactly 0 elsewhere.

    The ramp (``feather`` times the crop side wide) lies inside the face ellipse: the ellipse is shrunk by the
    blur radius before blurring, and a finite Gaussian kernel cannot spread weight past its own radius.
    """
    if not 0 <= feather < 0.3:
        raise ValueError(f"feather must be in [0, 0.3) (a fraction of the crop side), got {feather}.")
    radius = round(feather * size / 2)
    center = (round(_PASTE_ELLIPSE_CENTER[0] * size), round(_PASTE_ELLIPSE_CENTER[1] * size))
    axes = (round(_PASTE_ELLIPSE_AXES[0] * size) - radius, round(_PASTE_ELLIPSE_AXES[1] * size) - radius)
    mask = np.zeros((size, size), dtype=np.float32)
    cv2.ellipse(mask, center, axes, 0, 0, 360, 1.0, thickness=-1)
    if radius > 0:
        mask = cv2.GaussianBlur(mask, (2 * radius + 1, 2 * radius + 1), sigmaX=radius / 2)
    return mask


def paste_face(photo: np.ndarray, edited_crop: np.ndarray, aligned: AlignedFace, feather: float = 0.08) -> np.ndarray:
    """Warp the *change* an edit made to a crop back into the photo, over the face only.

    What is added is ``edited_crop - aligned.crop`` warped to photo coordinates and weighted by the warped
    :func:`paste_mask`, so the photo keeps its own full-resolution pixels wherever the edit changed nothing, and
    pixels outside the face region are copied unchanged (byte-identical). Returns a new array; ``photo`` is not
    modified.
    """
    check_rgb(photo, "photo")
    check_rgb(edited_crop, "edited_crop")
    if edited_crop.shape != aligned.crop.shape:
        raise ValueError(
            f"edited_crop must have the aligned crop's shape {aligned.crop.shape}, got {edited_crop.shape}."
        )
    # Only the crop's footprint can change: warp into that rectangle and copy the rest of the photo unchanged.
    x0, y0, x1, y1 = crop_footprint(aligned.matrix, aligned.size, photo.shape, pad=2)
    inverse = aligned.inverse - [[0, 0, x0], [0, 0, y0]]
    weight = cv2.warpAffine(
        paste_mask(aligned.size, feather),
        inverse,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    change = edited_crop.astype(np.float32) - aligned.crop.astype(np.float32)
    change = cv2.warpAffine(
        change, inverse, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    inside = weight > 0
    result = photo.copy()
    region = result[y0:y1, x0:x1]
    blended = region[inside].astype(np.float32) + weight[inside][:, None] * change[inside]
    region[inside] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result
