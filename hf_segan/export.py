"""Export a SeganPipeline's parse-then-edit graph to ONNX and run it with ONNX Runtime.

The exported graph takes model-ready crops and a condition batch and returns the edited crops and the attention
masks: ``images (B, 3, R, R) in [-1, 1], condition (B, num_expressions) -> edited (B, 3, R, R), attention
(B, 1, R, R)`` with R the pipeline's resolution and a dynamic batch; with ``with_parsing`` also the parser's class
probabilities ``parsing (B, num_classes, R, R)``, so that a transformed graph (e.g. a quantised one) can be checked
against the labels too. Input validation stays in Python (ONNX has
no way to raise a readable error), so :class:`OnnxEditor` checks shapes before calling the session.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .io import atomic_path
from .models.validation import check_condition, check_image
from .pipeline import SeganPipeline, parsing_probs_at

if TYPE_CHECKING:
    import onnxruntime

#: Largest elementwise difference between ONNX Runtime and eager PyTorch accepted by the tests (images in [-1, 1]).
ONNX_TOLERANCE = 1e-4


class ParseAndEdit(nn.Module):
    """The pipeline's two models as one graph: parser probabilities feed the editor's soft region masks."""

    def __init__(self, pipe: SeganPipeline, with_parsing: bool = False) -> None:
        super().__init__()
        self.parser, self.editor, self.parser_resolution = pipe.parser, pipe.editor, pipe.parser_resolution
        self.with_parsing = with_parsing

    def forward(self, images: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Edited images and attention, and with ``with_parsing`` the parser's probabilities."""
        probs = parsing_probs_at(self.parser, images, self.parser_resolution)
        out = self.editor(images, probs, condition)
        return (out.images, out.attention, probs) if self.with_parsing else (out.images, out.attention)


def export_onnx(pipe: SeganPipeline, path: str | os.PathLike, opset: int = 17, with_parsing: bool = False) -> Path:
    """Write the parse-and-edit graph of ``pipe`` (fp32, CPU) to ``path`` atomically; ``pipe`` is left unchanged.

    A pipeline on the fast path exports too: its folded convolutions are exported as they are, in fp32.
    ``with_parsing`` adds the parser's probabilities as a third output, ``parsing``.
    """
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: the output file must end in .onnx.")
    size = pipe.config.resolution
    # A copy: casting and eval() must not change the caller's pipeline (e.g. one on the bf16 fast path).
    model = copy.deepcopy(ParseAndEdit(pipe, with_parsing)).to("cpu", torch.float32).eval()
    outputs = ["edited", "attention", "parsing"] if with_parsing else ["edited", "attention"]
    example = (torch.zeros(1, 3, size, size), torch.zeros(1, pipe.editor.config.num_expressions))
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # The models' input checks run in Python at trace time by design (OnnxEditor repeats them).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            example,
            tmp,
            input_names=["images", "condition"],
            output_names=outputs,
            dynamic_axes={name: {0: "batch"} for name in ("images", "condition", *outputs)},
            opset_version=opset,
            dynamo=False,
        )
    return path


def session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    """ONNX Runtime session options for an exported graph: ``threads`` intra-op threads (default: ONNX Runtime's
    own), and idle worker threads that sleep instead of spinning on the cores after each call, which slowed
    whatever ran next (docs/performance.md has the measurement)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxEditor:
    """An exported graph in an ONNX Runtime session, with the same input checks as the PyTorch models."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        shape = self.session.get_inputs()[0].shape
        self.resolution = int(shape[2])
        self.num_expressions = int(self.session.get_inputs()[1].shape[1])

    def __call__(self, images: torch.Tensor, condition: torch.Tensor) -> tuple[np.ndarray, ...]:
        """The graph's outputs: edited images and attention (and the parsing, where the graph has it)."""
        check_image(images, "images")
        if tuple(images.shape[2:]) != (self.resolution, self.resolution):
            raise ValueError(
                f"`images` must be {self.resolution}x{self.resolution} (the exported resolution), "
                f"got {tuple(images.shape[2:])}."
            )
        check_condition(condition, images.shape[0], self.num_expressions)
        feeds = {"images": images.float().cpu().numpy(), "condition": condition.float().cpu().numpy()}
        return tuple(self.session.run(None, feeds))
