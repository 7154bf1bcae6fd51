"""Issue 20's "Done when" on real photos: do a model's photo edits read as the target expression, and does the photo
stay intact?

    python benchmarks/real_photos.py [--model PIPELINE_FOLDER] [--out benchmarks/results/real_photos]

On the development set (scikit-image's astronaut and matplotlib's Grace Hopper, each mirrored and turned by
+-10 degrees; see ``hf_segan.photo_evaluation``) it first measures the landmark net's spread on the *unedited*
views (what each expression threshold must stand clear of) and prints it next to the thresholds, then edits every
photo toward happy, sad, surprise, anger, fear and neutral at intensity 1 and 0.5 with ``edit_photo`` and prints:

- per target expression, each judged measure's mean change and pass count, and the fidelity pass counts;
- a PASS/FAIL verdict per condition: the measures move the target's way by their threshold at intensity 1 and
  half of it at 0.5; pixels outside the editable region bit-identical; face sharpness within 10%; no added colour;
- below them, labelled as a second instrument, the expression verdict with eye opening and inner-brow distance
  read by tracking the original landmarks into the edit (``hf_segan.metrics.tracked_geometry``), which the
  landmark net is shown to be blind to (``benchmarks/tracked_readback.py`` validates the tracker).

The same report is written (atomically) as OUT/real_photos_<model>.md and .csv. Default model: the bundled one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from learn_synthfaces import cpu_name
from results_csv import write_text_atomic

from hf_segan.metrics.expression_geometry import MEASURES, THRESHOLDS
from hf_segan.photo_evaluation import (
    development_photos,
    done_when_verdicts,
    evaluate_photos,
    landmark_noise,
    report_markdown,
    results_csv,
    tracked_verdict,
)
from hf_segan.pipeline import SeganPipeline, default_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()), help="SeganPipeline folder (default: bundled)")
    parser.add_argument("--out", default="benchmarks/results/real_photos", help="folder for the .md and .csv")
    args = parser.parse_args()
    photos = development_photos()
    start = time.perf_counter()
    noise = landmark_noise(photos)
    print("Landmark-net spread on unedited views (pooled std, inter-ocular units) and the thresholds:")
    print("| measure | spread | 3 x spread | threshold |\n|---|---|---|---|")
    for measure in MEASURES:
        print(f"| {measure} | {noise[measure]:.4f} | {3 * noise[measure]:.4f} | {THRESHOLDS[measure]:.2f} |")
    name = Path(args.model).name or "model"
    pipe = SeganPipeline.from_pretrained(args.model)
    records = evaluate_photos(pipe, photos)
    report = report_markdown(f"Real-photo edits by {name}", photos, records)
    out = Path(args.out)
    write_text_atomic(out / f"real_photos_{name}.md", report)
    write_text_atomic(out / f"real_photos_{name}.csv", results_csv(records))
    print()
    print(report)
    print("Verdicts (issue 20, 'Done when'):")
    for verdict in done_when_verdicts(records):
        print(f"  {'PASS' if verdict.holds else 'FAIL'}  {verdict.passed:3d}/{verdict.total}  {verdict.condition}")
    tracked = tracked_verdict(records)
    print("Second instrument (not the issue's; next to the landmark net's verdict above):")
    print(f"  {'PASS' if tracked.holds else 'FAIL'}  {tracked.passed:3d}/{tracked.total}  {tracked.condition}")
    print(f"\n{len(records)} edits in {time.perf_counter() - start:.0f} s on {cpu_name()}; model {args.model}")
    print(f"Wrote {out / f'real_photos_{name}.md'} and .csv")


if __name__ == "__main__":
    main()
