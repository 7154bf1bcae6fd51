"""UNet face parser: an encoder-decoder with skip connections, the dense-prediction baseline to BiSeNet.

Same contract as :class:`~hf_segan.models.bisenet.BiSeNetFaceParser` (images in [-1, 1], logits at input
resolution, normalisation in the config). Inputs of any size work: they are padded up to a multiple of
``2 ** depth`` and the logits cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..constants import FACE_PARSING_CLASSES
from .layers import ConvNormAct
from .parsing import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FaceParserOutput,
    check_input_resolution,
    normalization_lists,
    normalize_parser_input,
)
from .strict_loading import StrictLoadingMixin


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-norm-ReLU layers, the UNet stage."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__(
            ConvNormAct(in_channels, out_channels, 3, norm=norm), ConvNormAct(out_channels, out_channels, 3, norm=norm)
        )


class UNetFaceParser(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """UNet face parser.

    Args:
        num_classes: output classes (19 = :data:`hf_segan.FACE_PARSING_CLASSES`).
        in_channels: image channels.
        image_mean, image_std: normalisation applied to [0, 1] images inside ``forward``.
        depth: number of 2x downsamplings.
        base_channels: width of the first stage; each stage doubles it, capped at ``max_channels``.
        max_channels: widest stage.
        norm: ``batch``, ``instance``, ``group`` or ``none`` (see :func:`hf_segan.models.layers.make_norm`).
        input_resolution: the square side the parser was trained at; :class:`~hf_segan.pipeline.SeganPipeline`
            resizes faces to it before parsing (None: unknown, the pipeline's own resolution is used). Not read
            by ``forward``.
    """

    @register_to_config
    def __init__(
        self,
        num_classes: int = len(FACE_PARSING_CLASSES),
        in_channels: int = 3,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        depth: int = 4,
        base_channels: int = 32,
        max_channels: int = 256,
        norm: str = "batch",
        input_resolution: int | None = None,
    ) -> None:
        super().__init__()
        check_input_resolution(input_resolution)
        if depth < 1:
            raise ValueError(f"`depth` must be >= 1, got {depth}.")
        image_mean, image_std = normalization_lists(image_mean, image_std, in_channels)
        # Lists, so that the config is the same before and after a save/load round trip.
        self.register_to_config(image_mean=image_mean, image_std=image_std)
        widths = [min(base_channels * 2**level, max_channels) for level in range(depth + 1)]
        self.stem = DoubleConv(in_channels, widths[0], norm)
        self.down = nn.ModuleList(DoubleConv(widths[i], widths[i + 1], norm) for i in range(depth))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(DoubleConv(2 * widths[i], widths[i], norm) for i in reversed(range(depth)))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, images: torch.Tensor, return_aux: bool | None = None) -> FaceParserOutput:
        """``return_aux`` is accepted for the shared parser contract; a UNet has no auxiliary heads."""
        x = normalize_parser_input(images, self.config.image_mean, self.config.image_std)
        height, width = x.shape[2:]
        multiple = 2**self.config.depth
        x = F.pad(x, (0, -width % multiple, 0, -height % multiple), mode="replicate")
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            y = merge(torch.cat([up(y), skips.pop()], dim=1))
        logits = self.classifier(y)[:, :, :height, :width]
        return FaceParserOutput(logits=logits, aux_logits=())
