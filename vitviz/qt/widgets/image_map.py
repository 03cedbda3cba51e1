"""A grid map over the image the model saw, with its colour bar, following the view options.

Shared by the panels that show one map (selected head, rollout, class map, token norms):
it tracks the prepared image, the colormap, the upsampling, the opacity and the patch
grid from the state, so a panel only hands it the ``[rows, cols]`` values; a click on a
patch makes that patch the query.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from vitviz.compute import render
from vitviz.qt.overlay import map_limits
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.map_view import MapView
from vitviz.state import AppState
from vitviz.vit.layout import TokenKind


class ImageMapView(MapView):
    """A :class:`MapView` with a colour bar, bound to the state's view options."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.span: np.ndarray | None = None  # the maps the shared scale spans
        self._placeholder_text = "No result yet"
        view = state.view.events
        self.cell_clicked.connect(self._on_cell_clicked)
        listen(self, state.results.events.prepared, self._update_background)
        listen(self, view.colormap, self.redraw)
        listen(self, view.scale, self.redraw)
        for signal in (view.opacity, view.show_grid, view.presentation, view.upsampling):
            listen(self, signal, self._restyle)
        self.set_style(state.view)
        self._update_background()

    def show_map(
        self,
        values: np.ndarray | None,
        placeholder: str = "No result yet",
        span: np.ndarray | None = None,
    ) -> None:
        """Show ``[rows, cols]`` ``values``, or a message.

        The colours span the map's own min and max, or with the shared scale 0 to the
        maximum over ``span`` (its layer's maps; default the map itself).
        """
        self.values, self._placeholder_text = values, placeholder
        self.span = values if span is None else span
        self.redraw()

    def mark_query(self, token: int) -> None:
        """Outline the patch of query ``token`` (nothing for a prefix token)."""
        layout = self.state.layout
        is_patch = layout is not None and 0 <= token < layout.num_tokens
        is_patch = is_patch and layout.kind(token) is TokenKind.PATCH
        self.set_marker(layout.patch_position(token) if is_patch else None)

    @shows_errors
    def redraw(self, *_) -> None:
        """Colour and draw the current values with the current view options."""
        values, cmap = self.values, self.state.view.colormap
        lut = render.colormap_lut(cmap)  # [n, 4]
        if values is None:
            self.set_map(None, placeholder=self._placeholder_text)
            self.set_colorbar(lut)
            return
        shared = self.state.view.scale == "shared"
        vmin, vmax, self.note = map_limits(values, self.span if shared else None)
        prepared = self.state.results.prepared
        smooth = self._smooth and prepared is not None
        # Bilinear goes through the shared renderer at input resolution; nearest stays one
        # pixel per patch and is enlarged by Qt, which is the same thing.
        size = prepared.image.size[::-1] if smooth else None  # (height, width)
        shown = render.upsample(values, size, "bilinear") if smooth else values
        self.set_map(render.to_rgba(shown, cmap, vmin, vmax), values.shape)
        self.set_colorbar(lut, f"{vmin:.3g}", f"{vmax:.3g}" + (" layer max" if shared else ""))

    def show_error(self, message: str) -> None:
        self.set_map(None, placeholder=message)

    def _restyle(self, *_) -> None:
        self.set_style(self.state.view)
        self.redraw()

    def _update_background(self, *_) -> None:
        prepared = self.state.results.prepared
        self.set_background(None if prepared is None else np.asarray(prepared.image))
        self.redraw()

    def _on_cell_clicked(self, row: int, col: int) -> None:
        layout = self.state.layout
        if layout is not None and self.grid == layout.grid:
            self.state.select_token(layout.patch_index(row, col))
