"""Cost of one demo-model training step, explicit attention against PyTorch's fused kernel.

``python -m training.demo_model`` builds its ViT with attention as explicit matrix products
(:func:`training.demo_model.train.create_model`). This script measures why: the same model, the
same batches and the same optimiser step, once with timm's default fused attention
(``scaled_dot_product_attention``) and once explicit, interleaved in one run so that
machine load hits both alike, at the shapes of both training phases. It also times the
same explicit step with plain AdamW instead of Muon (what Muon's orthogonalisation costs
per step; what it saves in steps is in the model card), and the data worker's share of a
step (generating the batch and its targets), since the two run side by side on the two
cores.

Usage::

    python benchmarks/bench_demo_training.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from training.demo_model.train import (
    AuxiliaryHeads,
    BatchStream,
    TrainConfig,
    build_optimizer,
    create_model,
    training_step,
)
from vitviz.demo.dataset import IMAGE_SIZE


def seconds(run: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def phase(config: TrainConfig, size: int, batch_size: int, zoom: float, repeats: int) -> None:
    """Print the median step time of both attention forms and of batch generation."""
    stream = BatchStream(
        0,
        repeats + 1,
        batch_size,
        size,
        config.two_object_fraction,
        config.label_smoothing,
        zoom=zoom,
    )
    generation = [seconds(lambda s=s: stream.batch(s)) for s in range(repeats)]
    batch = stream.batch(repeats)
    steps: dict[str, Callable[[], object]] = {}
    variants = (
        ("fused attention", True, "muon"),
        ("explicit attention", False, "muon"),
        ("explicit, AdamW", False, "adamw"),
    )
    for name, fused, optimiser in variants:
        model = create_model(config, size).train()
        for block in model.blocks:
            block.attn.fused_attn = fused
        heads = AuxiliaryHeads(config.embed_dim)
        if optimiser == "muon":
            optimizer = build_optimizer(model, heads, config, config.lr)
        else:
            optimizer = torch.optim.AdamW([*model.parameters(), *heads.parameters()], config.lr)
        steps[name] = lambda m=model, h=heads, o=optimizer: training_step(m, h, o, batch, config)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step()  # warm-up
    for _ in range(repeats):
        for name, step in steps.items():
            times[name].append(seconds(step))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{size} px, batch {batch_size}, {config.precision}:")
    for name, value in medians.items():
        print(f"  {name:20s} {value * 1000:7.1f} ms / step")
    print(f"  {'batch generation':20s} {statistics.median(generation) * 1000:7.1f} ms / batch")
    ratio = medians["fused attention"] / medians["explicit attention"]
    print(f"  ratio fused / explicit: {ratio:.2f}")
    cost = medians["explicit attention"] / medians["explicit, AdamW"]
    print(f"  ratio Muon / AdamW step: {cost:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=TrainConfig().threads)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainConfig()
    print(f"{torch.get_num_threads()} torch thread(s), {args.repeats} interleaved repeats")
    phase(config, config.low_res, config.batch_size, config.low_res_zoom, args.repeats)
    phase(config, IMAGE_SIZE, config.high_res_batch_size, 1.0, args.repeats)


if __name__ == "__main__":
    main()
