"""Rendering and preprocessing speed, with ratios against matplotlib / timm measured side by side.

Run: ``python benchmarks/bench_render.py``. Prints milliseconds per call (best of a few
repeats) for what the GUI does on every click: colour a full layer x head stack of
thumbnails, the ViT-paper mask, and preprocess an image.
"""

from __future__ import annotations

import time

import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from PIL import Image
from timm.data import create_transform

from vitviz.compute import render
from vitviz.compute.preprocess import PatchGrid, PreprocessMode, prepare
from vitviz.vit.layout import TokenLayout
from vitviz.vit.spec import PretrainedSpec


def best_ms(function, repeats: int = 5, number: int = 3) -> float:
    """Best mean time of ``number`` calls over ``repeats`` runs, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return 1000 * min(times)


def matplotlib_thumbnails(stack: np.ndarray, cmap: str) -> list[np.ndarray]:
    colormap = matplotlib.colormaps[cmap]
    return [
        colormap(Normalize(one.min(), one.max())(one), bytes=True)
        for one in stack.reshape(-1, *stack.shape[-2:])
    ]


def main() -> None:
    rng = np.random.default_rng(0)
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(14, 14))
    stack = rng.random((24, 16, 14, 14)).astype(np.float32)  # [L, H, rows, cols]: ViT-L
    ours = best_ms(lambda: render.render_maps(stack, "viridis", "per_map"))
    reference = best_ms(lambda: matplotlib_thumbnails(stack, "viridis"))
    print(
        f"384 thumbnails 14x14, per-map scale: {ours:.2f} ms (matplotlib loop {reference:.2f} ms,"
    )
    print(f"  ratio {reference / ours:.1f}x)")

    photo = Image.fromarray(rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8))
    spec = PretrainedSpec(
        "bench", "vit", (3, 224, 224), 0.875, "center", "bicubic",
        (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), None, layout, (16, 16),
    )  # fmt: skip
    grid: PatchGrid = prepare(photo, spec).grid
    one = stack[0, 0]
    took = best_ms(lambda: render.vit_paper_mask(one, grid))
    print(f"ViT-paper mask of the photo's input: {took:.2f} ms")

    timm_transform = create_transform(
        input_size=spec.input_size, is_training=False, interpolation="bicubic",
        mean=spec.mean, std=spec.std, crop_pct=spec.crop_pct, crop_mode=spec.crop_mode,
    )  # fmt: skip
    ours = best_ms(lambda: prepare(photo, spec, PreprocessMode.CROP))
    reference = best_ms(lambda: timm_transform(photo))
    print(f"prepare (crop) of the photo: {ours:.2f} ms (timm transform {reference:.2f} ms,")
    print(f"  ratio {ours / reference:.2f})")


if __name__ == "__main__":
    main()
