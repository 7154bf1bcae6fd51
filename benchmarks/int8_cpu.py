"""Does int8 make the pipeline faster on a CPU without native bf16, and what does it cost in accuracy?

    python benchmarks/int8_cpu.py [--threads 1] [--size 128] [--repeats 5] [--faces 8] [--calibration minmax]
        [--op-profile]

Model: the bundled SynthFaces model (``hf_segan/assets/default_model``: UNet parser + warping, FiLM-conditioned,
windowed editor), run at ``--size`` px. Rows, all on model-ready batches of 1 and 16 faces:

* eager fp32 PyTorch (the reference: what ``SeganPipeline.__call__`` runs);
* ONNX Runtime fp32: the graph ``hf-segan export-onnx`` writes;
* that graph with ONNX Runtime static int8 quantisation (:func:`quantize_convs`: QDQ, signed per-channel weights,
  7-bit range, activations calibrated on SynthFaces) of the convolutions and transposed convolutions of the
  parser, of the editor, or of both. Instance norms, softmax, the warp and every output layer (the parser's
  classifier, the editor's colour/attention/flow heads and its fusion refinement) stay fp32: int8 there
  would put its rounding straight into the labels and pixels.

Calibration faces come from SynthFaces ``validation``, accuracy faces from SynthFaces ``test`` (disjoint
identities), each face with a target expression other than its own. Accuracy is against eager fp32: the edits'
largest and mean absolute difference and PSNR (images in [-1, 1], so the peak-to-peak range is 2), and the
parsing labels' agreement and mean IoU over the classes present. ``edit size`` is the mean absolute change the
fp32 edit makes to its input, the scale the differences should be read against.

Rows of one batch size are timed round-robin (one call of each per round), and each row's speed is printed as a
ratio to eager fp32 and to ONNX Runtime fp32 measured side by side, because on a shared machine absolute times
follow the load; the load average at start and end is printed and written with the results
(``benchmarks/results/int8_cpu.csv``). Each engine runs ``--threads`` threads (ONNX Runtime intra-op threads,
torch threads).

``--op-profile`` adds where each ONNX Runtime graph's time goes at batch 16: ONNX Runtime's own profiler, one
call after a warm-up, kernel time summed per operator type, the convolutions (``Conv``, ``QLinearConv``,
``ConvTranspose``) and the int8 conversions (``QuantizeLinear``, ``DequantizeLinear``) apart
(``benchmarks/results/int8_cpu_ops.csv``). It shows whether int8 convolutions are faster at all on the CPU:
they can pay only if they are, by more than the conversions around them cost.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from inference import measure
from learn_synthfaces import cpu_name
from results_csv import append_rows

from hf_segan import default_model_path
from hf_segan.data.synthfaces import load_synthfaces
from hf_segan.export import OnnxEditor, ParseAndEdit, export_onnx, session_options
from hf_segan.fast_path import fast_path_choice
from hf_segan.image_utils import pil_to_tensor
from hf_segan.pipeline import SeganPipeline

#: Convolutions whose outputs are a model's outputs (logits, colour/attention/flow, the seam refinement), by their
#: node names in the exported graph: kept fp32.
OUTPUT_LAYERS = re.compile(
    r"^/parser/(.+/)?classifier/|^/editor/(global_generator|local_generators\.\d+)/Conv$|^/editor/fusion/"
)
#: Which part's convolutions each int8 row quantises, by node-name prefix.
INT8_PARTS = {"parser": ("/parser/",), "editor": ("/editor/",), "parser+editor": ("/parser/", "/editor/")}


def synthfaces_batch(split: str, identities: int, size: int, expressions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every face of ``identities`` SynthFaces identities of ``split`` (model-ready, [-1, 1]) and a one-hot target
    expression for each that differs from the expression it shows (a fixed, varied assignment)."""
    faces = load_synthfaces(split, identities, image_size=size, paired=False)
    images = torch.stack([pil_to_tensor(face.convert("RGB")) for face in faces["image"]])
    shown = torch.tensor(faces["expression"])
    target = (torch.arange(len(images)) * 3 + 1) % expressions
    target = torch.where(target == shown, (target + 1) % expressions, target)
    return images, torch.eye(expressions)[target]


