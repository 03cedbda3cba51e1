"""Heads × layers: the current query's attention in every head of every layer.

One thumbnail per (layer, head) plus a fused column per layer, all coloured in one
``render_maps`` call and drawn as one atlas image. A change of query re-renders the
atlas (a few numpy operations); a change of layer or head only moves the outline.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vitviz.compute import render
from vitviz.qt.widgets.bindings import bind_check, bind_combo, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.labels import token_label
from vitviz.qt.widgets.mosaic import MosaicView
from vitviz.state import AppState
from vitviz.state.view import FUSIONS, SCALE_LABELS, SCALES


class HeadsGridPanel(QWidget):
    """Thumbnails of the query's attention for every (layer, head) and a fused column.

    Clicking a head selects its layer and head; clicking the fused column selects the
    layer. Ctrl + wheel or the zoom buttons change the thumbnail size.
    """

    title = "Heads × layers"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        # Thumbnails follow the panel's size until the user picks a zoom.
        self._auto_fit = True
        self._fitting = False
        self.mosaic = MosaicView()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.mosaic)
        self.scroll.setWidgetResizable(False)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.installEventFilter(self)

        self.fusion = QComboBox()
        self.fusion.setToolTip("Head fusion of the right-hand column")
        bind_combo(self.fusion, state.view, "fusion", FUSIONS)
        self.scale = QComboBox()
        self.scale.setToolTip("One colour scale per thumbnail, or one for all")
        bind_combo(self.scale, state.view, "scale", SCALES, SCALE_LABELS)
        self.drop_prefix = QCheckBox("patches only")
        self.drop_prefix.setToolTip("Drop the prefix tokens' columns and renormalise")
        bind_check(self.drop_prefix, state.view, "drop_prefix")
        self.zoom_out, self.zoom_in, self.zoom_fit = QToolButton(), QToolButton(), QToolButton()
        for button, text, tip in (
            (self.zoom_out, "−", "Smaller thumbnails (Ctrl + wheel)"),
            (self.zoom_in, "+", "Larger thumbnails (Ctrl + wheel)"),
            (self.zoom_fit, "Fit", "Fit all thumbnails in the panel"),
        ):
            button.setText(text)
            button.setToolTip(tip)
        self.zoom_out.clicked.connect(lambda: self.mosaic.set_zoom(self.mosaic.zoom - 1))
        self.zoom_in.clicked.connect(lambda: self.mosaic.set_zoom(self.mosaic.zoom + 1))
        self.zoom_fit.clicked.connect(self.fit)
        self.mosaic.zoom_changed.connect(self._on_zoom_changed)
        self.caption = QLabel()

        controls = QHBoxLayout()
        for widget in (self.fusion, self.scale, self.drop_prefix):
            controls.addWidget(widget)
        controls.addStretch(1)
        for widget in (self.zoom_out, self.zoom_in, self.zoom_fit):
            controls.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.caption)

        self.mosaic.cell_clicked.connect(self._on_cell_clicked)
        events = state.selection.events
        listen(self, state.results.events.analysis, self.render_all)
        listen(self, events.query, self.render_all)
        listen(self, events.layer, self._show_selection)
        listen(self, events.head, self._show_selection)
        for name in ("fusion", "colormap", "scale", "drop_prefix", "mass_threshold"):
            listen(self, getattr(state.view.events, name), self.render_all)
        self.render_all()

    @property
    def num_heads(self) -> int:
        """Head columns shown (the fused column comes after them)."""
        return self.mosaic.shape[1] - 1 if self.mosaic.shape[1] else 0

    @shows_errors
    def render_all(self, *_) -> None:
        """Recompute and redraw every thumbnail for the current query and options."""
        cells = self.thumbnail_maps()  # [L, H + 1, rows, cols]
        if cells is None:
            self.mosaic.set_cells(None)
            self.caption.setText("")
            return
        depth, columns = cells.shape[:2]
        view = self.state.view
        colours = render.render_maps(cells, view.colormap, view.scale)  # [L, H+1, r, c, 4]
        new_shape = self.mosaic.shape != (depth, columns)
        self.mosaic.values = cells  # read out on hover
        self.mosaic.set_cells(
            colours,
            row_labels=[f"L{i}" for i in range(depth)],
            col_labels=[f"h{i}" for i in range(columns - 1)] + [view.fusion],
        )
        if new_shape:
            # Another model: start again from the zoom that shows every head.
            self.fit()
        self._show_selection()

    def show_error(self, message: str) -> None:
        self.mosaic.set_cells(None, placeholder=message)
        self.caption.setText("")

    def thumbnail_maps(self) -> np.ndarray | None:
        """``[L, H + 1, rows, cols]`` maps of the query: every head, then the fused one."""
        analysis, view = self.state.results.analysis, self.state.view
        if analysis is None:
            return None
        return analysis.cells(
            self.state.selection.query,
            fusion=view.fusion,
            renormalize=view.drop_prefix,
            threshold=view.mass_threshold,
        )

    def fit(self) -> None:
        """Choose the largest zoom at which every thumbnail is visible, and keep fitting."""
        self._auto_fit, self._fitting = True, True
        # The size without scroll bars: a fitted mosaic needs none.
        self.mosaic.set_zoom(self.mosaic.fit_zoom(self.scroll.maximumViewportSize()))
        self._fitting = False

    def _on_zoom_changed(self, _zoom: int) -> None:
        if not self._fitting:
            self._auto_fit = False

    def _show_selection(self, *_) -> None:
        selection, analysis = self.state.selection, self.state.results.analysis
        if analysis is None:
            return
        self.mosaic.set_marker((selection.layer, selection.head))
        self.caption.setText(
            f"query {token_label(analysis.layout, selection.query)} · "
            f"layer {selection.layer}, head {selection.head}"
        )

    def _on_cell_clicked(self, row: int, col: int) -> None:
        selection = self.state.selection
        selection.layer = row
        if col < self.num_heads:
            selection.head = col

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.scroll and event.type() == QEvent.Type.Resize and self._auto_fit:
            self.fit()
        return super().eventFilter(watched, event)
