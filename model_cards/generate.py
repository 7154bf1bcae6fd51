"""Write the model card (README.md) of a trained SeganPipeline folder.

    python model_cards/generate.py MODEL_DIR [--evaluation metrics.json] [--training-summary training_summary.json]
        [--name NAME] [--repo-id user/name] [--base-model user/name] [--license apache-2.0]

A geometry component's facts come from MODEL_DIR/geometry/training_summary.json (``train_geometry.py`` writes it
next to ``final``). The training summary defaults to MODEL_DIR/training_summary.json or, as ``train_segan.py``
lays runs out (RUN/training_summary.json next to RUN/pipeline), the one in MODEL_DIR's parent. Without
``--evaluation`` the summary's ``final_metrics`` (the last evaluation during training) fill the results. The name
defaults to the run folder (the one holding the summary). Template: ``hf_segan/assets/model_card_template.md``;
filling logic and the evaluation JSON schema: ``hf_segan.model_card``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from hf_segan.model_card import (
    card_kwargs_from_summary,
    evaluation_from_summary,
    geometry_card_kwargs,
    load_json,
    write_model_card,
)


def find_summary(folder: Path, given: str | None) -> Path | None:
    """The training summary to read: the one given, else the first found next to or above the model folder."""
    if given is not None:
        return Path(given)
    candidates = (folder / "training_summary.json", folder.parent / "training_summary.json")
    return next((path for path in candidates if path.is_file()), None)


def real_photo_kwargs(folder: Path) -> dict:
    """What the card's "Real photos" section needs: the geometry component's training summary (written next to
    its weights, ``geometry/training_summary.json``) and the editor's ``trained_on_real_photos``."""
    editor_config = folder / "editor" / "config.json"
    real = bool(load_json(editor_config).get("trained_on_real_photos", False)) if editor_config.is_file() else False
    index = load_json(folder / "model_index.json") if (folder / "model_index.json").is_file() else {}
    if (index.get("geometry") or [None])[0] is None:
        return {"trained_on_real_photos": real}
    summary_path = folder / "geometry" / "training_summary.json"
    summary = load_json(summary_path) if summary_path.is_file() else {}
    return {"trained_on_real_photos": real, "geometry": geometry_card_kwargs(summary, index.get("geometry_scale", 1.0))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="a saved SeganPipeline folder; README.md is written there")
    parser.add_argument("--evaluation", help="evaluation JSON written by `hf-segan evaluate` (metrics.json)")
    parser.add_argument("--training-summary", help="training_summary.json (default: MODEL_DIR or its parent)")
    parser.add_argument("--name", help="model name (default: the run folder's name)")
    parser.add_argument("--repo-id", help="Hub id shown in the usage snippet (default: the model name)")
    parser.add_argument("--base-model", help="Hub id of the model this one was fine-tuned from")
    parser.add_argument("--license", default="apache-2.0", help="license id for the card metadata")
    args = parser.parse_args(argv)
    folder = Path(args.model_dir)
    try:
        summary_path = find_summary(folder, args.training_summary)
        if summary_path is None:
            print("No training_summary.json found: the card will say the training is not recorded.", file=sys.stderr)
            summary, kwargs, date = {}, {"trained_on": "unrecorded data"}, "not recorded"
        else:
            summary = load_json(summary_path)
            kwargs = card_kwargs_from_summary(summary)
            date = datetime.date.fromtimestamp(summary_path.stat().st_mtime).isoformat()
        name = args.name or (summary_path.resolve().parent.name if summary_path else folder.resolve().name)
        evaluation = load_json(args.evaluation) if args.evaluation else evaluation_from_summary(summary, name)
        kwargs.update(real_photo_kwargs(folder))
        path = write_model_card(
            folder,
            model_name=name,
            evaluation=evaluation,
            license=args.license,
            base_model=args.base_model,
            repo_id=args.repo_id,
            date=date,
            **kwargs,
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
