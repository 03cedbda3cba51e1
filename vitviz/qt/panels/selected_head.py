"""The selected (layer, head): its map for the query, large, over the image, with statistics.

PgUp / PgDn step the layer and [ / ] the head (when the panel has the focus; the main
window binds the same keys for the whole window). Clicking a patch makes it the query.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from vitviz.compute import attention_maps, render
from vitviz.qt.widgets.analysis_cache import first_image, head_statistics
from vitviz.qt.widgets.bindings import bind_value, listen
from vitviz.qt.widgets.colorbar import ColorBar
from vitviz.qt.widgets.map_view import MapView
from vitviz.state import AppState
from vitviz.vit.layout import TokenKind

STEP_KEYS = {
    Qt.Key.Key_PageUp: ("layer", -1),
    Qt.Key.Key_PageDown: ("layer", +1),
    Qt.Key.Key_BracketLeft: ("head", -1),
    Qt.Key.Key_BracketRight: ("head", +1),
}


class SelectedHeadPanel(QWidget):
    """One head's attention for the query token, drawn over the image the model saw."""

    title = "Selected head"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.layer = QSpinBox()
        self.layer.setPrefix("layer ")
        self.layer.setToolTip("Layer (PgUp / PgDn)")
        self.head = QSpinBox()
        self.head.setPrefix("head ")
        self.head.setToolTip("Head ([ / ])")
        bind_value(self.layer, state.selection, "layer")
        bind_value(self.head, state.selection, "head")
        self.view = MapView()
        self.colorbar = ColorBar()
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        header = QHBoxLayout()
        header.addWidget(self.layer)
        header.addWidget(self.head)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.colorbar)
        layout.addWidget(self.stats)

        self.view.cell_clicked.connect(self._on_cell_clicked)
        results, selection, view = state.results.events, state.selection.events, state.view.events
        listen(self, results.model, self._update_ranges)
        listen(self, results.prepared, self._update_background)
        listen(self, results.inference, self.render_all)
        for signal in (selection.query, selection.layer, selection.head):
            listen(self, signal, self.render_all)
        for name in ("colormap", "upsampling", "drop_prefix", "mass_threshold"):
            listen(self, getattr(view, name), self.render_all)
        listen(self, view.opacity, self.view.set_opacity)
        listen(self, view.show_grid, self.view.set_show_grid)
        self.view.set_opacity(state.view.opacity)
        self.view.set_show_grid(state.view.show_grid)
        self._update_ranges()
        self._update_background()
        self.render_all()

    def head_map(self) -> np.ndarray | None:
        """``[rows, cols]`` map of the selected head for the query (None without a result)."""
        inference = self.state.results.inference
        if inference is None:
            return None
        selection, view = self.state.selection, self.state.view
        layers = attention_maps.attention_layers(inference.attentions)
        if not (0 <= selection.layer < len(layers)):
            return None
        attention = first_image(layers[selection.layer], 3)  # [H, N, N]
        if not 0 <= selection.head < attention.shape[0]:
            return None
        row = attention_maps.select_query_rows(
            attention[selection.head], inference.layout, selection.query
        )  # [N]
        grid = attention_maps.patch_columns(row, inference.layout, renormalize=view.drop_prefix)
        if view.mass_threshold is not None:
            grid = grid * attention_maps.mass_threshold(grid, view.mass_threshold)
        return grid.numpy()

    def render_all(self, *_) -> None:
        """Recompute and redraw the map, its colour bar and the statistics."""
        values = self.head_map()
        if values is None:
            self.view.set_map(None)
            self.colorbar.set_range(self.state.view.colormap, None, None)
            self.stats.setText("")
            return
        view = self.state.view
        vmin, vmax = float(values.min()), float(values.max())
        smooth = view.upsampling == "bilinear" and self._input_size is not None
        shown = render.upsample(values, self._input_size, "bilinear") if smooth else values
        self.view.set_smooth(smooth)
        self.view.set_map(render.to_rgba(shown, view.colormap, vmin, vmax), values.shape)
        self.colorbar.set_range(view.colormap, vmin, vmax)
        layout = self.state.results.inference.layout
        query = self.state.selection.query
        is_patch = 0 <= query < layout.num_tokens and layout.kind(query) is TokenKind.PATCH
        self.view.set_marker(layout.patch_position(query) if is_patch else None)
        self.stats.setText(self._describe(values))

    def _describe(self, values: np.ndarray) -> str:
        inference = self.state.results.inference
        layout = inference.layout
        selection = self.state.selection
        peak = np.unravel_index(int(values.argmax()), values.shape)
        lines = [
            f"<b>layer {selection.layer}, head {selection.head}</b> · query "
            f"{layout.label(selection.query)}",
            f"peak {values.max():.3g} at patch ({peak[0]}, {peak[1]})",
        ]
        if layout.num_prefix and not self.state.view.drop_prefix:
            attention = first_image(
                attention_maps.attention_layers(inference.attentions)[selection.layer], 3
            )
            row = attention_maps.select_query_rows(
                attention[selection.head], layout, selection.query
            )  # [N]
            prefix = row[: layout.num_prefix]
            parts = ", ".join(
                f"{label} {float(v):.2f}"
                for label, v in zip(layout.prefix_labels, prefix, strict=True)
            )
            lines[-1] += f" · on prefix tokens {float(prefix.sum()):.2f} ({parts})"
        model = self.state.results.model
        if model is not None:
            stats = head_statistics(inference, model.spec.patch_size)
            distance = first_image(stats.mean_distance, 2)[selection.layer, selection.head]
            entropy = first_image(stats.entropy, 2)[selection.layer, selection.head]
            lines.append(
                f"this head over all queries: mean attention distance {float(distance):.1f} px"
                f" · entropy {float(entropy):.2f} nats"
            )
        return "<br>".join(lines)

    @property
    def _input_size(self) -> tuple[int, int] | None:
        prepared = self.state.results.prepared
        if prepared is None:
            return None
        width, height = prepared.image.size
        return height, width

    def _update_background(self, *_) -> None:
        prepared = self.state.results.prepared
        self.view.set_background(None if prepared is None else np.asarray(prepared.image))
        self.render_all()

    def _update_ranges(self, *_) -> None:
        self.layer.setMaximum(max(self.state.depth - 1, 0))
        self.head.setMaximum(max(self.state.num_heads - 1, 0))

    def _on_cell_clicked(self, row: int, col: int) -> None:
        layout = self.state.layout
        if layout is not None and self.view.grid == layout.grid:
            self.state.select_token(layout.patch_index(row, col))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        step = STEP_KEYS.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        what, delta = step
        if what == "layer":
            self.state.step_layer(delta)
        else:
            self.state.step_head(delta)
        event.accept()
