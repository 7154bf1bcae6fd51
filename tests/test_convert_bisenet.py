"""The public face-parsing BiSeNet checkpoint converter.

The reference parameter names and shapes below are restated from the public face-parsing BiSeNet definition
(ResNet-18 context path ``cp``, ARMs ``arm16``/``arm32``, ``conv_head16/32``, ``conv_avg``, feature fusion
``ffm``, heads ``conv_out``/``conv_out16``/``conv_out32``), independently of our own module, so the test checks
the mapping against that model rather than against itself.
"""

import numpy as np
import pytest
import torch

from hf_segan.cli import main
from hf_segan.convert import convert_bisenet_state_dict, load_reference_bisenet
from hf_segan.models.bisenet import BiSeNetFaceParser


def _conv_bn(prefix, out_channels, in_channels, kernel, conv="conv", bn="bn"):
    return {
        f"{prefix}.{conv}.weight": (out_channels, in_channels, kernel, kernel),
        **_bn(f"{prefix}.{bn}", out_channels),
    }


def _bn(prefix, channels):
    return {f"{prefix}.{p}": (channels,) for p in ("weight", "bias", "running_mean", "running_var")}


def reference_shapes(num_classes=19):
    shapes = {"cp.resnet.conv1.weight": (64, 3, 7, 7), **_bn("cp.resnet.bn1", 64)}
    previous = 64
    for layer, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            prefix = f"cp.resnet.layer{layer}.{block}"
            in_channels = previous if block == 0 else width
            shapes[f"{prefix}.conv1.weight"] = (width, in_channels, 3, 3)
            shapes.update(_bn(f"{prefix}.bn1", width))
            shapes[f"{prefix}.conv2.weight"] = (width, width, 3, 3)
            shapes.update(_bn(f"{prefix}.bn2", width))
            if block == 0 and layer > 1:
                shapes[f"{prefix}.downsample.0.weight"] = (width, in_channels, 1, 1)
                shapes.update(_bn(f"{prefix}.downsample.1", width))
        previous = width
    for arm, channels in (("arm16", 256), ("arm32", 512)):
        shapes.update(_conv_bn(f"cp.{arm}.conv", 128, channels, 3))
        shapes[f"cp.{arm}.conv_atten.weight"] = (128, 128, 1, 1)
        shapes.update(_bn(f"cp.{arm}.bn_atten", 128))
    shapes.update(_conv_bn("cp.conv_head32", 128, 128, 3))
    shapes.update(_conv_bn("cp.conv_head16", 128, 128, 3))
    shapes.update(_conv_bn("cp.conv_avg", 128, 512, 1))
    shapes.update(_conv_bn("ffm.convblk", 256, 256, 1))
    shapes["ffm.conv1.weight"] = (64, 256, 1, 1)
    shapes["ffm.conv2.weight"] = (256, 64, 1, 1)
    for head, in_channels, mid in (("conv_out", 256, 256), ("conv_out16", 128, 64), ("conv_out32", 128, 64)):
        shapes.update(_conv_bn(f"{head}.conv", mid, in_channels, 3))
        shapes[f"{head}.conv_out.weight"] = (num_classes, mid, 1, 1)
    return shapes


def reference_state_dict():
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in reference_shapes().items():
        value = torch.randn(shape, generator=generator) * 0.05
        if key.endswith("running_var"):
            value = value.abs() + 0.5
        state[key] = value
    return state


@pytest.fixture(scope="module")
def reference():
    return reference_state_dict()


def test_every_reference_tensor_lands_on_the_matching_parameter(reference):
    model = BiSeNetFaceParser()
    converted = convert_bisenet_state_dict(reference, model)
    model.load_state_dict(converted, strict=True)
    ours = model.state_dict()
    # spot checks of the renaming against the reference structure
    assert torch.equal(
        ours["context_path.backbone.layer3.0.downsample.0.weight"], reference["cp.resnet.layer3.0.downsample.0.weight"]
    )
    assert torch.equal(
        ours["context_path.refine32.attention_norm.running_var"], reference["cp.arm32.bn_atten.running_var"]
    )
    assert torch.equal(ours["fusion.excite.weight"], reference["ffm.conv2.weight"])
    assert torch.equal(ours["head.classifier.weight"], reference["conv_out.conv_out.weight"])
    assert torch.equal(ours["aux_head16.conv.norm.bias"], reference["conv_out32.conv.bn.bias"])
    # every reference value is used exactly once
    assert len(converted) == len(ours)
    assert sum(v.numel() for k, v in converted.items() if not k.endswith("num_batches_tracked")) == sum(
        v.numel() for v in reference.values()
    )


