"""The critics of the hierarchical editor: a global PatchGAN critic with an expression classifier, and local critics.

The global critic follows StarGAN/GANimation: a stack of 4x4 stride-2 convolutions with leaky ReLUs and no
normalisation (a WGAN-GP penalty is computed per sample, which batch statistics would break), then two heads on
the same features: a 3x3 convolution giving a PatchGAN realism map, and an expression classifier. The classifier
pools to a fixed 4x4 grid instead of using a kernel as large as the feature map, so it keeps the position of the
features (faces are aligned) and one critic still works at any image size.

Each region group also gets a small local critic that sees ``concat(images * mask, mask)``: realism judged only
where the region is, which pushes the local generators to produce plausible eyes, noses and mouths. The masks are
the editor's own ``region_masks`` (soft in the semantic setting, so the local critics' gradients reach the parser
through the editor's losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn

from ..constants import DEFAULT_REGION_GROUPS, EXPRESSIONS
from .layers import make_activation
from .strict_loading import StrictLoadingMixin
from .validation import check_image

#: The expression head pools the features to this grid, not to one value: on aligned faces *where* something
#: changed (mouth corners, brows) is what tells expressions apart, and a fixed grid keeps any input size working.
CLASSIFIER_GRID = 4


@dataclass
class DiscriminatorOutput(BaseOutput):
    """Critic scores.

    Args:
        adversarial: (B, 1, h, w) PatchGAN realism map of the global critic.
        expression_logits: (B, num_expressions) expression classification of the images.
        local_adversarial: one (B, 1, h', w') map per region group; empty when no region masks were given.

    The critic fills every field. They default to ``None`` only so that the output can be rebuilt from its own
    mapping, which Accelerate's mixed precision does (``type(output)(dict(output))``, see BaseOutput).
    """

    adversarial: torch.Tensor
    expression_logits: torch.Tensor | None = None
    local_adversarial: tuple[torch.Tensor, ...] | None = None


def _critic_trunk(in_channels: int, base_channels: int, num_layers: int, max_channels: int) -> nn.Sequential:
    """``num_layers`` 4x4 stride-2 convolutions with leaky ReLU, doubling widths up to ``max_channels``."""
    layers: list[nn.Module] = []
    width = in_channels
    for index in range(num_layers):
        out = min(base_channels * 2**index, max_channels)
        layers += [nn.Conv2d(width, out, 4, 2, 1), make_activation("leaky_relu")]
        width = out
    return nn.Sequential(*layers)


def _trunk_width(base_channels: int, num_layers: int, max_channels: int) -> int:
    return min(base_channels * 2 ** (num_layers - 1), max_channels)


class LocalCritic(nn.Module):
    """A PatchGAN critic over one region: input ``concat(images * mask, mask)``."""

    def __init__(self, base_channels: int, num_layers: int, max_channels: int) -> None:
        super().__init__()
        self.trunk = _critic_trunk(4, base_channels, num_layers, max_channels)
        self.head = nn.Conv2d(_trunk_width(base_channels, num_layers, max_channels), 1, 3, padding=1)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(torch.cat([images * mask, mask], dim=1)))


class ExpressionDiscriminator(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """Global PatchGAN critic + auxiliary expression classifier, plus one local critic per region group.

    Args:
        num_expressions: classes of the expression head (``len(hf_segan.EXPRESSIONS)``).
        num_regions: number of region groups, i.e. local critics (the editor's ``len(region_groups)``).
        base_channels: width of the first global layer (doubled per layer up to ``max_channels``).
        num_layers: stride-2 layers of the global critic; images need H, W >= ``2 ** num_layers``.
        max_channels: width cap of the global critic.
        local_base_channels: width of the first layer of each local critic.
        local_num_layers: stride-2 layers of each local critic.
    """

    @register_to_config
    def __init__(
        self,
        num_expressions: int = len(EXPRESSIONS),
        num_regions: int = len(DEFAULT_REGION_GROUPS),
        base_channels: int = 64,
        num_layers: int = 6,
        max_channels: int = 1024,
        local_base_channels: int = 32,
        local_num_layers: int = 4,
    ) -> None:
        super().__init__()
        for name, value in (("num_layers", num_layers), ("local_num_layers", local_num_layers)):
            if value < 1:
                raise ValueError(f"`{name}` must be >= 1, got {value}.")
        if num_regions < 0:
            raise ValueError(f"`num_regions` must be >= 0, got {num_regions}.")
        self.trunk = _critic_trunk(3, base_channels, num_layers, max_channels)
        width = _trunk_width(base_channels, num_layers, max_channels)
        self.adversarial_head = nn.Conv2d(width, 1, 3, padding=1)
        self.expression_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(CLASSIFIER_GRID),
            nn.Flatten(),
            nn.Linear(width * CLASSIFIER_GRID**2, num_expressions),
        )
        self.local_critics = nn.ModuleList(
            LocalCritic(local_base_channels, local_num_layers, max_channels) for _ in range(num_regions)
        )

    def forward(self, images: torch.Tensor, region_masks: torch.Tensor | None = None) -> DiscriminatorOutput:
        """Score ``images`` (B, 3, H, W in [-1, 1]); ``region_masks`` (B, num_regions, H, W) enable local critics."""
        check_image(images, "images")
        config = self.config
        smallest = 2 ** max(config.num_layers, config.local_num_layers if region_masks is not None else 0)
        if min(images.shape[-2:]) < smallest:
            raise ValueError(
                f"`images` of size {tuple(images.shape[-2:])} are too small for this critic: height and width must "
                f"be >= {smallest} (2 ** number of stride-2 layers)."
            )
        features = self.trunk(images)
        local: tuple[torch.Tensor, ...] = ()
        if region_masks is not None:
            expected = (images.shape[0], config.num_regions, *images.shape[-2:])
            check_image(region_masks, "region_masks", channels=config.num_regions, value_range=(0.0, 1.0))
            if tuple(region_masks.shape) != expected:
                raise ValueError(
                    f"`region_masks` must have shape {expected} (batch, num_regions, H, W of the images), "
                    f"got {tuple(region_masks.shape)}."
                )
            masks = region_masks.to(images.dtype)
            local = tuple(critic(images, masks[:, r : r + 1]) for r, critic in enumerate(self.local_critics))
        return DiscriminatorOutput(
            adversarial=self.adversarial_head(features),
            expression_logits=self.expression_head(features),
            local_adversarial=local,
        )
