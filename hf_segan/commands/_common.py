"""What the inference commands share: option checks, model loading (with the bundled default), input file
discovery and output naming that never overwrites an input or another input's result."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="SeganPipeline folder or hub id, or a parser-only folder such as convert-bisenet's (parsing only; "
        "default: the bundled SynthFaces model)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)


def check_device(name: str) -> str:
    """``name`` if it is a torch device this machine has, else a ValueError saying what to use instead.

    Checked before any model is loaded, so a typo or a missing GPU costs no loading time and shows no traceback.
    """
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {name!r}; use cpu, cuda or cuda:N (or mps on Apple silicon).") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA is not available on this machine; use --device cpu.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"there is no {name}: this machine has {torch.cuda.device_count()} CUDA device(s) (cuda:0 .. "
                f"cuda:{torch.cuda.device_count() - 1})."
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("MPS is not available on this machine; use --device cpu.")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported here; use cpu, cuda or cuda:N (or mps on Apple silicon).")
    return name


def check_inference_arguments(args: argparse.Namespace) -> None:
    """The options every inference command shares, checked before any input is read or model loaded."""
    check_device(args.device)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}.")


def check_regions(regions: list[str] | None, model: str | None) -> None:
    """``--regions`` against the editor's region groups, for a model whose ``editor/config.json`` (read as JSON,
    before the model itself is loaded) has regions at all. A hub id is not resolved here: the pipeline checks it
    after loading."""
    if regions is None:
        return
    from ..models.regions import resolve_region_groups
    from ..pipeline import default_model_path

    config_path = Path(model or default_model_path()) / "editor" / "config.json"
    if not config_path.is_file():
        return
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path} is not valid JSON: {error}.") from error
    if config.get("region_source", "semantic") == "none":
        raise ValueError("--regions needs region masks, but this model's editor has region_source 'none'.")
    names = list(resolve_region_groups())
    unknown = [name for name in regions if name not in names]
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(unknown)} for --regions; this model has {', '.join(names)}.")


def check_positive(value: float, option: str) -> None:
    """A finite number above zero, or a ValueError naming the option."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be a finite number above 0, got {value}.")


def load_pipeline(args: argparse.Namespace):
    """The pipeline named by ``--model`` (a parser-only folder gives a parse-only pipeline at the parser's
    resolution), or the bundled default with an honest notice on stderr."""
    from ..pipeline import DEFAULT_MODEL_NOTICE, SeganPipeline, default_model_path, parser_folder_class

    check_device(args.device)
    source = args.model
    if source is None:
        source = default_model_path()
        print(DEFAULT_MODEL_NOTICE, file=sys.stderr)
    load = SeganPipeline.from_parser if parser_folder_class(source) else SeganPipeline.from_pretrained
    return load(source).to(args.device)


def find_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted); a missing path is a clear error."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"{item}: no such file or folder.")
    if not found:
        raise ValueError(f"No images found in {inputs}.")
    return found


def _identity(path: Path) -> tuple[int, int] | None:
    """The (device, inode) of an existing file, which hard links and symlinks share; ``None`` if it is absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class OutputPlan:
    """Output paths decided before any work: a result never replaces an input file (same path, symlink or hard
    link to it) nor the result of another input.

    An output that would replace an input refuses the whole command (the user pointed ``--out`` at the inputs);
    two inputs whose results share a name are reported per file, and the later one is skipped.
    """

    def __init__(self, out_dir: str | os.PathLike, inputs: list[Path]) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ValueError(f"--out {self.out_dir} is a file; give a folder for the results.")
        self._inputs = {identity: path for path in inputs if (identity := _identity(path)) is not None}
        self._inputs.update({path.resolve(): path for path in inputs})
        self._claimed: dict[Path, Path] = {}

    def claim(self, source: Path, names: list[str]) -> list[Path] | ValueError:
        """The output paths ``names`` (inside the output folder) for ``source``, or the error to report for it."""
        targets = [self.out_dir / name for name in names]
        for target in targets:
            replaced = self._inputs.get(target.resolve()) or self._inputs.get(_identity(target))
            if replaced is not None:
                raise ValueError(
                    f"the result {target} would overwrite the input {replaced}; inputs are never overwritten, "
                    "choose another --out folder."
                )
        for target in targets:
            earlier = self._claimed.get(target.resolve())
            if earlier is not None:
                return ValueError(f"{source}: its output {target.name} would overwrite the result of {earlier}.")
        for target in targets:
            self._claimed[target.resolve()] = source
        return targets
