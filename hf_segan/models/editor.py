"""The hierarchical expression editor: one global generator plus one local generator per facial region.

Design (Bodur, Bhattarai & Kim 2021, built on GANimation's attention/colour generator):

* **Global generator** (GANimation topology): the target expression vector is broadcast over the image and
  concatenated to it; a ``stem_kernel_size`` stem at full resolution, two stride-2 4x4 downsamplings
  (``base_channels`` -> 4x), ``num_residual_blocks`` residual blocks at 1/4 resolution, two stride-2 transposed
  convolutions back up, and two heads: a colour map (tanh) and an attention map (sigmoid, 1 = keep the input
  pixel). The ``paper`` preset with ``region_source="none"`` (``base_channels=64``, ``num_residual_blocks=6``,
  ``stem_kernel_size=7``) is exactly GANimation's generator.
* **Local generators**, one per region group, each with its own parameters. For speed they do not re-encode the
  image: they read the global bottleneck features (a shared encoder) at 1/4 resolution, gated by the group's soft
  mask and concatenated with the gated condition and the mask, and decode them with a thin network whose
  channels shrink as resolution grows (``local_channels`` at 1/4, a quarter of it at full resolution). At full
  resolution they also see the masked input image, so fine detail does not have to pass through the bottleneck.
* **Fusion**: in logit space, each local colour/attention replaces the global one in proportion to its soft mask
  (masks are renormalised where they overlap), then a two-layer seam refinement, zero-initialised so that training
  starts from the plain mask composite, smooths the transitions between local and global predictions.
* **Composition** (GANimation): ``images = attention * input + (1 - attention) * color``.
* **Warping** (``max_displacement > 0``, off by default): every generator also predicts a displacement field, fused
  like the other maps, and the composition reads the *warped* input: ``attention * warp(input) + (1 - attention) *
  color``. An expression is mostly geometry (mouth corners up, eyelids apart, brows down by a few pixels); a warp
  moves the input's own pixels there, where GANimation's colour map has to repaint every moved edge. The flow heads
  start at zero, so a fresh warping editor computes exactly what a non-warping one does.
* **FiLM conditioning** (``film_conditioning``, off by default): GANimation hands the condition over only as
  constant input channels, and the instance normalisation after the first convolution subtracts a constant map
  again (it survives near the border). With FiLM every normalised layer is also scaled and shifted per channel
  by amounts predicted from the condition.

* **Windows** (``local_windows``, off by default): each local generator decodes only a window of fixed size
  (fractions of the image's height and width) centred on its region, instead of the whole image, where its input
  is zero away from the region anyway. The window follows the region (where its mask exceeds 0.5), and the soft
  masks inside it still carry gradients to the parser; outside its window a region is left to the global
  generator: inside the window the instance normalisation sees the region, not a whole image of zeros.

Two designs have names (:data:`EDITOR_PRESETS`, :meth:`HierarchicalExpressionGenerator.from_preset`):
``paper``, the GANimation-faithful setting with warping, FiLM, skips and windows off, and ``synthfaces``, the
design the bundled default model was trained with, which switches all four on. The constructor's defaults are a
small paper-style editor (no preset), which tests and tiny fixtures build.

What each of these options measured on SynthFaces (target-expression rate, training time): docs/experiments.md.

Why this is cheap: the heavy work happens once, at 1/4 resolution, and everything at full resolution uses few
channels (the default global stem has 32 channels and a 3x3 kernel; local branches use ``local_channels / 4``).
``benchmarks/editor_speed.py`` compares it with the GANimation-size generator.

Region masks come from a face parser's probabilities (``region_source``): ``semantic`` soft masks (differentiable,
so the editor's losses reach the parser), ``box`` detached bounding boxes of those masks (the landmark-box
baseline), or ``none`` (global generator only).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn

from ..constants import EXPRESSIONS, FACE_PARSING_CLASSES
from .layers import ConvNormAct, ResidualBlock, make_activation
from .regions import (
    box_region_masks,
    crop_windows,
    paste_windows,
    region_group_indices,
    resolve_region_groups,
    soft_region_masks,
    window_origins,
)
from .strict_loading import StrictLoadingMixin
from .validation import check_condition, check_image

REGION_SOURCES = ("semantic", "box", "none")
#: The global encoder downsamples twice by 2: local generators work on its 1/4-resolution features.
ENCODER_STRIDE = 4
#: Normalisation of every generator layer (GANimation's): per image, so that one face's statistics never leak into
#: another's edit.
NORM = "instance"
#: Pixels by which the soft semantic masks are grown (a differentiable max-pool), also before boxes are drawn: a
#: local generator then also repaints the skin just around its region, where an expression moves edges.
REGION_DILATION = 3
#: Mask value above which a pixel counts as inside a region when ``region_source="box"`` draws its boxes.
BOX_THRESHOLD = 0.5
#: Options that earlier versions took and that no recipe changed, each with the saved values that mean what the
#: editor now always does (the first is that behaviour; ``region_groups`` was saved as ``None`` without regions). A
#: ``config.json`` holding one of them at such a value still loads (the key is dropped); at any other value it
#: describes an editor this version cannot build, and loading it fails naming the key (``StrictLoadingMixin``).
RETIRED_OPTIONS: dict[str, tuple[Any, ...]] = {
    "norm": (NORM,),
    "region_dilation": (REGION_DILATION,),
    "box_threshold": (BOX_THRESHOLD,),
    "region_groups": (resolve_region_groups(), None),
}

#: Named editor designs: ``HierarchicalExpressionGenerator.from_preset(name)`` in code, ``model.editor: {preset:
#: name}`` in a training config. Keys given next to the name override the preset's; unnamed keys keep the
#: constructor's defaults. A saved editor stores every resolved argument, not the name, so editing a preset here
#: never changes a model that was trained with it.
EDITOR_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's setting: GANimation's generator (64 channels, six residual blocks, 7x7 stem and heads) as the
    # global generator, the condition given as input channels only, the input composed unwarped.
    "paper": {"base_channels": 64, "num_residual_blocks": 6, "stem_kernel_size": 7},
    # The design that learns visible edits in a short run on 64 px SynthFaces faces, and that the bundled default
    # model was trained with (training/configs/segan_synthfaces_default.yaml, docs/experiments.md): a warping,
    # FiLM-conditioned editor with U-Net skips and wide local generators, each decoding a window around its region
    # (the windows fit the default region groups on SynthFaces-sized faces).
    "synthfaces": {
        "base_channels": 16,
        "num_residual_blocks": 3,
        "local_channels": 64,
        "skip_connections": True,
        "max_displacement": 0.05,
        "film_conditioning": True,
        "local_windows": {"eyes": [0.5, 0.6875], "mouth": [0.375, 0.4375], "nose": [0.375, 0.3125]},
    },
}


def editor_arguments(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments from config ``settings``: ``preset`` (optional) names an :data:`EDITOR_PRESETS` entry
    whose arguments the other keys override."""
    arguments = dict(settings)
    name = arguments.pop("preset", None)
    if name is None:
        return arguments
    if name not in EDITOR_PRESETS:
        raise ValueError(f"Unknown editor preset {name!r}; expected one of {list(EDITOR_PRESETS)}.")
    return {**copy.deepcopy(EDITOR_PRESETS[name]), **arguments}


