"""Inference speed of the full pipeline, each model, and the fast paths, next to a GANimation-size baseline measured
in the same run.

    python benchmarks/inference.py [--threads 2] [--repeats 5] [--compile] [--int8] [--out FILE.json]

Rows: parser + editor at 128 and 256 px (batch 1 and 16), the parser alone at 512 px, the editor alone, the
GANimation-size global generator (64 base channels, 6 residual blocks, 7x7 stems, ``region_source="none"``), and at
128 px the fast paths of the same models: ``SeganPipeline.enable_fast_path`` in bf16 and in fp32
(:mod:`hf_segan.fast_path`), the graph exported by ``hf-segan export-onnx`` run by ONNX Runtime (fp32), with
``--int8`` the same graph with its parser's convolutions in int8 (:func:`int8_parser_graph`; measured, not offered
by the library: see docs/performance.md "CPUs without bf16"; ``benchmarks/int8_cpu.py`` measures every int8
variant on the bundled model with its accuracy), and with ``--compile`` the fast path with both models
``torch.compile``d (inductor; its compile time is not timed). The script also prints which precision
``enable_fast_path()`` picks on this CPU and why (its flags).
``fast vs eager`` is a fast path's speed-up over eager fp32 PyTorch of the same models in the same run; every
pipeline row runs the same parse-then-edit code as ``SeganPipeline.__call__`` on model-ready tensors.

Each row reports median and p90 latency per batch, images/s, GFLOPs per image (``torch.utils.flop_counter``, a
multiply-add is 2 FLOPs, counted on the eager fp32 models) and the achieved GFLOP/s as a fraction of this
machine's peak *in the row's dtype*. The peak is measured, not assumed: the best of a large 3x3 convolution (NCHW
and channels-last) and a large matrix product in that dtype, i.e. the best these kernels reach on this machine;
the README compares it with the theoretical FMA peak. ``peak MiB`` is the resident memory one call adds at its
peak on top of what was resident before it (the weights are already resident), read on Linux from the kernel's
high-water mark after resetting it. Rows of one size and batch are timed round-robin (one call of each per
round), and ratios are printed, because absolute numbers move with the machine's load and clock while
ratios taken side by side do not.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import platform
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hf_segan.export import OnnxEditor, export_onnx
from hf_segan.fast_path import fast_path_choice
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.editor import HierarchicalExpressionGenerator
from hf_segan.pipeline import SeganPipeline

EAGER = "pipeline (parser+editor)"


def measure(fns, repeats: int) -> list[list[float]]:
    """Seconds per call of each function, timed round-robin (one call of each per round, after one warm-up call
    each), so that a change in the machine's load or clock during the run affects all of them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, kept in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            kept.append(time.perf_counter() - start)
    return times


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def working_memory_mib(fn) -> float | None:
    """Peak resident memory one call of ``fn`` adds (MiB), or None where Linux's /proc interface is missing.

    Freed memory is first handed back to the kernel (``malloc_trim``), so that what the call allocates shows up as
    new resident pages; the kernel's high-water mark (VmHWM) is reset through /proc/self/clear_refs, then read."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        gc.collect()
        libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        fn()
        return round((_status_kib("VmHWM") - before) / 1024, 1)
    except (OSError, KeyError):
        return None


def flops(fn) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def peak_gflops(dtype: torch.dtype, repeats: int = 5) -> float:
    """Best GFLOP/s of a large 3x3 convolution (both layouts) and a 2048^3 matrix product in ``dtype``."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(dtype)
    x = torch.randn(16, 256, 32, 32, dtype=dtype)
    conv_flop = 2 * x.shape[0] * 256 * 256 * 9 * 32 * 32
    rates = []
    with torch.inference_mode():
        for layout in (torch.contiguous_format, torch.channels_last):
            conv, x = conv.to(memory_format=layout), x.contiguous(memory_format=layout)
            rates.append(conv_flop / min(measure([partial(conv, x)], repeats)[0]))
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        rates.append(2 * 2048**3 / min(measure([partial(torch.matmul, a, b)], repeats)[0]))
    return max(rates) / 1e9


