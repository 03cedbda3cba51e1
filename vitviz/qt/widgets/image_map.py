"""A grid map over the image the model saw, with its colour bar, following the view options.

Shared by the panels that show one map (selected head, rollout, class map, token norms):
it tracks the prepared image, the colormap, the upsampling, the opacity and the patch
grid from the state, so a panel only hands it the ``[rows, cols]`` values; a click on a
patch makes that patch the query.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget

from vitviz.compute import render
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.widgets.colorbar import ColorBar
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.map_view import MapView
from vitviz.state import AppState


class ImageMapView(QWidget):
    """A :class:`MapView` and a :class:`ColorBar` bound to the state's view options."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.view = MapView()
        self.colorbar = ColorBar()
        self._values: np.ndarray | None = None
        self._placeholder = "No result yet"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.colorbar)

        view = state.view.events
        self.view.cell_clicked.connect(self._on_cell_clicked)
        listen(self, state.results.events.prepared, self._update_background)
        listen(self, view.colormap, self.redraw)
        listen(self, view.upsampling, self.redraw)
        listen(self, view.opacity, self.view.set_opacity)
        listen(self, view.show_grid, self.view.set_show_grid)
        self.view.set_opacity(state.view.opacity)
        self.view.set_show_grid(state.view.show_grid)
        listen(self, view.presentation, self.view.set_high_contrast)
        self.view.set_high_contrast(state.view.presentation)
        self._update_background()

    @property
    def values(self) -> np.ndarray | None:
        """The ``[rows, cols]`` map shown, or None."""
        return self._values

    def show_map(self, values: np.ndarray | None, placeholder: str = "No result yet") -> None:
        """Show ``[rows, cols]`` ``values`` (scaled to their own min and max), or a message."""
        self._values = values
        self._placeholder = placeholder
        self.redraw()

    @shows_errors
    def redraw(self, *_) -> None:
        """Colour and draw the current values with the current view options."""
        values, cmap = self._values, self.state.view.colormap
        if values is None:
            self.view.set_map(None, placeholder=self._placeholder)
            self.colorbar.set_range(cmap, None, None)
            return
        vmin, vmax = float(values.min()), float(values.max())
        size = self._input_size()
        smooth = self.state.view.upsampling == "bilinear" and size is not None
        # Bilinear goes through the shared renderer at input resolution; nearest stays one
        # pixel per patch and is enlarged by Qt, which is the same thing.
        shown = render.upsample(values, size, "bilinear") if smooth else values
        self.view.set_smooth(smooth)
        self.view.set_map(render.to_rgba(shown, cmap, vmin, vmax), values.shape)
        self.colorbar.set_range(cmap, vmin, vmax)

    def show_error(self, message: str) -> None:
        self.view.set_map(None, placeholder=message)

    def _input_size(self) -> tuple[int, int] | None:
        prepared = self.state.results.prepared
        if prepared is None:
            return None
        width, height = prepared.image.size
        return height, width

    def _update_background(self, *_) -> None:
        prepared = self.state.results.prepared
        self.view.set_background(None if prepared is None else np.asarray(prepared.image))
        self.redraw()

    def _on_cell_clicked(self, row: int, col: int) -> None:
        layout = self.state.layout
        if layout is not None and self.view.grid == layout.grid:
            self.state.select_token(layout.patch_index(row, col))
