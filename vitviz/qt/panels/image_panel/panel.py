"""The image panel widget: the canvas, the prefix chips and the map controls, kept up to date.

The panel decides what the canvas draws: the original image, the crop and patch grid of
the result, the chosen map in the chosen colormap and the view's style. Pointing at the
image is :class:`~vitviz.qt.panels.image_panel.pointing.QueryPointer`'s business.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from vitviz.qt.head_overlay import HeadLegend, heads_rgba
from vitviz.qt.overlay import overlay_map
from vitviz.qt.panels.image_panel.canvas import ImageCanvas
from vitviz.qt.panels.image_panel.chips import PrefixChips
from vitviz.qt.panels.image_panel.pointing import QueryPointer
from vitviz.qt.qimage import rgba_to_qimage
from vitviz.qt.widgets.bindings import bind_check, bind_combo, bind_value, listen
from vitviz.state import AppState
from vitviz.state.view import OVERLAY_LABELS, OVERLAYS


class ImagePanel(QWidget):
    """The image with its patch grid, prefix-token chips and the selected map.

    Parameters
    ----------
    state : AppState
        Read for the result and the selection; the query, hover and view options are
        written back.
    """

    title = "Image"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._image_key: object = None
        self._geometry_key: object = None
        self.current_map: np.ndarray | None = None

        self.canvas = ImageCanvas(self)
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
        self.info = QLabel(self)
        self.info.setObjectName("hover_info")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pointer = QueryPointer(state, self.canvas, self.info, lambda: self.current_map)

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
        layout.addLayout(body, 1)
        layout.addWidget(self.info)

        results, sel, view = state.results.events, state.selection.events, state.view.events
        for signal in (
            results.analysis,
            results.rollout,
            results.class_maps,
            sel.query,
            sel.layer,
            sel.head,
            sel.class_index,
            view.overlay,
            view.fusion,
            view.colormap,
            view.drop_prefix,
            view.mass_threshold,
            view.class_method,
            state.rollout.events.shown_layer,
            state.rollout.events.follow_query,
        ):
            listen(self, signal, self.render_all)
        for signal in (view.opacity, view.upsampling, view.show_grid, view.presentation):
            listen(self, signal, self._apply_style)
        listen(self, state.inputs.events.image, self.render_all)
        self._apply_style()
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
        self.pointer.show_boxes()

    def _show_image(self) -> None:
        results = self.state.results
        # Before the first result, the chosen image is shown alone (no grid, no map).
        image = results.image if results.image is not None else self.state.inputs.image
        if image is not self._image_key:
            self._image_key = image
            self.canvas.set_image(None if image is None else _pil_to_qimage(image.image))
        prepared = results.prepared if results.inference is not None else None
        if prepared is not self._geometry_key:
            self._geometry_key = prepared
            if prepared is None:
                self.canvas.set_geometry(None, None)
            else:
                grid = prepared.grid
                boxes = grid.patch_boxes()  # [rows, cols, 4]
                xs = np.concatenate([boxes[0, :, 0], boxes[0, -1:, 2]])  # [cols + 1]
                ys = np.concatenate([boxes[:, 0, 1], boxes[-1:, 0, 3]])  # [rows + 1]
                self.canvas.set_geometry(grid.crop_box, (xs, ys))

    def _show_map(self) -> None:
        grid_map = overlay_map(self.state)
        self.current_map = grid_map
        if grid_map is None:
            self.canvas.set_map(None)
        elif self.state.view.overlay == "heads":
            self.canvas.set_map(heads_rgba(self.state))
        else:
            from vitviz.compute.render import to_rgba

            self.canvas.set_map(to_rgba(grid_map, self.state.view.colormap))

    def _apply_style(self, *_: object) -> None:
        view = self.state.view
        self.canvas.set_style(
            opacity=view.opacity,
            smooth=view.upsampling == "bilinear",
            show_grid=view.show_grid,
            contrast=view.presentation,
        )


def _pil_to_qimage(image) -> QImage:
    """An RGB PIL image as a QImage (one numpy copy, no per-pixel Python)."""
    return rgba_to_qimage(np.asarray(image.convert("RGB"), dtype=np.uint8))
