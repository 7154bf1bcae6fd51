"""``hf-segan evaluate``: score one or more SeganPipelines and write metrics JSON, a markdown table and a figure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="Evaluate SeganPipelines (parsing F1/mIoU, PSNR/SSIM to ground truth, unwanted change, judge accuracy).",
        description=(
            "Writes OUT/metrics.json (the evaluation JSON that model cards read), OUT/results.md (one row per model) "
            "and OUT/grid_<model>.png (inputs, an edit per expression, attention masks). With --photos, edits real "
            "photos instead and writes OUT/real_photos_<model>.md and .csv: per target expression, how the face's "
            "landmark measures moved and whether the photo stayed intact (see docs/real_photos.md)."
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
    parser.add_argument(
        "--photos",
        nargs="+",
        help="real-photo mode: image files, or `dev` for the development set (astronaut, Grace Hopper, mirrored, "
        "turned by 10 degrees)",
    )
    parser.add_argument("--targets", nargs="+", help="real-photo mode: target expressions (default: all six judged)")
    parser.add_argument(
        "--intensities", nargs="+", type=float, help="real-photo mode: edit intensities (default: 1 and 0.5)"
    )
    parser.set_defaults(func=run)


def _load_dataset(args: argparse.Namespace, resolution: int):
    if args.dataset == "synthfaces":
        from ..data.synthfaces import load_synthfaces

        dataset = load_synthfaces(
            args.split, args.num_identities, intensities=[0.5, 1.0], image_size=resolution, progress=True
        )
        name = "SynthFaces"
    else:
        from ..data.loading import load_dataset_split

        dataset, name = load_dataset_split(args.dataset, args.split), args.dataset
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
    photos = _load_photos(args.photos) if args.photos else None
    pipes = [SeganPipeline.from_pretrained(source).to(args.device) for source in sources]
    if photos is not None:
        return _run_photos(args, names, pipes, photos)
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


def _load_photos(paths: list[str]):
    from ..io import load_image
    from ..photo_evaluation import Photo, development_photos

    if paths == ["dev"]:
        return development_photos()
    photos = []
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"--photos: {path} is not a file (give image files, or `dev` for the development set).")
        photos.append(Photo(Path(path).name, Path(path).name, load_image(path).rgb))
    return photos


def _run_photos(args: argparse.Namespace, names: list[str], pipes: list, photos: list) -> int:
    from ..metrics.expression_geometry import TARGET_EXPRESSIONS
    from ..photo_evaluation import (
        EVALUATION_INTENSITIES,
        evaluate_photos,
        report_markdown,
        results_csv,
    )

    targets = args.targets or list(TARGET_EXPRESSIONS)
    intensities = args.intensities or list(EVALUATION_INTENSITIES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pipe in zip(names, pipes, strict=True):
        records = evaluate_photos(pipe, photos, targets, intensities)
        report = report_markdown(f"Real-photo edits by {name}", photos, records)
        _write(out / f"real_photos_{name}.md", report)
        _write(out / f"real_photos_{name}.csv", results_csv(records))
        print(report)
    print(f"Wrote real_photos_<model>.md and .csv to {out}.")
    return 0


def _write(path: Path, text: str) -> None:
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)
