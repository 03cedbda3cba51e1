"""Mean attention distance of every head against depth (the ViT paper's Fig. 7).

Points are coloured by entropy or by the mass the class token puts on prefix tokens;
clicking a point selects its (layer, head). The plot is drawn once per result and
colouring; a change of selection only moves the highlight ring.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backend_bases import MouseEvent
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
        self._colorbar = None
        self._ring = self._points = None
        self._shape: tuple[int, ...] = ()
        self._positions = np.zeros((0, 2))  # [L * H, 2] (layer, distance) of each point
        self._heads = 1
        self.canvas.mpl_connect("button_press_event", self._on_press)
        self.canvas.mpl_connect("motion_notify_event", self._on_move)
        self._colour = np.zeros((0,))  # [L * H] colour value of each point
        self._colour_label = ""

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

    @property
    def positions(self) -> np.ndarray:
        """``[L * H, 2]`` data coordinates (layer, mean distance) of the points, layer-major."""
        return self._positions

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

    @shows_errors
    def render_all(self, *_) -> None:
        """Redraw the whole plot for the current result and colouring."""
        with self.canvas.style():
            self._draw_plot()

    def _on_analysis(self, *_) -> None:
        # Another image on the same model: move the points instead of rebuilding the plot
        # (a rebuild and its layout take 50 ms or more, the UI thread's budget).
        result, points = self.statistics(), self._points
        if result is None or points is None or result[0].shape != self._shape:
            self.render_all()
            return
        distance, colour, _ = result
        self.canvas.redraw()
        self._positions[:, 1] = distance.ravel()
        self._colour = np.asarray(colour, dtype=float).ravel()
        points.set_offsets(self._positions)
        points.set_array(self._colour)
        points.autoscale()
        self._colorbar.update_normal(points)
        self.axes.set_ylim(0, max(float(distance.max()), 1e-6) * 1.08)
        self._show_selection()

    def _draw_plot(self) -> None:
        if self._colorbar is not None:
            self._colorbar.remove()
            self._colorbar = None
        self.axes.clear()
        self._ring = self._points = None
        result = self.statistics()
        if result is None:
            self._positions = np.zeros((0, 2))
            self.axes.text(0.5, 0.5, "No result yet", ha="center", va="center")
            self.axes.set_axis_off()
            self.canvas.set_overlays([])
            self.canvas.settle()
            return
        distance, colour, label = result
        layers, heads = distance.shape
        self._heads, self._shape = heads, distance.shape
        depth = np.repeat(np.arange(layers), heads)  # [L * H], layer-major like ravel()
        self._positions = np.stack([depth, distance.ravel()], axis=1).astype(float)
        self._colour, self._colour_label = np.asarray(colour, dtype=float).ravel(), label
        self.axes.set_axis_on()
        # The points take their colours from the same lookup table as every map.
        cmap = ListedColormap(render.colormap_lut(self.state.view.colormap) / 255.0)
        points = self._points = self.axes.scatter(
            depth,
            distance.ravel(),
            c=np.asarray(colour).ravel(),
            cmap=cmap,
            s=28,
            edgecolors="none",
        )
        self._colorbar = self.figure.colorbar(points, ax=self.axes, label=label)
        self.axes.set_xlabel("layer")
        self.axes.set_ylabel("mean attention distance (px)")
        self.axes.set_xticks(np.arange(0, layers, max(1, layers // 12)))
        # Headroom so that the highest points and their ring are not cut in half.
        self.axes.set_ylim(0, max(float(distance.max()), 1e-6) * 1.08)
        self.axes.grid(alpha=0.3)
        (self._ring,) = self.axes.plot(
            [], [], "o", ms=11, mfc="none", mec=HIGHLIGHT, mew=2.0, zorder=5
        )
        # The ring follows the selection by blitting; the rest is drawn once.
        self.canvas.set_overlays([self._ring])
        self._show_selection()
        self.canvas.settle()

    def show_error(self, message: str) -> None:
        """Say why there is no plot."""
        if self._colorbar is not None:
            self._colorbar.remove()
            self._colorbar = None
        self._positions, self._ring, self._points = np.zeros((0, 2)), None, None
        self.axes.clear()
        self.axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
        self.axes.set_axis_off()
        self.canvas.set_overlays([])
        self.canvas.settle()

    def _show_selection(self, *_) -> None:
        if self._ring is None or not len(self._positions):
            return
        index = self.state.selection.layer * self._heads + self.state.selection.head
        if 0 <= index < len(self._positions):
            self._ring.set_data([self._positions[index, 0]], [self._positions[index, 1]])
        self.canvas.refresh_overlays()

    def point_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(layer, head) of the point nearest display position ``(x, y)``, within a few pixels.

        ``x`` and ``y`` are matplotlib display coordinates (pixels from the bottom left).
        """
        if not len(self._positions):
            return None
        shown = self.axes.transData.transform(self._positions)  # [L * H, 2] display px
        gaps = np.hypot(shown[:, 0] - x, shown[:, 1] - y)
        index = int(gaps.argmin())
        if gaps[index] > PICK_RADIUS_PX * self.canvas.device_pixel_ratio:
            return None
        return divmod(index, self._heads)

    def describe_point(self, layer: int, head: int) -> str:
        """Tooltip text of point (layer, head)."""
        index = layer * self._heads + head
        distance, colour = self._positions[index, 1], self._colour[index]
        return f"layer {layer}, head {head}: {distance:.1f} px · {self._colour_label} {colour:.3g}"

    def _on_move(self, event: MouseEvent) -> None:
        hit = None if event.x is None else self.point_at(event.x, event.y)
        self.canvas.setToolTip("" if hit is None else self.describe_point(*hit))

    def _on_press(self, event: MouseEvent) -> None:
        if event.button != 1 or event.x is None:
            return
        hit = self.point_at(event.x, event.y)
        if hit is not None:
            self.state.selection.layer, self.state.selection.head = hit
