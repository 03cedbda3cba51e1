"""The image panel: the picture, the patch grid, the query and a map laid over it.

The whole original image is drawn, with the region the model sees (the crop) left bright
and the rest dimmed; the patch grid and the map are placed through the result's
:class:`~vitviz.compute.geometry.PatchGrid`, so they sit on the original pixels whatever
the resize and crop. Prefix tokens (CLS, DIST, REG0…) are chips beside the image.
Hovering shows the patch under the pointer, a click makes it the query, arrow keys move
the query, and the map (selected head, fused layer, rollout or class map) is drawn with
the chosen colormap and opacity.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from vitviz.qt.qimage import rgba_to_qimage
from vitviz.qt.widgets.bindings import bind_check, bind_combo, bind_value, listen
from vitviz.state import AppState
from vitviz.vit.layout import TokenKind

OVERLAYS = ("head", "fusion", "rollout", "class", "none")
OVERLAY_LABELS = ("Selected head", "Fused layer", "Rollout", "Class map", "No map")
QUERY_COLOR = QColor(0, 230, 255)
HOVER_COLOR = QColor(255, 255, 255)
GRID_COLOR = QColor(255, 255, 255, 60)
GRID_COLOR_CONTRAST = QColor(255, 255, 0, 200)
OUTSIDE_CROP = QColor(0, 0, 0, 150)
ARROWS = {
    Qt.Key.Key_Left: (0, -1),
    Qt.Key.Key_Right: (0, 1),
    Qt.Key.Key_Up: (-1, 0),
    Qt.Key.Key_Down: (1, 0),
}


def overlay_map(state: AppState, source: str) -> np.ndarray | None:
    """The ``[rows, cols]`` map the image panel lays over the image, or None.

    Parameters
    ----------
    state : AppState
        Current result and selection.
    source : str
        One of :data:`OVERLAYS`: the selected head's attention for the query, the
        selected layer's heads fused, the rollout of the query, or the selected class's
        map (when it has been computed).
    """
    import torch

    from vitviz.compute import attention_maps, rollout

    inference = state.results.inference
    if inference is None or source == "none":
        return None
    layout, sel, view = inference.layout, state.selection, state.view
    if source == "class":
        if sel.class_index is None:
            return None
        cached = state.results.class_maps.get((sel.class_index, view.class_method))
        return None if cached is None else np.asarray(cached, dtype=np.float32)
    layers = attention_maps.attention_layers(inference.attentions)
    if source == "rollout":
        options = state.rollout
        end = options.end_layer if options.shown_layer is None else options.shown_layer
        grid = rollout.rollout(
            layers,
            layout,
            query=sel.query if options.follow_query else None,
            head_fusion=options.fusion,
            discard_ratio=options.discard_ratio,
            residual_weight=options.residual,
            start_layer=min(options.start_layer, len(layers) - 1),
            end_layer=None if end is None else max(min(end, len(layers) - 1), options.start_layer),
            renormalize=view.drop_prefix,
        )
    else:
        layer = layers[min(sel.layer, len(layers) - 1)]  # [H, N, N] (or [1, H, N, N])
        maps = attention_maps.query_maps([layer], layout, sel.query, renormalize=view.drop_prefix)[
            ..., 0, :, :, :
        ]  # [H, rows, cols]
        if source == "head":
            grid = maps[..., min(sel.head, maps.shape[-3] - 1), :, :]  # [rows, cols]
        else:
            grid = attention_maps.fuse_heads(maps, view.fusion, dim=-3)  # [rows, cols]
    grid = grid.reshape(layout.grid)  # [rows, cols] (drops a batch of one)
    if view.mass_threshold is not None:
        grid = torch.where(attention_maps.mass_threshold(grid, view.mass_threshold), grid, 0)
    return grid.float().cpu().numpy()


class ImageCanvas(QWidget):
    """Draws the original image, the crop, the patch grid, a map and the query.

    Everything is given in original-image pixels and drawn through one transform that
    fits the image into the widget, so clicks map back exactly.

    Signals
    -------
    pointed(float, float)
        The pointer is over original pixel ``(x, y)``.
    left()
        The pointer left the widget.
    clicked(float, float)
        A left click on original pixel ``(x, y)``.
    arrow(int, int)
        An arrow key: ``(d_row, d_col)``.
    """

    pointed = Signal(float, float)
    left = Signal()
    clicked = Signal(float, float)
    arrow = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None
        self._map: QImage | None = None
        self._crop: QRectF | None = None
        self._grid_lines: tuple[np.ndarray, np.ndarray] | None = None
        self._query: QRectF | None = None
        self._hover: QRectF | None = None
        self._opacity = 0.6
        self._smooth = False
        self._show_grid = True
        self._contrast = False
        self._placeholder = "Open an image (Ctrl+O), drop one here, or paste one (Ctrl+V)"
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(480, 480)

    # --- content --------------------------------------------------------------------
    def set_image(self, image: QImage | None) -> None:
        """Show ``image`` (the original picture), or the placeholder text."""
        self._image = image
        self._scaled = None
        self.update()

    def set_geometry(
        self,
        crop: tuple[float, float, float, float] | None,
        grid_lines: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """Crop box and patch-grid line positions (x lines, y lines), in original pixels."""
        self._crop = (
            None if crop is None else QRectF(crop[0], crop[1], crop[2] - crop[0], crop[3] - crop[1])
        )
        self._grid_lines = grid_lines
        self.update()

    def set_map(self, rgba: np.ndarray | None) -> None:
        """The map, ``[rows, cols, 4]`` uint8, drawn over the crop box."""
        self._map = None if rgba is None else rgba_to_qimage(rgba)
        self.update()

    def set_boxes(self, query: tuple | None, hover: tuple | None) -> None:
        """Outline the query and the hovered patch (boxes in original pixels)."""
        self._query = None if query is None else _box_rect(query)
        self._hover = None if hover is None else _box_rect(hover)
        self.update()

    def set_style(self, *, opacity: float, smooth: bool, show_grid: bool, contrast: bool) -> None:
        """Map opacity, smooth enlargement, grid visibility and the high-contrast grid."""
        self._opacity, self._smooth = float(opacity), bool(smooth)
        self._show_grid, self._contrast = bool(show_grid), bool(contrast)
        self.update()

    @property
    def has_map(self) -> bool:
        """Whether a map is drawn."""
        return self._map is not None

    # --- geometry -------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the image is drawn in the widget: centred, aspect kept."""
        if self._image is None or self._image.width() == 0:
            return QRectF()
        scale = self._scale()
        width, height = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def _scale(self) -> float:
        return min(self.width() / self._image.width(), self.height() / self._image.height())

    def to_image(self, pos: QPointF) -> tuple[float, float] | None:
        """Original-image coordinates of widget position ``pos`` (None without an image)."""
        if self._image is None:
            return None
        rect = self.image_rect()
        scale = self._scale()
        return (pos.x() - rect.left()) / scale, (pos.y() - rect.top()) / scale

    def to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of original-image coordinates ``(x, y)``."""
        rect = self.image_rect()
        scale = self._scale()
        return QPointF(rect.left() + x * scale, rect.top() + y * scale)

    def _widget_rect(self, box: QRectF) -> QRectF:
        top_left = self.to_widget(box.left(), box.top())
        scale = self._scale()
        return QRectF(top_left.x(), top_left.y(), box.width() * scale, box.height() * scale)

    # --- painting -------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        self._scaled = None
        super().resizeEvent(event)

    def _scaled_image(self) -> QPixmap:
        """The image scaled to the widget once per size, so repaints do not rescale it."""
        rect = self.image_rect()
        size = QSize(max(1, round(rect.width())), max(1, round(rect.height())))
        if self._scaled is None or self._scaled.size() != size:
            self._scaled = QPixmap.fromImage(
                self._image.scaled(
                    size,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return self._scaled

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            painter.setPen(self.palette().text().color())
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        rect = self.image_rect()
        painter.drawPixmap(rect.topLeft(), self._scaled_image())
        painter.setClipRect(rect)
        if self._crop is not None:
            crop = self._widget_rect(self._crop)
            self._dim_outside(painter, rect, crop)
            if self._map is not None:
                painter.setOpacity(self._opacity)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
                painter.drawImage(crop, self._map)
                painter.setOpacity(1.0)
            if self._show_grid and self._grid_lines is not None:
                self._paint_grid(painter, crop)
        for box, color in ((self._hover, HOVER_COLOR), (self._query, QUERY_COLOR)):
            if box is not None:
                painter.setPen(QPen(color, 3 if self._contrast else 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(self._widget_rect(box))

    @staticmethod
    def _dim_outside(painter: QPainter, image: QRectF, crop: QRectF) -> None:
        """Darken the parts of the image the model does not see."""
        crop = crop.intersected(image)
        top = QRectF(image.left(), image.top(), image.width(), crop.top() - image.top())
        bottom = QRectF(image.left(), crop.bottom(), image.width(), image.bottom() - crop.bottom())
        left = QRectF(image.left(), crop.top(), crop.left() - image.left(), crop.height())
        right = QRectF(crop.right(), crop.top(), image.right() - crop.right(), crop.height())
        for part in (top, bottom, left, right):
            if part.width() > 0 and part.height() > 0:
                painter.fillRect(part, OUTSIDE_CROP)

    def _paint_grid(self, painter: QPainter, crop: QRectF) -> None:
        xs, ys = self._grid_lines
        color = GRID_COLOR_CONTRAST if self._contrast else GRID_COLOR
        painter.setPen(QPen(color, 2 if self._contrast else 1))
        for x in xs:
            wx = self.to_widget(float(x), 0.0).x()
            painter.drawLine(QPointF(wx, crop.top()), QPointF(wx, crop.bottom()))
        for y in ys:
            wy = self.to_widget(0.0, float(y)).y()
            painter.drawLine(QPointF(crop.left(), wy), QPointF(crop.right(), wy))

    # --- input ----------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        point = self.to_image(event.position())
        if point is not None:
            self.pointed.emit(*point)
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        point = self.to_image(event.position())
        if point is not None and event.button() == Qt.MouseButton.LeftButton:
            self.setFocus()
            self.clicked.emit(*point)
        super().mousePressEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.left.emit()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        step = ARROWS.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        self.arrow.emit(*step)


def _box_rect(box: tuple[float, float, float, float]) -> QRectF:
    left, top, right, bottom = box
    return QRectF(left, top, right - left, bottom - top)


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
        self._map_cache: tuple[tuple, tuple] | None = None
        self.current_map: np.ndarray | None = None

        self.canvas = ImageCanvas(self)
        self.canvas.pointed.connect(self._on_pointed)
        self.canvas.left.connect(lambda: setattr(self.state.selection, "hover", None))
        self.canvas.clicked.connect(self._on_clicked)
        self.canvas.arrow.connect(self.state.move_query)

        self.chips = QWidget(self)
        self.chips.setObjectName("prefix_chips")
        self._chip_layout = QVBoxLayout(self.chips)
        self._chip_layout.setContentsMargins(0, 0, 0, 0)
        self._chip_group = QButtonGroup(self)
        self._chip_group.setExclusive(False)
        self._chip_group.idClicked.connect(self.state.select_token)
        self._chip_labels: tuple[str, ...] = ()

        self.source_combo = QComboBox(self)
        self.source_combo.setObjectName("overlay_source")
        self.source_combo.setToolTip("Which map is laid over the image")
        for value, text in zip(OVERLAYS, OVERLAY_LABELS, strict=True):
            self.source_combo.addItem(text, value)
        self.source_combo.currentIndexChanged.connect(lambda _i: self.render_all())
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(body, 1)
        layout.addWidget(self.info)

        results, sel, view = state.results.events, state.selection.events, state.view.events
        for signal in (
            results.inference,
            results.class_maps,
            sel.query,
            sel.layer,
            sel.head,
            sel.class_index,
            view.fusion,
            view.colormap,
            view.drop_prefix,
            view.mass_threshold,
            view.class_method,
            state.rollout.events,
        ):
            listen(self, signal, self.render_all)
        for signal in (view.opacity, view.upsampling, view.show_grid, view.presentation):
            listen(self, signal, self._apply_style)
        listen(self, sel.hover, self._show_boxes)
        listen(self, state.inputs.events.image, self.render_all)
        self._apply_style()
        self.render_all()

    # --- state → panel --------------------------------------------------------------
    @property
    def overlay_source(self) -> str:
        """Which map is drawn: one of :data:`OVERLAYS`."""
        return self.source_combo.currentData()

    def set_overlay_source(self, source: str) -> None:
        """Choose the map drawn over the image (one of :data:`OVERLAYS`)."""
        self.source_combo.setCurrentIndex(OVERLAYS.index(source))

    def overlay_description(self) -> str:
        """What the drawn map is, for titles: ``layer 3, head 1 · query CLS``."""
        state, source = self.state, self.overlay_source
        sel, layout = state.selection, state.layout
        query = layout.label(sel.query) if layout is not None else "?"
        if source == "head":
            return f"layer {sel.layer}, head {sel.head} · query {query}"
        if source == "fusion":
            return f"layer {sel.layer}, {state.view.fusion} of heads · query {query}"
        if source == "rollout":
            rolled = query if state.rollout.follow_query else "default query"
            return f"rollout ({state.rollout.fusion}) · {rolled}"
        if source == "class":
            labels = state.results.model.spec.labels if state.results.model else None
            index = sel.class_index
            name = labels[index] if labels and index is not None else str(index)
            return f"class {name} · {state.view.class_method}"
        return "image"

    def render_all(self, *_: object) -> None:
        """Bring the whole panel up to date with the state (cheap when nothing changed)."""
        self._show_image()
        self._show_chips()
        self._show_map()
        self._show_boxes()

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

    def _show_chips(self) -> None:
        layout = self.state.layout
        labels = layout.prefix_labels if layout is not None else ()
        if labels != self._chip_labels:
            self._chip_labels = labels
            for button in self._chip_group.buttons():
                self._chip_group.removeButton(button)
                button.deleteLater()
            for index, label in enumerate(labels):
                chip = QToolButton(self.chips)
                chip.setText(label)
                chip.setCheckable(True)
                chip.setObjectName(f"chip_{label}")
                chip.setToolTip(f"Query the {label} token")
                self._chip_group.addButton(chip, index)
                self._chip_layout.addWidget(chip)
        query = self.state.selection.query
        for button in self._chip_group.buttons():
            button.setChecked(self._chip_group.id(button) == query)

    def _show_map(self) -> None:
        state, source = self.state, self.overlay_source
        sel, view = state.selection, state.view
        # Results are compared by identity (their tensors have no truth value), the rest
        # by value.
        objects = (state.results.inference, state.results.class_maps)
        values = (
            source,
            sel.query,
            sel.layer,
            sel.head,
            sel.class_index,
            view.fusion,
            view.drop_prefix,
            view.mass_threshold,
            view.class_method,
            view.colormap,
            *(getattr(state.rollout, f.name) for f in fields(state.rollout)),
        )
        if self._map_cache is not None:
            cached_objects, cached_values = self._map_cache
            if cached_values == values and all(
                a is b for a, b in zip(cached_objects, objects, strict=True)
            ):
                return
        grid_map = overlay_map(state, source)
        self.current_map = grid_map
        if grid_map is None:
            self.canvas.set_map(None)
        else:
            from vitviz.compute.render import to_rgba

            self.canvas.set_map(to_rgba(grid_map, view.colormap))
        self._map_cache = (objects, values)

    def _show_boxes(self, *_: object) -> None:
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
            grid_map = self.current_map
            if grid_map is not None:
                row, col = layout.patch_position(hover)
                text += f" = {float(grid_map[row, col]):.4g}"
        return text

    def _apply_style(self, *_: object) -> None:
        view = self.state.view
        self.canvas.set_style(
            opacity=view.opacity,
            smooth=view.upsampling == "bilinear",
            show_grid=view.show_grid,
            contrast=view.presentation,
        )

    # --- panel → state --------------------------------------------------------------
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


def _pil_to_qimage(image) -> QImage:
    """An RGB PIL image as a QImage (one numpy copy, no per-pixel Python)."""
    return rgba_to_qimage(np.asarray(image.convert("RGB"), dtype=np.uint8))