def warp_images(images: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``images`` (B, C, H, W) at each pixel moved by ``flow`` (B, 2, H, W; x then y, in grid_sample's
    [-1, 1] units), bilinearly, repeating the border outside the image. Zero flow returns the input.

    Sampling runs in fp32 whatever the dtype: bf16 has 8 bits of mantissa, so coordinates near the image border
    would land up to a quarter pixel off at 64 px.
    """
    height, width = images.shape[-2:]
    # Pixel centres in grid_sample's align_corners=False convention.
    ys = (torch.arange(height, device=images.device, dtype=torch.float32) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=images.device, dtype=torch.float32) * 2 + 1) / width - 1
    grid = torch.stack([xs.expand(height, width), ys[:, None].expand(height, width)], dim=-1)
    warped = F.grid_sample(
        images.float(), grid + flow.float().permute(0, 2, 3, 1), mode="bilinear", padding_mode="border",
        align_corners=False,
    )  # fmt: skip
    return warped.to(images.dtype)


def activate(logits: torch.Tensor) -> torch.Tensor:
    """Head logits (B, 4 or 6, ...) to maps: colour by tanh, attention by sigmoid, flow (if any) by tanh."""
    return torch.cat([logits[:, :3].tanh(), logits[:, 3:4].sigmoid(), logits[:, 4:].tanh()], dim=1)


def _flow_head(in_channels: int, kernel_size: int) -> nn.Conv2d:
    """The displacement head, zero-initialised: the identity warp, so that a fresh warping editor computes exactly
    what a non-warping one does and learns to move pixels only where the losses ask for it."""
    head = nn.Conv2d(in_channels, 2, kernel_size, padding=kernel_size // 2)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return head


def apply_heads(features: torch.Tensor, heads: Sequence[nn.Conv2d | None]) -> torch.Tensor:
    """The heads' logits concatenated, computed as one convolution whose filters are the heads' filters stacked.

    Why one: a convolution with one to three output channels at full resolution costs about what one with six
    does (its time goes to reading the input and writing the input gradient, not to arithmetic); a joint training
    step is faster (docs/experiments.md). Each head keeps its own parameters, so checkpoints and the
    zero-initialised flow head are unchanged.
    """
    present = [head for head in heads if head is not None]
    weight = torch.cat([head.weight for head in present])
    bias = torch.cat([head.bias for head in present])
    return F.conv2d(features, weight, bias, padding=present[0].padding)


@dataclass
class ExpressionEditOutput(BaseOutput):
    """What the editor produced, with its intermediate maps for losses and visualisation.

    Args:
        images: (B, 3, H, W) edited images in [-1, 1].
        attention: (B, 1, H, W) final attention; 1 keeps the input pixel.
        color: (B, 3, H, W) final colour map in [-1, 1].
        region_masks: (B, R, H, W) region masks used (R = 0 for ``region_source="none"``).
        global_attention: (B, 1, H, W) the global generator's attention.
        global_color: (B, 3, H, W) the global generator's colour map.
        local_attention: (B, R, H, W) each local generator's attention.
        local_color: (B, R, 3, H, W) each local generator's colour map.
        flow: (B, 2, H, W) final displacement (x, y) in ``grid_sample``'s [-1, 1] units, ``None`` without warping.

    The editor fills every field but ``flow``. They default to ``None`` only so that the output can be rebuilt from
    its own mapping, which Accelerate's mixed precision does (``type(output)(dict(output))``, see BaseOutput).
    """

    images: torch.Tensor
    attention: torch.Tensor | None = None
    color: torch.Tensor | None = None
    region_masks: torch.Tensor | None = None
    global_attention: torch.Tensor | None = None
    global_color: torch.Tensor | None = None
    local_attention: torch.Tensor | None = None
    local_color: torch.Tensor | None = None
    flow: torch.Tensor | None = None


def _downsample(in_channels: int, out_channels: int, condition_channels: int) -> ConvNormAct:
    """4x4 stride-2 convolution -> norm -> ReLU (GANimation's downsampling; halves H and W exactly)."""
    return ConvNormAct(in_channels, out_channels, 4, 2, NORM, padding=1, condition_channels=condition_channels)


def _upsample(in_channels: int, out_channels: int, condition_channels: int) -> ConvNormAct:
    """4x4 stride-2 transposed convolution -> norm -> ReLU (doubles H and W exactly)."""
    return ConvNormAct(
        in_channels, out_channels, 4, 2, NORM, padding=1, transposed=True, condition_channels=condition_channels
    )


class GlobalGenerator(nn.Module):
    """GANimation's encoder / residual bottleneck / decoder, returning bottleneck features and head logits.

    With ``skip_connections`` the decoder also reads the encoder's features at 1/2 and full resolution (U-Net
    concatenation). GANimation has none: its heads must redraw a mouth from 1/4-resolution features, which is
    slow to learn for the few-pixel changes of an expression; the skips hand them the input's own detail.
    With ``warp`` a third head predicts a displacement field (see the module docstring). With
    ``condition_channels`` every normalised layer is also modulated by the condition (:class:`FiLM`).
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int,
        num_residual_blocks: int,
        stem_kernel_size: int,
        skip_connections: bool = False,
        warp: bool = False,
        condition_channels: int = 0,
    ) -> None:
        super().__init__()
        widths = (base_channels, 2 * base_channels, 4 * base_channels)
        film = condition_channels
        self.skip_connections = skip_connections
        # With skips, the second upsampling and the heads read their input concatenated with an encoder stage.
        widen = 2 if skip_connections else 1
        self.encoder = nn.ModuleList(
            [
                ConvNormAct(in_channels, widths[0], stem_kernel_size, norm=NORM, condition_channels=film),
                _downsample(widths[0], widths[1], film),
                _downsample(widths[1], widths[2], film),
            ]
        )
        self.bottleneck = nn.ModuleList(
            ResidualBlock(widths[2], norm=NORM, condition_channels=film) for _ in range(num_residual_blocks)
        )
        self.decoder = nn.ModuleList(
            [_upsample(widths[2], widths[1], film), _upsample(widen * widths[1], widths[0], film)]
        )
        self.color_head = nn.Conv2d(widen * widths[0], 3, stem_kernel_size, padding=stem_kernel_size // 2)
        self.attention_head = nn.Conv2d(widen * widths[0], 1, stem_kernel_size, padding=stem_kernel_size // 2)
        self.flow_head = _flow_head(widen * widths[0], stem_kernel_size) if warp else None
        self.feature_channels = widths[2]

    def forward(self, inputs: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, in, H, W) and the condition (B, num_expressions) -> bottleneck features (B, 4 * base, H/4, W/4)
        and logits (B, 4 or 6, H, W): colour, attention and, when warping, flow."""
        full = self.encoder[0](inputs, condition)
        half = self.encoder[1](full, condition)
        features = self.encoder[2](half, condition)
        for block in self.bottleneck:
            features = block(features, condition)
        decoded = self.decoder[0](features, condition)
        if self.skip_connections:
            decoded = torch.cat([decoded, half], dim=1)
        decoded = self.decoder[1](decoded, condition)
        if self.skip_connections:
            decoded = torch.cat([decoded, full], dim=1)
        return features, apply_heads(decoded, (self.color_head, self.attention_head, self.flow_head))


class LocalGenerator(nn.Module):
    """One region's generator: a thin decoder over the shared bottleneck features, gated by the region's mask."""

    def __init__(
        self,
        feature_channels: int,
        num_expressions: int,
        channels: int,
        warp: bool,
        condition_channels: int = 0,
    ) -> None:
        super().__init__()
        fine, film = channels // 4, condition_channels
        self.body = nn.ModuleList(
            [
                ConvNormAct(feature_channels + num_expressions + 1, channels, 3, norm=NORM, condition_channels=film),
                ResidualBlock(channels, norm=NORM, condition_channels=film),
            ]
        )
        self.decoder = nn.ModuleList([_upsample(channels, channels // 2, film), _upsample(channels // 2, fine, film)])
        self.detail = ConvNormAct(fine + 4, fine, 3, norm=NORM, condition_channels=film)
        self.color_head = nn.Conv2d(fine, 3, 3, padding=1)
        self.attention_head = nn.Conv2d(fine, 1, 3, padding=1)
        self.flow_head = _flow_head(fine, 3) if warp else None

    def forward(
        self,
        features: torch.Tensor,
        condition: torch.Tensor,
        mask_low: torch.Tensor,
        images: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Logits (B, 4 or 6, H, W): colour, attention and, when warping, flow of this region.

        ``features``/``mask_low`` are at bottleneck resolution, ``images``/``mask`` at full; ``condition`` is the
        (B, num_expressions) vector.
        """
        condition_map = condition[:, :, None, None].expand(-1, -1, *features.shape[-2:])
        x = self.body[0](torch.cat([features * mask_low, condition_map * mask_low, mask_low], dim=1), condition)
        x = self.body[1](x, condition)
        for upsample in self.decoder:
            x = upsample(x, condition)
        # In x's dtype: concatenating bf16 features (autocast) with fp32 images would promote the whole
        # full-resolution stack to fp32, only for the convolution to cast it back.
        x = self.detail(torch.cat([x, (images * mask).to(x.dtype), mask.to(x.dtype)], dim=1), condition)
        return apply_heads(x, (self.color_head, self.attention_head, self.flow_head))


class MaskFusion(nn.Module):
    """Composite local logits into the global ones by their soft masks, then refine the seams."""

    def __init__(self, hidden_channels: int, channels: int = 4) -> None:
        super().__init__()
        self.refine = nn.Sequential(
            nn.Conv2d(channels + 1, hidden_channels, 3, padding=1),
            make_activation("relu"),
            nn.Conv2d(hidden_channels, channels, 3, padding=1),
        )
        # Zero-initialised residual: training starts from the exact mask composite and learns only the correction.
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, global_logits: torch.Tensor, local_logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """global (B, C, H, W), local (B, R, C, H, W), masks (B, R, H, W) -> fused logits (B, C, H, W)."""
        # Overlapping masks (dilation, boxes) share a pixel instead of over-counting it.
        weights = masks / masks.sum(1, keepdim=True).clamp(min=1.0)
        coverage = weights.sum(1, keepdim=True)
        fused = (1.0 - coverage) * global_logits + (weights.unsqueeze(2) * local_logits).sum(1)
        activated = torch.cat([activate(fused), coverage], dim=1)
        return fused + self.refine(activated)


def resolve_local_windows(
    local_windows: dict[str, Sequence[float]] | None, region_names: Sequence[str]
) -> dict[str, list[float]] | None:
    """Validate ``local_windows`` against the editor's region groups: ``None``, or a ``[height, width]`` pair of
    fractions in (0, 1] for every group and no other name."""
    if local_windows is None:
        return None
    if not isinstance(local_windows, dict) or set(local_windows) != set(region_names):
        raise ValueError(
            f"`local_windows` must give a [height, width] window for every region group {list(region_names)}, "
            f"got {local_windows!r}."
        )
    resolved = {}
    for name in region_names:
        size = local_windows[name]
        if (
            isinstance(size, str)
            or len(size) != 2
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in size)
        ):
            raise ValueError(
                f"`local_windows[{name!r}]` must be [height, width], fractions of the image side in (0, 1], "
                f"got {size!r}."
            )
        resolved[name] = [float(f) for f in size]
    return resolved


class HierarchicalExpressionGenerator(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """Edits faces toward a target expression with a global generator and per-region local generators.

    Its region groups are :data:`~hf_segan.constants.DEFAULT_REGION_GROUPS` (``region_groups``, in name order), its
    masks semantic masks dilated by :data:`REGION_DILATION` pixels (boxes drawn at :data:`BOX_THRESHOLD`), and every
    generator layer is instance-normalised (:data:`NORM`); these were options once (:data:`RETIRED_OPTIONS`).

    Args:
        num_expressions: width of the condition vector (``len(hf_segan.EXPRESSIONS)``).
        num_classes: channels of the parser probabilities (``len(hf_segan.FACE_PARSING_CLASSES)``).
        region_source: ``"semantic"``, ``"box"`` or ``"none"`` (see the module docstring).
        base_channels: global generator width at full resolution (x2 and x4 after each downsampling).
        num_residual_blocks: residual blocks in the global bottleneck.
        stem_kernel_size: odd kernel size of the global stem and of the global colour/attention heads.
        local_channels: width of each local generator at 1/4 resolution (multiple of 4).
        skip_connections: U-Net skips from the global encoder to its decoder (off = GANimation's topology).
        max_displacement: largest distance, as a fraction of the image side, by which the warp moves a pixel;
            ``0`` (default) composes the unwarped input, as GANimation does.
        film_conditioning: also modulate every normalised layer of the generators by the condition
            (:class:`~hf_segan.models.layers.FiLM`); off (default) the condition only enters concatenated to the
            input, as in GANimation, where instance normalisation removes most of it.
        local_windows: ``{group name: [height, width]}`` for every region group: each local generator decodes a
            window of that size (fractions of the image side, in (0, 1], rounded to whole bottleneck cells of
            ``ENCODER_STRIDE`` pixels) around its region instead of the whole image; ``None`` (default) decodes
            the whole image.
        trained_on_real_photos: whether the editor was trained on real photos. Only such a model may repaint a
            photo's colours: one that saw only synthetic faces (SynthFaces, the default ``False``) learned
            synthetic textures, so on a photo its colour/attention output must not be used and the edit is
            geometry alone. The model never reads it; it is a recorded fact about the training data, set by the
            training script, for whoever applies the model to a photo.
    """

    retired_config_values = RETIRED_OPTIONS

    @register_to_config
    def __init__(
        self,
        num_expressions: int = len(EXPRESSIONS),
        num_classes: int = len(FACE_PARSING_CLASSES),
        region_source: str = "semantic",
        base_channels: int = 32,
        num_residual_blocks: int = 4,
        stem_kernel_size: int = 3,
        local_channels: int = 32,
        skip_connections: bool = False,
        max_displacement: float = 0.0,
        film_conditioning: bool = False,
        local_windows: dict[str, list[float]] | None = None,
        trained_on_real_photos: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(trained_on_real_photos, bool):
            raise ValueError(f"`trained_on_real_photos` must be True or False, got {trained_on_real_photos!r}.")
        if region_source not in REGION_SOURCES:
            raise ValueError(f"Unknown region_source {region_source!r}; expected one of {REGION_SOURCES}.")
        if stem_kernel_size < 1 or stem_kernel_size % 2 == 0:
            raise ValueError(f"`stem_kernel_size` must be a positive odd integer, got {stem_kernel_size}.")
        if local_channels < 4 or local_channels % 4:
            raise ValueError(f"`local_channels` must be a positive multiple of 4, got {local_channels}.")
        if not 0.0 <= max_displacement <= 0.5:
            raise ValueError(
                f"`max_displacement` must be in [0, 0.5] (a fraction of the image side), got {max_displacement!r}."
            )
        # Without regions there are no groups and no windows, so one config serves every ablation (`region_source`).
        groups = resolve_region_groups() if region_source != "none" else {}
        #: ``{group name: [parsing class names]}``: one local generator, mask channel and local critic per group.
        self.region_groups = groups
        self.region_names = list(groups)
        self.group_indices = region_group_indices(groups)
        windows = resolve_local_windows(local_windows, self.region_names) if groups else None
        self.register_to_config(local_windows=windows)
        self.window_fractions = None if windows is None else [windows[name] for name in self.region_names]

        warp = max_displacement > 0
        film = num_expressions if film_conditioning else 0
        self.global_generator = GlobalGenerator(
            3 + num_expressions, base_channels, num_residual_blocks, stem_kernel_size, skip_connections, warp, film
        )
        self.local_generators = nn.ModuleList(
            LocalGenerator(self.global_generator.feature_channels, num_expressions, local_channels, warp, film)
            for _ in self.region_names
        )
        self.fusion = MaskFusion(local_channels // 4, 6 if warp else 4) if self.region_names else None

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> HierarchicalExpressionGenerator:
        """A fresh editor of the named :data:`EDITOR_PRESETS` design (``"paper"``, ``"synthfaces"``), with
        ``overrides`` replacing the preset's arguments."""
        return cls(**editor_arguments({"preset": name, **overrides}))

    def compute_region_masks(self, parsing_probs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, R, H, W) region masks at ``size`` from parser probabilities at any resolution."""
        if not self.region_names:
            return parsing_probs.new_zeros(parsing_probs.shape[0], 0, *size)
        probs = parsing_probs
        if tuple(probs.shape[-2:]) != tuple(size):
            probs = F.interpolate(probs, size=size, mode="bilinear", align_corners=False)
        if self.config.region_source == "box":
            probs = probs.detach()
        masks = soft_region_masks(probs, self.group_indices, REGION_DILATION)
        if self.config.region_source == "box":
            masks = box_region_masks(masks, BOX_THRESHOLD)
        return masks

    def _check_inputs(self, images: torch.Tensor, parsing_probs: torch.Tensor | None, condition: torch.Tensor) -> None:
        check_image(images, "images")
        height, width = images.shape[-2:]
        if height % ENCODER_STRIDE or width % ENCODER_STRIDE:
            raise ValueError(f"`images` height and width must be multiples of {ENCODER_STRIDE}, got {height}x{width}.")
        check_condition(condition, images.shape[0], self.config.num_expressions)
        if parsing_probs is None and self.config.region_source == "none":
            return
        if parsing_probs is None:
            raise ValueError(
                f"`parsing_probs` is required with region_source={self.config.region_source!r}: pass the parser's "
                f"softmax probabilities (B, {self.config.num_classes}, h, w)."
            )
        check_image(parsing_probs, "parsing_probs", channels=self.config.num_classes, value_range=(0.0, 1.0))
        if parsing_probs.shape[0] != images.shape[0]:
            raise ValueError(
                f"`parsing_probs` has batch size {parsing_probs.shape[0]} but the images have {images.shape[0]}."
            )

    def _editable_union(self, masks: torch.Tensor, editable_regions: Sequence[str]) -> torch.Tensor:
        """(B, 1, H, W) union (clamped sum) of the named groups' masks."""
        if self.config.region_source == "none":
            raise ValueError('`editable_regions` needs region masks; it cannot be used with region_source="none".')
        if isinstance(editable_regions, str) or not editable_regions:
            raise ValueError(
                f"`editable_regions` must be a non-empty list of group names from {self.region_names}, "
                f"got {editable_regions!r}."
            )
        unknown = [name for name in editable_regions if name not in self.region_names]
        if unknown:
            raise ValueError(f"Unknown editable region(s) {unknown}; valid region groups are {self.region_names}.")
        chosen = [self.region_names.index(name) for name in editable_regions]
        return masks[:, chosen].sum(1, keepdim=True).clamp(max=1.0)

    def _local_logits(
        self, features: torch.Tensor, condition: torch.Tensor, images: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, R, C, H, W) logits of every local generator and the (B, R, H, W) masks that fuse them into the
        global ones: the region masks, cut to each generator's window when it decodes one (its logits are zero
        outside it)."""
        # Area downsampling as a fixed-stride pool: the same numbers, and exportable to ONNX.
        masks_low = F.avg_pool2d(masks, ENCODER_STRIDE)
        if self.window_fractions is None:
            logits = [
                generator(features, condition, masks_low[:, r : r + 1], images, masks[:, r : r + 1])
                for r, generator in enumerate(self.local_generators)
            ]
            return torch.stack(logits, dim=1), masks
        height, width = (int(n) for n in images.shape[-2:])
        logits, fusion_masks = [], []
        for r, (generator, fractions) in enumerate(zip(self.local_generators, self.window_fractions, strict=True)):
            # Python integers, also while the ONNX export traces shapes: window sizes are fixed by the resolution.
            cells = tuple(
                max(1, round(fraction * int(n))) for fraction, n in zip(fractions, features.shape[-2:], strict=True)
            )
            top, left = window_origins(masks[:, r], cells, ENCODER_STRIDE)
            pixels = (cells[0] * ENCODER_STRIDE, cells[1] * ENCODER_STRIDE)
            top_pixel, left_pixel = top * ENCODER_STRIDE, left * ENCODER_STRIDE
            window = generator(
                crop_windows(features, top, left, cells),
                condition,
                crop_windows(masks_low[:, r : r + 1], top, left, cells),
                crop_windows(images, top_pixel, left_pixel, pixels),
                crop_windows(masks[:, r : r + 1], top_pixel, left_pixel, pixels),
            )
            canvas, inside = paste_windows(window, top_pixel, left_pixel, (height, width))
            logits.append(canvas)
            fusion_masks.append(masks[:, r] * inside[:, 0])
        return torch.stack(logits, dim=1), torch.stack(fusion_masks, dim=1)

    def forward(
        self,
        images: torch.Tensor,
        parsing_probs: torch.Tensor | None,
        condition: torch.Tensor,
        editable_regions: Sequence[str] | None = None,
    ) -> ExpressionEditOutput:
        """Edit ``images`` (B, 3, H, W in [-1, 1]; H, W multiples of 4) toward ``condition`` (B, num_expressions).

        ``parsing_probs`` are the parser's softmax probabilities (B, num_classes, h, w) at any resolution; they may
        be ``None`` only with ``region_source="none"``. ``editable_regions`` (group names) keeps every pixel
        outside the union of those groups' masks exactly equal to the input (neither repainted nor moved).
        """
        self._check_inputs(images, parsing_probs, condition)
        batch, _, height, width = images.shape
        if self.region_names:
            masks = self.compute_region_masks(parsing_probs, (height, width)).to(images.dtype)
        else:
            masks = images.new_zeros(batch, 0, height, width)
        union = None if editable_regions is None else self._editable_union(masks, editable_regions)
        condition = condition.to(images.dtype)
        features, global_logits = self.global_generator(
            torch.cat([images, condition[:, :, None, None].expand(-1, -1, height, width)], dim=1), condition
        )
        if self.region_names:
            local_logits, fusion_masks = self._local_logits(features, condition, images, masks)
            logits = self.fusion(global_logits, local_logits, fusion_masks)
        else:
            local_logits = global_logits.new_zeros(batch, 0, 4, height, width)
            logits = global_logits

        # Composed in fp32: with bf16 maps (mixed-precision training, the bf16 fast path) attention and 1 - attention
        # can round to a sum above 1 and push an edit out of the [-1, 1] range that the critic and parser accept.
        maps = activate(logits.float())
        color, attention, flow = maps[:, :3], maps[:, 3:4], None
        if union is not None:
            union = union.float()
            attention = 1.0 - union * (1.0 - attention)
        source = images.float()
        if self.config.max_displacement > 0:
            # tanh is in [-1, 1]; grid_sample's units are half the image side.
            flow = 2.0 * self.config.max_displacement * maps[:, 4:]
            if union is not None:
                flow = flow * union
            warped = warp_images(source, flow)
            # Zero flow samples the input only up to rounding: take the input itself outside the union.
            source = warped if union is None else torch.lerp(source, warped, union)
        dtype = images.dtype
        return ExpressionEditOutput(
            images=(attention * source + (1.0 - attention) * color).to(dtype),
            attention=attention.to(dtype),
            color=color.to(dtype),
            region_masks=masks,
            global_attention=global_logits[:, 3:4].sigmoid(),
            global_color=global_logits[:, :3].tanh(),
            local_attention=local_logits[:, :, 3].sigmoid(),
            local_color=local_logits[:, :, :3].tanh(),
            flow=None if flow is None else flow.to(dtype),
        )
