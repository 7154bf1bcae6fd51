"""A port of face-api's TinyFaceDetector: a YOLO-v2-style single-class face detector with depthwise-separable convs.

The network is the one of ``@vladmandic/face-api`` (``tiny_face_detector_model``, trained by face-api.js on real
faces): a 3x3 convolution, five depthwise-separable convolutions with max pooling between them (stride 32 overall),
and a 1x1 head that predicts, per grid cell and anchor, a box offset ``(tx, ty, tw, th)`` and an objectness logit.
TensorFlow's padding is reproduced exactly ("valid" first convolution, explicit 1-pixel padding in the separable
convs, "same" max pooling that pads only the bottom/right), so converted weights give face-api's numbers.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .strict_loading import StrictLoadingMixin
from .validation import check_image

#: face-api's leaky ReLU slope (``tinyYolov2/leaky.ts``).
LEAKY_SLOPE = 0.1


class SeparableConv(nn.Module):
    """Depthwise 3x3 (no bias) then pointwise 1x1 with bias, as ``tf.separableConv2d`` + ``tf.add(bias)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, padding: tuple[int, int, int, int], stride: int = 1) -> torch.Tensor:
        """``padding`` is (left, right, top, bottom) zero padding applied before the "valid" depthwise conv."""
        left, right, top, bottom = padding
        if left == right and top == bottom:  # the convolution pads evenly itself, without copying the input
            x = F.conv2d(x, self.depthwise.weight, stride=stride, padding=(top, left), groups=self.depthwise.groups)
        else:
            x = F.conv2d(F.pad(x, padding), self.depthwise.weight, stride=stride, groups=self.depthwise.groups)
        return self.pointwise(x)


def _max_pool_same(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow's 2x2 "same" max pooling: any padding goes to the bottom/right and never wins the max."""
    size = x.shape[-1]
    out = -(-size // stride)
    pad = max((out - 1) * stride + 2 - size, 0)
    if pad:
        x = F.pad(x, (0, pad, 0, pad), value=float("-inf"))
    return F.max_pool2d(x, 2, stride)


class TinyFaceDetector(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """face-api's tiny face detector: RGB pixels in [0, 255] (square, ``input_size``) -> raw YOLO grid.

    Args:
        channels: output channels of the first conv and the five separable convs.
        anchors: (width, height) of each anchor box in grid cells.
        mean_rgb: per-channel mean subtracted from the pixels before dividing by 255.
        input_size: side of the square input the detector is run at (a multiple of 32).
        iou_threshold: overlap above which non-maximum suppression drops the weaker box.
    """

    @register_to_config
    def __init__(
        self,
        channels: list[int] | tuple[int, ...] = (16, 32, 64, 128, 256, 512),
        anchors: list[list[float]] | tuple[tuple[float, float], ...] = (
            (1.603231, 2.094468),
            (6.041143, 7.080126),
            (2.882459, 3.518061),
            (4.266906, 5.178857),
            (9.041765, 10.66308),
        ),
        mean_rgb: list[float] | tuple[float, float, float] = (117.001, 114.697, 97.404),
        input_size: int = 416,
        iou_threshold: float = 0.4,
    ) -> None:
        super().__init__()
        if len(channels) != 6:
            raise ValueError(f"channels must list 6 widths (first conv + 5 separable convs), got {list(channels)}.")
        if input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}.")
        self.conv0 = nn.Conv2d(3, channels[0], 3)
        self.separable = nn.ModuleList(SeparableConv(c_in, c_out) for c_in, c_out in itertools.pairwise(channels))
        self.head = nn.Conv2d(channels[-1], 5 * len(anchors), 1)
        self.register_buffer("mean", torch.tensor(mean_rgb, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float RGB in [0, 255] -> (B, G, G, anchors, 5) raw ``(tx, ty, tw, th, objectness)``.

        ``S`` is a multiple of 32 (``G = S / 32``); face-api runs at ``config.input_size``.
        """
        check_image(pixels, "pixels", value_range=(0.0, 255.0))
        height, width = pixels.shape[-2:]
        if height != width or height < 32 or height % 32:
            raise ValueError(f"`pixels` must be square with a side that is a multiple of 32, got {height}x{width}.")
        x = (pixels - self.mean) / 255.0
        x = F.leaky_relu(self.conv0(x), LEAKY_SLOPE)
        for layer in self.separable:
            x = F.leaky_relu(layer(_max_pool_same(x, 2), (1, 1, 1, 1)), LEAKY_SLOPE)
        out = self.head(_max_pool_same(x, 1))
        batch, _, grid_h, grid_w = out.shape
        return out.permute(0, 2, 3, 1).reshape(batch, grid_h, grid_w, len(self.config.anchors), 5)

    def decode(
        self, grid: torch.Tensor, content_fraction: tuple[float, float] = (1.0, 1.0)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw grid (G, G, anchors, 5) of one image -> float64 boxes (N, 4), relative (x, y, w, h), scores (N,).

        ``content_fraction`` is the (width, height) share of the square input that holds the photo (face-api pads
        the bottom/right to a square); coordinates come back relative to the photo, as face-api's
        ``extractBoxes`` computes them.
        """
        grid = grid.double()
        grid_h, grid_w = grid.shape[:2]
        rows = torch.arange(grid_h, dtype=grid.dtype).view(-1, 1, 1)
        cols = torch.arange(grid_w, dtype=grid.dtype).view(1, -1, 1)
        fraction_x, fraction_y = content_fraction
        centre_x = (cols + torch.sigmoid(grid[..., 0])) / grid_w / fraction_x
        centre_y = (rows + torch.sigmoid(grid[..., 1])) / grid_h / fraction_y
        anchors = torch.tensor(self.config.anchors, dtype=torch.float64)
        width = torch.exp(grid[..., 2]) * anchors[:, 0] / grid_w / fraction_x
        height = torch.exp(grid[..., 3]) * anchors[:, 1] / grid_h / fraction_y
        boxes = torch.stack([centre_x - width / 2, centre_y - height / 2, width, height], dim=-1)
        return boxes.reshape(-1, 4), torch.sigmoid(grid[..., 4]).reshape(-1)
