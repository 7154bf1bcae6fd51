"""Convert the public face-parsing BiSeNet checkpoint (``79999_iter.pth``, 19 CelebAMask-HQ classes).

That checkpoint is a plain ``state_dict`` of the widely used face-parsing BiSeNet, whose class order is the
CelebAMask-HQ order of :data:`hf_segan.FACE_PARSING_CLASSES` and whose inputs were normalised with ImageNet
statistics, so it maps onto the default :class:`~hf_segan.models.bisenet.BiSeNetFaceParser` by renaming
parameters alone. The mapping is strict: every reference tensor must land on a parameter of the same shape and
every parameter must be filled. The one tolerance: BatchNorm's ``num_batches_tracked`` counters, which old
PyTorch versions did not save and which inference never reads, are set to 0 when absent.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .models.bisenet import BiSeNetFaceParser

#: (reference pattern, our replacement), applied in order to each reference key.
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^cp\.resnet\.", "context_path.backbone."),
    (r"^cp\.arm(16|32)\.conv\.bn\.", r"context_path.refine\1.conv.norm."),
    (r"^cp\.arm(16|32)\.conv\.conv\.", r"context_path.refine\1.conv.conv."),
    (r"^cp\.arm(16|32)\.conv_atten\.", r"context_path.refine\1.attention_conv."),
    (r"^cp\.arm(16|32)\.bn_atten\.", r"context_path.refine\1.attention_norm."),
    (r"^cp\.conv_head(16|32)\.bn\.", r"context_path.head\1.norm."),
    (r"^cp\.conv_head(16|32)\.conv\.", r"context_path.head\1.conv."),
    (r"^cp\.conv_avg\.bn\.", "context_path.global_context.norm."),
    (r"^cp\.conv_avg\.conv\.", "context_path.global_context.conv."),
    (r"^ffm\.convblk\.bn\.", "fusion.conv.norm."),
    (r"^ffm\.convblk\.conv\.", "fusion.conv.conv."),
    (r"^ffm\.conv1\.", "fusion.squeeze."),
    (r"^ffm\.conv2\.", "fusion.excite."),
    # The reference names its heads by the features they read: conv_out (fused), conv_out16 (the stride-8
    # context output, cp's second return), conv_out32 (the stride-16 one).
    (r"^conv_out\.", "head."),
    (r"^conv_out16\.", "aux_head8."),
    (r"^conv_out32\.", "aux_head16."),
    (r"^(head|aux_head8|aux_head16)\.conv\.bn\.", r"\1.conv.norm."),
    (r"^(head|aux_head8|aux_head16)\.conv_out\.", r"\1.classifier."),
)


def reference_key_to_ours(key: str) -> str:
    """The :class:`BiSeNetFaceParser` parameter name of a reference checkpoint key (unchanged if unknown)."""
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def convert_bisenet_state_dict(
    reference: Mapping[str, torch.Tensor], model: BiSeNetFaceParser | None = None
) -> dict[str, torch.Tensor]:
    """Rename a reference state dict to ``model``'s names (default config when None), checking it strictly.

    Raises:
        ValueError: naming every reference key with no counterpart, every parameter left unfilled and every
            shape mismatch.
    """
    target = (model or BiSeNetFaceParser()).state_dict()
    converted: dict[str, torch.Tensor] = {}
    unexpected, mismatched = [], []
    for key, value in reference.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"Checkpoint entry {key!r} is a {type(value).__name__}, not a tensor.")
        ours = reference_key_to_ours(key.removeprefix("module."))
        if ours not in target:
            unexpected.append(key)
        elif target[ours].shape != value.shape:
            mismatched.append(f"{key} {tuple(value.shape)} vs {ours} {tuple(target[ours].shape)}")
        else:
            converted[ours] = value
    missing = []
    for key, value in target.items():
        if key in converted:
            continue
        if key.endswith("num_batches_tracked"):
            converted[key] = torch.zeros_like(value)
        else:
            missing.append(key)
    problems = []
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if missing:
        problems.append(f"missing keys (our names) {missing}")
    if mismatched:
        problems.append(f"shape mismatches {mismatched}")
    if problems:
        raise ValueError("The checkpoint is not a 19-class face-parsing BiSeNet: " + "; ".join(problems) + ".")
    return converted


def load_reference_bisenet(path: str | Path) -> BiSeNetFaceParser:
    """Load ``79999_iter.pth`` (or any checkpoint of the same model) into a default :class:`BiSeNetFaceParser`.

    The file is read with ``torch.load(weights_only=True)``: a checkpoint that needs arbitrary code to unpickle
    is refused rather than executed.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a file; expected a face-parsing BiSeNet checkpoint (.pth).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{str(path)!r} holds pickled objects beyond tensors and is refused (weights_only loading): {error}"
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{str(path)!r} is not a readable PyTorch checkpoint: {error}") from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, expected a state dict.")
    model = BiSeNetFaceParser()
    model.load_state_dict(convert_bisenet_state_dict(state, model), strict=True)
    return model.eval()
