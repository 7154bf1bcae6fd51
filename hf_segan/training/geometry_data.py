"""Training pairs for the geometry model: SynthFaces landmarks of one identity at a source and a target expression.

Each pair is (source landmarks in the source's eye frame, target condition, target - source in that frame). Sources
show any expression at any intensity (a photo may already smile), targets any expression, intensity or two-way
blend. Because real faces' shapes vary more than SynthFaces' identities, ``augment`` deforms each pair's face as a
whole (the same random stretch, roll and per-point offsets on source and target), so the model learns to read the
expression from the landmarks' relative moves rather than from SynthFaces' exact face shapes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..constants import EXPRESSIONS
from ..data.synthfaces.landmarks import synthfaces_landmarks
from ..data.synthfaces.params import sample_identity, split_identity_ids
from ..expressions import NEUTRAL
from ..models.geometry import eye_frame, to_eye_frame

#: Fraction of sources that are exactly neutral (the usual photo) and of conditions that blend two expressions.
NEUTRAL_SOURCE_FRACTION = 0.3
BLEND_FRACTION = 0.2


def _random_condition(rng: np.random.Generator) -> np.ndarray:
    weights = np.zeros(len(EXPRESSIONS))
    if rng.random() < BLEND_FRACTION:
        first, second = rng.choice(len(EXPRESSIONS), 2, replace=False)
        share = rng.uniform(0.2, 0.8)
        weights[first], weights[second] = share, 1.0 - share
    else:
        weights[rng.integers(len(EXPRESSIONS))] = 1.0
    intensity = rng.uniform(0.0, 1.0)
    condition = intensity * weights
    condition[NEUTRAL] += 1.0 - intensity
    return condition


def _augmentation(rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A random linear map (stretch and roll) and per-point offsets in eye-frame units, both scaled by
    ``strength``."""
    angle = rng.normal(0.0, 0.05 * strength)
    stretch = np.diag(np.exp(rng.normal(0.0, 0.08 * strength, 2)))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ stretch, rng.normal(0.0, 0.03 * strength, (68, 2))


def landmark_pairs(
    split: str, num_identities: int, pairs_per_identity: int, seed: int = 0, augment: float = 1.0
) -> dict[str, torch.Tensor]:
    """``source`` (N, 68, 2) eye-frame landmarks, ``condition`` (N, 8) and ``displacement`` (N, 68, 2) for
    ``num_identities`` identities of ``split`` (N = identities x ``pairs_per_identity``)."""
    if pairs_per_identity < 1:
        raise ValueError(f"pairs_per_identity must be >= 1, got {pairs_per_identity}.")
    if augment < 0:
        raise ValueError(f"augment must be >= 0, got {augment}.")
    rng = np.random.default_rng(seed)
    sources, targets, conditions = [], [], []
    for identity_id in split_identity_ids(split, num_identities):
        identity = sample_identity(identity_id)
        for _ in range(pairs_per_identity):
            source = np.zeros(len(EXPRESSIONS))
            source[NEUTRAL] = 1.0
            if rng.random() >= NEUTRAL_SOURCE_FRACTION:
                source = _random_condition(rng)
            condition = _random_condition(rng)
            sources.append(synthfaces_landmarks(identity, source))
            targets.append(synthfaces_landmarks(identity, condition))
            conditions.append(condition)
    source_px = torch.from_numpy(np.stack(sources))
    frame = eye_frame(source_px)
    source = to_eye_frame(source_px, frame)
    target = to_eye_frame(torch.from_numpy(np.stack(targets)), frame)
    if augment > 0:
        for i in range(len(source)):
            linear, offsets = (torch.from_numpy(a) for a in _augmentation(rng, augment))
            source[i] = source[i] @ linear.T + offsets
            target[i] = target[i] @ linear.T + offsets
    return {
        "source": source.float(),
        "condition": torch.from_numpy(np.stack(conditions)).float(),
        "displacement": (target - source).float(),
    }
