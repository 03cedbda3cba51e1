import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from tests.qt.shell_fakes import FakePipeline, fill_state, make_image
from vitviz.compute.rollout import rollout
from vitviz.qt.controller import Controller
from vitviz.qt.panels.image_panel import ImagePanel
from vitviz.state import AppState
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def panel(qtbot, filled_state):
    # These tests read the selected head's map of layer 0 (the first view is the rollout).
    filled_state.view.overlay, filled_state.selection.layer = "head", 0
    panel = ImagePanel(filled_state)
    qtbot.addWidget(panel)
    panel.resize(640, 520)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def head_map(state, layer, head, query):
    inference = state.results.inference
    layout = inference.layout
    row = inference.attentions[0, layer, head, query].float()  # [N]
    return row[layout.num_prefix :].reshape(layout.grid).numpy()


def patch_point(panel, row, col):
    left, top, right, bottom = panel.state.results.prepared.grid.patch_box(row, col)
    point = panel.canvas.to_widget((left + right) / 2, (top + bottom) / 2)
    return QPoint(round(point.x()), round(point.y()))


def test_prefix_tokens_are_chips_and_the_query_is_checked(panel, filled_state):
    labels = [b.text() for b in panel.chips.group.buttons()]
    assert labels == ["CLS", "REG0", "REG1"]
    checked = [b.text() for b in panel.chips.group.buttons() if b.isChecked()]
    assert checked == ["CLS"]
    filled_state.select_token(2)
    checked = [b.text() for b in panel.chips.group.buttons() if b.isChecked()]
    assert checked == ["REG1"]


def test_clicking_a_chip_makes_its_token_the_query(panel, filled_state, qtbot):
    chip = panel.findChild(type(panel.chips.group.buttons()[0]), "chip_REG0")
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert filled_state.selection.query == 1


def test_the_map_follows_query_layer_and_head(panel, filled_state):
    np.testing.assert_allclose(panel.current_map, head_map(filled_state, 0, 0, 0), rtol=1e-3)
    filled_state.selection.layer = 2
    filled_state.selection.head = 3
    filled_state.select_token(filled_state.layout.patch_index(1, 4))
    expected = head_map(filled_state, 2, 3, filled_state.layout.patch_index(1, 4))
    np.testing.assert_allclose(panel.current_map, expected, rtol=1e-3)
    assert panel.canvas.has_map


def test_fused_and_rollout_maps(panel, filled_state):
    filled_state.controller = Controller(filled_state, synchronous=True, pipeline=FakePipeline())
    filled_state.view.overlay = "fusion"
    filled_state.view.fusion = "max"
    inference = filled_state.results.inference
    expected = np.stack([head_map(filled_state, 0, h, 0) for h in range(4)]).max(0)
    np.testing.assert_allclose(panel.current_map, expected, rtol=1e-3)
    filled_state.view.overlay = "rollout"
    filled_state.rollout.discard_ratio = 0.5
    patch = filled_state.layout.patch_index(2, 2)
    filled_state.select_token(patch)
    expected = rollout(inference.attentions, inference.layout, discard_ratio=0.5)[0].numpy()
    np.testing.assert_allclose(panel.current_map, expected, rtol=1e-4)
    filled_state.rollout.follow_query = True
    expected = rollout(inference.attentions, inference.layout, query=patch, discard_ratio=0.5)[
        0
    ].numpy()
    np.testing.assert_allclose(panel.current_map, expected, rtol=1e-4)


def test_class_map_shows_once_cached(panel, filled_state):
    filled_state.view.overlay = "class"
    filled_state.selection.class_index = 2
    assert panel.current_map is None
    assert not panel.canvas.has_map
    grid_map = np.arange(24, dtype=np.float32).reshape(4, 6)
    filled_state.results.class_maps = {(2, filled_state.view.class_method): grid_map}
    np.testing.assert_array_equal(panel.current_map, grid_map)


