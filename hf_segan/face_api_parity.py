"""Parity of the face-api ports with the original: the shared test photos and the comparison with face-api's output.

The photos are public-domain images that ship inside Python packages (scikit-image's astronaut, matplotlib's
``grace_hopper.jpg``), plus a mirror, a 15-degree rotation and a side-by-side composite made from them, so the
reference outputs stored in ``tests/data`` can be checked without npm. ``tools/face_api_reference`` writes the
photos as raw RGB for the node script that runs the original networks and compares its JSON with the port.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from .landmarks import detect_face_boxes, landmarks_in_box

#: Detector settings both sides run with (face-api's defaults).
INPUT_SIZE = 416
SCORE_THRESHOLD = 0.5


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre (counter-clockwise for positive ``degrees``), bilinear, black corners, same size."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def development_photos() -> dict[str, np.ndarray]:
    """The two public-domain development photos as RGB uint8 arrays (needs scikit-image and matplotlib)."""
    try:
        from matplotlib import cbook
        from PIL import Image
        from skimage import data
    except ImportError as error:
        raise ImportError(
            f"The development photos come from scikit-image and matplotlib ({error}); install the dev extras."
        ) from error
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as photo:
        grace_hopper = np.asarray(photo.convert("RGB"))
    return {"astronaut": np.ascontiguousarray(data.astronaut()), "grace_hopper": grace_hopper}


def parity_photos() -> dict[str, np.ndarray]:
    """The photos the parity reference was computed on, by name."""
    photos = development_photos()
    astronaut, grace_hopper = photos["astronaut"], photos["grace_hopper"]
    pair = np.zeros(
        (max(astronaut.shape[0], grace_hopper.shape[0]), astronaut.shape[1] + grace_hopper.shape[1], 3), np.uint8
    )
    pair[: astronaut.shape[0], : astronaut.shape[1]] = astronaut
    pair[: grace_hopper.shape[0], astronaut.shape[1] :] = grace_hopper
    return {
        "astronaut": astronaut,
        "grace_hopper": grace_hopper,
        "astronaut_mirrored": np.ascontiguousarray(astronaut[:, ::-1]),
        "grace_hopper_rotated_15": rotated(grace_hopper, 15.0),
        "astronaut_and_grace_hopper": pair,
    }


def sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def write_raw_photos(folder: str | Path) -> Path:
    """Write each parity photo as raw RGB bytes plus ``images.json`` (what ``reference.mjs`` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for name, image in parity_photos().items():
        (folder / f"{name}.rgb").write_bytes(np.ascontiguousarray(image).tobytes())
        index.append(
            {
                "name": name,
                "width": image.shape[1],
                "height": image.shape[0],
                "file": f"{name}.rgb",
                "sha256": sha256(image),
            }
        )
    (folder / "images.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return folder


def _crop_origin(box: list[float]) -> np.ndarray:
    """Where face-api's landmark crop starts: its box clipped to the photo and floored (``clipAtImageBorders``)."""
    return np.floor(np.maximum(np.asarray(box[:2], dtype=np.float64), 0.0))


def compare_with_reference(reference: dict) -> dict:
    """Run the port on each reference photo and measure how far it is from face-api's stored output.

    Faces are paired with face-api's in its order (best score first). Landmarks are compared two ways:
    ``landmark_px`` places face-api's crop landmarks at the crop it actually cut (the floored box corner, as the
    port does); ``landmark_end_to_end_px`` uses face-api's final landmarks, which it shifts by the unfloored box
    corner instead, so they differ from the crop placement by the box corner's fractional part (under 1 px).
    Faces whose box crosses the photo border are compared by box only (face-api clips the crop, the port pads it).
    """
    photos = parity_photos()
    rows = []
    for entry in reference["images"]:
        image = photos[entry["name"]]
        found = detect_face_boxes(image, SCORE_THRESHOLD, INPUT_SIZE)
        row = {
            "name": entry["name"],
            "same_pixels": sha256(image) == entry["sha256"],
            "faces_reference": len(entry["faces"]),
            "faces_port": len(found),
            "border_faces": 0,
            "box_px": 0.0,
            "score": 0.0,
            "landmark_px": 0.0,
            "landmark_end_to_end_px": 0.0,
        }
        for face, (box, score) in zip(entry["faces"], found, strict=False):
            row["box_px"] = max(row["box_px"], float(np.abs(np.subtract(box, face["box"])).max()))
            row["score"] = max(row["score"], abs(score - face["score"]))
            x, y, width, height = face["box"]
            if x < 0 or y < 0 or x + width > image.shape[1] or y + height > image.shape[0]:
                row["border_faces"] += 1  # face-api clips such a box, the port pads it: different crops
                continue
            points = landmarks_in_box(image, box)
            at_crop = np.asarray(face["crop_landmarks"]) + _crop_origin(face["box"])
            row["landmark_px"] = max(row["landmark_px"], float(np.abs(points - at_crop).max()))
            end_to_end = float(np.abs(points - np.asarray(face["landmarks"])).max())
            row["landmark_end_to_end_px"] = max(row["landmark_end_to_end_px"], end_to_end)
        rows.append(row)
    maxima = {
        key: max(row[key] for row in rows) for key in ("box_px", "score", "landmark_px", "landmark_end_to_end_px")
    }
    return {"rows": rows, **maxima}
