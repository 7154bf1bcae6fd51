"""Parameter counts and FLOPs per image of the default models (editor at 128x128, parser at 512x512) and the
GANimation-size baseline.

    python benchmarks/model_stats.py [--out benchmarks/results/model_stats.json]

FLOPs are counted by ``torch.utils.flop_counter`` (a multiply-add counts as 2 FLOPs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.discriminator import ExpressionDiscriminator
from hf_segan.models.editor import HierarchicalExpressionGenerator
from hf_segan.models.unet import UNetFaceParser


def gflops(model: torch.nn.Module, *inputs) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(*inputs)
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/model_stats.json")
    args = parser.parse_args()
    image128, image512 = torch.zeros(1, 3, 128, 128), torch.zeros(1, 3, 512, 512)
    probs128, condition = torch.full((1, 19, 128, 128), 1 / 19), torch.eye(8)[[1]]
    cases = [
        ("BiSeNetFaceParser (default)", BiSeNetFaceParser().eval(), (image512,), 512),
        ("UNetFaceParser (default)", UNetFaceParser().eval(), (image512,), 512),
        ("HierarchicalExpressionGenerator semantic (default)", HierarchicalExpressionGenerator().eval(),
         (image128, probs128, condition), 128),
        ("HierarchicalExpressionGenerator none (default)", HierarchicalExpressionGenerator(region_source="none").eval(),
         (image128, None, condition), 128),
        ("GANimation-size generator", HierarchicalExpressionGenerator.from_preset("paper", region_source="none").eval(),
         (image128, None, condition), 128),
        ("ExpressionDiscriminator (default)", ExpressionDiscriminator().eval(), (image128,), 128),
    ]  # fmt: skip
    rows = []
    print("| model | input | parameters | GFLOPs / image |\n|---|---|---|---|")
    for name, model, inputs, size in cases:
        params = sum(p.numel() for p in model.parameters())
        flops = gflops(model, *inputs)
        rows.append({"model": name, "input": size, "parameters": params, "gflops": round(flops, 3)})
        print(f"| {name} | {size}x{size} | {params:,} | {flops:.2f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
