"""What a SynthFaces face is made of: identity parameters (who) and expression parameters (what they show).

Identity parameters never change with the expression; expression parameters only move the brows, eyes, nose and
mouth. An expression at some intensity, or a blend, is the condition-weighted sum of the eight prototype
parameter vectors (:func:`hf_segan.expressions.expression_condition`), so intensity 0 is exactly neutral and
every blend has a ground-truth rendering.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...constants import CANONICAL_EYE_CENTERS, EXPRESSIONS
from ...expressions import ExpressionSpec, expression_condition

SPLITS = ("train", "validation", "test")
#: Identity ids of different splits live in disjoint ranges, so evaluation is always on unseen identities.
SPLIT_ID_OFFSET = {"train": 0, "validation": 1_000_000, "test": 2_000_000}

HAIR_STYLES = ("short", "long", "bald", "bob")
#: Distance between the eye centres of the canonical crop; identities vary around it by up to +-0.02, so eyes sit on
#: the template on average, as in aligned photo crops.
CANONICAL_EYE_SPACING = CANONICAL_EYE_CENTERS[1][0] - CANONICAL_EYE_CENTERS[0][0]


@dataclasses.dataclass(frozen=True)
class Identity:
    """Everything about a face that its expression does not change. Lengths are fractions of the image side."""

    identity_id: int
    face_width: float
    face_height: float
    jaw: float
    skin: tuple[float, float, float]
    hair_style: str
    hair: tuple[float, float, float]
    hairline: float
    eye_spacing: float
    eye_width: float
    eye_height: float
    iris: tuple[float, float, float]
    brow_thickness: float
    nose_length: float
    nose_width: float
    mouth_width: float
    upper_lip: float
    lower_lip: float
    lip: tuple[float, float, float]
    ear_size: float
    glasses: bool
    hat: bool
    hat_color: tuple[float, float, float]
    cloth: tuple[float, float, float]
    background: tuple[float, float, float]
    background_gradient: tuple[float, float]
    rotation: float
    scale: float
    shift: tuple[float, float]
    light: tuple[float, float]
    texture_seed: int


@dataclasses.dataclass(frozen=True)
class ExpressionParams:
    """The continuous face-action parameters an expression sets (fractions of the image side, or factors)."""

    mouth_curve: float = 0.0  # corners above (+) or below (-) the lip centre
    mouth_open: float = 0.0  # gap between the lips
    mouth_width: float = 1.0  # factor on the identity's mouth width
    mouth_asymmetry: float = 0.0  # raises the image-right corner only (contempt)
    eye_open: float = 1.0  # factor on the identity's eye height
    brow_raise: float = 0.0  # brows up (+) or down (-)
    brow_tilt: float = 0.0  # inner brow ends up (+, sad/fear) or down (-, anger)
    brow_together: float = 0.0  # inner brow ends toward the face's midline (FACS AU4, corrugator: anger, sad, fear)
    nose_wrinkle: float = 0.0  # 0..1, disgust
    upper_lip_raise: float = 0.0  # disgust


#: Prototype parameters of each expression at full intensity.
PROTOTYPES: dict[str, ExpressionParams] = {
    "neutral": ExpressionParams(),
    "happy": ExpressionParams(mouth_curve=0.035, mouth_open=0.012, mouth_width=1.18, eye_open=0.75),
    "sad": ExpressionParams(
        mouth_curve=-0.03, mouth_width=0.92, eye_open=0.8, brow_raise=0.005, brow_tilt=0.03, brow_together=0.005
    ),
    "surprise": ExpressionParams(mouth_open=0.075, mouth_width=0.8, eye_open=1.45, brow_raise=0.04),
    "fear": ExpressionParams(
        mouth_curve=-0.012,
        mouth_open=0.04,
        mouth_width=1.12,
        eye_open=1.35,
        brow_raise=0.02,
        brow_tilt=0.02,
        brow_together=0.005,
    ),
    "disgust": ExpressionParams(
        mouth_curve=-0.02,
        mouth_open=0.008,
        mouth_width=0.95,
        eye_open=0.7,
        brow_raise=-0.012,
        brow_tilt=-0.01,
        nose_wrinkle=1.0,
        upper_lip_raise=0.012,
    ),
    "anger": ExpressionParams(
        mouth_curve=-0.012,
        mouth_width=0.88,
        eye_open=0.85,
        brow_raise=-0.022,
        brow_tilt=-0.03,
        brow_together=0.012,
    ),
    "contempt": ExpressionParams(mouth_curve=0.004, mouth_asymmetry=0.03, mouth_width=1.02, eye_open=0.9),
}


def expression_params(spec: ExpressionSpec, intensity: float = 1.0) -> ExpressionParams:
    """The parameters of ``spec`` (name, index, blend dict or vector) at ``intensity`` in [0, 1]."""
    condition = expression_condition(spec, intensity).double().numpy()
    fields = [f.name for f in dataclasses.fields(ExpressionParams)]
    table = np.array([[getattr(PROTOTYPES[name], f) for f in fields] for name in EXPRESSIONS])
    return ExpressionParams(**dict(zip(fields, (condition @ table).tolist(), strict=True)))


def _color(rng: np.random.Generator, low: float, high: float) -> tuple[float, float, float]:
    return tuple(rng.uniform(low, high, 3).round(4).tolist())


def sample_identity(identity_id: int, seed: int = 0) -> Identity:
    """The identity ``identity_id`` of the SynthFaces universe ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, identity_id])
    tone = rng.uniform(0.25, 0.95)
    skin = (tone, tone * rng.uniform(0.72, 0.85), tone * rng.uniform(0.55, 0.7))
    hair_base = rng.choice([0.08, 0.25, 0.45, 0.75])
    hair = tuple(np.clip(hair_base * np.array([1.0, 0.8, 0.6]) + rng.uniform(-0.05, 0.05, 3), 0, 1).round(4).tolist())
    background = _color(rng, 0.15, 0.9)
    return Identity(
        identity_id=identity_id,
        face_width=rng.uniform(0.25, 0.3),
        face_height=rng.uniform(0.33, 0.38),
        jaw=rng.uniform(0.75, 1.0),
        skin=tuple(round(c, 4) for c in skin),
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.4, 0.3, 0.1, 0.2])),
        hair=hair,
        hairline=rng.uniform(0.25, 0.3),
        eye_spacing=rng.uniform(CANONICAL_EYE_SPACING - 0.02, CANONICAL_EYE_SPACING + 0.02),
        eye_width=rng.uniform(0.075, 0.095),
        eye_height=rng.uniform(0.028, 0.038),
        iris=_color(rng, 0.05, 0.55),
        brow_thickness=rng.uniform(0.014, 0.024),
        nose_length=rng.uniform(0.1, 0.14),
        nose_width=rng.uniform(0.05, 0.075),
        mouth_width=rng.uniform(0.14, 0.19),
        upper_lip=rng.uniform(0.01, 0.02),
        lower_lip=rng.uniform(0.014, 0.026),
        lip=tuple(np.clip(np.array(skin) * [0.85, 0.5, 0.5] + [0.1, 0.0, 0.02], 0, 1).round(4).tolist()),
        ear_size=rng.uniform(0.045, 0.065),
        glasses=bool(rng.random() < 0.25),
        hat=bool(rng.random() < 0.15),
        hat_color=_color(rng, 0.05, 0.9),
        cloth=_color(rng, 0.05, 0.95),
        background=background,
        background_gradient=tuple(rng.uniform(-0.25, 0.25, 2).round(4).tolist()),
        rotation=rng.uniform(-8.0, 8.0),
        scale=rng.uniform(0.92, 1.08),
        shift=tuple(rng.uniform(-0.03, 0.03, 2).round(4).tolist()),
        light=tuple(rng.uniform(-0.25, 0.25, 2).round(4).tolist()),
        texture_seed=int(rng.integers(2**31)),
    )


def split_identity_ids(split: str, num_identities: int) -> list[int]:
    """The first ``num_identities`` identity ids of ``split`` (disjoint across splits)."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    if not isinstance(num_identities, (int, np.integer)) or isinstance(num_identities, bool) or num_identities < 1:
        raise ValueError(f"num_identities must be an integer >= 1, got {num_identities!r}.")
    return [SPLIT_ID_OFFSET[split] + index for index in range(num_identities)]
