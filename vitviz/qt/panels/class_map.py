"""The class-specific map of the selected class (relevance or gradient rollout).

The controller computes maps in its worker (one backward pass per class) and caches them
in ``results.class_maps`` under ``(class_index, method)``; this panel shows the cached
map, or says that it is being computed. Switching back to a class seen before is instant.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QComboBox, QCompleter, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from vitviz.qt.overlay import class_name, describe_overlay
from vitviz.qt.widgets.bindings import bind_combo, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.image_map import ImageMapView
from vitviz.state import AppState
from vitviz.state.view import CLASS_METHOD_LABELS, CLASS_METHODS

NO_CLASS = "no class"


class ClassMapPanel(QWidget):
    """Where the model finds evidence for one class, over the image it saw."""

    title = "Class map"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.classes = QComboBox()
        self.classes.setToolTip("The class whose evidence is shown")
        self.classes.setMinimumContentsLength(12)
        # Typing part of a name finds the class among thousands.
        self.classes.setEditable(True)
        self.classes.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.classes.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.classes.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.classes.currentIndexChanged.connect(self._on_class_chosen)
        self.method = QComboBox()
        bind_combo(
            self.method, state.view, "class_method", CLASS_METHODS, CLASS_METHOD_LABELS.values()
        )
        self.map = ImageMapView(state)
        self.caption = QLabel()

        controls = QHBoxLayout()
        controls.addWidget(self.classes, 1)
        controls.addWidget(self.method)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.caption)

        results = state.results.events
        listen(self, results.model, self._fill_classes)
        listen(self, results.inference, self.render_all)
        listen(self, results.class_maps, self.render_all)
        listen(self, state.selection.events.class_index, self._on_class_index)
        listen(self, state.view.events.class_method, self.render_all)
        self._fill_classes()

    def class_map(self) -> np.ndarray | None:
        """``[rows, cols]`` cached map of the selected class and method, or None."""
        # The controller stores numpy maps, computed in its worker.
        grid_map = self.state.results.class_maps.get(
            (self.state.selection.class_index, self.state.view.class_method)
        )
        return None if grid_map is None else np.asarray(grid_map, dtype=np.float32)

    @shows_errors
    def render_all(self, *_) -> None:
        """Redraw the selected class's map (or say why there is none)."""
        values = self.class_map()
        self.map.show_map(values, placeholder=self._placeholder())
        self.caption.setText("" if values is None else describe_overlay(self.state, "class"))

    def show_error(self, message: str) -> None:
        self.map.show_map(None, placeholder=message)
        self.caption.setText("")

    def _placeholder(self) -> str:
        index = self.state.selection.class_index
        if self.state.results.inference is None:
            return "No result yet"
        if index is None:
            return "Click a class in Predictions (or choose one above)"
        return f"Computing the map of {class_name(self.state)}…"

    def _labels(self) -> tuple[str, ...]:
        model = self.state.results.model
        return tuple(model.spec.labels or ()) if model is not None else ()

    def _fill_classes(self, *_) -> None:
        with QSignalBlocker(self.classes):
            self.classes.clear()
            # Position p holds class p - 1: one addItems call, fast for 21k ImageNet classes.
            self.classes.addItems(
                [NO_CLASS] + [f"{i}: {label}" for i, label in enumerate(self._labels())]
            )
        self._on_class_index()

    def _on_class_index(self, *_) -> None:
        index = self.state.selection.class_index
        position = 0 if index is None else index + 1
        if position < self.classes.count():
            with QSignalBlocker(self.classes):
                self.classes.setCurrentIndex(position)
        self.render_all()

    def _on_class_chosen(self, position: int) -> None:
        if position >= 0:
            self.state.selection.class_index = None if position == 0 else position - 1
