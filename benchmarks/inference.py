"""Inference speed of the full pipeline and each model, next to a GANimation-size baseline measured in the same run.

    python benchmarks/inference.py [--threads 2] [--repeats 5] [--out benchmarks/results/inference.json]

Rows: parser + editor at 128 and 256 px (batch 1 and 16), the parser alone at 512 px, the editor alone, the
GANimation-size global generator (64 base channels, 6 residual blocks, 7x7 stems, ``region_source="none"``), and
the fast path at 128 px: the same parse-and-edit graph exported by ``hf-segan export-onnx`` and run by ONNX
Runtime (``fast vs eager`` is its speed-up over eager fp32 PyTorch of the same models).
Each row reports median and p90 latency per batch, images/s, GFLOPs per image (``torch.utils.flop_counter``)
and the achieved GFLOP/s as a fraction of this machine's measured peak (the best of several large fp32 matrix
products, which is what convolutions lower to). Ratios to the baseline are printed because absolute numbers
move with the machine's load; ratios taken in one run do not.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hf_segan.export import OnnxEditor, export_onnx
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.editor import HierarchicalExpressionGenerator
from hf_segan.pipeline import SeganPipeline


def measure(fn, repeats: int) -> list[float]:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def flops(fn) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = min(measure(lambda: a @ b, repeats))
    return 2 * size**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/inference.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    face_parser = BiSeNetFaceParser().eval()
    editor = HierarchicalExpressionGenerator().eval()
    baseline = HierarchicalExpressionGenerator(
        region_source="none", base_channels=64, num_residual_blocks=6, stem_kernel_size=7
    ).eval()
    peak = peak_gflops()

    def pipeline(images, condition):
        probs = face_parser(images, return_aux=False).logits.softmax(1)
        return editor(images, probs, condition)

    cases = []
    counted = {}
    for size in (128, 256):
        for batch in (1, 16):
            images = torch.rand(batch, 3, size, size) * 2 - 1
            condition = torch.nn.functional.one_hot(torch.full((batch,), 1), 8).float()
            cases.append((f"pipeline (parser+editor) {size}px", batch, lambda i=images, c=condition: pipeline(i, c)))
            probs = torch.softmax(torch.randn(batch, 19, size, size), 1)
            cases.append((f"editor {size}px", batch, lambda i=images, p=probs, c=condition: editor(i, p, c)))
            cases.append((f"GANimation-size {size}px", batch, lambda i=images, c=condition: baseline(i, None, c)))
    for batch in (1, 16):
        images = torch.rand(batch, 3, 512, 512) * 2 - 1
        cases.append(("parser 512px", batch, lambda i=images: face_parser(i, return_aux=False)))
    onnx_path = export_onnx(SeganPipeline(face_parser, editor, 128), Path(tempfile.mkdtemp()) / "segan.onnx")
    session = OnnxEditor(onnx_path, threads=args.threads)
    for batch in (1, 16):
        images = torch.rand(batch, 3, 128, 128) * 2 - 1
        condition = torch.nn.functional.one_hot(torch.full((batch,), 1), 8).float()
        cases.append(("fast path (ONNX Runtime) 128px", batch, lambda i=images, c=condition: session(i, c)))
        # FLOPs of the ONNX graph are those of the same eager models on the same inputs
        counted[("fast path (ONNX Runtime) 128px", batch)] = lambda i=images, c=condition: pipeline(i, c)

    rows = []
    with torch.inference_mode():
        for name, batch, fn in cases:
            times = sorted(measure(fn, args.repeats))
            median = statistics.median(times)
            p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
            gflop = flops(counted.get((name, batch), fn)) / 1e9 / batch
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "median_ms": round(median * 1e3, 1),
                    "p90_ms": round(p90 * 1e3, 1),
                    "images_per_s": round(batch / median, 1),
                    "gflop_per_image": round(gflop, 3),
                    "fraction_of_peak": round(gflop * batch / median / peak, 3),
                }
            )
    by_key = {(r["model"], r["batch"]): r for r in rows}
    for row in rows:
        if row["model"].startswith("fast path"):
            eager = by_key[("pipeline (parser+editor) 128px", row["batch"])]["median_ms"]
            row["fast_vs_eager"] = round(eager / row["median_ms"], 2)
        if row["model"].startswith("pipeline"):
            size = row["model"].split()[-1]
            row["vs_ganimation"] = round(
                row["median_ms"] / by_key[(f"GANimation-size {size}", row["batch"])]["median_ms"], 2
            )

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {args.threads} threads, fp32 eager, measured peak {peak:.0f} GFLOP/s")
    columns = ["model", "batch", "median ms", "p90 ms", "images/s", "GFLOP/image", "of peak"]
    print("| " + " | ".join([*columns, "time vs GANimation-size", "fast vs eager"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['batch']} | {r['median_ms']} | {r['p90_ms']} | {r['images_per_s']} | "
            f"{r['gflop_per_image']} | {r['fraction_of_peak']:.0%} | {r.get('vs_ganimation', '')} | "
            f"{r.get('fast_vs_eager', '')} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"threads": args.threads, "peak_gflops": peak, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
