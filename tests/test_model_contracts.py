"""Contracts every model keeps: half-precision loading, minimal folders, shapes at 128/256 px with odd batches."""

import pytest
import torch

from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.classifier import ExpressionClassifier
from hf_segan.models.discriminator import ExpressionDiscriminator
from hf_segan.models.editor import HierarchicalExpressionGenerator
from hf_segan.models.unet import UNetFaceParser

TINY = {
    BiSeNetFaceParser: {
        "backbone_widths": [8, 8, 16, 16],
        "context_channels": 8,
        "fusion_channels": 16,
        "head_channels": 8,
    },
    UNetFaceParser: {"depth": 2, "base_channels": 4, "max_channels": 8},
    HierarchicalExpressionGenerator: {"base_channels": 4, "num_residual_blocks": 1, "local_channels": 8},
    ExpressionDiscriminator: {"base_channels": 8, "num_layers": 3, "local_base_channels": 4, "local_num_layers": 2},
    ExpressionClassifier: {"widths": [8, 16]},
}


@pytest.mark.parametrize("cls", list(TINY))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loading_from_a_minimal_folder(cls, dtype, tmp_path):
    model = cls(**TINY[cls]).eval()
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "diffusion_pytorch_model.safetensors"]
    loaded = cls.from_pretrained(tmp_path, torch_dtype=dtype)
    assert loaded.dtype == dtype
    for (name, original), (_, half) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        if original.is_floating_point():
            assert torch.equal(half, original.to(dtype)), name


@pytest.mark.parametrize("size", [128, 256])
def test_shapes_at_paper_resolutions_with_odd_batches_and_coarser_parsing(size):
    torch.manual_seed(0)
    images = torch.rand(3, 3, size, size) * 2 - 1
    parser = UNetFaceParser(**TINY[UNetFaceParser]).eval()
    probs = parser(torch.nn.functional.interpolate(images, size=64)).logits.softmax(1)  # parser at 64 px
    editor = HierarchicalExpressionGenerator(**TINY[HierarchicalExpressionGenerator]).eval()
    condition = torch.eye(8)[[1, 4, 7]]
    with torch.no_grad():
        edit = editor(images, probs, condition)
        critic = ExpressionDiscriminator(**TINY[ExpressionDiscriminator])(edit.images, edit.region_masks)
    assert edit.images.shape == (3, 3, size, size) and edit.attention.shape == (3, 1, size, size)
    assert edit.region_masks.shape == (3, 3, size, size) and edit.local_color.shape == (3, 3, 3, size, size)
    assert critic.expression_logits.shape == (3, 8) and len(critic.local_adversarial) == 3
    parsed = BiSeNetFaceParser(**TINY[BiSeNetFaceParser]).eval()(images)
    assert parsed.logits.shape == (3, 19, size, size)


def test_every_main_path_parser_parameter_receives_the_editors_gradient():
    torch.manual_seed(0)
    parser = BiSeNetFaceParser(**TINY[BiSeNetFaceParser]).train()
    editor = HierarchicalExpressionGenerator(**TINY[HierarchicalExpressionGenerator])
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    edit = editor(images, parser(images, return_aux=False).logits.softmax(1), torch.eye(8)[[1, 3]])
    edit.images.square().mean().backward()
    main_path = {n: p for n, p in parser.named_parameters() if not n.startswith("aux_head")}
    starved = [n for n, p in main_path.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not starved, starved
