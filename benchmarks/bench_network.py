"""Forward-pass cost of our network (attention captured) against timm's fused forward.

Same weights (random init of ``vit_base_patch16_224``), same batch, measured side by side
in one run, interleaved so that machine load hits both alike. Prints the median time per
forward of each and their ratio; also our forward with capture off (fused kernel).

Usage::

    python benchmarks/bench_network.py [--batch 8] [--repeats 5] [--arch vit_base_patch16_224]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import timm
import torch

from vitviz.vit import from_timm


def time_once(run: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of one call (waiting for the GPU when there is one)."""
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vit_base_patch16_224")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    reference = timm.create_model(args.arch, pretrained=False).eval().to(device)
    ours = from_timm(reference).eval()
    height, width = reference.patch_embed.img_size
    image = torch.randn(args.batch, 3, height, width, device=device)

    runs = {
        "timm (fused attention)": lambda: reference(image),
        "vitviz, attention captured": lambda: ours(image),
        "vitviz, capture off": lambda: ours(image, capture=False),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for run in runs.values():
            time_once(run, device)  # warm-up
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(time_once(run, device))

    print(
        f"{args.arch}, batch {args.batch}, {height}x{width}, {device}, "
        f"{torch.get_num_threads()} threads, {args.repeats} interleaved repeats"
    )
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        print(f"  {name:28s} {seconds * 1000:9.1f} ms / forward")
    base = medians["timm (fused attention)"]
    print(f"  ratio captured / timm fused: {medians['vitviz, attention captured'] / base:.2f}")
    print(f"  ratio capture off / timm fused: {medians['vitviz, capture off'] / base:.2f}")


if __name__ == "__main__":
    main()
