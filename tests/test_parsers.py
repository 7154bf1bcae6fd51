"""Face parsers: output contract, input checks, exact save/load, and that they can learn."""

import pytest
import torch

from hf_segan.constants import FACE_PARSING_CLASSES
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.unet import UNetFaceParser

TINY_BISENET = {"backbone_widths": [8, 8, 16, 16], "context_channels": 8, "fusion_channels": 16, "head_channels": 8}
TINY_UNET = {"depth": 2, "base_channels": 8, "max_channels": 16}


def public_config(model):
    """The config without diffusers' private ``_`` bookkeeping keys (which from_pretrained adds to)."""
    return {k: v for k, v in model.config.items() if not k.startswith("_")}


def tiny(kind, **overrides):
    torch.manual_seed(0)
    if kind == "bisenet":
        return BiSeNetFaceParser(**{**TINY_BISENET, **overrides})
    return UNetFaceParser(**{**TINY_UNET, **overrides})


@pytest.mark.parametrize("kind", ["bisenet", "unet"])
@pytest.mark.parametrize("size", [(32, 32), (50, 70), (64, 33)])
def test_logits_cover_every_class_at_input_resolution(kind, size):
    model = tiny(kind).eval()
    out = model(torch.rand(2, 3, *size) * 2 - 1)
    assert out.logits.shape == (2, len(FACE_PARSING_CLASSES), *size)
    assert out.aux_logits == ()


def test_bisenet_auxiliary_heads_follow_training_mode():
    model = tiny("bisenet")
    images = torch.rand(2, 3, 64, 64) * 2 - 1  # batch norm on the global context needs > 1 sample in training
    model.train()
    assert [a.shape for a in model(images).aux_logits] == [(2, 19, 64, 64)] * 2
    assert model(images, return_aux=False).aux_logits == ()
    model.eval()
    assert model(images).aux_logits == () and len(model(images, return_aux=True).aux_logits) == 2


def test_bisenet_conv_spatial_path_adds_its_own_branch():
    model = tiny("bisenet", spatial_path="conv").eval()
    assert any(name.startswith("spatial_convs.") for name, _ in model.named_parameters())
    assert model(torch.zeros(1, 3, 50, 70)).logits.shape == (1, 19, 50, 70)
    with pytest.raises(ValueError, match="Unknown spatial_path 'paper'"):
        tiny("bisenet", spatial_path="paper")


@pytest.mark.parametrize("kind", ["bisenet", "unet"])
def test_bad_inputs_are_named(kind):
    model = tiny(kind).eval()
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.zeros(1, 4, 32, 32))
    with pytest.raises(ValueError, match=r"must lie in \[-1.0, 1.0\]"):
        model(torch.full((1, 3, 32, 32), 255.0))


def test_bisenet_refuses_inputs_too_small_for_its_stride():
    with pytest.raises(ValueError, match="at least 32x32"):
        tiny("bisenet").eval()(torch.zeros(1, 3, 16, 40))


@pytest.mark.parametrize("norm", ["batch", "instance", "group", "none"])
@pytest.mark.parametrize("depth", [1, 3])
def test_unet_depth_and_norm_are_configurable(norm, depth):
    model = tiny("unet", norm=norm, depth=depth).eval()
    downs = [m for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(downs) == depth
    assert model(torch.zeros(1, 3, 20, 28)).logits.shape == (1, 19, 20, 28)


@pytest.mark.parametrize("kind", ["bisenet", "unet"])
def test_save_and_load_round_trip_is_exact(kind, tmp_path):
    model = tiny(kind).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = type(model).from_pretrained(tmp_path).eval()
    assert public_config(loaded) == public_config(model)
    assert isinstance(model.config.image_mean, list)  # JSON data before saving too, not only after loading
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    # Weights are bit-identical; outputs only up to float rounding, because tensors read from safetensors sit at
    # other memory alignments and CPU kernels then sum in a different order.
    torch.testing.assert_close(model(images).logits, loaded(images).logits, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["bisenet", "unet"])
def test_parser_learns_a_labelled_image(kind):
    # Two vertical bands of different colour, labelled skin / hair: the parser must learn to tell them apart.
    images = torch.full((2, 3, 32, 32), -0.6)
    images[:, :, :, 16:] = 0.6
    images[1] = images[1].flip(-1)
    labels = torch.full((2, 32, 32), 1)
    labels[0, :, 16:] = 17
    labels[1, :, :16] = 17
    model = tiny(kind).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(50):
        loss = torch.nn.functional.cross_entropy(model(images, return_aux=False).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    accuracy = (model.eval()(images).logits.argmax(1) == labels).float().mean().item()
    assert accuracy > 0.9