def test_mass_threshold_zeroes_the_tail(panel, filled_state):
    filled_state.view.mass_threshold = 0.3
    kept = panel.current_map > 0
    full = head_map(filled_state, 0, 0, 0)
    assert 0 < kept.sum() < full.size
    assert full[kept].min() >= full[~kept].max()


def test_click_selects_the_patch_under_the_pointer(panel, filled_state, qtbot):
    qtbot.mouseClick(panel.canvas, Qt.MouseButton.LeftButton, pos=patch_point(panel, 2, 5))
    assert filled_state.selection.query == filled_state.layout.patch_index(2, 5)
    assert "patch (2, 5)" in panel.info.text()


def test_click_outside_the_crop_changes_nothing(panel, filled_state, qtbot):
    point = panel.canvas.to_widget(1.0, 1.0)  # top-left corner: cropped away
    qtbot.mouseClick(panel.canvas, Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert filled_state.selection.query == 0


def test_hover_sets_and_clears_the_hover_token(panel, filled_state, qtbot):
    qtbot.mouseMove(panel.canvas, patch_point(panel, 3, 0))
    assert filled_state.selection.hover == filled_state.layout.patch_index(3, 0)
    assert "Pointer: patch (3, 0)" in panel.info.text()
    qtbot.mouseMove(panel.canvas, panel.canvas.to_widget(1.0, 1.0).toPoint())
    assert filled_state.selection.hover is None


def test_arrow_keys_move_the_query(panel, filled_state, qtbot):
    filled_state.select_token(filled_state.layout.patch_index(1, 1))
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Down)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Down)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Down)
    assert filled_state.layout.patch_position(filled_state.selection.query) == (3, 2)


def test_view_controls_are_bound_both_ways(panel, filled_state):
    filled_state.view.opacity = 0.25
    assert panel.opacity_slider.value() == pytest.approx(0.25)
    panel.opacity_slider.setValue(0.8)
    assert filled_state.view.opacity == pytest.approx(0.8)
    panel.grid_check.setChecked(False)
    assert filled_state.view.show_grid is False
    filled_state.view.show_grid = True
    assert panel.grid_check.isChecked()


def test_map_pixels_reach_the_screen(panel, filled_state):
    filled_state.view.opacity = 1.0
    filled_state.view.show_grid = False
    filled_state.selection.layer = 1
    image = panel.canvas.grab().toImage()
    grid = filled_state.results.prepared.grid
    values = panel.current_map
    row, col = np.unravel_index(values.argmax(), values.shape)
    point = patch_point(panel, row, col)
    # inferno's brightest colour is pale yellow: the hottest patch must be bright
    color = image.pixelColor(point)
    assert color.red() > 200
    assert grid.patch_at(*panel.canvas.to_image(point.toPointF())) == (row, col)


def test_empty_state_shows_a_placeholder_and_ignores_clicks(qtbot):
    state = AppState()
    panel = ImagePanel(state)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.mouseClick(panel.canvas, Qt.MouseButton.LeftButton)
    assert panel.current_map is None
    assert state.selection.query == 0


def test_the_chosen_image_shows_before_the_first_result(qtbot):
    state = AppState()
    panel = ImagePanel(state)
    qtbot.addWidget(panel)
    state.inputs.image = make_image(200, 100)
    assert panel.canvas.target_rect().width() > 0
    assert not panel.canvas.has_map
    fill_state(state, image=state.inputs.image)
    assert panel.canvas.has_map


def test_a_new_result_replaces_chips_and_map(panel, filled_state):
    layout = TokenLayout(num_class=1, num_dist=1, num_reg=0, grid=(1, 1))
    fill_state(filled_state, layout=layout, image=make_image(90, 200, seed=3), seed=3)
    labels = [b.text() for b in panel.chips.group.buttons()]
    assert labels == ["CLS", "DIST"]
    expected = head_map(filled_state, filled_state.selection.layer, 0, 0)
    assert panel.current_map.shape == expected.shape
    np.testing.assert_allclose(panel.current_map, expected, rtol=1e-3)
    assert torch.is_tensor(filled_state.results.inference.attentions)
