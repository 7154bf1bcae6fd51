"""The appearance-free geometry model: 68 landmarks + a target expression -> how each landmark moves.

Why geometry: a model trained on SynthFaces cannot know what real skin, lips or eyes look like, but it does know
exactly how every expression moves brows, eyelids, nose and mouth. Landmarks carry only that geometry (no pixel
colour goes in), so what is learned on SynthFaces applies to a photo whose landmarks come from a real-face
landmark net; the displacements are turned into a dense warp of the photo's own pixels elsewhere
(:mod:`hf_segan.warp_field`).

Landmarks are expressed in an eye frame before they go in: centred on the midpoint of the two eye centres,
rotated so the eye line is level and divided by the inter-ocular distance, so the face's position, size and
roll in the picture do not matter. The displacements come out in the same units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ..constants import EXPRESSIONS

NUM_LANDMARKS = 68
#: iBUG-300W indices of the two eyes' six points (image-left eye first).
EYE_INDICES = (tuple(range(36, 42)), tuple(range(42, 48)))


@dataclass(frozen=True)
class EyeFrame:
    """Where a face's eye frame sits in its picture: ``centre`` (B, 2) pixels, ``rotation`` (B, 2, 2) from
    picture to frame axes and ``scale`` (B,) = inter-ocular distance in pixels."""

    centre: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor


def eye_frame(points: torch.Tensor) -> EyeFrame:
    """The eye frame of landmarks ``points`` (B, 68, 2) in pixels; refuses coincident eyes."""
    left = points[:, list(EYE_INDICES[0])].mean(1)
    right = points[:, list(EYE_INDICES[1])].mean(1)
    axis = right - left
    scale = axis.norm(dim=1)
    if bool((scale <= 1e-6).any()):
        raise ValueError("The two eye centres of a face coincide; its landmarks cannot be normalised.")
    cos, sin = axis[:, 0] / scale, axis[:, 1] / scale
    rotation = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)
    return EyeFrame(centre=(left + right) / 2, rotation=rotation, scale=scale)


def to_eye_frame(points: torch.Tensor, frame: EyeFrame) -> torch.Tensor:
    """Picture pixels (B, N, 2) -> eye-frame units."""
    return (points - frame.centre[:, None]) @ frame.rotation.transpose(1, 2) / frame.scale[:, None, None]


def displacement_to_pixels(displacement: torch.Tensor, frame: EyeFrame) -> torch.Tensor:
    """Eye-frame displacements (B, N, 2) -> picture pixels (rotation undone, scaled by the eye distance)."""
    return displacement @ frame.rotation * frame.scale[:, None, None]


class LandmarkGeometryModel(ModelMixin, ConfigMixin):
    """An MLP from eye-frame landmarks and a condition vector to eye-frame landmark displacements.

    Args:
        num_landmarks: points per face (68, iBUG-300W order).
        condition_dim: length of the condition vector (:data:`hf_segan.EXPRESSIONS`).
        hidden_dim: width of the hidden layers.
        num_layers: hidden layers.
    """

    @register_to_config
    def __init__(
        self,
        num_landmarks: int = NUM_LANDMARKS,
        condition_dim: int = len(EXPRESSIONS),
        hidden_dim: int = 256,
        num_layers: int = 3,
    ) -> None:
        super().__init__()
        if num_landmarks < 48 or condition_dim < 1 or hidden_dim < 1 or num_layers < 1:
            raise ValueError(
                "LandmarkGeometryModel needs num_landmarks >= 48 (the eyes are points 36-47), and positive "
                f"condition_dim, hidden_dim and num_layers; got {num_landmarks}, {condition_dim}, {hidden_dim}, "
                f"{num_layers}."
            )
        layers: list[nn.Module] = []
        width = num_landmarks * 2 + condition_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.SiLU()]
            width = hidden_dim
        layers.append(nn.Linear(width, num_landmarks * 2))
        self.net = nn.Sequential(*layers)

    def forward(self, normalised_points: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Eye-frame landmarks (B, N, 2) + condition (B, C) -> eye-frame displacements (B, N, 2)."""
        expected = (self.config.num_landmarks, 2)
        if normalised_points.ndim != 3 or tuple(normalised_points.shape[1:]) != expected:
            raise ValueError(f"landmarks must be shaped (B, {expected[0]}, 2), got {tuple(normalised_points.shape)}.")
        if condition.shape != (normalised_points.shape[0], self.config.condition_dim):
            raise ValueError(
                f"condition must be shaped ({normalised_points.shape[0]}, {self.config.condition_dim}), "
                f"got {tuple(condition.shape)}."
            )
        features = torch.cat([normalised_points.flatten(1), condition.to(normalised_points.dtype)], 1)
        return self.net(features).view_as(normalised_points)

    @torch.no_grad()
    def predict_targets(self, points: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Landmarks (B, N, 2) in pixels -> where the condition moves them, in the same pixels (no gradients:
        for inference)."""
        frame = eye_frame(points.double())
        normalised = to_eye_frame(points.double(), frame).to(self.device, self.dtype)
        moved = self(normalised, condition.to(self.device, self.dtype)).double().cpu()
        return points.double().cpu() + displacement_to_pixels(moved, frame)
