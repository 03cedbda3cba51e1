from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.qt.panel_data import make_state, set_result
from vitviz.qt.panels.tokens import TokensPanel, describe_layout
from vitviz.state import AppState
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def state():
    return make_state(depth=3, heads=2)


@pytest.fixture
def panel(qtbot, state):
    panel = TokensPanel(state)
    qtbot.addWidget(panel)
    panel.resize(500, 700)
    panel.show()
    return panel


def test_summary_names_the_prefix_tokens_and_the_grid(panel):
    assert panel.summary.text() == "CLS + 2 registers · 3 × 5 patches"
    layout = TokenLayout(num_class=1, num_dist=1, num_reg=0, grid=(14, 14))
    assert describe_layout(layout) == "CLS + DIST · 14 × 14 patches"
    bare = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 6))
    assert describe_layout(bare) == "no prefix tokens · 2 × 6 patches"


def test_prefix_mass_is_what_the_patches_give_each_prefix_token(panel, state):
    inference = state.results.inference
    attention = inference.attentions.float()  # [L, H, N, N]
    prefix = inference.layout.num_prefix
    expected = attention[:, :, prefix:, :prefix].mean(dim=(1, 2)).numpy()  # [L, num_prefix]
    np.testing.assert_allclose(panel.prefix_mass, expected, rtol=1e-5)
    assert [line.get_label() for line in panel.axes.get_lines()[:3]] == ["CLS", "REG0", "REG1"]


def test_high_norm_tokens_of_the_selected_layer_are_outlined(panel, state):
    # panel_data gives the first patch a norm of 50 in every layer.
    assert panel.map.flags == [(0, 0)]
    assert "patch (0, 0)" in panel.flags_text.text()
    inference = state.results.inference
    norms = inference.token_norms.clone()
    norms[2, inference.layout.patch_index(1, 1)] = 80.0
    set_result(state, SimpleNamespace(**{**vars(inference), "token_norms": norms}))
    state.selection.layer = 2
    assert sorted(panel.map.flags) == [(0, 0), (1, 1)]
    assert "2 high-norm token(s)" in panel.flags_text.text()
    state.selection.layer = 1
    assert panel.map.flags == [(0, 0)]


def test_layer_change_moves_the_cursor_and_the_norm_map(panel, state):
    before = panel.map.map_image
    state.selection.layer = 1
    assert panel._cursor.get_xdata()[0] == 1
    assert panel.map.map_image is not before


def test_prefix_buttons_select_and_show_the_query(panel, state, qtbot):
    buttons = panel.chips.buttons
    assert [b.text() for b in buttons] == ["CLS", "REG0", "REG1"]
    assert buttons[0].isChecked()
    qtbot.mouseClick(buttons[2], Qt.MouseButton.LeftButton)
    assert state.selection.query == 2
    assert buttons[2].isChecked()
    assert not buttons[0].isChecked()
    state.selection.query = 1
    assert buttons[1].isChecked()


def test_clicking_a_patch_makes_it_the_query(panel, state, qtbot):
    pos = panel.map.cell_rect(1, 3).center().toPoint()
    qtbot.mouseClick(panel.map, Qt.MouseButton.LeftButton, pos=pos)
    assert state.selection.query == state.results.inference.layout.patch_index(1, 3)
    assert not any(b.isChecked() for b in panel.chips.buttons)


def test_models_without_prefix_tokens_and_the_empty_state(qtbot):
    state = AppState()
    panel = TokensPanel(state)
    qtbot.addWidget(panel)
    assert panel.summary.text() == "No result yet"
    bare = make_state(TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 6)), 2, 2)
    state.results.model = bare.results.model
    set_result(state, bare.results.inference, labels=bare.results.model.spec.labels)
    assert panel.prefix_mass.shape == (2, 0)
    assert panel.chips.buttons == []
    assert panel.map.has_map


def test_a_layer_change_moves_the_cursor_without_redrawing_the_plot(panel, state, qtbot):
    panel.canvas.draw()
    draws = panel.canvas.full_draws
    state.selection.layer = 2
    qtbot.wait(10)
    assert panel.canvas.full_draws == draws
    assert panel._cursor.get_xdata()[0] == 2


def test_another_image_on_the_same_model_moves_the_lines(panel, state):
    lines = panel.axes.get_lines()
    other = make_state(seed=5)
    set_result(state, other.results.inference)
    assert panel.axes.get_lines() == lines  # moved, not rebuilt
    mass = other.results.analysis.patch_prefix_mass  # [L, num_prefix]
    np.testing.assert_allclose(panel.prefix_mass, mass)
    for line, column in zip(lines[:-1], mass.T, strict=True):
        np.testing.assert_allclose(line.get_ydata(), column)
