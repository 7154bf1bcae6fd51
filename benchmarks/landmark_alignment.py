"""How well faces of real photos land on the canonical template, and how close landmark masks are to exact labels.

For scikit-image's astronaut and matplotlib's Grace Hopper (glasses), plain and flipped, rotated by 0, +-15 and
+-20 degrees, and a composed three-face photo, prints per face: the eye centres' distance from the template at
128 px as fitted (the landmarks the alignment used) and as measured again (the landmark net run on a 512 px crop of
the aligned face, in the detector box mapped into the crop). With SynthFaces landmarks available
(``hf_segan.data.synthfaces.landmarks``) it also prints the IoU of the landmark masks against SynthFaces' exact
label maps.

    python benchmarks/landmark_alignment.py
"""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage import data

from hf_segan.alignment import AlignedFace, alignment_points, find_faces, landmark_template
from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.landmark_parsing import landmark_parsing_probs
from hf_segan.landmarks import landmarks_in_box

TEMPLATE_EYES = landmark_template(128)[:2]


def eye_errors(photo: np.ndarray, face: AlignedFace, big: AlignedFace) -> tuple[float, float]:
    """(fitted, measured again) largest eye-centre distance from the template, pixels at 128 px."""
    fitted = np.linalg.norm(alignment_points(face.landmarks)[:2] - TEMPLATE_EYES, axis=1).max()
    box = face.box
    corners = np.array([[box.x, box.y], [box.x + box.width, box.y], [box.x, box.y + box.height]])
    corners = np.vstack([corners, [box.x + box.width, box.y + box.height]]) @ big.matrix[:, :2].T + big.matrix[:, 2]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    again = alignment_points(landmarks_in_box(big.crop, (x0, y0, x1 - x0, y1 - y0)))[:2] / 4
    return float(fitted), float(np.linalg.norm(again - TEMPLATE_EYES, axis=1).max())


def rotated(photo: np.ndarray, degrees: float) -> np.ndarray:
    height, width = photo.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def photos() -> dict[str, np.ndarray]:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        grace = np.asarray(image.convert("RGB"))
    astronaut = data.astronaut()
    cases = {}
    for name, photo in (("grace_hopper", grace), ("astronaut", astronaut)):
        for flip in (False, True):
            for degrees in (0, 15, -15, 20, -20):
                source = photo[:, ::-1] if flip else photo
                cases[f"{name}{' flipped' if flip else ''} {degrees:+d} deg"] = rotated(source, degrees)
    group = np.full((600, 1400, 3), 120, dtype=np.uint8)
    group[:, :512] = grace
    group[44:556, 520:1032] = astronaut
    group[150:450, 1080:1380] = cv2.resize(astronaut[:, ::-1], (300, 300), interpolation=cv2.INTER_AREA)
    cases["group of three"] = group
    return cases


def alignment_table() -> None:
    print("| photo | faces | notes | eyes from template, fitted (px at 128) | measured again |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, photo in photos().items():
        faces, notes = find_faces(photo, faces="all", size=128)
        bigs, _ = find_faces(photo, faces="all", size=512)
        errors = [eye_errors(photo, face, big) for face, big in zip(faces, bigs, strict=True)]
        worst = max([worst, *(again for _, again in errors)])
        fitted = ", ".join(f"{f:.2f}" for f, _ in errors)
        again = ", ".join(f"{a:.2f}" for _, a in errors)
        print(f"| {name} | {len(faces)} | {'; '.join(notes) or '-'} | {fitted} | {again} |")
    print(f"\nlargest eye error measured again: {worst:.2f} px at 128 px")


def synthfaces_table(identities: int = 40) -> None:
    from hf_segan.data.synthfaces.landmarks import synthfaces_landmarks
    from hf_segan.data.synthfaces.params import sample_identity
    from hf_segan.data.synthfaces.render import render_face

    names = ("skin", "l_brow", "r_brow", "l_eye", "r_eye", "nose", "u_lip", "l_lip", "mouth")
    intersections, unions = np.zeros(len(names)), np.zeros(len(names))
    for identity_id in range(identities):
        identity = sample_identity(identity_id, seed=3)
        for expression in ("neutral", "happy", "surprise", "anger"):
            _, truth = render_face(identity, expression, size=128)
            predicted = landmark_parsing_probs(synthfaces_landmarks(identity, expression, size=128), 128)
            predicted = predicted[0].argmax(0).numpy()
            for i, name in enumerate(names):
                label = FACE_PARSING_CLASSES.index(name)
                intersections[i] += ((predicted == label) & (truth == label)).sum()
                unions[i] += ((predicted == label) | (truth == label)).sum()
    print(f"\nLandmark masks against SynthFaces' exact labels ({identities * 4} faces, 128 px):")
    print("| " + " | ".join(names) + " |\n|" + "---|" * len(names))
    print("| " + " | ".join(f"{i / u:.3f}" for i, u in zip(intersections, unions, strict=True)) + " |")


if __name__ == "__main__":
    alignment_table()
    if importlib.util.find_spec("hf_segan.data.synthfaces.landmarks") is not None:
        synthfaces_table()
