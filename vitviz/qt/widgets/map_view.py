"""A patch-grid map drawn over the image the model saw, scaled to the widget.

The map arrives as an RGBA array with one pixel per patch; Qt scales it onto the image
in one ``drawImage`` (nearest or smooth), so a repaint never touches pixels in Python.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.qt.qimage import rgba_to_qimage

MARKER_COLOR = QColor(0, 230, 255)
FLAG_COLOR = QColor(255, 60, 60)
GRID_COLOR = QColor(255, 255, 255, 70)
HIGH_CONTRAST_GRID = QColor(255, 255, 255, 220)


class MapView(QWidget):
    """Draws an optional background image and a grid map over it, keeping the aspect.

    Signals
    -------
    cell_clicked(int, int)
        A click on grid cell ``(row, col)``.
    cell_hovered(int, int)
        The pointer moved onto cell ``(row, col)``; ``(-1, -1)`` when it left the map.
    """

    cell_clicked = Signal(int, int)
    cell_hovered = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._background: QImage | None = None
        self._map: QImage | None = None
        self._grid: tuple[int, int] = (1, 1)
        self._opacity = 1.0
        self._smooth = False
        self._show_grid = False
        self._high_contrast = False
        self._marker: tuple[int, int] | None = None
        self._flags: list[tuple[int, int]] = []
        self._placeholder = "No result yet"
        self._hovered: tuple[int, int] = (-1, -1)
        self._background_id = 0
        self._map_id = 0
        self._map_key: tuple | None = None
        self._map_scaled = QImage()
        self._background_key: tuple | None = None
        self._background_pixmap = QPixmap()
        self._grid_key: tuple | None = None
        self._grid_pixmap = QPixmap()
        self.setMouseTracking(True)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(320, 320)

    @property
    def grid(self) -> tuple[int, int]:
        return self._grid

    @property
    def has_map(self) -> bool:
        return self._map is not None

    @property
    def map_image(self) -> QImage | None:
        """The coloured map as drawn (before scaling to the widget), or None."""
        return self._map

    @property
    def high_contrast(self) -> bool:
        """Whether the grid is drawn for a projector."""
        return self._high_contrast

    @property
    def placeholder(self) -> str:
        """The text drawn while there is no map."""
        return self._placeholder

    @property
    def marker(self) -> tuple[int, int] | None:
        """The outlined query cell, or None."""
        return self._marker

    @property
    def flags(self) -> list[tuple[int, int]]:
        """The cells outlined as flagged."""
        return list(self._flags)

    def set_background(self, rgb: np.ndarray | None) -> None:
        """Show ``rgb`` (``[h, w, 3]`` uint8, the image as the model saw it) under the map."""
        self._background = None if rgb is None else rgba_to_qimage(rgb)
        self._background_id += 1
        self.update()

    def set_map(
        self,
        rgba: np.ndarray | None,
        grid: tuple[int, int] | None = None,
        placeholder: str = "No result yet",
    ) -> None:
        """Show a coloured map (``[h, w, 4]`` uint8) stretched over the image, or nothing.

        Parameters
        ----------
        rgba : numpy.ndarray or None
            The map at any resolution: one pixel per patch, or already upsampled.
        grid : tuple of int, optional
            ``(rows, cols)`` of the patch grid, for clicks and outlines; default the
            map's own shape (one pixel per patch).
        placeholder : str
            Text drawn while there is no map.
        """
        self._placeholder = placeholder
        if rgba is None:
            self._map = None
        else:
            self._map = rgba_to_qimage(rgba)
            self._map_id += 1
            self._grid = grid or (int(rgba.shape[0]), int(rgba.shape[1]))
        self.update()

    def set_opacity(self, opacity: float) -> None:
        """Opacity of the map over the background (the map is opaque without one)."""
        self._opacity = float(opacity)
        self.update()

    def set_smooth(self, smooth: bool) -> None:
        """Bilinear (True) or nearest (False) enlargement of the map."""
        self._smooth = bool(smooth)
        self.update()

    def set_show_grid(self, show: bool) -> None:
        self._show_grid = bool(show)
        self.update()

    def set_high_contrast(self, high: bool) -> None:
        """Draw the grid bright and thick (presentation mode, projectors)."""
        self._high_contrast = bool(high)
        self._grid_key = None
        self.update()

    def set_marker(self, cell: tuple[int, int] | None) -> None:
        """Outline grid cell ``(row, col)`` (the query patch), or none."""
        self._marker = cell
        self.update()

    def set_flags(self, cells: list[tuple[int, int]]) -> None:
        """Outline these grid cells in the flag colour (e.g. high-norm tokens)."""
        self._flags = list(cells)
        self.update()

    def target_rect(self) -> QRectF:
        """Where the image and map are drawn: centred, aspect kept, inside the widget."""
        if self._background is not None:
            aspect_w, aspect_h = self._background.width(), self._background.height()
        else:
            aspect_h, aspect_w = self._grid
        scale = min(self.width() / aspect_w, self.height() / aspect_h)
        width, height = aspect_w * scale, aspect_h * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """Grid cell ``(row, col)`` under widget position ``pos``, or None outside the map."""
        rect = self.target_rect()
        if not rect.contains(pos) or rect.width() <= 0:
            return None
        rows, cols = self._grid
        row = int((pos.y() - rect.top()) / rect.height() * rows)
        col = int((pos.x() - rect.left()) / rect.width() * cols)
        return min(row, rows - 1), min(col, cols - 1)

    def cell_rect(self, row: int, col: int) -> QRectF:
        """Widget rectangle of grid cell ``(row, col)``."""
        rect = self.target_rect()
        rows, cols = self._grid
        w, h = rect.width() / cols, rect.height() / rows
        return QRectF(rect.left() + col * w, rect.top() + row * h, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        rect = self.target_rect().toRect()
        if self._background is not None:
            painter.drawPixmap(rect.topLeft(), self._scaled_background(rect.size()))
        if self._map is None:
            painter.setPen(self.palette().text().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        painter.setOpacity(self._opacity if self._background is not None else 1.0)
        painter.drawImage(rect.topLeft(), self._scaled_map(rect.size()))
        painter.setOpacity(1.0)
        if self._show_grid:
            painter.drawPixmap(rect.topLeft(), self._grid_overlay(rect.size()))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for cell, color in [(c, FLAG_COLOR) for c in self._flags] + [(self._marker, MARKER_COLOR)]:
            if cell is not None:
                painter.setPen(QPen(color, 2))
                painter.drawRect(self.cell_rect(*cell))

    def _scaled_background(self, size: QSize) -> QPixmap:
        # Smooth scaling of the photo is the costliest step of a paint; it only changes
        # with the widget's size or the image, so it is done once for each.
        key = (size.width(), size.height(), self._background_id)
        if key != self._background_key:
            scaled = self._background.scaled(
                size,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._background_pixmap = QPixmap.fromImage(scaled)
            self._background_key = key
        return self._background_pixmap

    def _scaled_map(self, size: QSize) -> QImage:
        # Scaled once per map and size (premultiplied, the format Qt blends fastest), so
        # that repaints without a new map cost a plain blit.
        key = (size.width(), size.height(), self._map_id, self._smooth)
        if key != self._map_key:
            mode = (
                Qt.TransformationMode.SmoothTransformation
                if self._smooth
                else Qt.TransformationMode.FastTransformation
            )
            scaled = self._map.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
            self._map_scaled = scaled.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
            self._map_key = key
        return self._map_scaled

    def _grid_overlay(self, size: QSize) -> QPixmap:
        key = (size.width(), size.height(), self._grid)
        if key != self._grid_key:
            overlay = QPixmap(size)
            overlay.fill(Qt.GlobalColor.transparent)
            rows, cols = self._grid
            width, height = size.width(), size.height()
            lines = [QLineF(0, r * height / rows, width, r * height / rows) for r in range(1, rows)]
            lines += [QLineF(c * width / cols, 0, c * width / cols, height) for c in range(1, cols)]
            painter = QPainter(overlay)
            pen = QPen(HIGH_CONTRAST_GRID, 2) if self._high_contrast else QPen(GRID_COLOR, 1)
            painter.setPen(pen)
            painter.drawLines(lines)
            painter.end()
            self._grid_pixmap, self._grid_key = overlay, key
        return self._grid_pixmap

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position())
        is_left = event.button() == Qt.MouseButton.LeftButton
        if cell is not None and self._map is not None and is_left:
            self.cell_clicked.emit(*cell)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position()) if self._map is not None else None
        cell = cell or (-1, -1)
        if cell != self._hovered:
            self._hovered = cell
            self.cell_hovered.emit(*cell)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self._hovered != (-1, -1):
            self._hovered = (-1, -1)
            self.cell_hovered.emit(-1, -1)
        super().leaveEvent(event)
