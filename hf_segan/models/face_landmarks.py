"""A port of face-api's FaceLandmark68Net: 68 iBUG-300W face landmarks from a 112x112 face crop.

The network is the one of ``@vladmandic/face-api`` (``face_landmark_68_model``, trained by face-api.js on real
faces): four densely connected blocks of depthwise-separable convolutions (each block halves the resolution), a
7x7 average pool and a linear layer that regresses the 68 (x, y) points relative to the square input. TensorFlow's
"same" padding of the stride-2 convolutions (all padding on the bottom/right) is reproduced, so converted weights
give face-api's numbers.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .face_detector import SeparableConv
from .validation import check_image

#: TensorFlow "same" padding (left, right, top, bottom) of a 3x3 convolution on an even-sized input.
_SAME_STRIDE_1 = (1, 1, 1, 1)
_SAME_STRIDE_2 = (0, 1, 0, 1)


class DenseBlock(nn.Module):
    """face-api's ``denseBlock4``: a stride-2 conv, then three separable convs each fed the sum of all before it."""

    def __init__(self, in_channels: int, out_channels: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3) if first else SeparableConv(in_channels, out_channels)
        self.convs = nn.ModuleList(SeparableConv(out_channels, out_channels) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.first:
            out = F.conv2d(F.pad(x, _SAME_STRIDE_2), self.conv0.weight, self.conv0.bias, stride=2)
        else:
            out = self.conv0(x, _SAME_STRIDE_2, stride=2)
        outputs = [torch.relu(out)]
        for conv in self.convs:
            outputs.append(conv(torch.relu(sum(outputs)), _SAME_STRIDE_1))
        return torch.relu(sum(outputs))


class FaceLandmark68Net(ModelMixin, ConfigMixin):
    """face-api's 68-point landmark net: square RGB face crop in [0, 255] -> 68 points relative to the crop.

    Args:
        channels: output channels of the four dense blocks.
        mean_rgb: per-channel mean subtracted from the pixels before dividing by 255.
        input_size: side of the square input (4 stride-2 blocks and a 7x7 pool: 112 for the shipped weights).
        num_points: landmarks regressed (68, iBUG-300W order).
    """

    @register_to_config
    def __init__(
        self,
        channels: list[int] | tuple[int, ...] = (32, 64, 128, 256),
        mean_rgb: list[float] | tuple[float, float, float] = (122.782, 117.001, 104.298),
        input_size: int = 112,
        num_points: int = 68,
    ) -> None:
        super().__init__()
        if input_size != 7 * 2 ** len(channels):
            raise ValueError(
                f"input_size must be 7 * 2**len(channels) = {7 * 2 ** len(channels)} (the blocks halve it down to "
                f"the 7x7 pool), got {input_size}."
            )
        widths = [3, *channels]
        self.blocks = nn.ModuleList(
            DenseBlock(c_in, c_out, first=index == 0) for index, (c_in, c_out) in enumerate(itertools.pairwise(widths))
        )
        self.fc = nn.Linear(channels[-1], 2 * num_points)
        self.register_buffer("mean", torch.tensor(mean_rgb, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float RGB in [0, 255], S = ``config.input_size`` -> (B, num_points, 2) (x, y) as fractions
        of the input side."""
        check_image(pixels, "pixels", value_range=(0.0, 255.0))
        size = self.config.input_size
        if tuple(pixels.shape[-2:]) != (size, size):
            raise ValueError(f"`pixels` must be {size}x{size}, got {pixels.shape[-2]}x{pixels.shape[-1]}.")
        x = (pixels - self.mean) / 255.0
        for block in self.blocks:
            x = block(x)
        x = F.avg_pool2d(x, 7, 2).flatten(1)
        return self.fc(x).view(x.shape[0], -1, 2)
