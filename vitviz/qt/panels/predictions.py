"""Top-k predicted classes with probability bars; clicking one asks for its class map.

The class-specific map itself is computed by the controller (a backward pass) and shown
by the class-map panel; this panel only sets ``selection.class_index`` and the method.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from vitviz.qt.widgets.bindings import bind_combo, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.probability_bars import ProbabilityBars
from vitviz.state import AppState
from vitviz.state.view import CLASS_METHOD_LABELS, CLASS_METHODS

DEFAULT_TOP_K = 5


class PredictionsPanel(QWidget):
    """The model's top-k classes for the current image; click one to see its map."""

    title = "Predictions"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.classes: list[int] = []  # class indices of the rows shown, best first
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        self.top_k.setValue(DEFAULT_TOP_K)
        self.top_k.setPrefix("top ")
        self.top_k.valueChanged.connect(self.render_all)
        self.method = QComboBox()
        self.method.setToolTip("How the class-specific map is computed")
        bind_combo(
            self.method, state.view, "class_method", CLASS_METHODS, CLASS_METHOD_LABELS.values()
        )
        self.bars = ProbabilityBars()
        self.bars.setToolTip("Click a class to see its class-specific map")
        self.note = QLabel()
        self.note.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(self.top_k)
        controls.addWidget(QLabel("map:"))
        controls.addWidget(self.method, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.bars)
        layout.addWidget(self.note)
        layout.addStretch(1)

        self.bars.row_clicked.connect(self._on_row_clicked)
        listen(self, state.results.events.analysis, self.render_all)
        listen(self, state.selection.events.class_index, self._show_selection)
        self.render_all()

    @shows_errors
    def render_all(self, *_) -> None:
        """Show the top-k of the classes the worker ranked."""
        analysis = self.state.results.analysis
        if analysis is None:
            self.classes = []
            self.bars.set_items([])
            self.note.setText("")
            return
        top = analysis.predictions
        shown = top.classes[: self.top_k.value()]
        self.classes = [p.index for p in shown]
        self.bars.set_items([(p.label, p.probability) for p in shown], top.reason or "")
        self.note.setText(top.reason or "")
        self._show_selection()

    def show_error(self, message: str) -> None:
        self.classes = []
        self.bars.set_items([], message)
        self.note.setText(message)

    def _show_selection(self, *_) -> None:
        index = self.state.selection.class_index
        self.bars.set_selected(self.classes.index(index) if index in self.classes else None)

    def _on_row_clicked(self, row: int) -> None:
        if 0 <= row < len(self.classes):
            self.state.selection.class_index = self.classes[row]
