"""Honest scales and readouts on the maps: the shared 0..layer-max scale, the
near-uniform note, hover values on maps and thumbnails, the rollout's query marker."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from tests.qt.panel_data import make_state
from vitviz.qt.panels.heads_grid import HeadsGridPanel
from vitviz.qt.panels.image_panel import ImagePanel
from vitviz.qt.panels.rollout_panel import RolloutPanel
from vitviz.qt.panels.selected_head import SelectedHeadPanel
from vitviz.qt.widgets.image_map import ImageMapView


@pytest.fixture
def state():
    return make_state(depth=3, heads=4)


def shown(qtbot, widget, size=(500, 500)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    return widget


def move_to(widget, pos: QPointF) -> None:
    """Send a real mouse move (with no button) to ``widget``."""
    event = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        pos,
        widget.mapToGlobal(pos),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def test_shared_scale_runs_from_0_to_the_layer_max(qtbot, state):
    panel = shown(qtbot, SelectedHeadPanel(state))
    heads = state.results.analysis.cells(state.selection.query, layer=1)[:-1]  # [H, r, c]
    # The layer's weakest head: another head of the layer peaks higher.
    state.selection.layer, state.selection.head = 1, int(heads.max(axis=(1, 2)).argmin())
    values = panel.head_map()
    assert heads.max() > values.max()
    assert panel.map.colorbar_labels == (f"{values.min():.3g}", f"{values.max():.3g}")
    state.view.scale = "shared"
    assert panel.map.colorbar_labels == ("0", f"{heads.max():.3g} layer max")
    # The same map is drawn darker: its peak is no longer the top of the colormap.
    peak = np.unravel_index(values.argmax(), values.shape)
    assert panel.map.map_image.pixelColor(peak[1], peak[0]).red() < 250
    state.view.scale = "per_map"
    assert panel.map.map_image.pixelColor(peak[1], peak[0]).red() > 250  # inferno's top


def test_the_image_overlay_follows_the_shared_scale(qtbot, filled_state):
    panel = shown(qtbot, ImagePanel(filled_state))
    filled_state.view.overlay = "fusion"
    filled_state.view.scale = "shared"
    layer = filled_state.results.analysis.cells(0, layer=filled_state.selection.layer)
    assert panel.canvas.colorbar_labels == ("0", f"{layer.max():.3g} layer max")


def test_a_near_uniform_map_says_so_and_a_peaked_one_does_not(qtbot, state):
    view = shown(qtbot, ImageMapView(state))
    uniform = np.full((3, 5), 0.000754, dtype=np.float32)
    uniform[1, 2] = 0.000755
    view.show_map(uniform)
    assert view.note == "near-uniform: 0.000754-0.000755"
    assert view.colorbar_labels == ("0", "0.000755")  # drawn flat, not at full contrast
    peaked = uniform.copy()
    peaked[0, 0] = 0.01
    view.show_map(peaked)
    assert view.note == ""
    assert view.colorbar_labels == ("0.000754", "0.01")


def test_hovering_a_thumbnail_reads_out_its_head_patch_and_value(qtbot, state):
    panel = shown(qtbot, HeadsGridPanel(state), (700, 500))
    mosaic, cells = panel.mosaic, panel.thumbnail_maps()  # [L, H + 1, rows, cols]
    rows, cols = cells.shape[-2:]
    rect = mosaic.cell_rect(2, 1)  # layer 2, head 1: a patch grid and a one-pixel gutter
    pos = QPointF(
        rect.left() + (3.5 / (cols + 1)) * rect.width(),
        rect.top() + (1.5 / (rows + 1)) * rect.height(),
    )
    move_to(mosaic, pos)
    expected = f"layer L2, h1 · patch (1, 3) = {cells[2, 1, 1, 3]:.4g}"
    assert mosaic.toolTip() == expected
    gutter = QPointF(rect.right() - 0.2 * rect.width() / (cols + 1), pos.y())
    assert mosaic.readout(gutter) == "layer L2, h1"


def test_hovering_the_rollout_reads_out_and_marks_the_query(qtbot, state):
    panel = shown(qtbot, RolloutPanel(state), (500, 700))
    values, view = panel.shown_map(), panel.map
    move_to(view, view.cell_rect(2, 4).center())
    assert view.toolTip() == f"patch (2, 4) = {values[2, 4]:.4g}"
    assert view.marker is None  # the class token's rollout: no patch to mark
    state.rollout.follow_query = True
    state.select_token(state.layout.patch_index(1, 3))
    assert view.marker == (1, 3)
    assert panel.caption.text() == "rollout L0-L2 · mean of heads · query patch (1, 3)"
