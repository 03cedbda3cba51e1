import pytest
import torch
from PySide6.QtCore import Qt

from tests.qt.panel_data import make_state, set_result
from vitviz.compute.predictions import NO_HEAD_REASON
from vitviz.qt.panels.predictions import PredictionsPanel
from vitviz.state import AppState


@pytest.fixture
def state():
    return make_state(num_classes=8)


@pytest.fixture
def panel(qtbot, state):
    panel = PredictionsPanel(state)
    qtbot.addWidget(panel)
    panel.resize(400, 400)
    panel.show()
    return panel


def test_rows_are_the_most_probable_classes_best_first(panel, state):
    probabilities = torch.softmax(state.results.inference.logits[0], -1)
    best = probabilities.topk(5)
    assert panel.classes == best.indices.tolist()
    labels = [label for label, _ in panel.bars.items]
    assert labels == [f"class {i}" for i in best.indices.tolist()]
    shown = [p for _, p in panel.bars.items]
    assert shown == pytest.approx(best.values.tolist(), rel=1e-6)


def test_clicking_a_row_selects_its_class(panel, state, qtbot):
    row = panel.bars.row_rect(2).center()
    qtbot.mouseClick(panel.bars, Qt.MouseButton.LeftButton, pos=row)
    assert state.selection.class_index == panel.classes[2]
    assert panel.bars.selected == 2


def test_a_class_chosen_elsewhere_is_highlighted_if_shown(panel, state):
    state.selection.class_index = panel.classes[1]
    assert panel.bars.selected == 1
    hidden = next(i for i in range(8) if i not in panel.classes)
    state.selection.class_index = hidden
    assert panel.bars.selected is None
    state.selection.class_index = None
    assert panel.bars.selected is None


def test_top_k_grows_up_to_the_number_of_classes(panel, state):
    panel.top_k.setValue(3)
    assert len(panel.bars.items) == 3
    panel.top_k.setValue(20)
    assert len(panel.bars.items) == 8
    assert sum(p for _, p in panel.bars.items) == pytest.approx(1.0, rel=1e-5)


def test_the_method_box_sets_and_follows_the_class_method(panel, state):
    panel.method.setCurrentIndex(1)
    assert state.view.class_method == "grad_rollout"
    state.view.class_method = "relevance"
    assert panel.method.currentIndex() == 0


def test_a_new_result_replaces_the_rows(panel, state):
    other = make_state(num_classes=8, seed=3)
    set_result(state, other.results.inference, labels=other.results.model.spec.labels)
    best = torch.softmax(other.results.inference.logits[0], -1).topk(5)
    assert panel.classes == best.indices.tolist()


def test_a_headless_model_says_it_has_no_classes(qtbot):
    state = make_state(num_classes=0)
    state.results.inference.logits = None
    set_result(state, state.results.inference)
    panel = PredictionsPanel(state)
    qtbot.addWidget(panel)
    assert panel.classes == []
    assert panel.note.text() == NO_HEAD_REASON


def test_empty_state(qtbot):
    panel = PredictionsPanel(AppState())
    qtbot.addWidget(panel)
    assert panel.bars.items == []
    qtbot.mouseClick(panel.bars, Qt.MouseButton.LeftButton)
