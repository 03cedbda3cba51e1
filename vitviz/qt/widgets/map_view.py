"""An image with a patch-grid map over it (or over the part the model saw), aspect kept.

Serves the image panel (the original photo, the crop dimmed around, the map over the
crop) and every single-map panel (the image as the model saw it, the map over all of it).
The map arrives as an RGBA array with one pixel per patch (or already upsampled) and Qt
scales it in one ``drawImage``, so a repaint never touches pixels in Python. The view
knows nothing of tokens: it reports grid cells and arrow keys and outlines the cells it
is given.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.qt.qimage import rgba_to_qimage

MARKER_COLOR = QColor(0, 230, 255)
HOVER_COLOR = QColor(255, 255, 255)
FLAG_COLOR = QColor(255, 60, 60)
GRID_COLOR = QColor(255, 255, 255, 70)
HIGH_CONTRAST_GRID = QColor(130, 170, 200, 190)  # a blue grey no colormap of the toolbar uses
OUTSIDE_REGION = QColor(0, 0, 0, 150)
ARROWS = {
    Qt.Key.Key_Left: (0, -1),
    Qt.Key.Key_Right: (0, 1),
    Qt.Key.Key_Up: (-1, 0),
    Qt.Key.Key_Down: (1, 0),
}


class MapView(QWidget):
    """Draws an optional image, a grid map over a region of it, the grid and outlined cells.

    Signals
    -------
    cell_clicked(int, int)
        A left click on grid cell ``(row, col)``.
    cell_hovered(int, int)
        The pointer moved onto cell ``(row, col)``; ``(-1, -1)`` when it left the grid.
    arrow(int, int)
        An arrow key while the view has the focus: ``(d_row, d_col)``.
    """

    cell_clicked = Signal(int, int)
    cell_hovered = Signal(int, int)
    arrow = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._background: QImage | None = None
        self._scaled = QPixmap()
        self._region: QRectF | None = None
        self.map_image: QImage | None = None  # the coloured map before scaling to the widget
        self.grid: tuple[int, int] = (1, 1)  # (rows, cols) of the cells
        self._opacity, self._smooth = 1.0, False
        self._show_grid = self.high_contrast = False
        self.marker: tuple[int, int] | None = None  # the outlined query cell
        self._hover: tuple[int, int] | None = None
        self.flags: list[tuple[int, int]] = []  # cells outlined as flagged
        self.placeholder = "No result yet"  # drawn while there is no map
        self.values: np.ndarray | None = None  # [..., rows, cols] values read out on hover
        self.note = ""  # drawn over the map's top-left corner (e.g. "near-uniform: …")
        self._hovered: tuple[int, int] = (-1, -1)
        self._colorbar: QImage | None = None
        self.colorbar_labels = ("", "")
        self.setMouseTracking(True)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(320, 320)

    @property
    def has_map(self) -> bool:
        return self.map_image is not None

    # --- content --------------------------------------------------------------------
    def set_background(self, image: np.ndarray | QImage | None) -> None:
        """Show ``image`` (a QImage or ``[h, w, 3]`` uint8) under the map, or none."""
        if isinstance(image, np.ndarray):
            image = rgba_to_qimage(image)
        self._background, self._scaled = image, QPixmap()
        self.update()

    def set_region(self, box: tuple[float, float, float, float] | None, grid=None) -> None:
        """Place the map and its ``(rows, cols)`` grid on box ``(l, t, r, b)`` of the image.

        With None (the default) the map covers the whole image and clicks need a map;
        with a region, cells are reported even while no map is shown.
        """
        self._region = None if box is None else QRectF(QPointF(*box[:2]), QPointF(*box[2:]))
        self.grid = grid or self.grid
        self.update()

    def set_map(
        self, rgba: np.ndarray | None, grid: tuple[int, int] | None = None, placeholder: str = ""
    ) -> None:
        """Show a coloured map (``[h, w, 4]`` uint8) stretched over the region, or nothing.

        ``grid`` is ``(rows, cols)`` of the patch grid when the map is upsampled (default:
        one pixel per patch); ``placeholder`` is drawn while there is no map.
        """
        self.placeholder = placeholder
        self.map_image = None if rgba is None else rgba_to_qimage(rgba)
        if rgba is not None and self._region is None:
            self.grid = grid or (int(rgba.shape[0]), int(rgba.shape[1]))
        self.update()

    def set_style(self, view) -> None:
        """Follow view options: ``opacity`` (of the map over an image), ``upsampling``,
        ``show_grid`` and ``presentation`` (grid and outlines bright and thick)."""
        self._opacity, self._smooth = float(view.opacity), view.upsampling == "bilinear"
        self._show_grid, self.high_contrast = bool(view.show_grid), bool(view.presentation)
        self.update()

    def set_marker(self, cell: tuple[int, int] | None, hover: tuple[int, int] | None = None):
        """Outline grid cell ``(row, col)`` (the query patch) and a hovered cell, or none."""
        self.marker, self._hover = cell, hover
        self.update()

    def set_flags(self, cells: list[tuple[int, int]]) -> None:
        """Outline these grid cells in the flag colour (e.g. high-norm tokens)."""
        self.flags = list(cells)
        self.update()

    def set_colorbar(self, lut: np.ndarray | None, low: str = "", high: str = "") -> None:
        """Show a colour bar under the map: ``[n, 4]`` uint8 colours from ``low`` to ``high``."""
        self._colorbar = None if lut is None else rgba_to_qimage(np.ascontiguousarray(lut[None]))
        self.colorbar_labels = (low, high)
        self.update()

    # --- geometry -------------------------------------------------------------------
    def _bar_height(self) -> int:
        return 0 if self._colorbar is None else self.fontMetrics().height() + 12

    def _size(self) -> tuple[float, float]:
        if self._background is not None and not self._background.isNull():
            return self._background.width(), self._background.height()
        return self.grid[1], self.grid[0]

    def target_rect(self) -> QRectF:
        """Where the image (or the map alone) is drawn: centred, aspect kept."""
        width, height = self._size()
        room = self.height() - self._bar_height()
        scale = min(self.width() / width, room / height)
        width, height = width * scale, height * scale
        return QRectF((self.width() - width) / 2, (room - height) / 2, width, height)

    def image_transform(self) -> QTransform:
        """Image pixels → widget pixels (the image centred, aspect kept)."""
        rect, (width, _) = self.target_rect(), self._size()
        scale = rect.width() / width
        return QTransform(scale, 0, 0, scale, rect.left(), rect.top())

    def to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of image pixel ``(x, y)``."""
        return self.image_transform().map(QPointF(x, y))

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        """Image pixel under widget position ``pos``."""
        point = self.image_transform().inverted()[0].map(QPointF(pos))
        return point.x(), point.y()

    def map_rect(self) -> QRectF:
        """Widget rectangle the map and the grid cover."""
        region = self._region
        return self.target_rect() if region is None else self.image_transform().mapRect(region)

    def cell_rect(self, row: int, col: int) -> QRectF:
        """Widget rectangle of grid cell ``(row, col)``."""
        rect, (rows, cols) = self.map_rect(), self.grid
        width, height = rect.width() / cols, rect.height() / rows
        return QRectF(rect.left() + col * width, rect.top() + row * height, width, height)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """Grid cell ``(row, col)`` under widget position ``pos``, or None off the grid."""
        rect, (rows, cols) = self.map_rect(), self.grid
        active = self.map_image is not None or self._region is not None
        if not active or not rect.contains(pos) or not self.target_rect().contains(pos):
            return None
        row = int((pos.y() - rect.top()) / rect.height() * rows)
        col = int((pos.x() - rect.left()) / rect.width() * cols)
        return min(row, rows - 1), min(col, cols - 1)

    # --- painting -------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._colorbar is not None:
            self._paint_colorbar(painter)
        target, area = self.target_rect(), self.map_rect()
        if self._background is not None:
            painter.drawPixmap(target.topLeft(), self._scaled_background(target))
        painter.setClipRect(target)
        if self._region is not None and self._background is not None:
            # Darken the parts of the image the model does not see.
            painter.fillRect(target, OUTSIDE_REGION)
            visible = area.translated(-target.topLeft())  # in the scaled image's pixels
            painter.drawPixmap(area, self._scaled_background(target), visible)
        if self.map_image is None:
            painter.setPen(self.palette().text().color())
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect(), flags, self.placeholder)
        else:
            painter.setOpacity(self._opacity if self._background is not None else 1.0)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
            painter.drawImage(area, self.map_image)
            painter.setOpacity(1.0)
        if self._show_grid and (self.map_image is not None or self._region is not None):
            self._paint_grid(painter, area)
        if self.note and self.map_image is not None:
            box = painter.boundingRect(
                target.adjusted(6, 4, 0, 0), Qt.AlignmentFlag.AlignLeft, self.note
            )
            painter.fillRect(box.adjusted(-4, -2, 4, 2), OUTSIDE_REGION)
            painter.setPen(HOVER_COLOR)
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft, self.note)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        outlines = [(c, FLAG_COLOR) for c in self.flags]
        outlines += [(self._hover, HOVER_COLOR), (self.marker, MARKER_COLOR)]
        for cell, color in outlines:
            if cell is not None:
                painter.setPen(QPen(color, 3 if self.high_contrast else 2))
                painter.drawRect(self.cell_rect(*cell))

    def _scaled_background(self, target: QRectF) -> QPixmap:
        # Smooth scaling of the photo is the costliest step of a paint; it only changes
        # with the widget's size or the image, so it is done once for each.
        size = target.size().toSize()
        if self._scaled.size() != size:
            self._scaled = QPixmap.fromImage(
                self._background.scaled(
                    size,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return self._scaled

    def _paint_colorbar(self, painter: QPainter) -> None:
        (low, high), metrics, height = self.colorbar_labels, self.fontMetrics(), self._bar_height()
        label_w = max(metrics.horizontalAdvance(t) for t in (low, high, "0.000")) + 6
        top = self.height() - height
        bar = QRect(label_w, top + 4, max(self.width() - 2 * label_w, 10), height - 8)
        painter.drawImage(bar, self._colorbar)
        painter.setPen(self.palette().text().color())
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(0, top, label_w - 4, height), right, low)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(bar.right() + 4, top, label_w, height), left, high)

    def _paint_grid(self, painter: QPainter, rect: QRectF) -> None:
        (rows, cols), contrast = self.grid, self.high_contrast
        painter.setPen(QPen(HIGH_CONTRAST_GRID if contrast else GRID_COLOR, 1))
        for row in range(rows + 1):
            y = rect.top() + row * rect.height() / rows
            painter.drawLine(QLineF(rect.left(), y, rect.right(), y))
        for col in range(cols + 1):
            x = rect.left() + col * rect.width() / cols
            painter.drawLine(QLineF(x, rect.top(), x, rect.bottom()))

    # --- input ----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)
        super().mousePressEvent(event)

    def readout(self, pos: QPointF) -> str:
        """Hover text at ``pos``: the patch and the map's value there ("" off the map)."""
        cell, values = self.cell_at(pos), self.values
        if cell is None or values is None or values.shape != self.grid:
            return ""
        return f"patch ({cell[0]}, {cell[1]}) = {float(values[cell]):.4g}"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        self._set_hovered(self.cell_at(event.position()) or (-1, -1))
        self.setToolTip(self.readout(event.position()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._set_hovered((-1, -1))
        super().leaveEvent(event)

    def _set_hovered(self, cell: tuple[int, int]) -> None:
        if cell != self._hovered:
            self._hovered = cell
            self.cell_hovered.emit(*cell)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        step = ARROWS.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
        else:
            self.arrow.emit(*step)
