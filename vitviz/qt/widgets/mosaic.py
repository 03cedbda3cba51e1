"""Small multiples: a table of equally sized maps drawn from one atlas image.

All cells are packed into one RGBA atlas with a one-pixel gutter (numpy, no per-cell
Python beyond a reshape) and drawn with a single scaled ``drawImage`` at an integer zoom,
so 384 thumbnails cost the same paint call as one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.qt.qimage import rgba_to_qimage

GUTTER_RGBA = (40, 40, 40, 255)
SELECTED_COLOR = QColor(0, 230, 255)
ROW_HIGHLIGHT = QColor(0, 230, 255, 90)
MIN_ZOOM, MAX_ZOOM = 1, 24
RIGHT_MIDDLE = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTRE_UNCLIPPED = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextDontClip


def label_step(label_size: int, cell_size: int) -> int:
    """Label every k-th cell so that labels of ``label_size`` pixels do not overlap."""
    return max(1, -(-label_size // max(cell_size, 1)))


def pack_atlas(cells: np.ndarray) -> np.ndarray:
    """Pack ``[R, C, h, w, 4]`` RGBA cells into one ``[R*(h+1), C*(w+1), 4]`` image.

    Each cell is followed by a one-pixel gutter to its right and below it.
    """
    n_rows, n_cols, h, w, _ = cells.shape
    atlas = np.empty((n_rows, h + 1, n_cols, w + 1, 4), dtype=np.uint8)  # [R, h+1, C, w+1, 4]
    atlas[...] = GUTTER_RGBA
    atlas[:, :h, :, :w] = cells.transpose(0, 2, 1, 3, 4)  # [R, h, C, w, 4]
    return atlas.reshape(n_rows * (h + 1), n_cols * (w + 1), 4)


class MosaicView(QWidget):
    """A grid of maps with row and column labels; click a cell to pick it.

    Signals
    -------
    cell_clicked(int, int)
        ``(row, col)`` of the clicked cell.
    zoom_changed(int)
        The new zoom (screen pixels per map pixel).
    """

    cell_clicked = Signal(int, int)
    zoom_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._atlas: QImage | None = None
        self._shape = (0, 0, 1, 1)  # cells: rows, cols, cell height, cell width
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self._selected: tuple[int, int] | None = None
        self._zoom = 4
        self._placeholder = "No result yet"
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(160, 120)

    @property
    def zoom(self) -> int:
        """Screen pixels per map pixel."""
        return self._zoom

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of cells shown."""
        return self._shape[:2]

    @property
    def selected(self) -> tuple[int, int] | None:
        """The outlined cell ``(row, col)``, or None."""
        return self._selected

    @property
    def atlas(self) -> QImage | None:
        """The packed image currently drawn (None before the first maps)."""
        return self._atlas

    def set_cells(
        self,
        cells: np.ndarray | None,
        row_labels: Sequence[str] = (),
        col_labels: Sequence[str] = (),
        placeholder: str = "No result yet",
    ) -> None:
        """Show ``[R, C, h, w, 4]`` uint8 RGBA ``cells`` (or nothing) with their labels."""
        self._placeholder = placeholder
        before = (self._shape, self._col_labels[-1:])
        self._row_labels, self._col_labels = list(row_labels), list(col_labels)
        if cells is None:
            self._atlas = None
            self._shape = (0, 0, 1, 1)
        else:
            self._atlas = rgba_to_qimage(pack_atlas(cells))
            self._shape = tuple(int(s) for s in cells.shape[:4])
        if (self._shape, self._col_labels[-1:]) != before:
            self.updateGeometry()
            self.adjustSize()
        self.update()

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        """Outline ``(row, col)`` and tint its row, or clear the selection."""
        if cell != self._selected:
            self._selected = cell
            self.update()

    def set_zoom(self, zoom: int) -> None:
        """Set screen pixels per map pixel (clamped to a sensible range)."""
        zoom = min(max(int(zoom), MIN_ZOOM), MAX_ZOOM)
        if zoom != self._zoom:
            self._zoom = zoom
            self.updateGeometry()
            self.adjustSize()
            self.update()
            self.zoom_changed.emit(zoom)

    def fit_zoom(self, available: QSize) -> int:
        """The largest zoom at which all cells fit in ``available`` (at least 1)."""
        n_rows, n_cols, h, w = self._shape
        left, top = self._margins()
        zoom_w = (available.width() - left - self._right_margin()) // max(n_cols * (w + 1), 1)
        zoom_h = (available.height() - top) // max(n_rows * (h + 1), 1)
        return max(MIN_ZOOM, min(zoom_w, zoom_h, MAX_ZOOM))

    def _margins(self) -> tuple[int, int]:
        metrics = self.fontMetrics()
        left = metrics.horizontalAdvance("L00") + 6
        return left, metrics.height() + 4

    def _right_margin(self) -> int:
        # Room for the last column's label where it is wider than its thumbnail.
        if not self._col_labels:
            return 0
        return self.fontMetrics().horizontalAdvance(self._col_labels[-1]) // 2 + 2

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        n_rows, n_cols, h, w = self._shape
        left, top = self._margins()
        width = left + n_cols * (w + 1) * self._zoom + self._right_margin()
        return QSize(width, top + n_rows * (h + 1) * self._zoom)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return self.sizeHint()

    def cell_rect(self, row: int, col: int) -> QRect:
        """Widget rectangle of cell ``(row, col)`` without its gutter."""
        _, _, h, w = self._shape
        left, top = self._margins()
        z = self._zoom
        return QRect(left + col * (w + 1) * z, top + row * (h + 1) * z, w * z, h * z)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        """Cell ``(row, col)`` under widget position ``pos``, or None."""
        n_rows, n_cols, h, w = self._shape
        left, top = self._margins()
        x, y = pos.x() - left, pos.y() - top
        if x < 0 or y < 0 or self._atlas is None:
            return None
        row, col = y // ((h + 1) * self._zoom), x // ((w + 1) * self._zoom)
        return (int(row), int(col)) if row < n_rows and col < n_cols else None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._atlas is None:
            painter.setPen(self.palette().text().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        n_rows, n_cols, h, w = self._shape
        left, top = self._margins()
        z = self._zoom
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        target = QRect(left, top, self._atlas.width() * z, self._atlas.height() * z)
        painter.drawImage(target, self._atlas)
        painter.setPen(self.palette().text().color())
        metrics = self.fontMetrics()
        # Small thumbnails cannot hold every label: label every k-th row / column.
        row_step = label_step(metrics.height(), (h + 1) * z)
        widest = max((metrics.horizontalAdvance(t) for t in self._col_labels), default=0)
        col_step = label_step(widest + 4, (w + 1) * z)
        for row, text in enumerate(self._row_labels[:n_rows]):
            if row % row_step == 0:
                rect = QRect(0, top + row * (h + 1) * z, left - 4, h * z)
                painter.drawText(rect, RIGHT_MIDDLE, text)
        for col, text in enumerate(self._col_labels[:n_cols]):
            # The last column (the fused one) is always named.
            last = col == n_cols - 1
            if last or (col % col_step == 0 and n_cols - 1 - col >= col_step):
                rect = QRect(left + col * (w + 1) * z, 0, w * z, top)
                painter.drawText(rect, CENTRE_UNCLIPPED, text)
        if self._selected is not None:
            row, col = self._selected
            band = QRect(0, top + row * (h + 1) * z, left - 2, h * z)
            painter.fillRect(band, ROW_HIGHLIGHT)
            painter.setPen(QPen(SELECTED_COLOR, 2))
            painter.drawRect(self.cell_rect(row, col).adjusted(-1, -1, 1, 1))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position().toPoint())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)
        super().mousePressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self._zoom + (1 if event.angleDelta().y() > 0 else -1))
            event.accept()
            return
        super().wheelEvent(event)

    def tooltip_for(self, pos: QPoint) -> str:
        """Row and column labels of the cell under ``pos`` (empty outside the cells)."""
        cell = self.cell_at(pos)
        if cell is None:
            return ""
        row, col = cell
        row_text = self._row_labels[row] if row < len(self._row_labels) else str(row)
        col_text = self._col_labels[col] if col < len(self._col_labels) else str(col)
        return f"layer {row_text}, {col_text}"
