"""An expression classifier that judges edited faces independently of the critic that trained the editor.

The critic's own expression head is a poor judge of the editor: the editor was optimised against it. This small
CNN is trained separately on real faces, so "the edit is classified as the target expression" measures the edit,
not how well the editor fooled its training partner.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn

from ..constants import EXPRESSIONS
from .layers import ConvNormAct
from .strict_loading import StrictLoadingMixin
from .validation import check_image


@dataclass
class ExpressionClassifierOutput(BaseOutput):
    """The classifier's prediction.

    Args:
        logits: (B, num_expressions) expression logits.
    """

    logits: torch.Tensor


class ExpressionClassifier(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """Stages of (3x3 stride-2 conv, ``blocks_per_stage`` 3x3 convs), average pooling to a grid, dropout, linear.

    The head pools to a ``pool_grid`` x ``pool_grid`` grid rather than to one value: faces are aligned, and *where*
    a feature sits (a raised mouth corner, lowered inner brows) is what tells expressions apart. With global average
    pooling the same small network stays near chance on SynthFaces expressions.

    Args:
        num_expressions: number of classes (``len(hf_segan.EXPRESSIONS)``).
        widths: channels of each stage; every stage halves the resolution.
        blocks_per_stage: stride-1 convolutions after each stage's downsampling.
        dropout: dropout before the linear classifier.
        norm: normalisation (``hf_segan.models.layers.NORM_KINDS``).
        pool_grid: side of the grid the head pools the last features to (1 = global average pooling).
    """

    @register_to_config
    def __init__(
        self,
        num_expressions: int = len(EXPRESSIONS),
        widths: list[int] | tuple[int, ...] = (32, 64, 128, 256),
        blocks_per_stage: int = 1,
        dropout: float = 0.2,
        norm: str = "batch",
        pool_grid: int = 4,
    ) -> None:
        super().__init__()
        if not widths or any(width < 1 for width in widths):
            raise ValueError(f"`widths` must be a non-empty list of positive channel counts, got {widths!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1), got {dropout}.")
        if pool_grid < 1:
            raise ValueError(f"`pool_grid` must be >= 1, got {pool_grid}.")
        layers: list[nn.Module] = []
        in_channels = 3
        for width in widths:
            layers.append(ConvNormAct(in_channels, width, 3, stride=2, norm=norm))
            layers += [ConvNormAct(width, width, 3, norm=norm) for _ in range(blocks_per_stage)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(pool_grid),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_channels * pool_grid**2, num_expressions),
        )

    def forward(self, images: torch.Tensor) -> ExpressionClassifierOutput:
        """Classify ``images`` (B, 3, H, W) in [-1, 1]."""
        check_image(images, "images")
        return ExpressionClassifierOutput(logits=self.head(self.features(images)))