def parse_and_edit(pipe: SeganPipeline, images: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    """What ``SeganPipeline.__call__`` runs on a model-ready batch, in the pipeline's dtype; fp32 edits out."""
    dtype = pipe.editor.dtype
    images = images.to(dtype)
    probs = pipe.parsing_probs(images)
    return pipe.editor(images, probs.to(dtype), condition.to(dtype)).images.float()


def int8_parser_graph(pipe: SeganPipeline, fp32_path: Path, faces: int = 2) -> Path:
    """The exported graph with the parser's convolutions in int8 (:func:`int8_cpu.quantize_convs`), calibrated on
    ``faces`` SynthFaces validation identities; the editor stays fp32 (int8 editors broke the accuracy bound,
    docs/performance.md "CPUs without bf16")."""
    from int8_cpu import quantize_convs, synthfaces_batch

    calibration = synthfaces_batch("validation", faces, pipe.config.resolution, pipe.editor.config.num_expressions)
    return quantize_convs(fp32_path, fp32_path.with_name("parser_int8.onnx"), calibration, ("/parser/",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows (about 30 s compile each)")
    parser.add_argument("--int8", action="store_true", help="add ONNX Runtime with an int8 parser (editor fp32)")
    parser.add_argument("--out", default="benchmarks/results/inference.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    face_parser = BiSeNetFaceParser().eval()
    editor = HierarchicalExpressionGenerator().eval()
    baseline = HierarchicalExpressionGenerator.from_preset("paper", region_source="none").eval()
    pipe = SeganPipeline(face_parser, editor, resolution=128)
    peaks = {str(dtype): peak_gflops(dtype) for dtype in (torch.float32, torch.bfloat16)}

    def inputs(batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.rand(batch, 3, size, size) * 2 - 1
        return images, torch.nn.functional.one_hot(torch.full((batch,), 1), 8).float()

    fast_paths = {
        "fast path bf16 (enable_fast_path)": copy.deepcopy(pipe).enable_fast_path(torch.bfloat16),
        "fast path fp32 (enable_fast_path)": copy.deepcopy(pipe).enable_fast_path(torch.float32),
    }
    if args.compile:
        for dtype, name in ((torch.bfloat16, "bf16"), (torch.float32, "fp32")):
            compiled = copy.deepcopy(pipe).enable_fast_path(dtype)
            compiled.parser.compile(dynamic=False)
            compiled.editor.compile(dynamic=False)
            fast_paths[f"fast path {name} + torch.compile"] = compiled
    exported = export_onnx(pipe, Path(tempfile.mkdtemp()) / "segan.onnx")
    session = OnnxEditor(exported, threads=args.threads)
    int8_session = OnnxEditor(int8_parser_graph(pipe, exported), threads=args.threads) if args.int8 else None

    # Groups of (row name, batch, dtype, timed function, function whose FLOPs are counted), timed round-robin.
    groups = []
    for size in (128, 256):
        for batch in (1, 16):
            images, condition = inputs(batch, size)
            probs = torch.softmax(torch.randn(batch, 19, size, size), 1)
            eager = partial(parse_and_edit, pipe, images, condition)
            edit_only = partial(editor, images, probs, condition)
            ganimation = partial(baseline, images, None, condition)
            group = [
                (f"{EAGER} {size}px", batch, torch.float32, eager, eager),
                (f"editor {size}px", batch, torch.float32, edit_only, edit_only),
                (f"GANimation-size {size}px", batch, torch.float32, ganimation, ganimation),
            ]
            if size == 128:
                for name, fast in fast_paths.items():
                    run = partial(parse_and_edit, fast, images, condition)
                    group.append((f"{name} {size}px", batch, fast.fast_path_dtype, run, eager))
                run = partial(session, images, condition)
                group.append((f"fast path ONNX Runtime fp32 {size}px", batch, torch.float32, run, eager))
                if int8_session is not None:
                    run = partial(int8_session, images, condition)
                    group.append((f"fast path ONNX Runtime int8 parser {size}px", batch, torch.float32, run, eager))
            groups.append(group)
    for batch in (1, 16):
        run = partial(face_parser, torch.rand(batch, 3, 512, 512) * 2 - 1, return_aux=False)
        groups.append([("parser 512px", batch, torch.float32, run, run)])

    rows = []
    with torch.inference_mode():
        for group in groups:
            batch = group[0][1]
            # batch-1 calls are short and noisy: more rounds
            timings = measure([case[3] for case in group], args.repeats * (4 if batch == 1 else 1))
            for (name, _, dtype, timed, counted), times in zip(group, timings, strict=True):
                times = sorted(times)
                median = statistics.median(times)
                p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
                gflop = flops(counted) / 1e9 / batch
                rows.append(
                    {
                        "model": name,
                        "batch": batch,
                        "dtype": str(dtype).removeprefix("torch."),
                        "median_ms": round(median * 1e3, 1),
                        "p90_ms": round(p90 * 1e3, 1),
                        "images_per_s": round(batch / median, 1),
                        "gflop_per_image": round(gflop, 3),
                        "fraction_of_peak": round(gflop * batch / median / peaks[str(dtype)], 3),
                        "peak_mib": working_memory_mib(timed),
                    }
                )
    by_key = {(r["model"], r["batch"]): r for r in rows}
    for row in rows:
        if row["model"].startswith("fast path"):
            row["fast_vs_eager"] = round(by_key[(f"{EAGER} 128px", row["batch"])]["median_ms"] / row["median_ms"], 2)
        if row["model"].startswith(EAGER):
            size = row["model"].split()[-1]
            row["vs_ganimation"] = round(
                row["median_ms"] / by_key[(f"GANimation-size {size}", row["batch"])]["median_ms"], 2
            )

    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {args.threads} threads, torch {torch.__version__}; measured peak GFLOP/s: "
        f"fp32 {peaks['torch.float32']:.0f}, bf16 {peaks['torch.bfloat16']:.0f}"
    )
    print(f"enable_fast_path() on this CPU: {fast_path_choice('cpu')}")
    columns = ["model", "batch", "dtype", "median ms", "p90 ms", "images/s", "GFLOP/image", "of peak", "peak MiB"]
    print("| " + " | ".join([*columns, "time vs GANimation-size", "fast vs eager"]) + " |")
    print("|" + "---|" * (len(columns) + 2))
    for r in rows:
        print(
            f"| {r['model']} | {r['batch']} | {r['dtype']} | {r['median_ms']} | {r['p90_ms']} | {r['images_per_s']} | "
            f"{r['gflop_per_image']} | {r['fraction_of_peak']:.0%} | {r['peak_mib']} | {r.get('vs_ganimation', '')} | "
            f"{r.get('fast_vs_eager', '')} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result = {"threads": args.threads, "torch": torch.__version__, "peak_gflops": peaks, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
