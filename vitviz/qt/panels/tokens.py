"""Prefix and high-norm tokens: where the attention goes that is not on the image.

The plot shows, per layer, the attention mass that the patches put on each prefix token
(class, distillation, registers: Darcet et al.'s "registers" soak up global attention).
Below it, the token norms of the selected layer over the image, with the high-norm
outliers outlined; clicking a patch, or a prefix token's button, makes it the query.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from vitviz.qt.widgets.bindings import listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.image_map import ImageMapView
from vitviz.qt.widgets.plot_canvas import PlotCanvas
from vitviz.qt.widgets.prefix_chips import PrefixChips
from vitviz.state import AppState

MAX_LISTED = 12
MIN_PLOT_HEIGHT = 120


def describe_layout(layout) -> str:
    """``CLS + DIST + 4 registers · 14 × 14 patches`` for a token layout."""
    parts = []
    if layout.num_class:
        parts.append("CLS")
    if layout.num_dist:
        parts.append("DIST")
    if layout.num_reg:
        parts.append(f"{layout.num_reg} register{'s' if layout.num_reg > 1 else ''}")
    rows, cols = layout.grid
    prefix = " + ".join(parts) if parts else "no prefix tokens"
    return f"{prefix} · {rows} × {cols} patches"


class TokensPanel(QWidget):
    """Attention on prefix tokens per layer, and high-norm tokens of the selected layer."""

    title = "Tokens"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.summary = QLabel()
        self.chips = PrefixChips(direction=QBoxLayout.Direction.LeftToRight)
        self.chips.chosen.connect(state.select_token)
        self.canvas = PlotCanvas(figsize=(5, 2.6))
        self.figure, self.axes = self.canvas.figure, self.canvas.axes
        self.canvas.restyled.connect(self.render_all)
        self._cursor = None
        self._lines: list = []
        self.prefix_mass: np.ndarray | None = None  # [L, num_prefix]
        self.map = ImageMapView(state)
        self.flags_text = QLabel()
        self.flags_text.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.chips, 0, Qt.AlignmentFlag.AlignLeft)
        # The plot and the norm map share the height; the user can move the divide.
        norms = QWidget()
        norms_layout = QVBoxLayout(norms)
        norms_layout.setContentsMargins(0, 0, 0, 0)
        norms_layout.addWidget(QLabel("token norms of the selected layer (high-norm outlined)"))
        norms_layout.addWidget(self.map, 1)
        norms_layout.addWidget(self.flags_text)
        self.canvas.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.map.setMinimumHeight(MIN_PLOT_HEIGHT)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.canvas)
        splitter.addWidget(norms)
        layout.addWidget(splitter, 1)

        listen(self, state.results.events.analysis, self._on_analysis)
        listen(self, state.selection.events.layer, self._show_layer)
        listen(self, state.selection.events.query, self._show_query)
        self.render_all()

    @shows_errors
    def render_all(self, *_) -> None:
        """Redraw the prefix-mass plot, the buttons and the selected layer's norms."""
        with self.canvas.style():
            self._draw_plot()

    def _on_analysis(self, *_) -> None:
        # Another image on the same model: the axes stay (mass is a fraction: 0 to 1), the
        # lines move and are blitted (a full draw takes 40-100 ms, the UI thread's budget).
        analysis, lines = self.state.results.analysis, self._lines
        mass = None if analysis is None else analysis.patch_prefix_mass  # [L, num_prefix]
        if (
            mass is None
            or self.prefix_mass is None
            or mass.shape != self.prefix_mass.shape
            or not lines
        ):
            self.render_all()
            return
        self.prefix_mass = mass
        for line, column in zip(lines, mass.T, strict=True):
            line.set_ydata(column)
        self._show_layer()

    def _draw_plot(self) -> None:
        analysis = self.state.results.analysis
        self._show_query()
        self.axes.clear()
        self._cursor, self._lines = None, []
        if analysis is None:
            self.prefix_mass = None
            self.summary.setText("No result yet")
            self.canvas.set_overlays([])
            self.canvas.settle()
            self._show_layer()
            return
        layout = analysis.layout
        self.summary.setText(describe_layout(layout))
        if layout.num_prefix:
            self.prefix_mass = analysis.patch_prefix_mass  # [L, num_prefix]
            self._lines = [
                self.axes.plot(self.prefix_mass[:, index], marker=".", label=label)[0]
                for index, label in enumerate(layout.prefix_labels)
            ]
            self.axes.legend(fontsize="small", ncols=min(len(layout.prefix_labels), 5))
            self.axes.set(xlabel="layer", ylabel="mass from patches", ylim=(0, 1))
            self.axes.grid(alpha=0.3)
            self._cursor = self.axes.axvline(self.state.selection.layer, color="#00a0c0", lw=1)
        else:
            self.prefix_mass = np.zeros((analysis.depth, 0))
            self.axes.text(0.5, 0.5, "This model has no prefix tokens", ha="center", va="center")
            self.axes.set_axis_off()
        # The lines and the layer cursor are blitted; the rest is drawn once per model.
        self.canvas.set_overlays(self._lines + ([self._cursor] if self._cursor else []))
        self.canvas.settle()
        self._show_layer()

    def show_error(self, message: str) -> None:
        """Say why the token views are empty."""
        self.map.show_map(None, placeholder=message)
        self.map.set_flags([])
        self.flags_text.setText(message)

    def _show_query(self, *_) -> None:
        layout = self.state.layout
        self.chips.show_tokens(layout.prefix_labels if layout else (), self.state.selection.query)

    @shows_errors
    def _show_layer(self, *_) -> None:
        analysis, layer = self.state.results.analysis, self.state.selection.layer
        norms, flags = (
            (None, None) if analysis is None else (analysis.token_norms, analysis.high_norm)
        )
        layout = self.state.layout
        if norms is None or layout is None or not 0 <= layer < len(norms):
            self.map.show_map(None, placeholder="No token norms")
            self.map.set_flags([])
            self.flags_text.setText("")
            return
        if self._cursor is not None:
            self._cursor.set_xdata([layer, layer])
            self.canvas.refresh_overlays()
        values = norms[layer, layout.num_prefix :].reshape(layout.grid)  # [rows, cols]
        self.map.show_map(values)
        flagged = np.flatnonzero(flags[layer]) if flags is not None else np.zeros(0, int)
        cells = [layout.patch_position(int(i)) for i in flagged if i >= layout.num_prefix]
        self.map.set_flags(cells)
        names = [layout.label(int(i)) for i in flagged]
        listed = ", ".join(names[:MAX_LISTED]) + (" …" if len(names) > MAX_LISTED else "")
        self.flags_text.setText(
            f"layer {layer}: {len(names)} high-norm token(s): {listed}"
            if names
            else f"layer {layer}: no high-norm tokens"
        )
