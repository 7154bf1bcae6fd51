"""Target expressions as condition vectors: names, indices, vectors, blends and intensities.

One definition serves the editor, the pipeline, the CLI and SynthFaces' ground truth: a condition is a vector
over :data:`hf_segan.EXPRESSIONS` and intensity interpolates from neutral,

    condition = (1 - intensity) * onehot(neutral) + intensity * weights,

where ``weights`` is a one-hot vector for a single expression or the normalised weights of a blend. Intensity 0
is always the neutral face, intensity 1 the full target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .constants import EXPRESSIONS

ExpressionSpec = str | int | Mapping[str, float] | Sequence[float] | np.ndarray | torch.Tensor
NEUTRAL = EXPRESSIONS.index("neutral")


def _index(name: str) -> int:
    key = name.strip().lower()
    if key not in EXPRESSIONS:
        raise ValueError(f"Unknown expression {name!r}; valid expressions are: {', '.join(EXPRESSIONS)}.")
    return EXPRESSIONS.index(key)


def expression_weights(spec: ExpressionSpec) -> np.ndarray:
    """The weights over :data:`EXPRESSIONS` (float64, non-negative, summing to 1) named by ``spec``.

    ``spec`` is a name (case-insensitive), an index, a dict of non-negative weights for a blend (normalised) or a
    vector of ``len(EXPRESSIONS)`` non-negative weights (normalised).
    """
    weights = np.zeros(len(EXPRESSIONS))
    if isinstance(spec, str):
        weights[_index(spec)] = 1.0
        return weights
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not 0 <= spec < len(EXPRESSIONS):
            raise ValueError(f"Expression index {spec} is out of range; expected 0..{len(EXPRESSIONS) - 1}.")
        weights[spec] = 1.0
        return weights
    if isinstance(spec, Mapping):
        for name, weight in spec.items():
            weights[_index(str(name))] += float(weight)
    elif isinstance(spec, (Sequence, np.ndarray, torch.Tensor)):
        vector = np.asarray(spec.detach().cpu() if isinstance(spec, torch.Tensor) else spec, dtype=np.float64)
        if vector.shape != (len(EXPRESSIONS),):
            raise ValueError(
                f"An expression vector needs {len(EXPRESSIONS)} weights ({', '.join(EXPRESSIONS)}), "
                f"got shape {vector.shape}."
            )
        weights = vector.copy()
    else:
        raise ValueError(
            f"Cannot read an expression from {type(spec).__name__}; pass a name, an index, a dict of weights "
            "or a vector."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"Expression weights must be finite and >= 0, got {weights.round(3).tolist()}.")
    if weights.sum() <= 0:
        raise ValueError("Expression weights sum to 0; give at least one expression a positive weight.")
    return weights / weights.sum()


def check_intensity(intensity: float) -> float:
    """``intensity`` as a float in [0, 1], or a clear error."""
    value = float(intensity)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Intensity must lie in [0, 1], got {intensity}.")
    return value


def expression_condition(spec: ExpressionSpec, intensity: float = 1.0) -> torch.Tensor:
    """The editor's condition vector (float32, shape ``(len(EXPRESSIONS),)``) for ``spec`` at ``intensity``."""
    weights = torch.from_numpy(expression_weights(spec))
    amount = torch.tensor(check_intensity(intensity), dtype=weights.dtype)
    return _from_neutral(weights, amount).float()


def _from_neutral(weights: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """``(1 - amount) * onehot(neutral) + amount * weights`` over the last dimension (the module's formula)."""
    neutral = torch.zeros_like(weights)
    neutral[..., NEUTRAL] = 1.0
    return (1.0 - amount) * neutral + amount * weights


def label_conditions(labels: torch.Tensor, intensities: torch.Tensor | None = None) -> torch.Tensor:
    """Condition vectors (B, len(EXPRESSIONS)) for a batch of expression labels (B,) at ``intensities`` (B,) in
    [0, 1]; ``None`` means full intensity (one-hot vectors).

    The batched form of :func:`expression_condition` for training: data that records how strongly a face shows
    its expression (SynthFaces' ``intensity`` and ``target_intensity``) must be edited toward that same
    condition, or a half-intensity target image would be taught as the full expression.
    """
    hot = torch.nn.functional.one_hot(labels.long(), len(EXPRESSIONS)).float()
    if intensities is None:
        return hot
    amount = intensities.float().to(hot.device)[:, None]
    if amount.shape[0] != hot.shape[0] or not bool(((amount >= 0) & (amount <= 1)).all()):
        raise ValueError(f"Intensities must be one value in [0, 1] per label, got {intensities.tolist()}.")
    return _from_neutral(hot, amount)


def parse_expression_arg(text: str) -> str | dict[str, float]:
    """Command-line text -> a spec: ``happy`` or a blend ``happy=0.6,surprise=0.4``."""
    if "=" not in text:
        return text
    blend = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        try:
            blend[name.strip()] = float(weight)
        except ValueError as error:
            raise ValueError(
                f"Cannot read blend weight {weight!r} in {text!r}; write e.g. happy=0.6,surprise=0.4."
            ) from error
    return blend
