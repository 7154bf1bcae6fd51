"""``hf-segan export-onnx``: the parse-and-edit graph of a SeganPipeline as an ONNX file."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-onnx",
        help="Export parser + editor as one ONNX graph (dynamic batch) and check it against PyTorch.",
    )
    parser.add_argument("out", help="the .onnx file to write")
    parser.add_argument("--model", help="SeganPipeline folder or hub id (default: the bundled model)")
    parser.add_argument("--opset", type=int, default=17)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..export import OnnxEditor, ParseAndEdit, export_onnx
    from ._common import load_pipeline

    args.device = "cpu"
    pipe = load_pipeline(args)
    path = export_onnx(pipe, args.out, args.opset)
    size = pipe.config.resolution
    images = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    condition = torch.eye(pipe.editor.config.num_expressions)[[1, 2, 3, 4]]
    edited, _ = OnnxEditor(path)(images, condition)
    with torch.inference_mode():
        reference, _ = ParseAndEdit(pipe).eval()(images, condition)
    difference = float(abs(torch.from_numpy(edited) - reference).max())
    print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB); max |ONNX Runtime - PyTorch| = {difference:.2e}")
    return 0
