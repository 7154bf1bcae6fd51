"""ResNet-18 feature extractor (written here: the package does not depend on torchvision).

Parameter names follow torchvision's ``resnet18`` (``conv1``, ``bn1``, ``layer1``..``layer4``, blocks with
``conv1/bn1/conv2/bn2/downsample``) so that public checkpoints built on it map onto this module by prefix alone.
There is no classifier: parsers only need the stride-8, 16 and 32 feature maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet18Features(nn.Module):
    """ResNet-18 trunk returning the stride-8, stride-16 and stride-32 features.

    Args:
        in_channels: image channels.
        widths: output channels of ``layer1``..``layer4`` (the stem has ``widths[0]``); ``(64, 128, 256, 512)``
            is ResNet-18, smaller values give tiny models for tests.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"ResNet-18 has 4 stages; `widths` must have 4 entries, got {list(widths)}.")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        previous = widths[0]
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            setattr(
                self, f"layer{index + 1}", nn.Sequential(BasicBlock(previous, width, stride), BasicBlock(width, width))
            )
            previous = width

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        feat32 = self.layer4(feat16)
        return feat8, feat16, feat32
