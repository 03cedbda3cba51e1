"""Pointing at the image picks tokens: hover, click and arrow keys, and what they show.

The canvas reports pointer positions in original-image pixels; this helper turns them
into tokens through the result's patch grid, writes the hover and the query into the
state, and outlines both on the canvas with a line of text naming them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from vitviz.qt.panels.image_panel.canvas import ImageCanvas
from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState
from vitviz.vit.layout import TokenKind


class QueryPointer(QObject):
    """Links an :class:`ImageCanvas` to the selection's query and hover.

    Parameters
    ----------
    state : AppState
        Read for the patch grid; the hover and the query are written back.
    canvas : ImageCanvas
        Reports the pointer and arrow keys; shows the query and hover boxes.
    info : QLabel
        Names the query, the hovered patch and the map's value there.
    current_map : callable
        Returns the ``[rows, cols]`` map drawn on the canvas, or None.
    """

    def __init__(
        self,
        state: AppState,
        canvas: ImageCanvas,
        info: QLabel,
        current_map: Callable[[], np.ndarray | None],
    ) -> None:
        super().__init__(canvas)
        self.state = state
        self.canvas = canvas
        self.info = info
        self._current_map = current_map
        canvas.pointed.connect(self._on_pointed)
        canvas.left.connect(lambda: setattr(state.selection, "hover", None))
        canvas.clicked.connect(self._on_clicked)
        canvas.arrow.connect(state.move_query)
        listen(canvas, state.selection.events.hover, self.show_boxes)

    # --- state → canvas -------------------------------------------------------------
    def show_boxes(self, *_: object) -> None:
        """Outline the query and the hovered patch, and name them in the info line."""
        state = self.state
        prepared, layout = state.results.prepared, state.layout
        if prepared is None or layout is None:
            self.canvas.set_boxes(None, None)
            self.info.setText("")
            return
        grid = prepared.grid
        query, hover = state.selection.query, state.selection.hover
        query_box = grid.token_box(query) if 0 <= query < layout.num_tokens else None
        hover_box = grid.token_box(hover) if hover is not None else None
        self.canvas.set_boxes(query_box, hover_box)
        self.info.setText(self._describe(query, hover))

    def _describe(self, query: int, hover: int | None) -> str:
        layout = self.state.layout
        text = f"Query: {layout.label(query)}"
        if hover is not None and layout.kind(hover) is TokenKind.PATCH:
            text += f"   ·   Pointer: {layout.label(hover)}"
            grid_map = self._current_map()
            if grid_map is not None:
                row, col = layout.patch_position(hover)
                text += f" = {float(grid_map[row, col]):.4g}"
        return text

    # --- canvas → state -------------------------------------------------------------
    def _token_at(self, x: float, y: float) -> int | None:
        prepared = self.state.results.prepared
        if prepared is None or self.state.results.inference is None:
            return None
        return prepared.grid.token_at(x, y)

    def _on_pointed(self, x: float, y: float) -> None:
        token = self._token_at(x, y)
        if token != self.state.selection.hover:
            self.state.selection.hover = token

    def _on_clicked(self, x: float, y: float) -> None:
        token = self._token_at(x, y)
        if token is not None:
            self.state.select_token(token)