def test_heads_land_where_the_reference_reads_them(reference):
    # The reference's conv_out is the main head, conv_out16 reads the stride-8 context and conv_out32 the stride-16
    # one, and it returns them in that order. Its classifiers have no bias, so zeroing one reference classifier
    # must silence exactly the matching output of ours.
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    for silenced, key in enumerate(
        ("conv_out.conv_out.weight", "conv_out16.conv_out.weight", "conv_out32.conv_out.weight")
    ):
        model = BiSeNetFaceParser().eval()
        model.load_state_dict(convert_bisenet_state_dict({**reference, key: torch.zeros_like(reference[key])}, model))
        out = model(images, return_aux=True)
        outputs = (out.logits, *out.aux_logits)
        assert [bool(logits.abs().max() == 0) for logits in outputs] == [i == silenced for i in range(3)], key


def test_auxiliary_heads_read_the_reference_feature_strides():
    # conv_out16 reads the stride-8 context output, conv_out32 the stride-16 one (same channels, so only the
    # spatial size tells them apart).
    model = BiSeNetFaceParser().eval()
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = tuple(inputs[0].shape[2:])

        return hook

    for name in ("aux_head8", "aux_head16"):
        getattr(model, name).register_forward_hook(record(name))
    model(torch.zeros(1, 3, 64, 96), return_aux=True)
    assert seen == {"aux_head8": (8, 12), "aux_head16": (4, 6)}


def test_missing_unexpected_and_misshapen_keys_are_named(reference):
    missing = dict(reference)
    del missing["ffm.conv1.weight"]
    with pytest.raises(ValueError, match=r"missing keys .*fusion\.squeeze\.weight"):
        convert_bisenet_state_dict(missing)
    extra = {**reference, "sp.conv1.conv.weight": torch.zeros(64, 3, 7, 7)}
    with pytest.raises(ValueError, match=r"unexpected keys \['sp\.conv1\.conv\.weight'\]"):
        convert_bisenet_state_dict(extra)
    wrong = {**reference, "conv_out.conv_out.weight": torch.zeros(11, 256, 1, 1)}
    with pytest.raises(ValueError, match=r"shape mismatches .*conv_out\.conv_out\.weight \(11, 256, 1, 1\)"):
        convert_bisenet_state_dict(wrong)
    not_a_tensor = {**reference, "ffm.conv1.weight": 3}
    with pytest.raises(ValueError, match=r"'ffm\.conv1\.weight' is a int, not a tensor"):
        convert_bisenet_state_dict(not_a_tensor)


def test_only_reference_names_are_accepted(reference):
    # A key already in our naming is not a reference key: refusing it keeps the mapping one-to-one.
    ours_named = dict(reference)
    ours_named["fusion.squeeze.weight"] = ours_named.pop("ffm.conv1.weight")
    with pytest.raises(ValueError, match=r"unexpected keys \['fusion\.squeeze\.weight'\]"):
        convert_bisenet_state_dict(ours_named)
    twice = {**reference, "module.ffm.conv1.weight": reference["ffm.conv1.weight"]}
    with pytest.raises(ValueError, match=r"already filled parameter \['module\.ffm\.conv1\.weight'\]"):
        convert_bisenet_state_dict(twice)


def test_data_parallel_prefix_and_missing_counters_are_tolerated(reference):
    model = BiSeNetFaceParser()
    converted = convert_bisenet_state_dict({f"module.{key}": value for key, value in reference.items()}, model)
    assert torch.equal(converted["fusion.squeeze.weight"], reference["ffm.conv1.weight"])
    counters = [key for key in converted if key.endswith("num_batches_tracked")]
    assert counters and all(int(converted[key]) == 0 for key in counters)


def test_load_reference_checkpoint_file(reference, tmp_path):
    path = tmp_path / "79999_iter.pth"
    torch.save(reference, path)
    model = load_reference_bisenet(path)
    assert not model.training
    assert torch.equal(model.state_dict()["context_path.backbone.conv1.weight"], reference["cp.resnet.conv1.weight"])
    assert model(torch.zeros(1, 3, 64, 64)).logits.shape == (1, 19, 64, 64)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": reference, "iteration": 79999}, wrapped)
    assert torch.equal(
        load_reference_bisenet(wrapped).state_dict()["fusion.excite.weight"], reference["ffm.conv2.weight"]
    )


@pytest.mark.parametrize("content", [b"not a checkpoint\n", b"hello world\n", b"PK\x03\x04junk", b""])
def test_unreadable_files_are_one_line_errors(tmp_path, content):
    # Each content trips a different torch reader (weights-only unpickler, legacy loader, zip reader, EOF).
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(content)
    with pytest.raises(ValueError, match="is not a readable PyTorch checkpoint") as error:
        load_reference_bisenet(garbage)
    assert "\n" not in str(error.value) and "weights_only` set to `False" not in str(error.value)


def test_non_state_dict_files_are_named(tmp_path):
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    with pytest.raises(ValueError, match="holds a list, expected a state dict"):
        load_reference_bisenet(listed)
    with pytest.raises(ValueError, match="is not a file"):
        load_reference_bisenet(tmp_path / "absent.pth")