def quantize_convs(
    fp32_path: Path,
    out_path: Path,
    calibration: tuple[torch.Tensor, torch.Tensor],
    parts: tuple[str, ...],
    method: str = "minmax",
) -> Path:
    """ONNX Runtime static int8 quantisation of the convolutions under the node-name prefixes ``parts`` (QDQ,
    per-channel signed weights, unsigned activations), calibrated one face at a time on ``calibration``.

    ``reduce_range`` (7-bit weights and activations): without VNNI, ONNX Runtime's AVX2 kernels add pairs of
    u8 x s8 products in 16 bits (``vpmaddubsw``), which saturate with full 8-bit ranges.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images, condition = calibration

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(range(len(images)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            index = next(self.remaining, None)
            if index is None:
                return None
            return {"images": images[index : index + 1].numpy(), "condition": condition[index : index + 1].numpy()}

    import onnx

    prepared = out_path.with_name(f"{out_path.stem}_prepared.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    convs = [
        node.name
        for node in onnx.load(str(prepared)).graph.node
        if node.op_type in ("Conv", "ConvTranspose")
        and node.name.startswith(parts)
        and not OUTPUT_LAYERS.search(node.name)
    ]
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile}
    quantize_static(
        str(prepared),
        str(out_path),
        Faces(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=convs,
        calibrate_method=methods[method],
    )
    return out_path


CONVOLUTIONS = ("Conv", "QLinearConv", "ConvTranspose")
CONVERSIONS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")


def op_profile(path: Path, images: torch.Tensor, condition: torch.Tensor, threads: int) -> dict[str, float]:
    """Kernel milliseconds per operator type of one call of the graph at ``path`` (after a warm-up call), from
    ONNX Runtime's profiler, plus the convolutions' and the int8 conversions' totals."""
    import onnxruntime

    options = session_options(threads)  # as the timed sessions (OnnxEditor) run
    with tempfile.TemporaryDirectory() as folder:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {"images": images.numpy(), "condition": condition.numpy()}
        session.run(None, feeds)
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    # the first call of a session is its warm-up: keep the second call's kernels only
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    per_type: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= runs[-1]:
            op = event["args"]["op_name"]
            per_type[op] = per_type.get(op, 0.0) + event["dur"] / 1e3
    totals = {
        "total": sum(per_type.values()),
        "convolutions": sum(per_type.get(op, 0.0) for op in CONVOLUTIONS),
        "int8 conversions": sum(per_type.get(op, 0.0) for op in CONVERSIONS),
    }
    return totals | dict(sorted(per_type.items(), key=lambda item: -item[1]))


def accuracy(reference: list[np.ndarray], result: list[np.ndarray], inputs: torch.Tensor) -> dict[str, float]:
    """Edit and parsing-label agreement of ``result`` with ``reference`` (each: edited, attention, parsing)."""
    difference = np.abs(result[0] - reference[0])
    labels, reference_labels = result[2].argmax(1), reference[2].argmax(1)
    ious = []
    for label in np.union1d(np.unique(labels), np.unique(reference_labels)):
        ours, theirs = labels == label, reference_labels == label
        ious.append((ours & theirs).sum() / (ours | theirs).sum())
    mse = float((difference.astype(np.float64) ** 2).mean())
    return {
        "edit_max_abs": float(difference.max()),
        "edit_mean_abs": float(difference.mean()),
        "edit_psnr_db": float("inf") if mse == 0 else 10 * np.log10(2.0**2 / mse),
        "label_agreement": float((labels == reference_labels).mean()),
        "label_miou": float(np.mean(ious)),
        "edit_size": float(np.abs(reference[0] - inputs.numpy()).mean()),
    }


