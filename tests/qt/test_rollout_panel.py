import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.qt.panel_data import make_state, set_result
from tests.qt.shell_fakes import FakePipeline
from vitviz.compute import rollout
from vitviz.qt.controller import Controller
from vitviz.qt.panels.rollout_panel import RolloutPanel
from vitviz.state import AppState
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def state(qtbot):
    state = make_state(depth=4, heads=3)
    # The controller's worker recomputes the rollout when the options change.
    state.controller = Controller(state, synchronous=True, pipeline=FakePipeline())
    return state


@pytest.fixture
def panel(qtbot, state):
    panel = RolloutPanel(state)
    qtbot.addWidget(panel)
    panel.resize(500, 700)
    panel.show()
    return panel


def reference(state, **kwargs):
    inference = state.results.inference
    return rollout.rollout(inference.attentions, inference.layout, **kwargs).numpy()


def test_default_is_the_class_token_rollout_through_every_layer(panel, state):
    np.testing.assert_allclose(panel.shown_map(), reference(state), rtol=1e-5, atol=1e-7)
    assert panel.maps.shape == (4, 3, 5)
    assert panel.caption.text() == "rollout L0-L3 · mean of heads · query CLS"


def test_layer_slider_shows_the_rollout_up_to_each_layer(panel, state):
    panel.layer_slider.setValue(1)
    assert state.rollout.shown_layer == 1
    np.testing.assert_allclose(panel.shown_map(), reference(state, end_layer=1), rtol=1e-5)
    state.rollout.shown_layer = 2
    assert panel.layer_slider.value() == 2
    np.testing.assert_allclose(panel.shown_map(), reference(state, end_layer=2), rtol=1e-5)
    panel.layer_slider.setValue(3)
    assert state.rollout.shown_layer is None


def test_controls_set_the_options_and_the_map_follows(panel, state):
    panel.fusion.setCurrentIndex(panel.fusion.findText("max"))
    assert state.rollout.fusion == "max"
    panel.discard.setValue(0.5)
    assert state.rollout.discard_ratio == pytest.approx(0.5)
    panel.residual_weight.setValue(0.8)
    assert state.rollout.residual == pytest.approx(0.8)
    # The state's residual is the identity's weight: (1 − w)·A + w·I.
    expected = reference(state, head_fusion="max", discard_ratio=0.5, residual_weight=0.8)
    np.testing.assert_allclose(panel.shown_map(), expected, rtol=1e-4, atol=1e-7)


def test_options_from_the_state_move_the_controls(panel, state):
    state.rollout.fusion = "min"
    state.rollout.discard_ratio = 0.25
    state.rollout.end_layer = 2
    assert panel.fusion.currentText() == "min"
    assert panel.discard.value() == pytest.approx(0.25)
    assert panel.end_layer.value() == 2
    assert (panel.layer_slider.minimum(), panel.layer_slider.maximum()) == (0, 2)
    state.rollout.end_layer = None
    assert panel.end_layer.text() == "last"


def test_start_and_end_layer_restrict_the_chain(panel, state):
    panel.start_layer.setValue(1)
    panel.end_layer.setValue(2)
    assert (state.rollout.start_layer, state.rollout.end_layer) == (1, 2)
    assert panel.maps.shape[0] == 2
    np.testing.assert_allclose(
        panel.shown_map(), reference(state, start_layer=1, end_layer=2), rtol=1e-5
    )
    panel.end_layer.setValue(-1)
    assert state.rollout.end_layer is None


def test_invalid_layers_show_a_message_instead_of_failing(panel, state):
    state.rollout.end_layer = 1
    state.rollout.start_layer = 3
    assert panel.shown_map() is None
    assert not panel.map.has_map


def test_query_is_ignored_unless_the_rollout_follows_it(panel, state):
    layout = state.results.inference.layout
    before = panel.shown_map().copy()
    state.selection.query = layout.patch_index(1, 1)
    np.testing.assert_array_equal(panel.shown_map(), before)
    panel.query.setCurrentIndex(1)
    assert state.rollout.follow_query
    query = layout.patch_index(1, 1)
    np.testing.assert_allclose(panel.shown_map(), reference(state, query=query), rtol=1e-5)
    assert "patch (1, 1)" in panel.caption.text()


def test_clicking_the_map_selects_the_query(panel, state, qtbot):
    state.rollout.follow_query = True
    pos = panel.map.cell_rect(2, 4).center().toPoint()
    qtbot.mouseClick(panel.map, Qt.MouseButton.LeftButton, pos=pos)
    layout = state.results.inference.layout
    assert state.selection.query == layout.patch_index(2, 4)
    np.testing.assert_allclose(
        panel.shown_map(), reference(state, query=layout.patch_index(2, 4)), rtol=1e-5
    )


def test_a_model_without_class_token_rolls_out_the_mean_of_patches(qtbot):
    state = make_state(TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 6)), 3, 2)
    panel = RolloutPanel(state)
    qtbot.addWidget(panel)
    np.testing.assert_allclose(panel.shown_map(), reference(state), rtol=1e-5)
    assert panel.caption.text().endswith("query mean of patches (avg pool)")


def test_empty_state_then_a_result(qtbot):
    state = AppState()
    panel = RolloutPanel(state)
    qtbot.addWidget(panel)
    assert panel.shown_map() is None
    filled = make_state(depth=2, heads=2)
    state.results.model = filled.results.model
    set_result(state, filled.results.inference, labels=filled.results.model.spec.labels)
    assert panel.maps.shape[0] == 2


def test_play_steps_through_the_layers_and_wraps(panel, state, qtbot):
    panel.layer_slider.setValue(2)
    panel.step_shown_layer()
    assert state.rollout.shown_layer is None  # the last layer
    panel.step_shown_layer()
    assert state.rollout.shown_layer == 0
    panel.play.setChecked(True)
    assert panel.is_playing
    qtbot.waitUntil(lambda: state.rollout.shown_layer == 1, timeout=3000)
    panel.play.setChecked(False)
    assert not panel.is_playing


def test_valid_layers_again_bring_the_map_back(panel, state):
    state.rollout.end_layer = 7  # beyond this model's 4 blocks
    assert panel.shown_map() is None
    state.rollout.end_layer = None
    np.testing.assert_allclose(panel.shown_map(), reference(state), rtol=1e-5, atol=1e-7)
