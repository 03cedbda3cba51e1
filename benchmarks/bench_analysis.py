"""The worker's second stage: rollout and every head statistic for a stored attention stack.

Presets (``--model``): DINOv2-L/14 with registers at 518 px (24 layers x 16 heads over
1374 tokens: 1.45 GB of float16 attention), ViT-L/16 and ViT-B/16 at 224 px. Attention is
stored as the GUI stores it (:func:`vitviz.compute.inference.run_inference`): one
``[1, L, H, N, N]`` float16 tensor on the CPU. Synthetic softmax rows stand in for a real
model's attention (the cost does not depend on the values). Measured:

- ``rollout``: class-token rollout over all layers (a chain of vector-matrix products
  over the fused layers, :func:`vitviz.compute.rollout.rollout_rows`);
- ``rollout by layer``: the same up to every layer;
- ``rollout stack``: every query up to every layer
  (:func:`vitviz.compute.analysis.rollout_maps`, what the worker computes so that the
  panels only read rows);
- ``analyse``: head statistics (a plain loop over the heads), prefix mass, high-norm
  tokens, predictions (:func:`vitviz.compute.analysis.analyse`);
- ``worker stage``: ``analyse`` + ``rollout stack``, what the GUI's worker adds to the
  forward pass of a new result. It runs off the UI thread.

Wall time is the median of ``--repeats`` runs; CPU time (all threads) is printed beside
it because on a shared machine wall time also counts waiting for the cores. Peak memory
is the process's resident-set high-water mark (``VmHWM``, reset before each measurement
where the kernel allows it), which sees torch's allocations, unlike ``tracemalloc``.

Usage::

    python benchmarks/bench_analysis.py [--model vit-b16|vit-l16|dinov2-l] [--repeats 3]
        [--threads 2] [--discard 0.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch

from vitviz.compute.analysis import analyse, rollout_maps
from vitviz.compute.rollout import RolloutOptions, rollout
from vitviz.vit.layout import TokenLayout

# name: (layers, heads, token layout, patch size)
MODELS = {
    "dinov2-l": (24, 16, TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(37, 37)), 14),
    "vit-l16": (24, 16, TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(14, 14)), 16),
    "vit-b16": (12, 12, TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(14, 14)), 16),
}


def resident_gb(field: str = "VmHWM") -> float:
    """Resident-set size (``VmRSS``) or its high-water mark (``VmHWM``) in GB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def synthetic_attention(layers: int, heads: int, layout: TokenLayout) -> torch.Tensor:
    """``[1, L, H, N, N]`` float16 softmax rows, made one layer at a time."""
    n = layout.num_tokens
    generator = torch.Generator().manual_seed(0)
    stack = torch.empty((1, layers, heads, n, n), dtype=torch.float16)  # [1, L, H, N, N]
    for layer in range(layers):
        scores = torch.randn((heads, n, n), generator=generator).mul_(4.0)  # [H, N, N]
        stack[0, layer] = scores.softmax(-1)
    return stack


def measure(run: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and peak resident GB of ``run``."""
    walls, cpus, peaks = [], [], []
    for _ in range(repeats):
        reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        peaks.append(resident_gb())
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--model", choices=MODELS, default="dinov2-l")
    parser.add_argument("--discard", type=float, default=0.0, help="rollout discard ratio")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    layers, heads, layout, patch = MODELS[args.model]
    attentions = synthetic_attention(layers, heads, layout)
    inference = SimpleNamespace(
        attentions=attentions,
        token_norms=torch.rand(1, layers, layout.num_tokens) * 50,  # [1, L, N]
        logits=torch.randn(1, 1000),  # [1, C]
        pool_attention=None,
        layout=layout,
    )
    stored = attentions.numel() * attentions.element_size() / 1e9
    options = RolloutOptions(discard_ratio=args.discard)

    def rollout_once() -> object:
        return rollout(attentions, layout, discard_ratio=args.discard)

    def rollout_by_layer() -> object:
        return rollout(attentions, layout, every_layer=True, discard_ratio=args.discard)

    def rollout_stack() -> object:
        return rollout_maps(inference, options)

    def analyse_once() -> object:
        return analyse(inference, (patch, patch))

    def worker_stage() -> object:
        return analyse_once(), rollout_stack()

    analyse_once()  # warm-up: the allocator
    print(
        f"{args.model}: attention {layers} layers x {heads} heads x {layout.num_tokens}^2 "
        f"tokens, float16 on the CPU: {stored:.2f} GB stored; resident before analysis "
        f"{resident_gb('VmRSS'):.2f} GB"
    )
    print(
        f"torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f}, discard ratio {args.discard}, "
        f"peak reset {'yes' if reset_peak() else 'no (peak includes earlier steps)'}"
    )
    print(f"{'step':<20}{'wall s':>9}{'cpu s':>9}{'peak GB':>9}")
    for name, run in [
        ("rollout", rollout_once),
        ("rollout by layer", rollout_by_layer),
        ("rollout stack", rollout_stack),
        ("analyse", analyse_once),
        ("worker stage", worker_stage),
    ]:
        wall, cpu, peak = measure(run, args.repeats)
        print(f"{name:<20}{wall:>9.3f}{cpu:>9.3f}{peak:>9.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
