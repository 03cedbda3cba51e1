"""All analysis panels on one state, fed by the real pipeline: a small timm ViT converted
with ``from_timm``, ``prepare`` and ``run_inference``, and class maps from ``class_map``,
put into the state the way the controller puts them."""

from types import SimpleNamespace

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from PySide6.QtCore import Qt

from tests.qt.panel_data import PANELS
from vitviz.compute import class_maps, rollout
from vitviz.compute.analysis import analyse, rollout_maps
from vitviz.compute.inference import run_inference
from vitviz.compute.preprocess import PreprocessMode, prepare
from vitviz.compute.rollout import RolloutOptions
from vitviz.state import AppState, LoadedModel
from vitviz.vit import PretrainedSpec, from_timm

SIZE = (64, 96)  # a 4 x 6 patch grid: rows and columns must not swap


def build(state: AppState, **timm_kwargs) -> None:
    torch.manual_seed(0)
    timm_model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        depth=2,
        num_classes=7,
        img_size=SIZE,
        **timm_kwargs,
    ).eval()
    model = from_timm(timm_model).eval()
    layout = model.layout_for(*SIZE)
    spec = PretrainedSpec(
        name="tiny",
        arch="vit_tiny_patch16_224",
        input_size=(3, *SIZE),
        crop_pct=1.0,
        crop_mode="center",
        interpolation="bilinear",
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        labels=tuple(f"shape {i}" for i in range(7)),
        layout=layout,
        patch_size=(16, 16),
    )
    pixels = np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)
    prepared = prepare(Image.fromarray(pixels), spec, PreprocessMode.CROP)
    inference = run_inference(model, prepared.tensor)
    results = state.results
    with results.events.paused():
        results.model = LoadedModel(model, spec, "tiny", "cpu")
        results.prepared = prepared
        results.class_maps = {}
        results.inference = inference
        results.analysis = analyse(inference, spec.patch_size, spec.labels)
        results.rollout = rollout_maps(inference, RolloutOptions())
        state.fit_selection(inference.layout, 2, model.config.num_heads, reset_query=True)


@pytest.fixture
def window(qtbot):
    state = AppState()
    panels = [panel_class(state) for panel_class in PANELS]
    for panel in panels:
        qtbot.addWidget(panel)
        panel.resize(500, 500)
        panel.show()
    return SimpleNamespace(state=state, panels={type(p).__name__: p for p in panels})


@pytest.mark.parametrize(
    "timm_kwargs",
    [{}, {"class_token": False, "global_pool": "avg", "reg_tokens": 4, "no_embed_class": True}],
    ids=["class-token", "registers-no-class-token"],
)
def test_every_panel_follows_one_click_and_one_class(window, qtbot, timm_kwargs):
    state, panels = window.state, window.panels
    build(state, **timm_kwargs)
    inference = state.results.inference
    layout = inference.layout
    assert layout.grid == (4, 6)
    assert panels["HeadsGridPanel"].mosaic.shape == (2, 4)
    state.rollout.follow_query = True
    state.selection.layer = 0  # compared with layer 0, head 0 below (the first view is the last)

    # Click a patch in the selected-head panel: every panel reading the query follows.
    view = panels["SelectedHeadPanel"].map
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.cell_rect(3, 5).center().toPoint())
    query = layout.patch_index(3, 5)
    assert state.selection.query == query
    row = inference.attentions[0, 0, 0, query].float()  # layer 0, head 0: [N]
    expected = row[layout.num_prefix :].reshape(4, 6).numpy()
    np.testing.assert_allclose(panels["SelectedHeadPanel"].head_map(), expected, rtol=1e-6)
    cells = panels["HeadsGridPanel"].thumbnail_maps()
    np.testing.assert_allclose(cells[0, 0], expected, rtol=1e-6)
    reference = rollout.rollout(inference.attentions, layout, query=query)[0].numpy()
    np.testing.assert_allclose(panels["RolloutPanel"].shown_map(), reference, rtol=1e-4)
    assert "patch (3, 5)" in panels["HeadsGridPanel"].caption.text()

    # Pick the best class; the map arrives as the controller delivers it.
    predictions = panels["PredictionsPanel"]
    bars = predictions.bars
    qtbot.mouseClick(bars, Qt.MouseButton.LeftButton, pos=bars.row_rect(0).center())
    best = int(inference.logits[0].argmax())
    assert state.selection.class_index == best
    class_map = panels["ClassMapPanel"]
    assert "Computing" in class_map.map.placeholder
    grid_map = class_maps.class_map(
        state.results.model.model, state.results.prepared.tensor, best, method="relevance"
    )
    grid_map = grid_map.detach().float().cpu().numpy()
    assert grid_map.shape == (4, 6)
    state.results.class_maps = {(best, "relevance"): grid_map}
    np.testing.assert_array_equal(class_map.map.values, grid_map)

    # Statistics and tokens read the same result; selecting there moves the others.
    plot = panels["HeadStatsPlotPanel"]
    assert plot.positions.shape == (2 * 3, 2)
    state.selection.layer, state.selection.head = 1, 2
    assert panels["HeadsGridPanel"].mosaic.marker == (1, 2)
    assert panels["SelectedHeadPanel"].layer.value() == 1
    tokens = panels["TokensPanel"]
    assert tokens.prefix_mass.shape == (2, layout.num_prefix)
    if layout.num_reg:
        qtbot.mouseClick(tokens.chips.buttons[-1], Qt.MouseButton.LeftButton)
        assert state.selection.query == layout.num_prefix - 1
        assert "REG3" in panels["SelectedHeadPanel"].stats.text()
