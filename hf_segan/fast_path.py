"""Inference fast path: BatchNorm folding, bf16 and channels-last, applied to a pipeline's models in place.

What it does and why (each choice measured with ``benchmarks/inference.py``; the figures are in
docs/performance.md):

* **bf16** weights and activations where the device runs bf16 natively (:func:`native_bf16`): oneDNN convolutions
  then do about twice the work per cycle of fp32. This is most of the speed-up, and it is reduced precision: the
  edits stay within :data:`BF16_TOLERANCE` of fp32 (tested), they are not bit-identical. A warping editor
  (``max_displacement > 0``) is the exception at sharp edges: its displacements, and the parser's soft masks that
  steer them, come out of bf16 slightly different, and an edge moved a fraction of a pixel differs by more than
  the tolerance there (docs/performance.md), mostly because of the parser's bf16 masks. The tests check the
  tolerance for warping editors on smooth images.
* **BatchNorm folding**: in eval mode a BatchNorm right after a convolution is a fixed per-channel affine map of
  the convolution's output, so it is merged into that convolution's weights and bias (:func:`fold_batch_norms`):
  one pass over the activations and, in bf16, one rounding fewer. The editor's default InstanceNorm normalises
  by each image's own statistics and cannot be folded; only BatchNorm is.
* **channels-last** for the parser only: its convolutions run faster in that layout, while the editor was slower
  in it (its instance norms and concatenations convert layouts back and forth).
* ``torch.compile`` (inductor) is not part of it: it pays in fp32 after a long compile per batch shape, but was
  slower than this eager bf16 path (docs/performance.md).

Folding changes the models' state dicts (BatchNorm keys are gone, convolutions gain biases), so a pipeline with
the fast path enabled refuses ``save_pretrained``: it is for inference only.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .models.bisenet import AttentionRefinement
from .models.layers import ConvNormAct
from .models.resnet import BasicBlock, ResNet18Features

#: Largest elementwise difference between a bf16 fast-path edit and the fp32 edit accepted by the tests (images in
#: [-1, 1]; 0.05 is about 6 of 255 grey levels).
BF16_TOLERANCE = 0.05
#: Largest elementwise difference between an fp32 fast-path edit and the unchanged models (folding only reorders
#: floating-point arithmetic).
FP32_TOLERANCE = 1e-4
FAST_DTYPES = (torch.float32, torch.bfloat16)

#: Convolution -> BatchNorm pairs inside modules that are not ``nn.Sequential``: their ``forward`` feeds the named
#: convolution's output straight into the named BatchNorm and uses it nowhere else, which is what makes the fold
#: exact. (Inside an ``nn.Sequential`` every convolution directly followed by a BatchNorm is such a pair.)
FOLDABLE_PAIRS: dict[type[nn.Module], tuple[tuple[str, str], ...]] = {
    BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
    ResNet18Features: (("conv1", "bn1"),),
    AttentionRefinement: (("attention_conv", "attention_norm"),),
    ConvNormAct: (("conv", "norm"),),
}


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    """A plain 2-D convolution followed by a BatchNorm that normalises with its running statistics."""
    convs = (nn.Conv2d, nn.ConvTranspose2d)
    return type(conv) in convs and type(norm) is nn.BatchNorm2d and norm.running_mean is not None


def fold_batch_norms(model: nn.Module) -> int:
    """Merge every BatchNorm that directly follows a convolution into it, in place; returns how many were folded.

    A folded BatchNorm is replaced by ``nn.Identity``. ``model`` must be in eval mode: in training mode a
    BatchNorm uses the batch's statistics, which no fixed weight can reproduce.
    """
    if model.training:
        raise ValueError(
            "fold_batch_norms needs a model in eval mode (call .eval() first): in training mode a BatchNorm "
            "normalises with the batch's own statistics."
        )
    folded = 0
    for module in list(model.modules()):
        pairs = list(FOLDABLE_PAIRS.get(type(module), ()))
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            pairs += itertools.pairwise(names)
        for conv_name, norm_name in pairs:
            conv, norm = getattr(module, conv_name), getattr(module, norm_name)
            if _foldable(conv, norm):
                fused = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
                setattr(module, conv_name, fused)
                setattr(module, norm_name, nn.Identity())
                folded += 1
    return folded


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes in bf16 natively (CUDA with bf16 support, or a CPU with avx512_bf16 or AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (
        device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def fast_dtype(device: torch.device | str) -> torch.dtype:
    """The fast path's default precision on ``device``: bf16 where it is native, else fp32 (emulated bf16 is slow)."""
    return torch.bfloat16 if native_bf16(device) else torch.float32


#: CPU flags (as Linux lists them in /proc/cpuinfo) that decide the fast path: native bf16 dot products, and the
#: int8 dot-product instructions (VNNI) without which int8 convolutions gain little over fp32.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where that file is missing."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def fast_path_choice(device: torch.device | str = "cpu") -> str:
    """One line for people: which precision :meth:`SeganPipeline.enable_fast_path` picks on ``device`` and why.

    bf16 where it is native; else fp32 (folding only). There is no int8 path: on CPUs without VNNI, int8
    convolutions did not gain enough to pay for their error, and the editor's instance norms keep its
    convolutions from chaining in int8 (docs/performance.md, "CPUs without bf16"). What did gain there without
    any loss of accuracy is ONNX Runtime in fp32, which the fp32 line points to.
    """
    device = torch.device(device)
    if native_bf16(device):
        return f"bf16: {device.type} computes bf16 natively"
    if device.type != "cpu":
        return f"fp32: {device.type} has no native bf16"
    flags = cpu_flags()
    bf16, vnni = ([name for name in names if name in flags] or ["none"] for names in (BF16_FLAGS, VNNI_FLAGS))
    return (
        f"fp32: no native bf16 on this CPU (bf16 flags: {', '.join(bf16)}; torch sees "
        f"{torch.backends.cpu.get_cpu_capability()}); no int8 path (VNNI flags: {', '.join(vnni)}); faster here: "
        "ONNX Runtime fp32 (hf-segan export-onnx)"
    )


def prepare_for_inference(model: nn.Module, dtype: torch.dtype, channels_last: bool) -> int:
    """Eval mode, BatchNorms folded, cast to ``dtype`` and optionally channels-last, in place; returns the folds."""
    if dtype not in FAST_DTYPES:
        raise ValueError(f"The fast path runs in {FAST_DTYPES}, got dtype {dtype}.")
    folded = fold_batch_norms(model.eval())
    # nn.Module.to, not diffusers' ModelMixin.to, which warns about fp32-only modules on every dtype cast.
    nn.Module.to(model, dtype=dtype)
    if channels_last:
        nn.Module.to(model, memory_format=torch.channels_last)
    return folded
