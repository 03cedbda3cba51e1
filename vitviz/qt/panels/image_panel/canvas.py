"""The image panel's canvas: the original image, the crop, the patch grid, a map and the query.

Everything is placed in original-image pixels and drawn through one transform that fits
the image into the widget, so the pointer maps back to the pixels exactly. The canvas
knows nothing of tokens or state: it reports where the pointer is and which arrow key
was pressed, and draws what it is given.
"""

from __future__ import annotations

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
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.qt.qimage import rgba_to_qimage

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
