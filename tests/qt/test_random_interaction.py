"""Thousands of random user actions while the worker runs: nothing raises, nothing sticks.

Clicks anywhere in the panels, pointer moves, key presses, slider and combo box moves,
spin boxes, and new images, preprocessing modes and models — many of them landing while
a forward pass or a class map is still running in the worker thread, so that stale
results arrive after newer requests. Two small real models with different token layouts
(class token; registers without a class token) make every switch change the layout.
Exceptions in Qt slots fail the test (pytest-qt), exceptions in state listeners reach the
action that caused them. At the end the worker must go idle, the busy state clear, and
the shown result, layout and selection agree with each other.
"""

import os
import random

import numpy as np
import pytest
import shiboken6
import timm
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QWidget,
)

from tests.qt.shell_fakes import make_image, make_spec
from vitviz.errors import ModelLoadError
from vitviz.qt.controller import Controller, Pipeline
from vitviz.qt.main_window import MainWindow
from vitviz.state import AppState, LoadedModel
from vitviz.vit import from_timm
from vitviz.vit.layout import TokenLayout

ACTIONS = int(os.environ.get("VITVIZ_RANDOM_ACTIONS", 2000))
KEYS = (
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_BracketLeft,
    Qt.Key.Key_BracketRight,
    Qt.Key.Key_Home,
    Qt.Key.Key_G,
    Qt.Key.Key_C,
    Qt.Key.Key_F,
    Qt.Key.Key_M,
    Qt.Key.Key_Plus,
    Qt.Key.Key_Minus,
    Qt.Key.Key_1,
    Qt.Key.Key_2,
    Qt.Key.Key_3,
    Qt.Key.Key_0,
)


def small_model(name: str, **kwargs) -> LoadedModel:
    torch.manual_seed(0)
    timm_model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, depth=3, num_classes=6, **kwargs
    )
    model = from_timm(timm_model.eval()).eval()
    num_class = 1 if kwargs.get("class_token", True) else 0
    layout = TokenLayout(num_class, 0, kwargs.get("reg_tokens", 0), (14, 14))
    return LoadedModel(model, make_spec(layout, (224, 224), crop_pct=0.9), name, "cpu")


@pytest.fixture(scope="module")
def models():
    return {
        "demo": small_model("demo"),
        "registers": small_model("registers", reg_tokens=4, class_token=False, global_pool="avg"),
    }


class ModelsPipeline(Pipeline):
    """Real preprocessing, forward passes and class maps on the small models."""

    def __init__(self, models):
        self.models = models

    def load_model(self, key, progress=None, cancelled=None):
        if key.source not in self.models:
            raise ModelLoadError(f"no model called {key.source}")
        return self.models[key.source]


def interactive_widgets(window: MainWindow) -> list[QWidget]:
    """Controls inside the panels (toolbar dialogs are left out: they would block)."""
    kinds = (QAbstractSlider, QComboBox, QAbstractSpinBox, QAbstractButton)
    found = []
    for panel in window.panels.values():
        found += [w for w in panel.findChildren(QWidget) if isinstance(w, kinds)]
    return found


def random_value(rng: random.Random, low, high):
    """A value in a control's range (float sliders report float limits)."""
    if isinstance(low, float) or isinstance(high, float):
        return rng.uniform(low, high)
    return rng.randint(low, high)


def act(rng: random.Random, qtbot, window: MainWindow) -> None:
    state = window.state
    roll = rng.random()
    if roll < 0.30:  # a click anywhere in a visible panel
        panel = rng.choice([p for p in window.panels.values() if p.isVisible()])
        targets = [panel, *(w for w in panel.findChildren(QWidget) if w.isVisible())]
        target = rng.choice(targets)
        if isinstance(target, QComboBox):
            return  # opening a popup menu is Qt's business; choices are made below
        pos = QPoint(rng.randrange(max(1, target.width())), rng.randrange(max(1, target.height())))
        qtbot.mouseMove(target, pos)
        if shiboken6.isValid(target):  # hovering may have rebuilt the panel's buttons
            qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=pos)
    elif roll < 0.55:
        qtbot.keyClick(window, rng.choice(KEYS))
    elif roll < 0.75:  # a control moved
        widget = rng.choice(interactive_widgets(window))
        if isinstance(widget, QAbstractSlider | QSpinBox | QDoubleSpinBox):
            widget.setValue(random_value(rng, widget.minimum(), widget.maximum()))
        elif isinstance(widget, QComboBox) and widget.count():
            widget.setCurrentIndex(rng.randrange(widget.count()))
        elif isinstance(widget, QAbstractButton) and widget.isEnabled():
            widget.click()
    elif roll < 0.80:
        window.state.view.opacity = rng.random()
    elif roll < 0.87:
        size = rng.randrange(60, 400), rng.randrange(60, 400)
        window.images.set_image(make_image(*size, seed=rng.randrange(10**6)))
    elif roll < 0.90:
        state.inputs.preprocess_mode = rng.choice(["crop", "whole", "native"])
    elif roll < 0.94:
        window.models.load_model_source(rng.choice(["demo", "registers"]))
    elif roll < 0.95:
        window.models.load_model_source("missing-model")  # fails: the current model stays
    elif roll < 0.97:
        window.controller.cancel()
    else:  # let the worker deliver, now and then
        qtbot.wait(rng.choice([1, 5, 20]))


def check_consistent(window: MainWindow) -> None:
    state = window.state
    results, selection = state.results, state.selection
    assert results.inference is not None
    layout = results.inference.layout
    assert results.prepared.grid.layout == layout
    assert 0 <= selection.query < layout.num_tokens
    assert 0 <= selection.layer < state.depth
    assert 0 <= selection.head < state.num_heads
    assert results.inference.attentions.shape[1:3] == (state.depth, state.num_heads)
    assert results.model.source in ("demo", "registers")
    assert state.inputs.model_source == results.model.source
    grid_map = window.panels["image_panel"].current_map
    assert grid_map is None or grid_map.shape == layout.grid
    # The worker's derived analyses belong to the result shown and the options chosen.
    analysis = results.analysis
    assert analysis.layout == layout
    assert analysis.mean_distance.shape == (
        state.depth,
        state.num_heads,
    )
    assert results.rollout.options == window.controller.rollout_options()
    assert results.rollout.error or results.rollout.layout == layout


def test_random_interaction_never_raises_or_sticks(qtbot, settings, models):
    state = AppState()
    controller = Controller(state, pipeline=ModelsPipeline(models))
    window = MainWindow(state, controller, settings)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.images.set_image(make_image(300, 200))
    qtbot.waitUntil(lambda: state.results.inference is not None, timeout=30_000)
    rng = random.Random(1234)
    for _ in range(ACTIONS):
        act(rng, qtbot, window)
        QApplication.processEvents()
    controller.cancel()  # a last request may be waiting; cancel it, then let all finish
    window.images.set_image(make_image(120, 90, seed=7))
    qtbot.waitUntil(lambda: controller.idle, timeout=60_000)
    assert controller.wait()
    assert not state.results.busy
    assert not window.status.busy_bar.isVisible()
    assert controller.dropped > 0  # stale results did arrive, and were dropped
    check_consistent(window)
    assert state.results.image.name == "random-7"
    image_panel = window.panels["image_panel"]
    state.view.overlay = "head"  # the random walk may have left "no map" chosen
    assert image_panel.current_map.shape == state.layout.grid
    assert np.isfinite(image_panel.current_map).all()
