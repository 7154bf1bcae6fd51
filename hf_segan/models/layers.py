"""Small building blocks shared by the parsers, the editor and the critics."""

from __future__ import annotations

import torch
from torch import nn

NORM_KINDS = ("batch", "instance", "group", "none")


def make_norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer by name; ``instance`` is affine so that it carries parameters like the others."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        groups = min(32, channels)
        return nn.GroupNorm(groups if channels % groups == 0 else 1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"Unknown norm {kind!r}; expected one of {NORM_KINDS}.")


class FiLM(nn.Module):
    """Feature-wise linear modulation: scale and shift each channel by amounts predicted from a condition vector.

    A constant condition map concatenated to a network's input reaches a convolution as a constant per-channel
    offset, which the next instance (or group) normalisation subtracts again, except near the image border.
    Modulating *after* the normalisation keeps the condition in every layer. Zero-initialised: a fresh FiLM
    layer is the identity, so a model starts as the unmodulated one.
    """

    def __init__(self, condition_channels: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(condition_channels, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(condition.to(x.dtype))[:, :, None, None].chunk(2, dim=1)
        return x * (1.0 + scale) + shift


class ConvNormAct(nn.Module):
    """Conv -> norm -> (FiLM) -> activation, the unit most layers here are made of.

    Children are named ``conv``/``norm``/``act`` (and ``film``) so that state-dict keys stay readable and stable.
    ``padding`` defaults to ``kernel_size // 2`` (same size at stride 1); ``transposed`` uses a transposed
    convolution (upsampling by ``stride``). With ``condition_channels`` the forward pass takes a condition vector
    that modulates the normalised features (:class:`FiLM`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
        padding: int | None = None,
        transposed: bool = False,
        condition_channels: int = 0,
    ) -> None:
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        padding = kernel_size // 2 if padding is None else padding
        self.conv = conv(in_channels, out_channels, kernel_size, stride, padding=padding, bias=norm == "none")
        self.norm = make_norm(norm, out_channels)
        self.film = FiLM(condition_channels, out_channels) if condition_channels else None
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(self.conv(x))
        if self.film is not None:
            x = self.film(x, condition)
        return self.act(x)


ACTIVATIONS = ("relu", "leaky_relu", "silu", "none")


def make_activation(kind: str) -> nn.Module:
    """An activation by name (leaky ReLU uses the GAN-standard slope of 0.2)."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "silu":
        return nn.SiLU(inplace=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"Unknown activation {kind!r}; expected one of {ACTIVATIONS}.")


class ResidualBlock(nn.Module):
    """Two 3x3 conv-norm layers with an identity skip (the bottleneck block of image-to-image GANs); with
    ``condition_channels`` both are FiLM-modulated by the condition passed to forward."""

    def __init__(self, channels: int, norm: str = "instance", act: str = "relu", condition_channels: int = 0) -> None:
        super().__init__()
        self.block = nn.ModuleList(
            [
                ConvNormAct(channels, channels, 3, norm=norm, act=act, condition_channels=condition_channels),
                ConvNormAct(channels, channels, 3, norm=norm, act="none", condition_channels=condition_channels),
            ]
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.block[1](self.block[0](x, condition), condition)
