"""Label sets shared by every part of hf_segan.

They are data, not code: the parsers, the editor, the data converters and the metrics all read the same
tuples, so a model trained here and a dataset converted here can never disagree about what label 4 means.
"""

from __future__ import annotations

#: The 19 CelebAMask-HQ face-parsing classes, in the order used by the public face-parsing BiSeNet
#: checkpoint and by every parser in this package (index = label value in a parsing mask).
FACE_PARSING_CLASSES: tuple[str, ...] = (
    "background",
    "skin",
    "l_brow",
    "r_brow",
    "l_eye",
    "r_eye",
    "eye_g",
    "l_ear",
    "r_ear",
    "ear_r",
    "nose",
    "mouth",
    "u_lip",
    "l_lip",
    "neck",
    "neck_l",
    "cloth",
    "hair",
    "hat",
)

#: The 8 expressions shared by AffectNet (codes 0..7) and RaFD, in AffectNet's order. Every dataset
#: converter maps onto this label set, and the editor's condition vector is indexed by it.
EXPRESSIONS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)

#: Region groups of the hierarchical editor: one local generator per group, whose soft mask is the sum of
#: the parser's probabilities over the group's classes.
DEFAULT_REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "eyes": ("l_brow", "r_brow", "l_eye", "r_eye", "eye_g"),
    "nose": ("nose",),
    "mouth": ("mouth", "u_lip", "l_lip"),
}

#: Face parsers of a photo (``SeganPipeline.parse_photo``, ``hf-segan parse --parser``): ``landmarks`` draws region
#: masks from the face's 68 landmarks, ``model`` runs the pipeline's learned parser, ``auto`` takes the learned
#: parser only for a model trained on real photos (a parser that saw only synthetic faces reads a photo poorly).
PHOTO_PARSERS: tuple[str, ...] = ("auto", "model", "landmarks")

#: Classes that trade places under a horizontal flip (the subject's left becomes their right).
FLIP_CLASS_PAIRS: tuple[tuple[str, str], ...] = (
    ("l_brow", "r_brow"),
    ("l_eye", "r_eye"),
    ("l_ear", "r_ear"),
)

#: One RGB colour per parsing class, for overlays and colour-coded masks.
PARSING_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (204, 160, 120),
    (120, 60, 20),
    (160, 90, 40),
    (0, 120, 255),
    (0, 200, 255),
    (255, 255, 0),
    (255, 0, 120),
    (255, 90, 170),
    (255, 170, 0),
    (0, 220, 90),
    (120, 0, 40),
    (255, 40, 40),
    (200, 0, 200),
    (150, 110, 90),
    (90, 160, 160),
    (60, 60, 200),
    (90, 50, 10),
    (130, 130, 130),
)


def class_indices(names: tuple[str, ...] | list[str], classes: tuple[str, ...] = FACE_PARSING_CLASSES) -> list[int]:
    """Indices of ``names`` in ``classes``; raises a ValueError naming any unknown class and the valid ones."""
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise ValueError(f"Unknown parsing class(es) {unknown}; valid classes are {list(classes)}.")
    return [classes.index(name) for name in names]


def flip_permutation(classes: tuple[str, ...] = FACE_PARSING_CLASSES) -> list[int]:
    """Label permutation to apply after a horizontal flip: ``new_label = perm[old_label]``."""
    perm = list(range(len(classes)))
    for left, right in FLIP_CLASS_PAIRS:
        if left in classes and right in classes:
            i, j = classes.index(left), classes.index(right)
            perm[i], perm[j] = j, i
    return perm


#: Where the eye centres sit in the canonical square face crop, as fractions of its side (x, y); the first
#: is the eye on the image's left. SynthFaces renders neutral faces to this template and the photo aligner
#: maps detected faces onto it, so training crops and inference crops agree.
CANONICAL_EYE_CENTERS: tuple[tuple[float, float], tuple[float, float]] = ((0.37, 0.42), (0.63, 0.42))

#: The words the CLI (``--glasses``) and the Space offer for ``SeganPipeline.edit_photo(glasses=...)``, and the
#: value each stands for (auto: ``hf_segan.glasses.wears_glasses`` finds out per face).
GLASSES_CHOICES: dict[str, bool | None] = {"auto": None, "yes": True, "no": False}
