"""``hf-segan info``: what a SeganPipeline folder contains and what it was trained on."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="Describe a SeganPipeline: components, labels, regions, provenance.")
    parser.add_argument(
        "model", nargs="?", help="SeganPipeline folder, hub id or parser-only folder (default: the bundled model)"
    )
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(func=run)


def describe(pipe, folder: Path | None) -> list[str]:
    """Human-readable lines on a loaded pipeline and, for a local ``folder``, its training provenance."""
    from ..constants import EXPRESSIONS, FACE_PARSING_CLASSES

    lines = [f"resolution: {pipe.config.resolution}x{pipe.config.resolution}"]
    if pipe.parser_resolution != pipe.config.resolution:
        lines.append(f"parser resolution: {pipe.parser_resolution}x{pipe.parser_resolution}")
    for name in ("parser", "editor"):
        component = getattr(pipe, name)
        if component is None:
            lines.append(f"{name}: none (a parser-only folder: hf-segan parse works, edit does not)")
            continue
        params = sum(p.numel() for p in component.parameters())
        lines.append(f"{name}: {type(component).__name__} ({params:,} parameters)")
    editor = pipe.editor.config if pipe.editor is not None else None
    if editor is not None:
        lines.append(f"region source: {editor.region_source}")
        lines.append(f"photos: {_photo_path(pipe)}")
    if editor is not None and editor.region_source != "none":
        groups = pipe.editor.region_groups
        lines.append("region groups: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in groups.items()))
    lines.append(f"parsing classes ({len(FACE_PARSING_CLASSES)}): {', '.join(FACE_PARSING_CLASSES)}")
    lines.append(f"expressions ({len(EXPRESSIONS)}): {', '.join(EXPRESSIONS)}")
    if folder is not None:
        lines.extend(_provenance(folder))
    return lines


def _photo_path(pipe) -> str:
    """How ``edit_photo`` changes a photo with this pipeline: geometry, learned repaint, or both."""
    repaints = bool(pipe.editor.config.get("trained_on_real_photos", False))
    if pipe.geometry is None:
        return "the editor's repaint pasted over each face" + (
            "" if repaints else " (editor trained on synthetic faces only: may add synthetic texture)"
        )
    params = sum(p.numel() for p in pipe.geometry.parameters())
    scales = pipe.config.get("geometry_region_scales") or {}
    scaled = "".join(f", {group} x{value:g}" for group, value in sorted(scales.items()))
    moved = f"geometry (LandmarkGeometryModel, {params:,} parameters; scale {pipe.config.geometry_scale:g}{scaled})"
    return moved + (" + the editor's learned repaint" if repaints else "; the editor never repaints a photo")


def _provenance(folder: Path) -> list[str]:
    """What ``training_summary.json`` says (training scripts write it next to the ``pipeline`` folder, or copy it
    inside), and where the model card is; nothing when neither exists."""
    from ..model_card import card_kwargs_from_summary, load_json

    lines = []
    summary = next((p for p in (folder, folder.parent) if (p / "training_summary.json").is_file()), None)
    if summary is None:
        lines.append("training provenance: no training_summary.json in or next to the folder")
    else:
        data = load_json(summary / "training_summary.json")
        card = card_kwargs_from_summary(data)
        lines.append(f"trained on: {card['trained_on']}, {card['steps'] or '?'} steps")
        lines.extend(f"{key}: {value}" for key, value in card["training_details"].items())
        metrics = data.get("final_metrics") if isinstance(data.get("final_metrics"), dict) else {}
        numbers = {k: v for k, v in sorted(metrics.items()) if isinstance(v, (int, float))}
        if numbers:
            lines.append("final metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in numbers.items()))
    if (folder / "README.md").is_file():
        lines.append(f"model card: {folder / 'README.md'}")
    return lines


def run(args: argparse.Namespace) -> int:
    from ..pipeline import default_model_path

    pipe = load_pipeline(args)
    folder = Path(args.model) if args.model else default_model_path()
    print("\n".join(describe(pipe, folder if folder.is_dir() else None)))
    return 0
