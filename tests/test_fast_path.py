"""Fast path: BatchNorm folding is exact and complete, bf16/fp32 edits stay within the stated tolerances, and a
folded pipeline cannot be saved or re-folded by mistake."""

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from PIL import Image
from torch import nn

from hf_segan import fast_path
from hf_segan.cli import main
from hf_segan.fast_path import BF16_TOLERANCE, FP32_TOLERANCE, fold_batch_norms
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.editor import HierarchicalExpressionGenerator
from hf_segan.models.layers import ConvNormAct
from hf_segan.models.unet import UNetFaceParser


def randomize_batch_norms(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters: a fresh BatchNorm is the identity, which any fold
    (even a wrong one) would reproduce."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                for tensor in (module.running_mean, module.weight, module.bias):
                    tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model.eval()


def count_batch_norms(model: nn.Module) -> int:
    return sum(isinstance(module, nn.BatchNorm2d) for module in model.modules())


class TransposedBatchNormStack(nn.Module):
    """BatchNorms after a convolution and after a transposed convolution (``ConvNormAct`` layers), which a fold
    must merge with the transposed kernel's own layout."""

    def __init__(self) -> None:
        super().__init__()
        self.down = ConvNormAct(3, 8, 4, 2, "batch", padding=1)
        self.up = ConvNormAct(8, 3, 4, 2, "batch", padding=1, transposed=True)

    def forward(self, images: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(images=self.up(self.down(images)))


TINY_BISENET = {"backbone_widths": (8, 16, 32, 64), "context_channels": 16, "fusion_channels": 16, "head_channels": 8}


@pytest.mark.parametrize(
    "make, inputs",
    [
        (lambda: BiSeNetFaceParser(**TINY_BISENET), lambda x: (x,)),
        (lambda: BiSeNetFaceParser(spatial_path="conv", **TINY_BISENET), lambda x: (x,)),
        (lambda: UNetFaceParser(depth=2, base_channels=4, max_channels=16), lambda x: (x,)),
        (lambda: TransposedBatchNormStack(), lambda x: (x,)),
    ],
    ids=["bisenet", "bisenet-conv-spatial", "unet", "transposed-conv-batch-norm"],
)
def test_folding_removes_every_batch_norm_and_keeps_the_output(make, inputs):
    model = randomize_batch_norms(make())
    args = inputs(torch.rand(2, 3, 64, 64) * 2 - 1)
    with torch.inference_mode():
        reference = model(*args)
        before = count_batch_norms(model)
        assert fold_batch_norms(model) == before > 0
        assert count_batch_norms(model) == 0
        folded = model(*args)
    name = "logits" if hasattr(reference, "logits") else "images"
    assert (getattr(folded, name) - getattr(reference, name)).abs().max() < FP32_TOLERANCE


def test_folding_needs_eval_mode_and_leaves_instance_norm_alone():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(UNetFaceParser(depth=1, base_channels=4).train())
    editor = HierarchicalExpressionGenerator(base_channels=4, num_residual_blocks=1, local_channels=8).eval()
    assert fold_batch_norms(editor) == 0  # instance norm depends on each image's statistics
    assert any(isinstance(m, nn.InstanceNorm2d) for m in editor.modules())


@pytest.fixture(scope="module")
def crops():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]


def smooth_crops() -> list[np.ndarray]:
    """Random images without pixel-level detail (8x8 noise enlarged bilinearly)."""
    rng = np.random.default_rng(1)
    small = [Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)) for _ in range(3)]
    return [np.asarray(image.resize((64, 64), Image.BILINEAR)) for image in small]


@pytest.mark.parametrize("warp", [False, True])
@pytest.mark.parametrize("dtype, tolerance", [(torch.bfloat16, BF16_TOLERANCE), (torch.float32, FP32_TOLERANCE)])
def test_fast_pipeline_edits_within_tolerance(crops, dtype, tolerance, warp):
    if warp and dtype == torch.bfloat16:
        crops = smooth_crops()  # bf16 moves a warp's pixels by a fraction of a pixel: see hf_segan.fast_path
    pipe = build_tiny_pipeline(warp=warp)
    randomize_batch_norms(pipe.parser)
    fast = copy.deepcopy(pipe).enable_fast_path(dtype)
    assert fast.fast_path_dtype == dtype and fast.parser.dtype == dtype and fast.editor.dtype == dtype
    assert count_batch_norms(fast.parser) == 0
    assert fast.parser.stem[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    reference = pipe(crops, "happy", output_type="pt")
    result = fast(crops, "happy", output_type="pt")
    assert result.images.dtype == torch.float32
    assert (result.images - reference.images).abs().max() < tolerance
    assert np.abs(result.attention - reference.attention).max() < tolerance
    if dtype == torch.float32:
        assert np.array_equal(result.parsing, reference.parsing)


def test_fast_pipeline_refuses_saving_refolding_and_other_dtypes(tmp_path):
    with pytest.raises(ValueError, match="fast path runs in"):
        build_tiny_pipeline().enable_fast_path(torch.float16)
    fast = build_tiny_pipeline().enable_fast_path(torch.float32)
    with pytest.raises(ValueError, match="already enabled"):
        fast.enable_fast_path(torch.bfloat16)
    with pytest.raises(ValueError, match="save the pipeline before enabling the fast path"):
        fast.save_pretrained(tmp_path / "folded")
    assert not (tmp_path / "folded").exists()


def test_edit_command_fast_flag(tiny_pipeline_dir, tmp_path, crops):
    Image.fromarray(crops[0]).save(tmp_path / "crop.png")
    outputs = {}
    for flag in ([], ["--fast"]):
        out = tmp_path / f"out{len(flag)}"
        args = ["edit", str(tmp_path / "crop.png"), "--aligned", "--out", str(out), "--model", str(tiny_pipeline_dir)]
        assert main([*args, *flag]) == 0
        outputs[len(flag)] = np.asarray(Image.open(out / "crop.png")).astype(int)
    # BF16_TOLERANCE in [-1, 1] is at most 7 of 255 grey levels (plus rounding to uint8)
    assert np.abs(outputs[1] - outputs[0]).max() <= np.ceil(BF16_TOLERANCE * 127.5) + 1


def test_fast_path_choice_names_the_precision_and_the_cpu_flags_behind_it(monkeypatch):
    monkeypatch.setattr(fast_path, "native_bf16", lambda device: True)
    assert fast_path.fast_path_choice("cpu").startswith("bf16:")
    monkeypatch.setattr(fast_path, "native_bf16", lambda device: False)
    monkeypatch.setattr(fast_path, "cpu_flags", lambda: {"avx2", "fma", "avx_vnni"})
    choice = fast_path.fast_path_choice("cpu")
    assert choice.startswith("fp32:") and "bf16 flags: none" in choice and "VNNI flags: avx_vnni" in choice
    assert "ONNX Runtime fp32 (hf-segan export-onnx)" in choice
