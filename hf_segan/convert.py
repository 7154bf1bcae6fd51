"""Convert the public face-parsing BiSeNet checkpoint (``79999_iter.pth``, 19 CelebAMask-HQ classes).

That checkpoint is a plain ``state_dict`` of the widely used face-parsing BiSeNet, whose class order is the
CelebAMask-HQ order of :data:`hf_segan.FACE_PARSING_CLASSES` and whose inputs were normalised with ImageNet
statistics, so it maps onto the default :class:`~hf_segan.models.bisenet.BiSeNetFaceParser` by renaming
parameters alone. The mapping is strict: every reference key must start with one of the reference module
prefixes below and land on a parameter of the same shape, and every parameter must be filled. The one
tolerance: BatchNorm's ``num_batches_tracked`` counters, which old PyTorch versions did not save and which
inference never reads, are set to 0 when absent (when present they are mapped like any other tensor).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .models.bisenet import BiSeNetFaceParser


def _reference_prefixes() -> tuple[tuple[str, str], ...]:
    """(reference module prefix, our module prefix) pairs; what follows a prefix is kept as is.

    The ResNet trunk keeps torchvision's names on both sides. The reference names its heads by the features they
    read: ``conv_out`` (fused), ``conv_out16`` (the stride-8 context output), ``conv_out32`` (the stride-16 one).
    """
    pairs = [("cp.resnet.", "context_path.backbone.")]
    for stride in (16, 32):
        pairs += [
            (f"cp.arm{stride}.conv.conv.", f"context_path.refine{stride}.conv.conv."),
            (f"cp.arm{stride}.conv.bn.", f"context_path.refine{stride}.conv.norm."),
            (f"cp.arm{stride}.conv_atten.", f"context_path.refine{stride}.attention_conv."),
            (f"cp.arm{stride}.bn_atten.", f"context_path.refine{stride}.attention_norm."),
            (f"cp.conv_head{stride}.conv.", f"context_path.head{stride}.conv."),
            (f"cp.conv_head{stride}.bn.", f"context_path.head{stride}.norm."),
        ]
    pairs += [
        ("cp.conv_avg.conv.", "context_path.global_context.conv."),
        ("cp.conv_avg.bn.", "context_path.global_context.norm."),
        ("ffm.convblk.conv.", "fusion.conv.conv."),
        ("ffm.convblk.bn.", "fusion.conv.norm."),
        ("ffm.conv1.", "fusion.squeeze."),
        ("ffm.conv2.", "fusion.excite."),
    ]
    for reference, ours in (("conv_out", "head"), ("conv_out16", "aux_head8"), ("conv_out32", "aux_head16")):
        pairs += [
            (f"{reference}.conv.conv.", f"{ours}.conv.conv."),
            (f"{reference}.conv.bn.", f"{ours}.conv.norm."),
            (f"{reference}.conv_out.", f"{ours}.classifier."),
        ]
    return tuple(pairs)


_PREFIXES = _reference_prefixes()
#: The face-crop side the public checkpoint was trained and evaluated at (face-parsing.PyTorch's 512 px crops);
#: recorded as the converted parser's ``input_resolution``.
PUBLIC_CHECKPOINT_RESOLUTION = 512


def reference_key_to_ours(key: str) -> str | None:
    """The :class:`BiSeNetFaceParser` name of a reference checkpoint key, or None if no reference module has it.

    A ``module.`` prefix (checkpoints saved from ``nn.DataParallel``) is dropped first.
    """
    key = key.removeprefix("module.")
    for reference, ours in _PREFIXES:
        if key.startswith(reference):
            return ours + key[len(reference) :]
    return None


def convert_bisenet_state_dict(
    reference: Mapping[str, torch.Tensor], model: BiSeNetFaceParser | None = None
) -> dict[str, torch.Tensor]:
    """Rename a reference state dict to ``model``'s names (default config when None), checking it strictly.

    Raises:
        ValueError: naming every reference key with no counterpart (or two keys landing on one parameter), every
            parameter left unfilled and every shape mismatch.
    """
    target = (model or BiSeNetFaceParser()).state_dict()
    converted: dict[str, torch.Tensor] = {}
    unexpected, mismatched, duplicated = [], [], []
    for key, value in reference.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"Checkpoint entry {key!r} is a {type(value).__name__}, not a tensor.")
        ours = reference_key_to_ours(key)
        if ours is None or ours not in target:
            unexpected.append(key)
        elif ours in converted:
            duplicated.append(key)
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
    if duplicated:
        problems.append(f"keys filling an already filled parameter {duplicated}")
    if missing:
        problems.append(f"missing keys (our names) {missing}")
    if mismatched:
        problems.append(f"shape mismatches {mismatched}")
    if problems:
        raise ValueError("The checkpoint is not a 19-class face-parsing BiSeNet: " + "; ".join(problems) + ".")
    return converted


def _load_failure(path: Path, error: Exception) -> str:
    """One line saying why ``torch.load`` failed, without torch's advice to retry with ``weights_only=False``."""
    message = str(error)
    unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if unsafe:
        return (
            f"{str(path)!r} needs code ({unsafe.group(1)}) to unpickle and is refused: only plain tensor state "
            "dicts are loaded (weights_only=True)."
        )
    detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", message)
    reason = detail.group(1) if detail else (message.splitlines() or [""])[0]
    return f"{str(path)!r} is not a readable PyTorch checkpoint ({type(error).__name__}: {reason})."


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` with its failures turned into one-line ValueErrors."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # A corrupt file fails in whichever of torch's readers (zip, legacy pickle, weights-only unpickler) meets it
    # first, with RuntimeError, EOFError, KeyError, UnpicklingError, ...; all of them mean the same to the user.
    except Exception as error:
        raise ValueError(_load_failure(path, error)) from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, expected a state dict.")
    return state


def load_reference_bisenet(path: str | Path) -> BiSeNetFaceParser:
    """Load ``79999_iter.pth`` (or any checkpoint of the same model) into a default :class:`BiSeNetFaceParser`
    whose ``input_resolution`` is the checkpoint's 512 px.

    The file is read with ``torch.load(weights_only=True)``: a checkpoint that needs arbitrary code to unpickle
    is refused rather than executed. A bare state dict and one wrapped as ``{"state_dict": ...}`` are accepted.
    The model is returned in eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a file; expected a face-parsing BiSeNet checkpoint (.pth).")
    model = BiSeNetFaceParser(input_resolution=PUBLIC_CHECKPOINT_RESOLUTION)
    model.load_state_dict(convert_bisenet_state_dict(_read_state_dict(path), model), strict=True)
    return model.eval()
