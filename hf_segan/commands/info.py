"""``hf-segan info``: what a SeganPipeline folder contains and what it was trained on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import load_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="Describe a SeganPipeline: components, labels, regions, provenance.")
    parser.add_argument("model", nargs="?", help="SeganPipeline folder or hub id (default: the bundled model)")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(func=run)


def describe(pipe, folder: Path | None) -> list[str]:
    from ..constants import EXPRESSIONS, FACE_PARSING_CLASSES

    lines = [f"resolution: {pipe.config.resolution}x{pipe.config.resolution}"]
    for name in ("parser", "editor"):
        component = getattr(pipe, name)
        params = sum(p.numel() for p in component.parameters())
        lines.append(f"{name}: {type(component).__name__} ({params:,} parameters)")
    editor = pipe.editor.config
    lines.append(f"region source: {editor.region_source}")
    if editor.region_source != "none":
        lines.append(f"region groups: {json.dumps(editor.region_groups)}")
    lines.append(f"parsing classes ({len(FACE_PARSING_CLASSES)}): {', '.join(FACE_PARSING_CLASSES)}")
    lines.append(f"expressions ({len(EXPRESSIONS)}): {', '.join(EXPRESSIONS)}")
    summary = None if folder is None else folder / "training_summary.json"
    if summary is not None and summary.is_file():
        data = json.loads(summary.read_text())
        trained = data.get("trained_on") or data.get("config", {}).get("data", {}).get("dataset", "unknown data")
        lines.append(
            f"trained on: {trained}, {data.get('steps', '?')} steps, region_source={data.get('region_source')}"
        )
        metrics = data.get("final_metrics") or {}
        if metrics:
            lines.append("final metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    elif folder is not None and (folder / "README.md").is_file():
        lines.append(f"model card: {folder / 'README.md'}")
    return lines


def run(args: argparse.Namespace) -> int:
    from ..pipeline import default_model_path

    pipe = load_pipeline(args)
    folder = Path(args.model) if args.model else default_model_path()
    print("\n".join(describe(pipe, folder if folder.is_dir() else None)))
    return 0
