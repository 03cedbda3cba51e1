import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from tests.qt.panel_data import make_state
from vitviz.compute import head_stats, render
from vitviz.qt.panels.selected_head import SelectedHeadPanel
from vitviz.state import AppState


@pytest.fixture
def state():
    return make_state(depth=3, heads=4)


@pytest.fixture
def panel(qtbot, state):
    panel = SelectedHeadPanel(state)
    qtbot.addWidget(panel)
    panel.resize(500, 600)
    panel.show()
    return panel


def expected_map(state):
    inference, sel = state.results.inference, state.selection
    layout = inference.layout
    row = inference.attentions[sel.layer, sel.head, sel.query].float()  # [N]
    return row[layout.num_prefix :].reshape(layout.grid).numpy()


def test_shows_the_selected_heads_row_for_the_query(panel, state):
    state.selection.layer, state.selection.head = 2, 1
    np.testing.assert_allclose(panel.head_map(), expected_map(state), rtol=1e-6)
    assert "layer 2, head 1" in panel.stats.text()
    assert "query CLS" in panel.stats.text()
    values = expected_map(state)
    colours = render.to_rgba(values, state.view.colormap, values.min(), values.max())
    assert panel.map.map_image.pixelColor(3, 1) == QColor(*colours[1, 3])


def test_statistics_name_the_peak_and_the_heads_mean_distance(panel, state):
    state.selection.layer, state.selection.head = 1, 3
    values = expected_map(state)
    row, col = np.unravel_index(values.argmax(), values.shape)
    assert f"patch ({row}, {col})" in panel.stats.text()
    stats = head_stats.head_statistics(
        state.results.inference.attentions, state.results.inference.layout, (16, 16)
    )
    assert f"{float(stats.mean_distance[1, 3]):.1f} px" in panel.stats.text()
    assert "REG1" in panel.stats.text()


def test_spin_boxes_follow_and_set_the_selection(panel, state):
    assert panel.layer.maximum() == 2
    assert panel.head.maximum() == 3
    state.selection.head = 2
    assert panel.head.value() == 2
    panel.layer.setValue(1)
    assert state.selection.layer == 1
    np.testing.assert_allclose(panel.head_map(), expected_map(state), rtol=1e-6)


def test_page_and_bracket_keys_step_layer_and_head(panel, state, qtbot):
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_PageDown)
    qtbot.keyClick(panel, Qt.Key.Key_PageDown)
    qtbot.keyClick(panel, Qt.Key.Key_PageDown)
    assert state.selection.layer == 2
    qtbot.keyClick(panel, Qt.Key.Key_PageUp)
    assert state.selection.layer == 1
    qtbot.keyClick(panel, Qt.Key.Key_BracketRight)
    assert state.selection.head == 1
    qtbot.keyClick(panel, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(panel, Qt.Key.Key_BracketLeft)
    assert state.selection.head == 0


def test_clicking_a_patch_makes_it_the_query(panel, state, qtbot):
    layout = state.results.inference.layout
    pos = panel.map.cell_rect(2, 3).center().toPoint()
    qtbot.mouseClick(panel.map, Qt.MouseButton.LeftButton, pos=pos)
    assert state.selection.query == layout.patch_index(2, 3)
    assert panel.map.marker == (2, 3)
    np.testing.assert_allclose(panel.head_map(), expected_map(state), rtol=1e-6)
    state.select_token(0)
    assert panel.map.marker is None


def test_view_options_reach_the_drawing(panel, state):
    rows, cols = state.results.inference.layout.grid
    assert panel.map.map_image.size().toTuple() == (cols, rows)
    state.view.upsampling = "bilinear"
    assert panel.map.map_image.size().toTuple() == (cols * 16, rows * 16)
    state.view.colormap = "gray"
    assert panel.map.colorbar_labels[1] != ""
    state.view.drop_prefix = True
    assert panel.head_map().sum() == pytest.approx(1.0, rel=1e-4)
    assert "on prefix tokens" not in panel.stats.text()


def test_without_a_result_nothing_is_drawn(qtbot):
    panel = SelectedHeadPanel(AppState())
    qtbot.addWidget(panel)
    assert panel.head_map() is None
    assert not panel.map.has_map


def test_presentation_mode_draws_a_high_contrast_grid(panel, state):
    assert not panel.map.high_contrast
    state.view.presentation = True
    assert panel.map.high_contrast
    panel.grab()
