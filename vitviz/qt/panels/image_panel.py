"""The image panel: the picture, the patch grid, the query and a map laid over it.

The whole original image is drawn, with the region the model sees (the crop) left bright
and the rest dimmed; the patch grid and the map are placed through the result's
:class:`~vitviz.compute.preprocess.PatchGrid`, so they sit on the original pixels whatever
the resize and crop. Prefix tokens (CLS, DIST, REG0…) are chips beside the image.
Hovering shows the patch under the pointer (named, with the map's value there, in a line
of text), a click makes it the query, arrow keys move the query, and the map chosen in
``state.view.overlay`` (:mod:`vitviz.qt.overlay`) is drawn with the chosen colormap and
opacity.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from vitviz.compute.render import colormap_lut, to_rgba
from vitviz.qt.head_overlay import HeadLegend, heads_rgba
from vitviz.qt.overlay import describe_overlay, map_limits, overlay_maps
from vitviz.qt.widgets.bindings import bind_check, bind_combo, bind_value, listen
from vitviz.qt.widgets.map_view import MapView
from vitviz.qt.widgets.prefix_chips import PrefixChips
from vitviz.state import AppState
from vitviz.state.view import OVERLAY_LABELS, OVERLAYS
from vitviz.vit.layout import TokenKind

NO_IMAGE = "Open an image (Ctrl+O), drop one here, or paste one (Ctrl+V)"


class ImagePanel(QWidget):
    """The image with its patch grid, prefix-token chips and the selected map."""

    title = "Image"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._image_key: object = None
        self._geometry_key: object = None
        self.current_map: np.ndarray | None = None

        self.canvas = MapView(self)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.canvas.setMinimumSize(200, 200)
        self.chips = PrefixChips(self)
        self.chips.chosen.connect(self.state.select_token)

        self.source_combo = QComboBox(self)
        self.source_combo.setObjectName("overlay_source")
        self.source_combo.setToolTip("Which map is laid over the image")
        bind_combo(self.source_combo, state.view, "overlay", OVERLAYS, OVERLAY_LABELS)
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setObjectName("opacity_slider")
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setDecimals(2)
        self.opacity_slider.setToolTip("Opacity of the map over the image")
        bind_value(self.opacity_slider, state.view, "opacity")
        self.grid_check = QCheckBox("Grid", self)
        self.grid_check.setObjectName("grid_check")
        bind_check(self.grid_check, state.view, "show_grid")
        self.upsampling_combo = QComboBox(self)
        bind_combo(
            self.upsampling_combo,
            state.view,
            "upsampling",
            ("nearest", "bilinear"),
            ("Blocky", "Smooth"),
        )
        self.caption = QLabel(self)
        self.caption.setObjectName("overlay_caption")
        self.info = QLabel(self)
        self.info.setObjectName("hover_info")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.canvas.cell_hovered.connect(
            lambda row, col: setattr(state.selection, "hover", self._patch(row, col))
        )
        self.canvas.cell_clicked.connect(self._on_clicked)
        self.canvas.arrow.connect(state.move_query)

        # Combo boxes may shrink before the slider does (large fonts in presentation mode).
        self.opacity_slider.setMinimumWidth(120)
        for combo in (self.source_combo, self.upsampling_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6)
        controls = QHBoxLayout()
        controls.addWidget(self.source_combo)
        controls.addWidget(QLabel("Opacity", self))
        controls.addWidget(self.opacity_slider, 1)
        controls.addWidget(self.grid_check)
        controls.addWidget(self.upsampling_combo)
        body = QHBoxLayout()
        body.addWidget(self.chips, 0, Qt.AlignmentFlag.AlignTop)
        body.addWidget(self.canvas, 1)
        body.addWidget(HeadLegend(state, self), 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.caption)
        layout.addLayout(body, 1)
        layout.addWidget(self.info)

        for part, names in (
            (state.results, "analysis rollout class_maps"),
            (state.selection, "query layer head class_index"),
            (state.view, "overlay fusion colormap drop_prefix mass_threshold class_method scale"),
            (state.rollout, "shown_layer follow_query"),
            (state.inputs, "image"),
        ):
            for name in names.split():
                listen(self, getattr(part.events, name), self.render_all)
        for name in ("opacity", "upsampling", "show_grid", "presentation"):
            listen(
                self, getattr(state.view.events, name), lambda *_: self.canvas.set_style(state.view)
            )
        listen(self, state.selection.events.hover, self._show_boxes)
        self.canvas.set_style(state.view)
        self.render_all()

    # --- state → panel --------------------------------------------------------------
    def render_all(self, *_: object) -> None:
        """Bring the whole panel up to date with the state (cheap when nothing changed)."""
        self._show_image()
        layout = self.state.layout
        self.chips.show_tokens(
            layout.prefix_labels if layout is not None else (), self.state.selection.query
        )
        self._show_map()
        self._show_boxes()

    def _show_image(self) -> None:
        results = self.state.results
        # Before the first result, the chosen image is shown alone (no grid, no map).
        image = results.image if results.image is not None else self.state.inputs.image
        if image is not self._image_key:
            self._image_key = image
            rgb = None if image is None else np.asarray(image.image.convert("RGB"), dtype=np.uint8)
            self.canvas.set_background(rgb)
        prepared = results.prepared if results.inference is not None else None
        if prepared is not self._geometry_key:
            self._geometry_key = prepared
            grid = None if prepared is None else prepared.grid
            self.canvas.set_region(
                None if grid is None else grid.crop_box, grid and grid.layout.grid
            )

    def _show_map(self) -> None:
        grid_map, span = overlay_maps(self.state)
        self.current_map = self.canvas.values = grid_map
        view, rgba, self.canvas.note = self.state.view, None, ""
        self.canvas.set_colorbar(None)
        if grid_map is not None and view.overlay == "heads":
            rgba = heads_rgba(span[:-1])  # span: the layer's head maps and their fusion
        elif grid_map is not None:
            shared = view.scale == "shared"
            low, high, self.canvas.note = map_limits(grid_map, span if shared else None)
            rgba, lut = to_rgba(grid_map, view.colormap, low, high), colormap_lut(view.colormap)
            self.canvas.set_colorbar(lut, f"{low:.3g}", f"{high:.3g}" + " layer max" * shared)
        self.canvas.set_map(rgba, placeholder="" if self._image_key is not None else NO_IMAGE)
        self.caption.setText(describe_overlay(self.state) if grid_map is not None else "")

    def _show_boxes(self, *_: object) -> None:
        """Outline the query and the hovered patch, and name them in the info line."""
        layout, selection = self.state.layout, self.state.selection
        if self._geometry_key is None or layout is None:
            self.canvas.set_marker(None)
            self.info.setText("")
            return
        query, hover = selection.query, selection.hover
        text = f"Query: {layout.label(query)}" if 0 <= query < layout.num_tokens else ""
        if hover is not None and layout.kind(hover) is TokenKind.PATCH:
            text += f"   ·   Pointer: {layout.label(hover)}"
            if self.current_map is not None:
                value = self.current_map[layout.patch_position(hover)]
                text += f" = {float(value):.4g}"
        self.info.setText(text)
        self.canvas.set_marker(self._cell(query), self._cell(hover))

    def _cell(self, token: int | None) -> tuple[int, int] | None:
        layout = self.state.layout
        if token is None or not 0 <= token < layout.num_tokens:
            return None
        return layout.patch_position(token) if layout.kind(token) is TokenKind.PATCH else None

    def _patch(self, row: int, col: int) -> int | None:
        layout, grid = self.state.layout, self.canvas.grid
        if row < 0 or self._geometry_key is None or layout is None or layout.grid != grid:
            return None
        return layout.patch_index(row, col)

    def _on_clicked(self, row: int, col: int) -> None:
        token = self._patch(row, col)
        if token is not None:
            self.state.select_token(token)
