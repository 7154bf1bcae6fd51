"""Small building blocks shared by the parsers, the editor and the critics."""

from __future__ import annotations

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


class ConvNormAct(nn.Sequential):
    """Conv -> norm -> activation, the unit most layers here are made of.

    Children are named ``conv``/``norm``/``act`` so that state-dict keys stay readable and stable.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=norm == "none"
        )
        self.norm = make_norm(norm, out_channels)
        self.act = make_activation(act)


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
    """Two 3x3 conv-norm layers with an identity skip (the bottleneck block of image-to-image GANs)."""

    def __init__(self, channels: int, norm: str = "instance", act: str = "relu") -> None:
        super().__init__()
        self.block = nn.Sequential(
            ConvNormAct(channels, channels, 3, norm=norm, act=act),
            ConvNormAct(channels, channels, 3, norm=norm, act="none"),
        )

    def forward(self, x):
        return x + self.block(x)
