"""Per-panel cost of a query change: the panel's own update plus its repaint.

For each analysis panel alone, a random new query patch is set in the state (the panel's
slot runs synchronously) and the pending paint is flushed. Attention is random, in the
shape and precision the controller stores (``[L, H, N, N]`` float16), for ViT-B/16 and
ViT-L/16 at 224 px. Prints median and p95 in milliseconds per panel, as wall time and as
the UI thread's CPU time (the work itself, without the waits a loaded machine adds); the
whole-window figure is ``bench_gui.py``'s.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_panels.py``
"""

from __future__ import annotations

import importlib
import os
import random
import time
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from vitviz.compute.analysis import analyse, rollout_maps
from vitviz.compute.rollout import RolloutOptions
from vitviz.state import AppState, LoadedModel
from vitviz.vit.layout import TokenLayout

PANELS = (
    ("heads_grid", "HeadsGridPanel"),
    ("selected_head", "SelectedHeadPanel"),
    ("rollout_panel", "RolloutPanel"),
    ("predictions", "PredictionsPanel"),
    ("class_map", "ClassMapPanel"),
    ("head_stats_plot", "HeadStatsPlotPanel"),
    ("tokens", "TokensPanel"),
)
MODELS = {"ViT-B/16": (12, 12), "ViT-L/16": (24, 16)}
REPEATS = 60


def make_state(depth: int, heads: int) -> AppState:
    """A state holding one random result of a 224-px patch-16 model with a class token."""
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(14, 14))
    n = layout.num_tokens
    generator = torch.Generator().manual_seed(0)
    attentions = torch.softmax(torch.randn(depth, heads, n, n, generator=generator) * 2, -1)
    state = AppState()
    labels = tuple(f"class {i}" for i in range(1000))
    spec = SimpleNamespace(labels=labels, num_classes=1000, layout=layout, patch_size=(16, 16))
    config = SimpleNamespace(depth=depth, num_heads=heads)
    pixels = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    state.results.model = LoadedModel(SimpleNamespace(config=config), spec, "bench", "cpu")
    state.results.prepared = SimpleNamespace(image=Image.fromarray(pixels))
    inference = SimpleNamespace(
        attentions=attentions.half(),  # [L, H, N, N]
        token_norms=torch.rand(depth, n, generator=generator) + 1,  # [L, N]
        pool_attention=None,
        layout=layout,
        logits=torch.randn(1, 1000, generator=generator),
    )
    # What the controller's worker puts into the state with the result.
    state.results.inference = inference
    state.results.analysis = analyse(inference, (16, 16), labels)
    state.results.rollout = rollout_maps(inference, RolloutOptions())
    state.results.class_maps = {(0, "relevance"): np.random.default_rng(1).random((14, 14))}
    state.selection.class_index = 0
    return state


def time_panel(app: QApplication, module: str, name: str, depth: int, heads: int, follow: bool):
    """Milliseconds of (slot + paint) for REPEATS query changes on one panel."""
    state = make_state(depth, heads)
    state.rollout.follow_query = follow
    panel = getattr(importlib.import_module(f"vitviz.qt.panels.{module}"), name)(state)
    panel.resize(700, 700)
    panel.show()
    app.processEvents()
    layout = state.results.inference.layout
    rng = random.Random(0)
    wall, cpu = [], []
    for _ in range(REPEATS):
        query = layout.patch_index(rng.randrange(14), rng.randrange(14))
        start, start_cpu = time.perf_counter(), time.thread_time()
        state.selection.query = query
        app.processEvents()  # runs the paints the change scheduled
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.thread_time() - start_cpu) * 1e3)
    panel.close()
    panel.deleteLater()
    app.processEvents()
    return np.median(wall), np.percentile(wall, 95), np.median(cpu), np.percentile(cpu, 95)


def main() -> None:
    app = QApplication.instance() or QApplication([])
    # The UI thread runs torch single-threaded: its tensors are small, and OpenMP worker
    # threads that spin after each parallel region would take the second core from Qt
    # (measured: a 24x16-head grid update costs ~50 ms with 2 threads under load, ~2 ms
    # with 1). The inference worker thread keeps its own thread count.
    threads = int(os.environ.get("VITVIZ_UI_THREADS", "1"))
    torch.set_num_threads(threads)
    print(f"torch threads on the UI thread: {threads}")
    for model, (depth, heads) in MODELS.items():
        print(f"{model}: {depth} layers x {heads} heads, 197 tokens, query change -> repaint")
        for module, name in PANELS:
            follow_modes = (False, True) if module == "rollout_panel" else (False,)
            for follow in follow_modes:
                wall, wall95, cpu, cpu95 = time_panel(app, module, name, depth, heads, follow)
                label = name + (" (following the query)" if follow else "")
                print(
                    f"  {label:38s} wall median {wall:6.2f} p95 {wall95:6.2f} ms"
                    f" | UI-thread CPU median {cpu:6.2f} p95 {cpu95:6.2f} ms"
                )


if __name__ == "__main__":
    main()
