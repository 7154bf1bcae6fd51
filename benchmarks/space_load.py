"""Load test of the Gradio demo: edit requests from concurrent clients over loopback, as a Space receives them.

``--concurrency`` clients (one thread and ``gradio_client.Client`` each) send ``--requests`` requests between
them, each uploading a different photo (the bundled example with one corner pixel changed), so the demo's result
cache never answers and every request detects, aligns, edits and pastes. Every request must succeed and return
an image of the upload's size; the script fails otherwise. Prints latency percentiles, throughput and the
process's peak resident memory (server and clients share the process) and appends them to a CSV.

    python benchmarks/space_load.py --model default --requests 100 --concurrency 10
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from gradio_client import Client, handle_file
from learn_synthfaces import cpu_name
from PIL import Image
from results_csv import append_rows

from hf_segan.space import CONCURRENCY_LIMIT, build_demo, example_photos, launch_demo

#: Seconds a client waits for each HTTP response. gradio_client's default (httpx's 5 s) can time out the queue-join
#: request while a busy server encodes large photos; a browser's fetch has no such limit.
CLIENT_TIMEOUT_S = 60


def tiny_pipeline():
    """The randomly initialised pipeline of the test suite: measures the server, not the model."""
    from hf_segan.models.editor import HierarchicalExpressionGenerator
    from hf_segan.models.unet import UNetFaceParser
    from hf_segan.pipeline import SeganPipeline

    torch.manual_seed(0)
    parser = UNetFaceParser(depth=2, base_channels=4, max_channels=16).eval()
    editor = HierarchicalExpressionGenerator(base_channels=4, num_residual_blocks=1, local_channels=8).eval()
    return SeganPipeline(parser=parser, editor=editor, resolution=64)


def write_photos(folder: Path, count: int, side: int | None = None) -> list[Path]:
    """``count`` distinct PNGs of the bundled example photo (different bytes, same face); with ``side``, JPEGs of
    it enlarged to ``side`` x ``side`` pixels (PNGs that large would exceed the upload limit)."""
    examples = example_photos()
    if not examples:
        raise SystemExit("No bundled example photo (hf_segan/assets/examples) to send.")
    with Image.open(examples[0]) as image:
        picture = image.convert("RGB")
        base = np.asarray(picture.resize((side, side), Image.Resampling.BICUBIC) if side else picture).copy()
    paths = []
    for index in range(count):
        marker = (index % 256, index // 256, 0)
        if side:
            base[:8, :8] = marker  # a block survives JPEG compression, so every file differs
        else:
            base[0, 0] = marker
        path = folder / f"photo_{index:03d}.{'jpg' if side else 'png'}"
        Image.fromarray(base).save(path, **({"quality": 90} if side else {}))
        paths.append(path)
    return paths


def fire(url: str, photos: list[Path], expression: str, concurrency: int) -> tuple[list[float], float]:
    """Send every photo from ``concurrency`` clients at once; (per-request seconds, wall seconds of the run)."""
    pending: queue.SimpleQueue[Path] = queue.SimpleQueue()
    for photo in photos:
        pending.put(photo)
    start_line = threading.Barrier(concurrency + 1)

    def client_loop() -> list[float]:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": CLIENT_TIMEOUT_S})
        start_line.wait()
        latencies = []
        while True:
            try:
                photo = pending.get_nowait()
            except queue.Empty:
                return latencies
            start = time.perf_counter()
            # intensity and regions keep the page's defaults (full intensity, every region)
            edited = client.predict(path=handle_file(str(photo)), expression=expression, api_name="/edit")[0]
            latencies.append(time.perf_counter() - start)
            with Image.open(edited) as image, Image.open(photo) as sent:
                if image.size != sent.size:
                    raise RuntimeError(f"{photo.name}: got a {image.size} image back for a {sent.size} upload.")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(client_loop) for _ in range(concurrency)]
        start_line.wait()
        start = time.perf_counter()
        latencies = [latency for future in futures for latency in future.result()]  # raises if a request failed
        wall = time.perf_counter() - start
    return latencies, wall


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (random test-size model), 'default', or a folder/id")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10, help="clients sending at once")
    parser.add_argument("--expression", default="happy")
    parser.add_argument("--photo-side", type=int, help="send JPEGs of this many pixels a side (default: 512 PNGs)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/space_load.csv"))
    args = parser.parse_args(argv)
    if args.requests < 1 or not 1 <= args.concurrency <= args.requests:
        raise SystemExit("--requests must be at least 1 and --concurrency between 1 and --requests.")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = {"tiny": tiny_pipeline(), "default": None}.get(args.model, args.model)
    demo = build_demo(model)
    launch_demo(demo, prevent_thread_lock=True, quiet=True)
    rss_before = peak_rss_mb()
    try:
        with tempfile.TemporaryDirectory() as folder:
            photos = write_photos(Path(folder), args.requests, args.photo_side)
            latencies, wall = fire(demo.local_url, photos, args.expression, args.concurrency)
    finally:
        demo.close()

    p50, p95 = (float(np.percentile(latencies, q)) for q in (50, 95))
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "photo_side": args.photo_side or 512,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "succeeded": len(latencies),
        "server_concurrency_limit": CONCURRENCY_LIMIT,
        "p50_s": round(p50, 3),
        "p95_s": round(p95, 3),
        "max_s": round(max(latencies), 3),
        "wall_s": round(wall, 2),
        "throughput_rps": round(args.requests / wall, 3),
        "rss_after_start_mb": round(rss_before),
        "peak_rss_mb": round(peak_rss_mb()),
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    print(
        f"{args.requests} edit requests from {args.concurrency} concurrent clients, model {args.model!r}, "
        f"server concurrency {CONCURRENCY_LIMIT}, {result['cpu']} ({result['cpus']} CPUs)"
    )
    print("| succeeded | p50 (s) | p95 (s) | max (s) | wall (s) | throughput (req/s) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    row = [f"{len(latencies)}/{args.requests}", f"{p50:.2f}", f"{p95:.2f}", f"{max(latencies):.2f}", f"{wall:.1f}"]
    print(f"| {' | '.join(row)} | {result['throughput_rps']:.2f} | {result['peak_rss_mb']} |")
    append_rows(args.out, [result])
    return result


if __name__ == "__main__":
    main()
