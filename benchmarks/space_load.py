"""Load test of the Gradio demo: a burst of concurrent edit requests over loopback, as a Space would receive them.

Each request uploads a different photo (the bundled example with one corner pixel changed), so the demo's
result cache never answers and every request detects, aligns, edits and pastes. All requests must succeed.
Prints latency percentiles and throughput as a table and writes them as JSON.

    python benchmarks/space_load.py --model tiny --requests 20 --out benchmarks/results/space_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from gradio_client import Client, handle_file
from PIL import Image

from hf_segan.space import CONCURRENCY_LIMIT, build_demo, example_photos, launch_demo


def tiny_pipeline():
    """The randomly initialised pipeline of the test suite: measures the server, not the model."""
    from hf_segan.models.editor import HierarchicalExpressionGenerator
    from hf_segan.models.unet import UNetFaceParser
    from hf_segan.pipeline import SeganPipeline

    torch.manual_seed(0)
    parser = UNetFaceParser(depth=2, base_channels=4, max_channels=16).eval()
    editor = HierarchicalExpressionGenerator(base_channels=4, num_residual_blocks=1, local_channels=8).eval()
    return SeganPipeline(parser=parser, editor=editor, resolution=64)


def write_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct PNGs of the bundled example photo (different bytes, same face)."""
    examples = example_photos()
    if not examples:
        raise SystemExit("No bundled example photo (hf_segan/assets/examples) to send.")
    with Image.open(examples[0]) as image:
        base = np.asarray(image.convert("RGB")).copy()
    paths = []
    for index in range(count):
        base[0, 0] = (index % 256, index // 256, 0)
        path = folder / f"photo_{index:03d}.png"
        Image.fromarray(base).save(path)
        paths.append(path)
    return paths


def fire(url: str, photos: list[Path], expression: str) -> tuple[list[float], float]:
    """Send every photo at once (one thread and client each); (per-request seconds, wall seconds of the burst)."""
    clients = [Client(url, verbose=False) for _ in photos]
    start_line = threading.Barrier(len(photos) + 1)

    def request(client: Client, photo: Path) -> float:
        start_line.wait()
        start = time.perf_counter()
        # intensity and regions keep the page's defaults (full intensity, every region)
        edited = client.predict(path=handle_file(str(photo)), expression=expression, api_name="/edit")[0]
        elapsed = time.perf_counter() - start
        with Image.open(edited) as image, Image.open(photo) as sent:
            if image.size != sent.size:
                raise RuntimeError(f"{photo.name}: got a {image.size} image back for a {sent.size} upload.")
        return elapsed

    with ThreadPoolExecutor(max_workers=len(photos)) as pool:
        futures = [pool.submit(request, client, photo) for client, photo in zip(clients, photos, strict=True)]
        start_line.wait()
        start = time.perf_counter()
        latencies = [future.result() for future in futures]  # raises if any request failed
        wall = time.perf_counter() - start
    return latencies, wall


def write_json(data: dict, path: Path) -> None:
    """Write atomically: a temp file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(data, handle, indent=2)
    os.replace(handle.name, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (random test-size model), 'default', or a folder/id")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--expression", default="happy")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/space_load.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = {"tiny": tiny_pipeline(), "default": None}.get(args.model, args.model)
    demo = build_demo(model)
    launch_demo(demo, prevent_thread_lock=True, quiet=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            photos = write_photos(Path(folder), args.requests)
            latencies, wall = fire(demo.local_url, photos, args.expression)
    finally:
        demo.close()

    p50, p90, p99 = (float(np.percentile(latencies, q)) for q in (50, 90, 99))
    result = {
        "model": args.model,
        "requests": args.requests,
        "succeeded": len(latencies),
        "concurrency_limit": CONCURRENCY_LIMIT,
        "latency_s": {"p50": p50, "p90": p90, "p99": p99, "max": max(latencies)},
        "wall_s": wall,
        "throughput_rps": args.requests / wall,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} CPUs",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    print(f"{args.requests} concurrent edit requests, model {args.model!r}, queue concurrency {CONCURRENCY_LIMIT}")
    print("| succeeded | p50 (s) | p90 (s) | p99 (s) | wall (s) | throughput (req/s) |")
    print("|---|---|---|---|---|---|")
    row = (f"{len(latencies)}/{args.requests}", f"{p50:.2f}", f"{p90:.2f}", f"{p99:.2f}", f"{wall:.2f}")
    print(f"| {' | '.join(row)} | {result['throughput_rps']:.2f} |")
    write_json(result, args.out)
    return result


if __name__ == "__main__":
    main()
