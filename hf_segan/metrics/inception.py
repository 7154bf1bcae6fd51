"""The Inception-v3 network that FID and KID are defined on, with weights the user provides.

Published FID numbers use one specific network: the TensorFlow Inception graph of 2015-12-05, ported to PyTorch
by pytorch-fid as ``pt_inception-2015-12-05-6726825d.pth``. It differs from torchvision's ImageNet Inception in
three places that change the features: the average pools inside the Inception blocks ignore padded zeros
(TensorFlow's behaviour), the last block pools with a max instead of an average, and the classifier has 1008
outputs. This module rebuilds that layout, with the same parameter names, so that the ported weights load
strictly. Nothing is downloaded: ``load_fid_inception`` reads a local ``.pth`` or ``.safetensors`` file.

It is a plain ``nn.Module`` rather than a diffusers model: it has no configuration, only the one fixed layout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..models.validation import check_image

#: Side of the square input the network was trained on; every image is resized to it (bilinear, like pytorch-fid).
INCEPTION_INPUT_SIZE = 299
#: Width of the pooled features that FID and KID compare.
INCEPTION_FEATURE_DIM = 2048
#: The 2015 graph classifies into 1008 classes (1000 ImageNet classes plus unused slots); FID ignores the
#: classifier, which is kept only so that the reference weights load without dropping keys.
INCEPTION_NUM_CLASSES = 1008


class _Conv(nn.Module):
    """Bias-free convolution, batch norm (TensorFlow's epsilon), ReLU; children named as in the ported weights."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _same_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that, like TensorFlow, averages only the pixels inside the image at borders."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_channels: int, pool_channels: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(in_channels, 64, 1)
        self.branch5x5_1 = _Conv(in_channels, 48, 1)
        self.branch5x5_2 = _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(in_channels, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(in_channels, pool_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_same_avg_pool(x)),
            ],
            1,
        )


class _ReductionB(nn.Module):
    """35x35 -> 17x17 grid reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = _Conv(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(in_channels, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class _BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 then 7x1)."""

    def __init__(self, in_channels: int, mid_channels: int) -> None:
        super().__init__()
        c = mid_channels
        self.branch1x1 = _Conv(in_channels, 192, 1)
        self.branch7x7_1 = _Conv(in_channels, c, 1)
        self.branch7x7_2 = _Conv(c, c, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _Conv(c, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(in_channels, c, 1)
        self.branch7x7dbl_2 = _Conv(c, c, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c, c, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c, c, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                double,
                self.branch_pool(_same_avg_pool(x)),
            ],
            1,
        )


class _ReductionD(nn.Module):
    """17x17 -> 8x8 grid reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = _Conv(in_channels, 192, 1)
        self.branch3x3_2 = _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(in_channels, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockE(nn.Module):
    """8x8 block whose 3x3 branches split into parallel 1x3 and 3x1 convolutions.

    ``max_pool`` reproduces the 2015 graph's last block, which pools its fourth branch with a max; the features
    that published FIDs were computed on depend on it.
    """

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _Conv(in_channels, 320, 1)
        self.branch3x3_1 = _Conv(in_channels, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(in_channels, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _same_avg_pool(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(single),
                self.branch3x3_2b(single),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """Inception-v3 in the layout of the FID reference weights; ``forward`` returns the 2048-d pool features.

    Input: ``(B, 3, H, W)`` float images in [-1, 1] (the range the 2015 graph expects, and the package's
    convention), resized to 299x299 bilinearly whatever their size. Use it in ``eval()`` mode (as
    ``load_fid_inception`` returns it) so that batch norm uses its stored statistics.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b = _BlockA(192, pool_channels=32)
        self.Mixed_5c = _BlockA(256, pool_channels=64)
        self.Mixed_5d = _BlockA(288, pool_channels=64)
        self.Mixed_6a = _ReductionB(288)
        self.Mixed_6b = _BlockC(768, mid_channels=128)
        self.Mixed_6c = _BlockC(768, mid_channels=160)
        self.Mixed_6d = _BlockC(768, mid_channels=160)
        self.Mixed_6e = _BlockC(768, mid_channels=192)
        self.Mixed_7a = _ReductionD(768)
        self.Mixed_7b = _BlockE(1280, max_pool=False)
        self.Mixed_7c = _BlockE(INCEPTION_FEATURE_DIM, max_pool=True)
        self.fc = nn.Linear(INCEPTION_FEATURE_DIM, INCEPTION_NUM_CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_image(images)
        x = images
        if x.shape[-2:] != (INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE):
            x = F.interpolate(x, size=(INCEPTION_INPUT_SIZE,) * 2, mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean((2, 3))


def load_fid_inception(weights_path: str | os.PathLike, device: torch.device | str = "cpu") -> FIDInceptionV3:
    """The FID network with weights from a local file, in eval mode.

    ``weights_path`` is a state dict saved as ``.pth``/``.pt`` (read with ``torch.load(weights_only=True)``, so
    no code in the file runs) or ``.safetensors``, with exactly the reference parameter names and shapes, e.g.
    pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (fetch it yourself; this function never downloads).
    Batch-norm ``num_batches_tracked`` counters may be absent, as in files saved by old PyTorch versions.
    """
    path = os.fspath(weights_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FID Inception weights not found at {path!r}; pass the path of a local file.")
    model = FIDInceptionV3()
    state = _read_state_dict(path)
    _check_state_dict(state, model.state_dict(), path)
    model.load_state_dict(state, strict=False)  # strictness already enforced above, minus the optional counters
    return model.eval().to(device)


def _read_state_dict(path: str) -> Mapping[str, torch.Tensor]:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".safetensors", ".pth", ".pt", ".bin"):
        raise ValueError(f"Unsupported weights file {path!r}; expected a .pth, .pt, .bin or .safetensors file.")
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt or foreign files fail in format-specific ways; report them uniformly
        raise ValueError(f"Could not read {path!r} as a {suffix} state dict: {error}") from error
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path!r} does not hold a state dict (a mapping of parameter names to tensors).")
    return state


def _check_state_dict(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], path: str) -> None:
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)):
        if keys:
            shown = ", ".join(keys[:5]) + (f", ... ({len(keys)} in all)" if len(keys) > 5 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise ValueError(
            f"{path!r} is not an FID Inception-v3 state dict (the pt_inception-2015-12-05 layout); "
            + "; ".join(problems)
            + "."
        )
