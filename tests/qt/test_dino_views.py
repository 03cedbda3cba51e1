"""DINO-style views: the mass-threshold control and the heads-in-colour overlay."""

import numpy as np
import pytest
import torch

from vitviz.compute.attention_maps import mass_threshold
from vitviz.compute.head_colours import head_palette
from vitviz.qt.head_overlay import HeadLegend
from vitviz.qt.panels.image_panel import ImagePanel
from vitviz.qt.widgets.mass_threshold import MassThresholdControl


@pytest.fixture
def panel(qtbot, filled_state):
    filled_state.view.overlay = "head"  # the tests compare with the selected head's map
    panel = ImagePanel(filled_state)
    qtbot.addWidget(panel)
    panel.resize(640, 520)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def control(qtbot, filled_state):
    control = MassThresholdControl(filled_state.view)
    qtbot.addWidget(control)
    return control


def raw_head_map(state):
    sel = state.selection
    return state.results.analysis.cells(sel.query, layer=sel.layer)[sel.head]  # [rows, cols]


def test_keep_top_mass_writes_the_threshold_and_the_map_keeps_that_mass(
    panel, control, filled_state
):
    view, raw = filled_state.view, raw_head_map(filled_state)
    assert view.mass_threshold is None
    assert not control.slider.isEnabled()
    np.testing.assert_allclose(panel.current_map, raw, rtol=1e-6)
    control.check.setChecked(True)
    assert view.mass_threshold == pytest.approx(0.6)  # DINO's default
    for t in (0.6, 0.3, 0.9):
        control.slider.setValue(t)
        assert view.mass_threshold == pytest.approx(t)
        kept = panel.current_map > 0
        np.testing.assert_array_equal(kept, mass_threshold(torch.from_numpy(raw), t).numpy())
        np.testing.assert_allclose(panel.current_map[kept], raw[kept], rtol=1e-6)
        assert raw[kept].sum() >= t * raw.sum() > raw[kept].sum() - raw[kept].min()
    control.check.setChecked(False)
    assert view.mass_threshold is None
    np.testing.assert_allclose(panel.current_map, raw, rtol=1e-6)


def test_the_control_follows_the_state(control, filled_state):
    filled_state.view.mass_threshold = 0.45
    assert control.check.isChecked()
    assert control.slider.value() == pytest.approx(0.45)
    filled_state.view.mass_threshold = None
    assert not control.check.isChecked()
    assert not control.slider.isEnabled()


def test_heads_in_colour_paint_each_patch_in_its_strongest_heads_colour(panel, filled_state):
    legend = panel.findChild(HeadLegend)
    assert legend.isHidden()
    filled_state.view.overlay = "heads"
    filled_state.selection.layer = 1
    heads = filled_state.results.analysis.cells(0, layer=1)[:-1]  # [H, rows, cols]
    scaled = heads / heads.max(axis=(1, 2), keepdims=True)
    owner = scaled.argmax(0)  # [rows, cols]
    assert len(np.unique(owner)) > 1  # the random heads share the patches
    palette = head_palette(len(heads))
    colours = panel.canvas.map_image  # the QImage drawn over the crop
    for (row, col), head in np.ndenumerate(owner):
        pixel = colours.pixelColor(col, row)
        expected = palette[head] * scaled[head, row, col] * 255
        np.testing.assert_allclose([pixel.red(), pixel.green(), pixel.blue()], expected, atol=1)
    np.testing.assert_allclose(panel.current_map, heads.max(0), rtol=1e-6)  # hover value
    assert not legend.isHidden()
    assert legend.text().count("■") == len(heads)
    r, g, b = (palette[2] * 255).round().astype(int)
    assert f"rgb({r}, {g}, {b})" in legend.text()


def test_heads_in_colour_follow_the_threshold(panel, filled_state):
    filled_state.view.overlay = "heads"
    filled_state.view.mass_threshold = 0.2
    dark = panel.canvas.map_image.pixelColor
    rows, cols = filled_state.layout.grid
    black = sum(dark(c, r).value() == 0 for r in range(rows) for c in range(cols))
    heads = filled_state.results.analysis.cells(0, layer=0, threshold=0.2)[:-1]
    assert black == int((heads.max(0) == 0).sum()) > 0


def test_the_window_toolbar_has_the_control(qtbot, settings):
    from tests.qt.shell_fakes import FakePipeline, build_window

    window = build_window(qtbot, settings, FakePipeline())
    control = window.toolbar.view_bar.findChild(MassThresholdControl)
    control.check.setChecked(True)
    assert window.state.view.mass_threshold == pytest.approx(0.6)