def in_batches(run: Callable, images: torch.Tensor, condition: torch.Tensor, batch: int = 16) -> list[np.ndarray]:
    outputs = [run(images[i : i + batch], condition[i : i + batch]) for i in range(0, len(images), batch)]
    return [np.concatenate([np.asarray(o[k]) for o in outputs]) for k in range(len(outputs[0]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="rounds at batch 16 (batch 1: four times as many)")
    parser.add_argument("--faces", type=int, default=8, help="SynthFaces identities per split (8 faces each)")
    parser.add_argument("--calibration", choices=("minmax", "percentile"), default="minmax")
    parser.add_argument("--out", default="benchmarks/results/int8_cpu.csv")
    parser.add_argument("--op-profile", action="store_true", help="where each graph's time goes, per operator type")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]

    pipe = SeganPipeline.from_pretrained(default_model_path(), resolution=args.size)
    expressions = pipe.editor.config.num_expressions
    calibration = synthfaces_batch("validation", args.faces, args.size, expressions)
    test_images, test_condition = synthfaces_batch("test", args.faces, args.size, expressions)

    folder = Path(tempfile.mkdtemp())
    fp32_graph = export_onnx(pipe, folder / "fp32.onnx", with_parsing=True)
    graphs = {"ONNX Runtime fp32": fp32_graph}
    for name, parts in INT8_PARTS.items():
        graphs[f"ONNX Runtime int8 {name} convs"] = quantize_convs(
            fp32_graph, folder / f"int8_{name.replace('+', '_')}.onnx", calibration, parts, args.calibration
        )
    reference_model = ParseAndEdit(pipe, with_parsing=True).eval()

    def eager(images: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            return reference_model(images, condition)

    engines = {"eager fp32 PyTorch": eager} | {
        name: OnnxEditor(path, threads=args.threads) for name, path in graphs.items()
    }
    reference = in_batches(eager, test_images, test_condition)
    scores = {
        name: accuracy(reference, in_batches(run, test_images, test_condition), test_images)
        for name, run in engines.items()
    }

    rows = []
    for batch in (1, 16):
        images, condition = test_images[:batch], test_condition[:batch]
        calls = [partial(run, images, condition) for run in engines.values()]
        medians = [statistics.median(t) for t in measure(calls, args.repeats * (4 if batch == 1 else 1))]
        for name, median in zip(engines, medians, strict=True):
            rows.append(
                {
                    "path": name,
                    "batch": batch,
                    "threads": args.threads,
                    "size": args.size,
                    "median_ms": round(median * 1e3, 1),
                    "vs_eager": round(medians[0] / median, 2),
                    "vs_ort_fp32": round(medians[1] / median, 2),
                    **{key: round(value, 5) for key, value in scores[name].items()},
                }
            )
    load_end = os.getloadavg()[0]
    for row in rows:
        row.update(
            load_start=round(load_start, 1), load_end=round(load_end, 1), calibration=args.calibration, cpu=cpu_name()
        )

    print(f"{cpu_name()}, {args.threads} thread(s), {args.size} px, torch {torch.__version__}")
    print(f"load average {load_start:.1f} at start, {load_end:.1f} at end")
    print(f"enable_fast_path() on this CPU: {fast_path_choice('cpu')}")
    edit_size = scores["eager fp32 PyTorch"]["edit_size"]
    print(
        f"calibration: {len(calibration[0])} SynthFaces validation faces ({args.calibration}); accuracy: "
        f"{len(test_images)} test faces; mean fp32 edit size {edit_size:.4f}"
    )
    columns = [
        "path",
        "batch",
        "median_ms",
        "vs_eager",
        "vs_ort_fp32",
        "edit_max_abs",
        "edit_mean_abs",
        "edit_psnr_db",
        "label_agreement",
        "label_miou",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    append_rows(Path(args.out), rows)

    if args.op_profile:
        images, condition = test_images[:16], test_condition[:16]
        profiles = {name: op_profile(path, images, condition, args.threads) for name, path in graphs.items()}
        print("\nONNX Runtime kernel time per call at batch 16, ms (share of the graph's kernel time):")
        op_rows = []
        for name, times in profiles.items():
            shown = [f"{op} {ms:.0f} ({ms / times['total']:.0%})" for op, ms in list(times.items())[1:9]]
            print(f"{name}: total {times['total']:.0f}; " + ", ".join(shown))
            op_rows += [
                {"path": name, "op": op, "ms": round(ms, 2), "threads": args.threads, "size": args.size}
                | {"load_end": round(os.getloadavg()[0], 1), "cpu": cpu_name()}
                for op, ms in times.items()
            ]
        append_rows(Path(args.out).with_name("int8_cpu_ops.csv"), op_rows)


if __name__ == "__main__":
    main()
