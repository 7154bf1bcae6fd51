"""Write README.md (the model card) into a trained model folder.

    python model_cards/generate.py MODEL_DIR [--name NAME] [--evaluation eval.json]
        [--training-summary MODEL_DIR/../training_summary.json] [--repo-id user/name]

The template is ``hf_segan/assets/model_card_template.md``; the filling logic is ``hf_segan.model_card``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_segan.model_card import card_kwargs_from_summary, load_json, write_model_card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--name", help="model name (default: the folder name)")
    parser.add_argument("--evaluation", help="JSON written by `hf-segan evaluate`")
    parser.add_argument("--training-summary", help="training_summary.json (default: MODEL_DIR or its parent)")
    parser.add_argument("--repo-id", help="hub id used in the usage snippet")
    args = parser.parse_args(argv)
    folder = Path(args.model_dir)
    try:
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder.")
        summary_path = args.training_summary or next(
            (
                str(p)
                for p in (folder / "training_summary.json", folder.parent / "training_summary.json")
                if p.is_file()
            ),
            None,
        )
        kwargs = card_kwargs_from_summary(load_json(summary_path)) if summary_path else {"trained_on": "unknown data"}
        evaluation = load_json(args.evaluation) if args.evaluation else None
        path = write_model_card(
            folder, model_name=args.name or folder.name, evaluation=evaluation, repo_id=args.repo_id, **kwargs
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
