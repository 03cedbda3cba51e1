"""Mean attention distance of every head against depth (the ViT paper's Fig. 7).

Points are coloured by entropy, by the mass the class token puts on prefix tokens, or by
head; clicking a point selects its (layer, head). The axes, the colour bar and their
ranges depend on the model only, so the figure is drawn once per model and colouring;
another image moves the points and a selection moves the ring, both blitted.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backend_bases import MouseEvent, PickEvent
from matplotlib.colors import ListedColormap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from vitviz.compute import render
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.plot_canvas import PlotCanvas
from vitviz.state import AppState

COLOUR_BY = ("entropy", "prefix mass", "head")
COLOUR_LABELS = {
    "entropy": "attention entropy (nats)",
    "prefix mass": "attention on prefix tokens",
    "head": "head",
}
PICK_RADIUS_PX = 12
HIGHLIGHT = "#00e6ff"


def farthest_mean_distance(grid: tuple[int, int], patch_size: tuple[int, int]) -> float:
    """The largest mean attention distance a head can have: each query on its farthest patch."""
    rows, cols = np.arange(grid[0]), np.arange(grid[1])
    dy = np.maximum(rows, grid[0] - 1 - rows)[:, None] * patch_size[0]  # [rows, 1]
    dx = np.maximum(cols, grid[1] - 1 - cols)[None, :] * patch_size[1]  # [1, cols]
    return float(np.hypot(dy, dx).mean())


class HeadStatsPlotPanel(QWidget):
    """Scatter of mean attention distance per (layer, head), linked to the selection."""

    title = "Head statistics"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.colour_by = QComboBox()
        self.colour_by.addItems(COLOUR_BY)
        self.colour_by.setToolTip("What the points' colour shows")
        self.colour_by.currentIndexChanged.connect(self.render_all)
        self.canvas = PlotCanvas(figsize=(5, 3.5))
        self.figure, self.axes = self.canvas.figure, self.canvas.axes
        self.canvas.restyled.connect(self.render_all)
        self._colorbar = self._ring = self._points = None
        self._key: tuple = ()
        self.positions = np.zeros((0, 2))  # [L * H, 2] (layer, distance) of each point
        self._colour = np.zeros((0,))  # [L * H] colour value of each point
        self._heads, self._colour_label = 1, ""
        self.canvas.mpl_connect("pick_event", self._on_pick)
        self.canvas.mpl_connect("motion_notify_event", self._on_move)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("colour by"))
        controls.addWidget(self.colour_by)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)

        listen(self, state.results.events.analysis, self._on_analysis)
        listen(self, state.view.events.colormap, self.render_all)
        listen(self, state.selection.events.layer, self._show_selection)
        listen(self, state.selection.events.head, self._show_selection)
        self.render_all()

    def statistics(self):
        """``(distance [L, H], colour [L, H] or None, colour label)`` of the current result."""
        analysis = self.state.results.analysis
        if analysis is None:
            return None
        distance = analysis.mean_distance  # [L, H]
        mode = self.colour_by.currentText()
        if mode == "entropy":
            colour = analysis.entropy
        elif mode == "prefix mass":
            colour = analysis.prefix_mass.sum(-1)  # [L, H]
        else:
            colour = np.broadcast_to(np.arange(distance.shape[1]), distance.shape)
        return distance, colour, COLOUR_LABELS[mode]

    def _ranges(self) -> tuple:
        """Shape, top of the distance axis and of the colour scale: per model, not per image."""
        analysis, model = self.state.results.analysis, self.state.results.model
        if analysis is None:
            return ()
        layout, shape = analysis.layout, analysis.mean_distance.shape
        patch = model.spec.patch_size if model is not None else (1, 1)
        colour_top = {"entropy": np.log(layout.num_tokens), "prefix mass": 1.0}
        top = colour_top.get(self.colour_by.currentText(), shape[1] - 1)
        return shape, farthest_mean_distance(layout.grid, patch) * 1.05, max(float(top), 1e-6)

    @shows_errors
    def render_all(self, *_) -> None:
        """Redraw the whole plot for the current result and colouring."""
        with self.canvas.style():
            self._draw_plot()

    def _on_analysis(self, *_) -> None:
        # Another image on the same model: the axes stay, the points move (a full draw
        # takes 40-100 ms, the UI thread's whole budget).
        result = self.statistics()
        if result is None or self._points is None or self._ranges() != self._key:
            self.render_all()
            return
        self._set_points(*result)
        self._show_selection()

    def _set_points(self, distance: np.ndarray, colour: np.ndarray, label: str) -> None:
        layers, heads = distance.shape
        depth = np.repeat(np.arange(layers), heads)  # [L * H], layer-major like ravel()
        self.positions = np.stack([depth, distance.ravel()], axis=1).astype(float)
        self._colour, self._colour_label = np.asarray(colour, dtype=float).ravel(), label
        self._heads = heads
        self._points.set_offsets(self.positions)
        self._points.set_array(self._colour)

    def _draw_plot(self) -> None:
        if self._colorbar is not None:
            self._colorbar.remove()
        self.axes.clear()
        self._colorbar = self._ring = self._points = None
        self._key, result = self._ranges(), self.statistics()
        if result is None:
            self.show_error("No result yet")
            return
        distance, colour, label = result
        _, distance_top, colour_top = self._key
        self.axes.set_axis_on()
        # The points take their colours from the same lookup table as every map.
        cmap = ListedColormap(render.colormap_lut(self.state.view.colormap) / 255.0)
        self._points = self.axes.scatter(
            [], [], c=[], cmap=cmap, vmin=0, vmax=colour_top, s=28, edgecolors="none"
        )
        self._points.set_picker(PICK_RADIUS_PX * self.canvas.device_pixel_ratio)
        self._set_points(distance, colour, label)
        self._colorbar = self.figure.colorbar(self._points, ax=self.axes, label=label)
        layers = distance.shape[0]
        self.axes.set(xlabel="layer", ylabel="mean attention distance (px)", ylim=(0, distance_top))
        self.axes.set(xlim=(-0.5, layers - 0.5), xticks=np.arange(0, layers, max(1, layers // 12)))
        self.axes.grid(alpha=0.3)
        (self._ring,) = self.axes.plot(
            [], [], "o", ms=11, mfc="none", mec=HIGHLIGHT, mew=2.0, zorder=5
        )
        self.canvas.set_overlays([self._points, self._ring])
        self._show_selection()
        self.canvas.settle()

    def show_error(self, message: str) -> None:
        """Say why there is no plot."""
        if self._colorbar is not None:
            self._colorbar.remove()
        self.positions, self._colorbar, self._ring, self._points = np.zeros((0, 2)), *[None] * 3
        self.axes.clear()
        self.axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
        self.axes.set_axis_off()
        self.canvas.set_overlays([])
        self.canvas.settle()

    def _show_selection(self, *_) -> None:
        if self._ring is None:
            return
        index = self.state.selection.layer * self._heads + self.state.selection.head
        if 0 <= index < len(self.positions):
            self._ring.set_data([self.positions[index, 0]], [self.positions[index, 1]])
        self.canvas.refresh_overlays()

    def describe_point(self, layer: int, head: int) -> str:
        """Tooltip text of point (layer, head)."""
        index = layer * self._heads + head
        distance, colour = self.positions[index, 1], self._colour[index]
        return f"layer {layer}, head {head}: {distance:.1f} px · {self._colour_label} {colour:.3g}"

    def _on_move(self, event: MouseEvent) -> None:
        hit, found = self._points.contains(event) if self._points else (False, {})
        # The top point under the pointer, as the pick of a click chooses it.
        text = self.describe_point(*divmod(int(found["ind"][-1]), self._heads)) if hit else ""
        self.canvas.setToolTip(text)

    def _on_pick(self, event: PickEvent) -> None:
        if event.artist is self._points and event.mouseevent.button == 1:
            self.state.selection.layer, self.state.selection.head = divmod(
                int(event.ind[-1]), self._heads
            )
