"""The FID Inception-v3: reference layout, features, and strict loading of local weight files."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hf_segan.metrics import FIDInceptionV3, load_fid_inception
from hf_segan.metrics.inception import _same_avg_pool

# Characteristic entries of pytorch-fid's pt_inception-2015-12-05 state dict (torchvision's Inception-v3 names,
# no auxiliary classifier, a 1008-way classifier), written out from the published architecture.
REFERENCE_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    # PyTorch's default init shrinks activations layer after layer into denormal floats: slow on CPU and features
    # all ~0. A variance-preserving init gives features that differ between images, so the tests can see them.
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


def test_state_dict_has_the_reference_layout(model):
    state = model.state_dict()
    for key, shape in REFERENCE_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(key.startswith("AuxLogits") for key in state)
    # Inception-v3 has 94 convolutions outside the auxiliary head.
    assert sum(key.endswith(".conv.weight") for key in state) == 94
    # torchvision's inception_v3 has 27,161,264 parameters; without the 3,326,696 of its auxiliary head and with
    # 8 more classifier rows (8 * 2049) that leaves 23,850,960.
    assert sum(p.numel() for p in model.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_features_are_2048_wide_per_image(model):
    images = torch.rand(2, 3, 48, 48) * 2 - 1  # any size: resized to 299 inside
    with torch.inference_mode():
        features = model(images)
    assert features.shape == (2, 2048)
    assert torch.isfinite(features).all() and (features >= 0).all()  # means of ReLU outputs
    assert not torch.allclose(features[0], features[1])
    with pytest.raises(ValueError, match=r"values must lie in \[-1.0, 1.0\]"):
        model(images * 3)


def test_pools_ignore_padding_like_tensorflow():
    # A constant map stays constant at the borders only when padded zeros are left out of the average.
    pooled = _same_avg_pool(torch.ones(1, 1, 4, 4))
    assert torch.allclose(pooled, torch.ones_like(pooled))


def test_weights_round_trip_through_pth_and_safetensors(model, tmp_path):
    state = model.state_dict()
    pth, safetensors = tmp_path / "fid.pth", tmp_path / "fid.safetensors"
    # Files saved by old PyTorch versions lack the batch-norm counters; those must still load.
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, pth)
    save_file({k: v.contiguous() for k, v in state.items()}, safetensors)
    for path in (pth, safetensors):
        loaded = load_fid_inception(path)
        assert not loaded.training
        assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items() if "num_batches" not in k)


def test_wrong_files_fail_clearly(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fid_inception(tmp_path / "absent.pth")
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match=r"missing keys: Conv2d_1a_3x3\.conv\.weight.*unexpected keys: encoder"):
        load_fid_inception(foreign)
    state = dict(model.state_dict())
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not the FID graph's
    wrong_head = tmp_path / "imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, wrong_head)
    with pytest.raises(ValueError, match=r"shape mismatches: fc\.weight: file \(1000, 2048\)"):
        load_fid_inception(wrong_head)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read"):
        load_fid_inception(garbage)
    onnx = tmp_path / "fid.onnx"
    onnx.write_bytes(b"")
    with pytest.raises(ValueError, match="Unsupported weights file"):
        load_fid_inception(onnx)
