"""Latency of ``hf_segan.landmarks.detect_landmarks`` on a small photo and the same photo at about 12 megapixels.

Detection runs on the photo shrunk to the detector's input and landmarks on a small crop of each box, so the large
photo should cost about what the small one does (the ratio printed last). Median milliseconds over timed runs after
a warm-up, ``torch.inference_mode``, fp32, CPU.

    python benchmarks/face_api_latency.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import cv2
import torch

from hf_segan.face_api_parity import development_photos
from hf_segan.landmarks import detect_landmarks


def _median_ms(image, runs: int) -> float:
    detect_landmarks(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detect_landmarks(image)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    small = development_photos()["grace_hopper"]
    large = cv2.resize(small, (3000, 3516), interpolation=cv2.INTER_CUBIC)
    print(f"{platform.processor() or platform.machine()}, {args.threads} torch threads, load {os.getloadavg()[0]:.1f}")
    small_ms, large_ms = _median_ms(small, args.runs), _median_ms(large, args.runs)
    print(f"{'photo':24} {'pixels':>12} {'ms (median)':>12}")
    print(f"{'grace_hopper':24} {small.shape[0] * small.shape[1]:>12,} {small_ms:12.1f}")
    print(f"{'grace_hopper x5.86':24} {large.shape[0] * large.shape[1]:>12,} {large_ms:12.1f}")
    print(f"large / small: {large_ms / small_ms:.2f}")


if __name__ == "__main__":
    main()
