import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.qt.panel_data import make_state
from vitviz.qt.panels.class_map import ClassMapPanel
from vitviz.state import AppState


@pytest.fixture
def state():
    return make_state(num_classes=6)


@pytest.fixture
def panel(qtbot, state):
    panel = ClassMapPanel(state)
    qtbot.addWidget(panel)
    panel.resize(400, 500)
    panel.show()
    return panel


def grid_map(state, seed):
    rows, cols = state.results.inference.layout.grid
    return np.random.default_rng(seed).random((rows, cols)).astype(np.float32)


def test_without_a_class_it_says_how_to_pick_one(panel, state):
    assert panel.class_map() is None
    assert not panel.map.has_map
    assert "Click a class" in panel.map.placeholder
    assert panel.classes.currentText() == "no class"
    assert panel.classes.count() == 7


def test_a_chosen_class_waits_for_its_map_then_shows_it(panel, state):
    state.selection.class_index = 2
    assert "Computing the map of class 2" in panel.map.placeholder
    values = grid_map(state, 0)
    state.results.class_maps = {(2, "relevance"): values}
    np.testing.assert_array_equal(panel.class_map(), values)
    np.testing.assert_array_equal(panel.map.values, values)
    assert panel.map.has_map
    assert panel.caption.text() == "class 2 · relevance (Chefer et al.)"


def test_maps_are_looked_up_per_class_and_method(panel, state):
    relevance, rollout = grid_map(state, 1), grid_map(state, 2)
    other = grid_map(state, 3)
    state.results.class_maps = {
        (1, "relevance"): relevance,
        (1, "grad_rollout"): rollout,
        (4, "relevance"): other,
    }
    state.selection.class_index = 1
    np.testing.assert_array_equal(panel.map.values, relevance)
    panel.method.setCurrentIndex(1)
    assert state.view.class_method == "grad_rollout"
    np.testing.assert_array_equal(panel.map.values, rollout)
    state.view.class_method = "relevance"
    assert panel.method.currentIndex() == 0
    state.selection.class_index = 4
    np.testing.assert_array_equal(panel.map.values, other)


def test_the_class_box_sets_and_follows_the_selected_class(panel, state):
    panel.classes.setCurrentIndex(4)
    assert state.selection.class_index == 3
    state.selection.class_index = 5
    assert panel.classes.currentText() == "5: class 5"
    panel.classes.setCurrentIndex(0)
    assert state.selection.class_index is None


def test_clicking_the_map_selects_the_query(panel, state, qtbot):
    state.results.class_maps = {(0, "relevance"): grid_map(state, 4)}
    state.selection.class_index = 0
    pos = panel.map.cell_rect(1, 2).center().toPoint()
    qtbot.mouseClick(panel.map, Qt.MouseButton.LeftButton, pos=pos)
    assert state.selection.query == state.results.inference.layout.patch_index(1, 2)


def test_colormap_changes_recolour_without_new_maps(panel, state):
    state.results.class_maps = {(0, "relevance"): grid_map(state, 5)}
    state.selection.class_index = 0
    before = panel.map.map_image.pixelColor(0, 0)
    state.view.colormap = "gray"
    after = panel.map.map_image.pixelColor(0, 0)
    assert after.red() == after.green() == after.blue()
    assert before != after


def test_a_new_model_refills_the_classes(qtbot):
    state = AppState()
    panel = ClassMapPanel(state)
    qtbot.addWidget(panel)
    assert panel.classes.count() == 1
    other = make_state(num_classes=3)
    state.results.model = other.results.model
    assert panel.classes.count() == 4


def test_typing_part_of_a_name_finds_the_class(panel, state, qtbot):
    completer = panel.classes.completer()
    completer.setCompletionPrefix("s 4")
    assert completer.currentCompletion() == "4: class 4"
    panel.classes.setCurrentIndex(panel.classes.findText("4: class 4"))
    assert state.selection.class_index == 4
