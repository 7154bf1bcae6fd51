"""``hf-segan evaluate``: score one or more SeganPipelines and write metrics JSON, a markdown table and a figure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="Evaluate SeganPipelines (parsing F1/mIoU, PSNR/SSIM to ground truth, unwanted change, judge accuracy).",
        description=(
            "Writes OUT/metrics.json (the evaluation JSON that model cards read), OUT/results.md (one row per model) "
            "and OUT/grid_<model>.png (inputs, an edit per expression, attention masks)."
        ),
    )
    parser.add_argument("--model", nargs="+", help="SeganPipeline folders or hub ids (default: the bundled model)")
    parser.add_argument("--name", nargs="+", help="row names for the models (default: folder names)")
    parser.add_argument("--dataset", default="synthfaces", help="`synthfaces` or a datasets.load_dataset path/name")
    parser.add_argument("--split", default="test")
    parser.add_argument("--num-identities", type=int, default=20, help="SynthFaces identities to evaluate on")
    parser.add_argument("--max-samples", type=int, help="evaluate at most this many rows")
    parser.add_argument("--classifier", help="ExpressionClassifier folder (train_classifier.py) used as the judge")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--grid-faces", type=int, default=4, help="faces in the figure grid")
    parser.set_defaults(func=run)


def _load_dataset(args: argparse.Namespace, resolution: int):
    if args.dataset == "synthfaces":
        from ..data.synthfaces import load_synthfaces

        dataset = load_synthfaces(
            args.split, args.num_identities, intensities=[0.5, 1.0], image_size=resolution, progress=True
        )
        name = "SynthFaces"
    else:
        import datasets

        dataset, name = datasets.load_dataset(args.dataset, split=args.split), args.dataset
    if args.max_samples is not None:
        dataset = dataset.select(range(min(len(dataset), args.max_samples)))
    return dataset, name


def run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_pipeline, figure_grid, results_table
    from ..models.classifier import ExpressionClassifier
    from ..pipeline import DEFAULT_MODEL_NOTICE, SeganPipeline, default_model_path
    from ._common import check_device

    check_device(args.device)
    sources = args.model or [str(default_model_path())]
    if args.model is None:
        print(DEFAULT_MODEL_NOTICE, file=sys.stderr)
    names = args.name or [Path(source).name or str(source) for source in sources]
    if len(names) != len(sources):
        raise ValueError(f"Got {len(names)} --name values for {len(sources)} --model values.")
    pipes = [SeganPipeline.from_pretrained(source).to(args.device) for source in sources]
    classifier = None
    if args.classifier:
        classifier = ExpressionClassifier.from_pretrained(args.classifier, use_safetensors=True).to(args.device).eval()
    dataset, dataset_name = _load_dataset(args, pipes[0].config.resolution)
    rows = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pipe in zip(names, pipes, strict=True):
        metrics = evaluate_pipeline(pipe, dataset, classifier, args.batch_size)
        rows.append({"model": name, "metrics": metrics})
        faces = [dataset[i]["image"] for i in range(min(args.grid_faces, len(dataset)))]
        figure_grid(pipe, faces).save(out / f"grid_{name}.png")
    evaluation = {"dataset": {"name": dataset_name, "type": args.dataset, "split": args.split}, "rows": rows}
    judge = args.classifier or "none (pass --classifier for edit/judge_accuracy)"
    _write(out / "metrics.json", json.dumps({**evaluation, "judge": judge}, indent=2))
    table = results_table(rows)
    _write(out / "results.md", f"# Evaluation on {dataset_name} ({args.split}, {len(dataset)} rows)\n\n{table}\n")
    print(table)
    print(f"Wrote {out / 'metrics.json'}, {out / 'results.md'} and the figure grids.")
    return 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