def _cli(capsys, *args) -> tuple[int, str, str]:
    """``hf-segan *args`` in process (test_cli_edit runs the command line as a subprocess): status, out, err."""
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cli_converts_to_safetensors_and_refuses_unsafe_pickles(reference, tmp_path, capsys):
    path = tmp_path / "79999_iter.pth"
    torch.save(reference, path)
    status, out, err = _cli(capsys, "convert-bisenet", path, tmp_path / "parser")
    assert status == 0, err
    assert len(out.strip().splitlines()) == 1 and "BiSeNetFaceParser" in out
    assert (tmp_path / "parser" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = BiSeNetFaceParser.from_pretrained(tmp_path / "parser")
    assert torch.equal(loaded.state_dict()["fusion.squeeze.weight"], reference["ffm.conv1.weight"])

    unsafe = tmp_path / "unsafe.pth"
    torch.save({"weights": _Payload()}, unsafe)
    status, out, err = _cli(capsys, "convert-bisenet", unsafe, tmp_path / "unsafe")
    assert status == 2 and "refused" in err and "this must never run" not in out
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "unsafe").exists()


def test_cli_replaces_an_existing_folder_only_when_asked(reference, tmp_path, capsys):
    path = tmp_path / "79999_iter.pth"
    torch.save(reference, path)
    out_dir = tmp_path / "parser"
    out_dir.mkdir()
    (out_dir / "stale.txt").write_text("old")
    assert main(["convert-bisenet", str(path), str(out_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out_dir / "stale.txt").exists()
    assert main(["convert-bisenet", str(path), str(out_dir), "--overwrite"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["config.json", "diffusion_pytorch_model.safetensors"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("parser")] == ["parser"]  # no temp leftovers


def he_initialised_reference():
    """A reference state dict whose outputs vary across a face (the small random weights above give one label
    everywhere): convolutions He-initialised, BatchNorms the identity plus a small random shift."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in reference_shapes().items():
        if len(shape) == 4:
            state[key] = torch.randn(shape, generator=generator) * (2 / (shape[1] * shape[2] * shape[3])) ** 0.5
        elif key.endswith(("running_var", "weight")):
            state[key] = torch.ones(shape)
        elif key.endswith("running_mean"):
            state[key] = torch.zeros(shape)
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.1
    return state


def test_a_converted_parser_is_used_from_the_cli_and_the_pipeline_at_its_512_px(tmp_path, capsys):
    """The public checkpoint parses 512 px crops: a 512 px face must reach it untouched (parsing it at the
    pipeline's usual 128 px gives other labels), whether through `parse`, `info` or a pipeline."""
    from PIL import Image
    from skimage import data

    from hf_segan.image_utils import pil_to_tensor
    from hf_segan.pipeline import SeganPipeline
    from tests.conftest import build_tiny_pipeline

    checkpoint, folder = tmp_path / "79999_iter.pth", tmp_path / "bisenet"
    torch.save(he_initialised_reference(), checkpoint)
    assert main(["convert-bisenet", str(checkpoint), str(folder)]) == 0
    face = Image.fromarray(data.astronaut()[0:320, 60:380]).resize((512, 512), Image.BILINEAR)
    face.save(tmp_path / "face.png")
    with torch.no_grad():
        model = BiSeNetFaceParser.from_pretrained(folder).eval()
        expected = model(pil_to_tensor(face)[None]).logits.argmax(1)[0].numpy()
        at_128 = torch.nn.functional.interpolate(pil_to_tensor(face)[None], size=128, mode="bilinear", antialias=True)
        assert (model(at_128).logits.argmax(1)[0].numpy() != expected[::4, ::4]).mean() > 0.2  # the size matters

    assert main(["info", str(folder)]) == 0
    info = capsys.readouterr().out
    assert "resolution: 512x512" in info and "parser: BiSeNetFaceParser" in info and "editor: none" in info
    command = ["parse", str(tmp_path / "face.png"), "--out", str(tmp_path / "parsed"), "--model", str(folder)]
    assert main([*command, "--aligned"]) == 0  # a face crop, not a photo to detect faces in
    labels = np.asarray(Image.open(tmp_path / "parsed" / "face_labels.png"))
    np.testing.assert_array_equal(labels, expected)
    assert main(["edit", str(tmp_path / "face.png"), "--out", str(tmp_path / "e"), "--aligned", "--model", str(folder)])
    assert "no editor" in capsys.readouterr().err

    editor_pipe = build_tiny_pipeline(resolution=64)
    pipe = SeganPipeline(parser=model, editor=editor_pipe.editor, resolution=64)
    assert pipe.parser_resolution == 512
    np.testing.assert_array_equal(pipe.parse(face)[0], expected)
    np.testing.assert_array_equal(pipe(face, output_type="np").parsing[0], expected)
    pipe.save_pretrained(tmp_path / "pipe")
    reloaded = SeganPipeline.from_pretrained(tmp_path / "pipe")
    assert reloaded.parser_resolution == 512 and reloaded.config.resolution == 64
