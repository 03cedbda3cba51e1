"""The selected (layer, head): its map for the query, large, over the image, with statistics.

PgUp / PgDn step the layer and [ / ] the head (when the panel has the focus; the main
window binds the same keys for the whole window). Clicking a patch makes it the query.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from vitviz.qt.overlay import layer_maps
from vitviz.qt.widgets.bindings import bind_value, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.image_map import ImageMapView
from vitviz.qt.widgets.labels import token_label
from vitviz.state import AppState

STEP_KEYS = {
    Qt.Key.Key_PageUp: ("step_layer", -1),
    Qt.Key.Key_PageDown: ("step_layer", +1),
    Qt.Key.Key_BracketLeft: ("step_head", -1),
    Qt.Key.Key_BracketRight: ("step_head", +1),
}


class SelectedHeadPanel(QWidget):
    """One head's attention for the query token, drawn over the image the model saw."""

    title = "Selected head"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.layer, self.head = QSpinBox(), QSpinBox()
        for spin, name, keys in (
            (self.layer, "layer", "PgUp / PgDn"),
            (self.head, "head", "[ / ]"),
        ):
            spin.setPrefix(f"{name} ")
            spin.setToolTip(f"{name.title()} ({keys})")
            bind_value(spin, state.selection, name)
        self.map = ImageMapView(state)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        header = QHBoxLayout()
        header.addWidget(self.layer)
        header.addWidget(self.head)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.stats)

        results, selection, view = state.results.events, state.selection.events, state.view.events
        listen(self, results.model, self._update_ranges)
        listen(self, results.analysis, self.render_all)
        for signal in (selection.query, selection.layer, selection.head):
            listen(self, signal, self.render_all)
        for name in ("drop_prefix", "mass_threshold"):
            listen(self, getattr(view, name), self.render_all)
        self._update_ranges()
        self.render_all()

    def head_map(self) -> np.ndarray | None:
        """``[rows, cols]`` map of the selected head for the query (None without a result)."""
        analysis, selection = self.state.results.analysis, self.state.selection
        if analysis is None or not 0 <= selection.layer < analysis.depth:
            return None
        cells = layer_maps(self.state)  # [H + 1, rows, cols]
        return cells[selection.head] if 0 <= selection.head < len(cells) - 1 else None

    @shows_errors
    def render_all(self, *_) -> None:
        """Recompute and redraw the map, its colour bar and the statistics."""
        values = self.head_map()
        self.map.show_map(values, span=None if values is None else layer_maps(self.state)[:-1])
        self.stats.setText("" if values is None else self._describe(values))
        self.map.mark_query(self.state.selection.query)

    def show_error(self, message: str) -> None:
        self.map.show_map(None, placeholder=message)
        self.stats.setText("")

    def _describe(self, values: np.ndarray) -> str:
        analysis, selection = self.state.results.analysis, self.state.selection
        layout, layer, head = analysis.layout, selection.layer, selection.head
        peak = np.unravel_index(int(values.argmax()), values.shape)
        lines = [
            f"<b>layer {layer}, head {head}</b> · query {token_label(layout, selection.query)}",
            f"peak {values.max():.3g} at patch ({peak[0]}, {peak[1]})",
        ]
        if layout.num_prefix and not self.state.view.drop_prefix:
            prefix = analysis.query_row(layer, head, selection.query)[: layout.num_prefix]
            parts = ", ".join(
                f"{label} {float(v):.2f}"
                for label, v in zip(layout.prefix_labels, prefix, strict=True)
            )
            lines[-1] += f" · on prefix tokens {float(prefix.sum()):.2f} ({parts})"
        lines.append(
            "this head over all queries: mean attention distance "
            f"{analysis.mean_distance[layer, head]:.1f} px"
            f" · entropy {analysis.entropy[layer, head]:.2f} nats"
        )
        return "<br>".join(lines)

    def _update_ranges(self, *_) -> None:
        # A new model's selection may arrive before its depth: show it again once in range.
        for spin, top, value in (
            (self.layer, self.state.depth, self.state.selection.layer),
            (self.head, self.state.num_heads, self.state.selection.head),
        ):
            with QSignalBlocker(spin):
                spin.setMaximum(max(top - 1, 0))
                spin.setValue(value)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        step = STEP_KEYS.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        method, delta = step
        getattr(self.state, method)(delta)
        event.accept()
