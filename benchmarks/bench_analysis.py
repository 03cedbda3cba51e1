"""Rollout plus every head statistic for a DINOv2-L/14-with-registers-sized attention stack.

24 layers x 16 heads over 1374 tokens (class + 4 registers + 37 x 37 patches at 518 px),
stored as the GUI stores it (:func:`vitviz.compute.inference.run_inference`): one
``[1, L, H, N, N]`` float16 tensor on the CPU, 1.45 GB. Synthetic softmax rows stand in
for a real model's attention (the cost does not depend on the values). Measured:

- ``rollout``: class-token rollout over all layers (mean fusion, no discard, residual 0.5):
  per layer the heads are summed into one reused float32 buffer and the query row is
  multiplied by the factor without forming it;
- ``rollout by layer``: the rollout up to every layer (the "how the picture forms" view);
- ``head statistics``: mean attention distance, entropy, prefix mass, high-norm tokens;
  each head is read once in blocks of rows, the heads shared among as many worker
  threads as torch has threads (:mod:`vitviz.compute.head_scan`);
- ``head stats 1 worker``: the same on one thread, for the ratio of the two;
- ``total``: rollout by layer (its last row is the rollout) + head statistics, what the
  GUI computes for a new result. Target: within 1 s and 3 GB on a 2-core CPU.

Wall time is the median of ``--repeats`` runs; CPU time (all threads) is printed beside
it because on a shared machine wall time also counts waiting for the cores. Peak memory
is the process's resident-set high-water mark (``VmHWM``, reset before each measurement
where the kernel allows it), which sees torch's allocations, unlike ``tracemalloc``.

On a machine shared with other busy processes, OpenMP's default busy-waiting makes torch's
two intra-op threads wait for each other at every operation (measured here: 14 s of CPU
instead of 2 s). The analysis now splits its work among threads of its own, each running
torch on one thread (:mod:`vitviz.compute.workers`), so the policy no longer changes its
figures (measured on a loaded machine: 1.14 s of CPU in total with
``OMP_WAIT_POLICY=PASSIVE``, 1.20 s without); ``PASSIVE`` remains the setting to compare
with earlier runs.

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_analysis.py [--repeats 3] [--threads 2]
        [--discard 0.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from vitviz.compute.head_stats import head_statistics
from vitviz.compute.rollout import rollout
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(37, 37))
PATCH_SIZE = (14, 14)


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
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--discard", type=float, default=0.0, help="rollout discard ratio")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    attentions = synthetic_attention(args.layers, args.heads, LAYOUT)
    norms = torch.rand(1, args.layers, LAYOUT.num_tokens) * 50  # [1, L, N]
    stored = attentions.numel() * attentions.element_size() / 1e9
    options = {"discard_ratio": args.discard}

    def rollout_once() -> object:
        return rollout(attentions, LAYOUT, **options)

    def rollout_by_layer() -> object:
        return rollout(attentions, LAYOUT, every_layer=True, **options)

    def statistics_once() -> object:
        return head_statistics(attentions, LAYOUT, PATCH_SIZE, token_norms=norms)

    def statistics_one_worker() -> object:
        return head_statistics(attentions, LAYOUT, PATCH_SIZE, token_norms=norms, workers=1)

    def everything() -> object:
        return rollout_by_layer(), statistics_once()

    statistics_once()  # warm-up: allocator, entropy table
    print(
        f"attention {args.layers} layers x {args.heads} heads x {LAYOUT.num_tokens}^2 tokens, "
        f"float16 on the CPU: {stored:.2f} GB stored; resident before analysis "
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
        ("head statistics", statistics_once),
        ("head stats 1 worker", statistics_one_worker),
        ("total", everything),
    ]:
        wall, cpu, peak = measure(run, args.repeats)
        print(f"{name:<20}{wall:>9.3f}{cpu:>9.3f}{peak:>9.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f} (targets: total <= 1 s, <= 3 GB)")


if __name__ == "__main__":
    main()
