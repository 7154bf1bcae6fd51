"""ONNX export: ONNX Runtime reproduces the PyTorch edit within the stated tolerance, at any batch size."""

import copy

import pytest
import torch
from conftest import build_tiny_pipeline

from hf_segan import default_model_path
from hf_segan.data.synthfaces import load_synthfaces
from hf_segan.export import ONNX_TOLERANCE, OnnxEditor, ParseAndEdit, export_onnx
from hf_segan.fast_path import BF16_TOLERANCE
from hf_segan.image_utils import pil_to_tensor
from hf_segan.models.unet import UNetFaceParser


def test_onnx_runtime_matches_pytorch_for_several_batch_sizes(tmp_path):
    pipe = build_tiny_pipeline()
    path = export_onnx(pipe, tmp_path / "segan.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["segan.onnx"]
    session = OnnxEditor(path)
    reference_model = ParseAndEdit(pipe).eval()
    for batch in (1, 3):
        images = torch.rand(batch, 3, 64, 64) * 2 - 1
        condition = torch.eye(8)[torch.arange(batch) + 1]
        edited, attention = session(images, condition)
        with torch.inference_mode():
            reference, reference_attention = reference_model(images, condition)
        assert edited.shape == (batch, 3, 64, 64)
        assert abs(torch.from_numpy(edited) - reference).max() < ONNX_TOLERANCE
        assert abs(torch.from_numpy(attention) - reference_attention).max() < ONNX_TOLERANCE
    with pytest.raises(ValueError, match="must be 64x64"):
        session(torch.zeros(1, 3, 32, 32), torch.eye(8)[[1]])
    with pytest.raises(ValueError, match=r"end in \.onnx"):
        export_onnx(pipe, tmp_path / "segan.bin")


def test_graph_with_parsing_also_returns_the_parser_probabilities(tmp_path):
    """``with_parsing`` adds the parser's probabilities (what a quantised graph's labels are checked against) and
    leaves the edit as it was."""
    pipe = build_tiny_pipeline()
    images, condition = torch.rand(2, 3, 64, 64) * 2 - 1, torch.eye(8)[[1, 3]]
    edited, attention, parsing = OnnxEditor(export_onnx(pipe, tmp_path / "p.onnx", with_parsing=True))(
        images, condition
    )
    with torch.inference_mode():
        probs = pipe.parsing_probs(images)
        reference, reference_attention = ParseAndEdit(pipe).eval()(images, condition)
    assert parsing.shape == (2, 19, 64, 64)
    assert abs(torch.from_numpy(parsing) - probs).max() < ONNX_TOLERANCE
    assert abs(torch.from_numpy(edited) - reference).max() < ONNX_TOLERANCE
    assert abs(torch.from_numpy(attention) - reference_attention).max() < ONNX_TOLERANCE


def test_warping_editor_exports_its_warp(tmp_path):
    pipe = build_tiny_pipeline(warp=True)
    session = OnnxEditor(export_onnx(pipe, tmp_path / "segan.onnx"))
    images, condition = torch.rand(2, 3, 64, 64) * 2 - 1, torch.eye(8)[[1, 3]]
    with torch.inference_mode():
        reference, _ = ParseAndEdit(pipe).eval()(images, condition)
        assert pipe.editor(images, pipe.parser(images).logits.softmax(1), condition).flow.abs().max() > 0.01
    assert abs(torch.from_numpy(session(images, condition)[0]) - reference).max() < ONNX_TOLERANCE


def test_windowed_editor_exports_windows_that_follow_each_face(tmp_path):
    """The windows' places are computed in the graph from each image's masks, not frozen from the example input
    the export traced: faces whose regions lie elsewhere get their own windows. (The bundled parser finds the
    regions of SynthFaces faces; a random one finds none, and every window would sit in the corner.)"""
    windows = {"eyes": [0.25, 0.5], "mouth": [0.25, 0.5], "nose": [0.25, 0.25]}
    pipe = build_tiny_pipeline(warp=True, local_windows=windows)
    pipe.register_modules(parser=UNetFaceParser.from_pretrained(default_model_path() / "parser").eval())
    session = OnnxEditor(export_onnx(pipe, tmp_path / "segan.onnx"))
    faces = load_synthfaces("test", 1, intensities=[1.0], image_size=64)["image"][:3]
    images = torch.stack([pil_to_tensor(face.convert("RGB")) for face in faces])
    images = torch.cat([images, images.roll((9, -7), dims=(2, 3))])  # the same faces, moved
    condition = torch.eye(8)[[1, 3, 5, 2, 4, 6]]
    with torch.inference_mode():
        reference, _ = ParseAndEdit(pipe).eval()(images, condition)
    assert abs(torch.from_numpy(session(images, condition)[0]) - reference).max() < ONNX_TOLERANCE


def test_fast_path_pipeline_exports_and_is_left_unchanged(tmp_path):
    pipe = build_tiny_pipeline()
    fast = copy.deepcopy(pipe).enable_fast_path(torch.bfloat16)
    path = export_onnx(fast, tmp_path / "fast.onnx")
    assert fast.parser.dtype == torch.bfloat16 and fast.editor.dtype == torch.bfloat16
    images, condition = torch.rand(2, 3, 64, 64) * 2 - 1, torch.eye(8)[[1, 2]]
    edited, _ = OnnxEditor(path)(images, condition)
    with torch.inference_mode():
        reference, _ = ParseAndEdit(pipe).eval()(images, condition)
    # folded weights rounded to bf16, fp32 arithmetic in ONNX Runtime
    assert abs(torch.from_numpy(edited) - reference).max() < BF16_TOLERANCE


def test_export_command(tiny_pipeline_dir, tmp_path, capsys):
    from hf_segan.cli import main

    # in process: test_cli_edit runs the command line as a subprocess
    assert main(["export-onnx", str(tmp_path / "m.onnx"), "--model", str(tiny_pipeline_dir)]) == 0
    assert "max |ONNX Runtime - PyTorch|" in capsys.readouterr().out and (tmp_path / "m.onnx").is_file()
