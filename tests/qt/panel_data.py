"""Small, fully known analysis results for the panel tests (no model run needed).

The attention is random but row-stochastic and stored in half precision, as the
controller stores it, so that a test can compute what a panel must show by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from vitviz.qt.panels.class_map import ClassMapPanel
from vitviz.qt.panels.head_stats_plot import HeadStatsPlotPanel
from vitviz.qt.panels.heads_grid import HeadsGridPanel
from vitviz.qt.panels.predictions import PredictionsPanel
from vitviz.qt.panels.rollout_panel import RolloutPanel
from vitviz.qt.panels.selected_head import SelectedHeadPanel
from vitviz.qt.panels.tokens import TokensPanel
from vitviz.state import AppState, LoadedModel, held_events
from vitviz.vit.layout import TokenLayout

PATCH = 16
# Every analysis panel, for the tests that build them all on one state.
PANELS = (
    HeadsGridPanel,
    SelectedHeadPanel,
    RolloutPanel,
    PredictionsPanel,
    ClassMapPanel,
    HeadStatsPlotPanel,
    TokensPanel,
)


def make_inference(layout: TokenLayout, depth: int, heads: int, num_classes: int, seed: int = 0):
    """A result with the attributes the panels read from ``InferenceResult``."""
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(depth, heads, n, n, generator=generator) * 2.0  # [L, H, N, N]
    attentions = torch.softmax(scores, dim=-1).half()  # [L, H, N, N]
    norms = torch.rand(depth, n, generator=generator) + 1.0  # [L, N]
    norms[:, layout.num_prefix] = 50.0  # one outlier patch: a high-norm token
    return SimpleNamespace(
        attentions=attentions,
        token_norms=norms,
        pool_attention=None,
        layout=layout,
        logits=torch.randn(1, num_classes, generator=generator) * 3.0,
    )


def make_state(
    layout: TokenLayout | None = None,
    depth: int = 3,
    heads: int = 4,
    num_classes: int = 6,
    seed: int = 0,
) -> AppState:
    """An AppState as the controller leaves it after a successful run."""
    layout = layout or TokenLayout(num_class=1, num_dist=0, num_reg=2, grid=(3, 5))
    state = AppState()
    labels = tuple(f"class {i}" for i in range(num_classes)) if num_classes else None
    spec = SimpleNamespace(
        labels=labels,
        num_classes=num_classes,
        layout=layout,
        patch_size=(PATCH, PATCH),
        name="test",
    )
    config = SimpleNamespace(depth=depth, num_heads=heads)
    state.results.model = LoadedModel(SimpleNamespace(config=config), spec, "test", "cpu")
    rows, cols = layout.grid
    pixels = np.random.default_rng(seed).integers(0, 255, (rows * PATCH, cols * PATCH, 3))
    state.results.prepared = SimpleNamespace(image=Image.fromarray(pixels.astype(np.uint8)))
    inference = make_inference(layout, depth, heads, num_classes, seed)
    set_result(state, inference, (PATCH, PATCH), labels)
    state.fit_selection(layout, depth, heads, reset_query=True)
    return state


def set_result(state: AppState, inference, patch_size=(PATCH, PATCH), labels=None) -> None:
    """Put ``inference`` and what the controller's worker derives from it into ``state``."""
    from vitviz.compute.analysis import analyse, rollout_maps
    from vitviz.compute.rollout import RolloutOptions

    with held_events(state.results):
        state.results.inference = inference
        state.results.analysis = analyse(inference, patch_size, labels)
        state.results.rollout = rollout_maps(inference, RolloutOptions())
