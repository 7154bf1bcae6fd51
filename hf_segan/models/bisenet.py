"""BiSeNet face parser (Yu et al. 2018) in the layout of the widely used public face-parsing model.

Structure:

* **Context path**: a ResNet-18 trunk; attention refinement modules (ARM) re-weight the stride-16 and stride-32
  features by their own global context; a global-average branch adds image-level context; the refined maps are
  upsampled stage by stage to stride 8.
* **Spatial path**: the public face-parsing checkpoint (``79999_iter.pth``) uses the ResNet stride-8 feature as its
  spatial path (``spatial_path="backbone"``, the default, so that checkpoint converts); the BiSeNet paper's
  three-convolution spatial path is available as ``spatial_path="conv"``.
* **Feature fusion module** (FFM): concatenates the two paths and re-weights channels squeeze-excite style.
* **Heads**: a main head on the fused features and two auxiliary heads on the context path (stride-8 and
  stride-16 outputs) that only deepen supervision during training.

Every head's logits are bilinearly resized to the input resolution. :mod:`hf_segan.convert` maps the public
checkpoint's parameter names onto this module.
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
from .resnet import ResNet18Features
from .strict_loading import StrictLoadingMixin

SPATIAL_PATHS = ("backbone", "conv")
#: The trunk downsamples 32x; smaller inputs would vanish before the last stage.
MIN_INPUT_SIZE = 32


class AttentionRefinement(nn.Module):
    """Conv, then a channel attention computed from the feature's global average (ARM)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_channels, out_channels, 3)
        self.attention_conv = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.attention_norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        attention = self.attention_norm(self.attention_conv(feat.mean((2, 3), keepdim=True))).sigmoid()
        return feat * attention


class ContextPath(nn.Module):
    """ResNet-18 + ARMs + global context, returning stride-8 backbone features and the refined stride-8/16 maps."""

    def __init__(self, in_channels: int, backbone_widths: Sequence[int], context_channels: int) -> None:
        super().__init__()
        self.backbone = ResNet18Features(in_channels, backbone_widths)
        self.refine16 = AttentionRefinement(backbone_widths[2], context_channels)
        self.refine32 = AttentionRefinement(backbone_widths[3], context_channels)
        self.head16 = ConvNormAct(context_channels, context_channels, 3)
        self.head32 = ConvNormAct(context_channels, context_channels, 3)
        self.global_context = ConvNormAct(backbone_widths[3], context_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(backbone stride-8, context at stride 8, context at stride 16)``."""
        feat8, feat16, feat32 = self.backbone(x)
        global_context = self.global_context(feat32.mean((2, 3), keepdim=True))
        refined32 = self.refine32(feat32) + global_context
        context16 = self.head32(F.interpolate(refined32, size=feat16.shape[2:], mode="nearest"))
        refined16 = self.refine16(feat16) + context16
        context8 = self.head16(F.interpolate(refined16, size=feat8.shape[2:], mode="nearest"))
        return feat8, context8, context16


class FeatureFusion(nn.Module):
    """Fuse spatial and context features: 1x1 conv, then a squeeze-excite re-weighting added residually."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_channels, out_channels, 1)
        self.squeeze = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.excite = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        feat = self.conv(torch.cat([spatial, context], dim=1))
        attention = self.excite(F.relu(self.squeeze(feat.mean((2, 3), keepdim=True)))).sigmoid()
        return feat + feat * attention


class SegmentationHead(nn.Module):
    """3x3 conv-bn-relu then a 1x1 classifier."""

    def __init__(self, in_channels: int, mid_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_channels, mid_channels, 3)
        self.classifier = nn.Conv2d(mid_channels, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.conv(x))


class BiSeNetFaceParser(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """BiSeNet face parser: (B, 3, H, W) images in [-1, 1] -> logits over ``num_classes`` at (H, W).

    Args:
        num_classes: output classes (19 = :data:`hf_segan.FACE_PARSING_CLASSES`).
        in_channels: image channels.
        image_mean, image_std: normalisation applied to [0, 1] images inside ``forward`` (ImageNet by default, as
            the public checkpoint was trained).
        backbone_widths: ResNet-18 stage widths (stem = first).
        context_channels: width of the ARMs and the context path outputs.
        fusion_channels: width of the feature fusion module and the main head.
        head_channels: hidden width of the auxiliary heads.
        spatial_path: ``backbone`` (stride-8 ResNet features, the public checkpoint) or ``conv`` (the paper's
            three stride-2 convolutions).
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
        backbone_widths: Sequence[int] = (64, 128, 256, 512),
        context_channels: int = 128,
        fusion_channels: int = 256,
        head_channels: int = 64,
        spatial_path: str = "backbone",
        input_resolution: int | None = None,
    ) -> None:
        super().__init__()
        check_input_resolution(input_resolution)
        if spatial_path not in SPATIAL_PATHS:
            raise ValueError(f"Unknown spatial_path {spatial_path!r}; expected one of {SPATIAL_PATHS}.")
        image_mean, image_std = normalization_lists(image_mean, image_std, in_channels)
        # Lists, so that the config is the same before and after a save/load round trip.
        self.register_to_config(image_mean=image_mean, image_std=image_std, backbone_widths=list(backbone_widths))
        self.context_path = ContextPath(in_channels, backbone_widths, context_channels)
        spatial_channels = backbone_widths[1]
        self.spatial_convs = None
        if spatial_path == "conv":
            self.spatial_convs = nn.Sequential(
                ConvNormAct(in_channels, backbone_widths[0], 7, stride=2),
                ConvNormAct(backbone_widths[0], backbone_widths[0], 3, stride=2),
                ConvNormAct(backbone_widths[0], backbone_widths[0], 3, stride=2),
                ConvNormAct(backbone_widths[0], spatial_channels, 1),
            )
        self.fusion = FeatureFusion(spatial_channels + context_channels, fusion_channels)
        self.head = SegmentationHead(fusion_channels, fusion_channels, num_classes)
        self.aux_head8 = SegmentationHead(context_channels, head_channels, num_classes)
        self.aux_head16 = SegmentationHead(context_channels, head_channels, num_classes)

    def forward(self, images: torch.Tensor, return_aux: bool | None = None) -> FaceParserOutput:
        """Logits at the input resolution, plus both auxiliary heads' when ``return_aux`` (default: in training).

        In training mode a batch needs at least two images: the global-context batch norm sees one value per
        channel and image.
        """
        x = normalize_parser_input(images, self.config.image_mean, self.config.image_std)
        if min(x.shape[2:]) < MIN_INPUT_SIZE:
            raise ValueError(
                f"`images` must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels, got {tuple(x.shape[2:])}."
            )
        size = x.shape[2:]
        feat8, context8, context16 = self.context_path(x)
        # Both spatial paths round every stride-2 step up like the trunk, so they always match context8's size.
        spatial = feat8 if self.spatial_convs is None else self.spatial_convs(x)
        logits = self._resize(self.head(self.fusion(spatial, context8)), size)
        if return_aux is None:
            return_aux = self.training
        aux: tuple[torch.Tensor, ...] = ()
        if return_aux:
            aux = (self._resize(self.aux_head8(context8), size), self._resize(self.aux_head16(context16), size))
        return FaceParserOutput(logits=logits, aux_logits=aux)

    @staticmethod
    def _resize(logits: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
